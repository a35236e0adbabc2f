// stalled.mjs URL NOTE TOKEN UPDATES KB
// Three clients join one document; one of them stops reading its socket
// (its TCP receive buffer fills, then the server's send buffer). Another
// sends UPDATES updates of KB kilobytes of text each, one after the other's
// ack; the third must receive every one of them. Then the stalled client
// reads again: it must get every update too, in order and intact (what the
// server kept for it while its socket was full). Reports what each got.
import * as Y from 'yjs';
import { connect, call, main } from './lib.mjs';

main(async () => {
  const [url, note, token, uStr, kbStr] = process.argv.slice(2);
  const updates = Number(uStr), kb = Number(kbStr);
  const doc = `note:${note}`;
  const join = async () => {
    const c = await connect(url, token);
    const a = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!a.ok) throw new Error('join: ' + JSON.stringify(a));
    return c;
  };
  const writer = await join(), reader = await join(), stalled = await join();
  const ws = stalled.socket.io.engine.transport.ws;
  const tcp = ws && ws._socket;
  if (!tcp || typeof tcp.pause !== 'function') throw new Error('no TCP socket under the stalled client');
  tcp.pause();
  let received = 0;
  reader.socket.on('ydoc:document:update', () => { received++; });
  let stalledReceived = 0, stalledInOrder = true;
  const stalledDoc = new Y.Doc(); // each update puts its number first
  stalled.socket.on('ydoc:document:update', (m) => {
    Y.applyUpdate(stalledDoc, new Uint8Array(m.update));
    if (!stalledDoc.getText('t').toString().startsWith(`${stalledReceived};`)) stalledInOrder = false;
    stalledReceived++;
  });
  const d = new Y.Doc();
  const filler = 'x'.repeat(kb * 1024);
  for (let k = 0; k < updates; k++) {
    let u;
    d.once('update', (x) => { u = Array.from(x); });
    d.getText('t').insert(0, `${k};${filler}`);
    const a = await call(writer.socket, 'ydoc:document:update', { document_id: doc, update: u }, 60000);
    if (!a || a.ok === false) throw new Error(`update ${k}: ` + JSON.stringify(a));
  }
  const deadline = performance.now() + 60000;
  while (received < updates && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const stalledBefore = stalledReceived;
  tcp.resume();
  while (stalledReceived < updates && stalled.socket.connected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  writer.socket.close(); reader.socket.close(); stalled.socket.close();
  return { updates, received, stalledBefore, stalledReceived, stalledInOrder };
});
