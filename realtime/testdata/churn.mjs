// churn.mjs URL NOTE TOKEN N PARALLEL
// N connect → join → update/awareness with acks → disconnect cycles,
// PARALLEL at a time. Half the sockets leave the document first, half just
// disconnect; every tenth closes without a join at all.
import * as Y from 'yjs';
import { connect, call, main } from './lib.mjs';

main(async () => {
  const [url, note, token, nStr, parStr] = process.argv.slice(2);
  const n = Number(nStr), par = Number(parStr);
  const doc = `note:${note}`;
  const enc = (o) => Array.from(new TextEncoder().encode(JSON.stringify(o)));
  let next = 0, failures = 0, done = 0;
  const errors = [];
  async function cycle(i) {
    const c = await connect(url, token);
    if (i % 10 === 9) { c.socket.close(); return; }
    const j = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    const d = new Y.Doc({ gc: false });
    let u;
    d.on('update', (x) => { u = x; });
    d.getText('churn').insert(0, 'c');
    const up = await call(c.socket, 'ydoc:document:update', { document_id: doc, update: Array.from(u) });
    const aw = await call(c.socket, 'ydoc:awareness:update', { document_id: doc, update: enc({ [1000 + i]: { user: { name: `c${i}` } } }) });
    if (i % 2 === 0) await call(c.socket, 'ydoc:document:leave', { document_id: doc });
    if (!j.ok || !up.ok || !aw.ok) throw new Error(JSON.stringify({ j, up, aw }));
    c.socket.close();
  }
  async function worker() {
    while (next < n) {
      const i = next++;
      try { await cycle(i); done++; } catch (e) { failures++; if (errors.length < 5) errors.push(String(e)); }
    }
  }
  await Promise.all(Array.from({ length: par }, worker));
  return { done, failures, errors };
});
