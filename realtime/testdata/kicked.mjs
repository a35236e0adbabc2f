// kicked.mjs URL TOKEN DOC TRANSPORT N
// Opens N sockets that join DOC, prints "ready", then reports for each
// whether a relay reached it and its disconnect reason.
import { connect, main, out } from './lib.mjs';

const [url, token, doc, transport, n] = process.argv.slice(2);
main(async () => {
  const sockets = [];
  for (let i = 0; i < Number(n); i++) {
    const c = await connect(url, token, { transports: [transport] });
    await c.socket.timeout(10000).emitWithAck('ydoc:document:join', { document_id: doc });
    sockets.push(c);
  }
  const ends = sockets.map((c) => {
    let relayed = false;
    c.socket.on('ydoc:document:update', () => { relayed = true; });
    return new Promise((resolve) => c.socket.once('disconnect', (reason) => resolve({ reason, relayed })));
  });
  out({ ready: true });
  return { sockets: await Promise.all(ends) };
});
