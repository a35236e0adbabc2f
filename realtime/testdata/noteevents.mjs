// noteevents.mjs URL NOTE TOKEN_OWNER TOKEN_READER TOKEN_WRITER
// OWNER and READER open the note (join-note) and its document, READER with
// an awareness state; WRITER only connects. Prints {"ready":true}, then on
// each stdin line reports what followed the server-side action:
//   "revoked": the server dropped READER's access and emitted the note.
//   "deleted": the note was deleted.
import * as readline from 'node:readline';
import { connect, call, out, textUpdate } from './lib.mjs';

const [url, note, tokOwner, tokReader, tokWriter] = process.argv.slice(2);
const doc = `note:${note}`;
const enc = (o) => Array.from(new TextEncoder().encode(JSON.stringify(o)));
const dec = (a) => JSON.parse(new TextDecoder().decode(new Uint8Array(a)));
const must = async (p, what) => { const r = await p; if (!r.ok) throw new Error(what + ' ' + JSON.stringify(r)); };

const owner = await connect(url, tokOwner);
const reader = await connect(url, tokReader);
const writer = await connect(url, tokWriter);
for (const c of [owner, reader]) {
  await must(call(c.socket, 'join-note', { note_id: note }), 'join-note');
  await must(call(c.socket, 'ydoc:document:join', { document_id: doc }), 'join');
}
await must(call(reader.socket, 'ydoc:awareness:update', { document_id: doc, user_id: reader.socket.id, update: enc({ 7: { user: { name: 'r' } } }) }), 'awareness');
await owner.rec.waitFor('ydoc:awareness:update');
out({ ready: true });


const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line === 'revoked') {
    const ev = await owner.rec.waitFor('events:note');
    const removal = await owner.rec.waitFor('ydoc:awareness:update', (m) => JSON.stringify(dec(m.update)['7']) === '{}');
    const left = await owner.rec.waitFor('ydoc:user:left');
    const readerLeft = await reader.rec.waitFor('ydoc:user:left');
    // Round trips after the emit: had events:note gone to them, it would be here first.
    const readerAck = await call(reader.socket, 'ydoc:awareness:update', { document_id: doc, user_id: reader.socket.id, update: enc({ 7: { user: { name: 'r' } } }) });
    await call(writer.socket, 'heartbeat', {});
    out({ ownerNote: ev, removal: dec(removal.update), left, readerLeft, readerAck,
      readerNotes: reader.rec.of('events:note').length, writerNotes: writer.rec.of('events:note').length,
      ownerAwarenessAfter: owner.rec.of('ydoc:awareness:update').length });
  } else if (line === 'deleted') {
    const ownerLeft = await owner.rec.waitFor('ydoc:user:left', (m) => m.document_id === doc, { n: 2 });
    const updateAck = await call(owner.socket, 'ydoc:document:update', { document_id: doc, update: textUpdate('after delete') });
    const joinAck = await call(owner.socket, 'ydoc:document:join', { document_id: doc });
    out({ ownerLeft, updateAck, joinAck });
    break;
  }
}
process.exit(0);
