// maxsize.mjs URL NOTE TOKEN_BIG TOKEN_OTHER BYTES
// BIG sends an update larger than the server's message limit and must be
// disconnected; OTHER, on the same document, keeps working.
import * as Y from 'yjs';
import { connect, call, main } from './lib.mjs';

main(async () => {
  const [url, note, tokBig, tokOther, bytes] = process.argv.slice(2);
  const doc = `note:${note}`;
  const big = await connect(url, tokBig);
  const other = await connect(url, tokOther);
  for (const c of [big, other]) {
    const r = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!r.ok) throw new Error('join ' + JSON.stringify(r));
  }
  const d = new Y.Doc();
  let u;
  d.on('update', (x) => { u = x; });
  d.getText('t').insert(0, 'x'.repeat(Number(bytes)));
  big.socket.emit('ydoc:document:update', { document_id: doc, update: Array.from(u) }, () => {});
  const reason = await big.rec.waitFor('disconnect');
  const small = new Y.Doc();
  let su;
  small.on('update', (x) => { su = x; });
  small.getText('t').insert(0, 'ok');
  const otherAck = await call(other.socket, 'ydoc:document:update', { document_id: doc, update: Array.from(su) });
  const res = { bigDisconnected: reason, otherAck, otherConnected: other.socket.connected };
  other.socket.close();
  return res;
});
