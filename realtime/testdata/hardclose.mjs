// hardclose.mjs URL TOKEN BYTES
// On a raw websocket (the ws library, as the faults bench's client): CONNECT,
// then one text frame of about BYTES, an update event past the engine's hard
// limit. Prints the close code this client sees.
import WebSocket from 'ws';
import { main } from './lib.mjs';

main(async () => {
  const [url, token, bytes] = process.argv.slice(2);
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws/socket.io/?EIO=4&transport=websocket', { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close within 30 s')), 30000); // a hang, not a measure
    ws.on('error', () => {}); // the close event follows
    ws.on('message', (data) => {
      const s = data.toString();
      if (s.startsWith('0{')) ws.send('40' + JSON.stringify({ token }));
      if (s.startsWith('40')) ws.send('421["ydoc:document:update",{"document_id":"note:x","update":[0' + ',0'.repeat(Number(bytes) / 2) + ']}]');
    });
    ws.on('close', (code) => { clearTimeout(timer); resolve({ code }); });
  });
});
