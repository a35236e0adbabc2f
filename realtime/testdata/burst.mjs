// burst.mjs URL NOTE WRITER_TOKEN READER_TOKEN N
// The writer types N edits and emits every update at once without waiting;
// the last one goes as a binary attachment (Uint8Array). The reader must
// receive them in the order sent and end with the same text.
import * as Y from 'yjs';
import { connect, call, main, lateState } from './lib.mjs';

main(async () => {
  const [url, note, writerTok, readerTok, nStr] = process.argv.slice(2);
  const n = Number(nStr);
  const doc = `note:${note}`;
  const w = await connect(url, writerTok);
  const r = await connect(url, readerTok);
  for (const c of [w, r]) {
    const a = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!a.ok) throw new Error('join: ' + JSON.stringify(a));
  }
  const wd = new Y.Doc();
  const sent = [];
  wd.on('update', (u) => sent.push(u));
  const text = wd.getText('t');
  for (let i = 0; i < n; i++) text.insert(text.length, `${i % 10}`);

  const ackOrder = [];
  const acks = sent.map((u, i) => {
    const update = i === n - 1 ? u : Array.from(u); // last one binary
    return call(w.socket, 'ydoc:document:update', { document_id: doc, user_id: 'w', socket_id: w.socket.id, update })
      .then((a) => { ackOrder.push(i); return a; });
  });
  const ackResults = await Promise.all(acks);
  await r.rec.waitFor('ydoc:document:update', () => true, { n, timeout: 30000 });
  const got = r.rec.of('ydoc:document:update');
  const rd = new Y.Doc();
  let inOrder = true;
  got.forEach((m, i) => {
    if (JSON.stringify(m.update) !== JSON.stringify(Array.from(sent[i]))) inOrder = false;
    Y.applyUpdate(rd, new Uint8Array(m.update));
  });
  const res = {
    acksOk: ackResults.filter((a) => a && a.ok === true).length,
    acksInOrder: ackOrder.every((v, i) => v === i),
    received: got.length,
    inOrder,
    allInts: got.every((m) => Array.isArray(m.update)),
    text: rd.getText('t').toString(),
    want: text.toString(),
  };
  const st = await lateState(url, readerTok, doc);
  const late = new Y.Doc();
  Y.applyUpdate(late, new Uint8Array(st.state));
  res.lateText = late.getText('t').toString();
  w.socket.close(); r.socket.close();
  return res;
});
