// maxsize.mjs URL NOTE TOKEN_BIG TOKEN_OTHER BYTES HARD_BYTES
// BIG sends an update of BYTES characters, over the server's message limit:
// it gets an error ack, stays connected, and OTHER on the same document
// sees nothing. Then BIG sends HARD_BYTES, over the engine's hard limit,
// and is disconnected; OTHER keeps working.
import * as Y from 'yjs';
import { connect, call, main } from './lib.mjs';

const update = (n) => {
  const d = new Y.Doc();
  let u;
  d.on('update', (x) => { u = x; });
  d.getText('t').insert(0, 'x'.repeat(n));
  return Array.from(u);
};

main(async () => {
  const [url, note, tokBig, tokOther, bytes, hardBytes] = process.argv.slice(2);
  const doc = `note:${note}`;
  const big = await connect(url, tokBig);
  const other = await connect(url, tokOther);
  for (const c of [big, other]) {
    const r = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!r.ok) throw new Error('join ' + JSON.stringify(r));
  }
  const bigAck = await call(big.socket, 'ydoc:document:update', { document_id: doc, update: update(Number(bytes)) });
  const afterAck = await call(big.socket, 'heartbeat', {});
  big.socket.emit('ydoc:document:update', { document_id: doc, update: update(Number(hardBytes)) }, () => {});
  const reason = await big.rec.waitFor('disconnect');
  const otherAck = await call(other.socket, 'ydoc:document:update', { document_id: doc, update: update(2) });
  const res = { bigAck, afterAck, hardDisconnected: reason, otherAck, otherConnected: other.socket.connected,
    otherUpdates: other.rec.of('ydoc:document:update').length };
  other.socket.close();
  return res;
});
