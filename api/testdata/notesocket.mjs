// notesocket.mjs URL NOTE TOKEN_OWNER TOKEN_READER TOKEN_OTHER
// OWNER and READER open the note (join-note + its document); OTHER only
// connects. Prints {"ready":true}; then, per stdin line naming what the
// test just did over REST, prints what the sockets saw.
import * as Y from 'yjs';
import * as readline from 'node:readline';
// connect retries one stalled connect (the library's known defect), like a browser.
import { connect } from '../../realtime/testdata/lib.mjs';

const [url, note, ...tokens] = process.argv.slice(2);
const doc = `note:${note}`;
const open = async (token) => {
  const { socket, rec } = await connect(url, token);
  return { socket, events: rec.events, of: rec.of };
};
const call = (c, ev, data) => c.socket.timeout(10000).emitWithAck(ev, data);
const until = async (cond) => { while (!cond()) await new Promise((r) => setTimeout(r, 5)); };
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const [owner, reader, other] = await Promise.all(tokens.map(open));
for (const c of [owner, reader]) {
  for (const [ev, data] of [['join-note', { note_id: note }], ['ydoc:document:join', { document_id: doc }]]) {
    const r = await call(c, ev, data);
    if (!r.ok) throw new Error(ev + ' ' + JSON.stringify(r));
  }
}
out({ ready: true });
const counts = () => ({ owner: owner.of('events:note').map((n) => n.title), reader: reader.of('events:note').map((n) => n.title),
  other: other.of('events:note').length, ownerContent: owner.of('events:note').map((n) => n.data?.content ?? null) });
// A round trip per socket after the event: anything sent to it before is in.
const barrier = () => Promise.all([owner, reader, other].map((c) => call(c, 'heartbeat', {})));
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line === 'renamed') {
    await until(() => owner.of('events:note').length === 1 && reader.of('events:note').length === 1);
    await barrier();
    out(counts());
  } else if (line === 'edited') {
    await until(() => owner.of('events:note').length === 2 && reader.of('events:note').length === 2);
    await barrier();
    out(counts());
  } else if (line === 'revoked') {
    await until(() => owner.of('events:note').length === 3 && reader.of('ydoc:user:left').length === 1);
    await barrier();
    out({ ...counts(), readerUpdate: await call(reader, 'ydoc:awareness:update', { document_id: doc, update: [123, 125] }) });
  } else if (line === 'deleted') {
    await until(() => owner.of('ydoc:user:left').some((m) => m.user_id !== reader.of('ydoc:user:left')[0].user_id));
    const d = new Y.Doc();
    let u;
    d.on('update', (x) => { u = x; });
    d.getText('t').insert(0, 'after delete');
    out({ ownerUpdate: await call(owner, 'ydoc:document:update', { document_id: doc, update: Array.from(u) }) });
    break;
  }
}
process.exit(0);
