// overflow.mjs URL NOTE TOKEN N : emit N updates at once (no waiting) and
// report whether the server disconnected the socket.
import * as Y from 'yjs';
import { connect, main } from './lib.mjs';

main(async () => {
  const [url, note, token, nStr] = process.argv.slice(2);
  const doc = `note:${note}`;
  const c = await connect(url, token);
  // A plain ack callback, not emitWithAck: the overflow disconnect must
  // not surface as a rejected join promise if it overtakes the join ack.
  await new Promise((resolve) => c.socket.emit('ydoc:document:join', { document_id: doc }, resolve));
  const d = new Y.Doc();
  const ups = [];
  d.on('update', (u) => ups.push(Array.from(u)));
  for (let i = 0; i < Number(nStr); i++) d.getText('t').insert(0, 'x');
  for (const u of ups) c.socket.emit('ydoc:document:update', { document_id: doc, update: u }, () => {});
  const reason = await c.rec.waitFor('disconnect', () => true, { timeout: 20000 });
  return { reason };
});
