// accesschange.mjs URL NOTE TOKEN_A TOKEN_B TOKEN_OBSERVER
// A (write grant) and B (read grant) join the note's document, as does the
// observer (the owner). A's first update is accepted and B's refused, so
// both sockets have their permission cached. Prints {"ready":true}; then on
// each stdin line "swap" (the test just made the writer a reader and the
// reader a writer, over REST or EmitNote) each sends one more update without
// rejoining and it prints what happened, then swaps its own idea of who
// writes.
import * as Y from 'yjs';
import * as readline from 'node:readline';
import { connect, call, out, lateState, textUpdate } from './lib.mjs';

const [url, note, tokA, tokB, tokObs] = process.argv.slice(2);
const doc = `note:${note}`;
const must = async (p, what) => { const r = await p; if (!r.ok) throw new Error(what + ' ' + JSON.stringify(r)); return r; };
const sent = {}; // text → the update array sent for it
const send = (c, text) => call(c.socket, 'ydoc:document:update', { document_id: doc, update: (sent[text] = textUpdate(text)) });
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const a = await connect(url, tokA);
const b = await connect(url, tokB);
const obs = await connect(url, tokObs);
for (const c of [a, b, obs]) await must(call(c.socket, 'ydoc:document:join', { document_id: doc }), 'join');
const warm = { writer: await send(a, '[a0]'), reader: await send(b, '[b0]') };
out({ ready: true, warm });

let writer = { name: 'a', c: a };
let reader = { name: 'b', c: b };
let round = 0;
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line !== 'swap') break;
  round++;
  const fromOld = () => obs.rec.of('ydoc:document:update').filter((m) => m.socket_id === writer.c.socket.id).length;
  const relayedBefore = fromOld();
  const oldText = `[${writer.name}${round}]`;
  const newText = `[${reader.name}${round}]`;
  const oldWriterAck = await send(writer.c, oldText);
  const newWriterAck = await send(reader.c, newText);
  // The old writer still reads: it gets the new writer's update, and may
  // still send awareness.
  const gotNew = newWriterAck.ok ? await writer.c.rec.waitFor('ydoc:document:update', (m) => same(m.update, sent[newText])) : null;
  const oldWriterAwareness = await call(writer.c.socket, 'ydoc:awareness:update', { document_id: doc, update: [123, 125] });
  // Relays reach the observer before the sender's ack; a heartbeat round
  // trip closes the window for anything else sent before it.
  await call(obs.socket, 'heartbeat', {});
  const st = await lateState(url, tokObs, doc);
  const late = new Y.Doc();
  Y.applyUpdate(late, new Uint8Array(st.state));
  out({ round, oldText, newText, oldWriterAck, newWriterAck, oldWriterAwareness,
    oldWriterGotNew: gotNew !== null && gotNew.socket_id === reader.c.socket.id,
    relayedFromOld: fromOld() - relayedBefore, text: late.getText('t').toString() });
  [writer, reader] = [reader, writer];
}
for (const c of [a, b, obs]) c.socket.close();
process.exit(0);
