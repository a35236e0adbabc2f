// garbage.mjs URL NOTE TOKEN_A TOKEN_B
// Client A sends malformed events (each with an ack) while client B keeps
// editing; reports every ack A got and whether B's edits all went through.
import * as Y from 'yjs';
import { connect, call, main, lateState } from './lib.mjs';

main(async () => {
  const [url, note, tokA, tokB] = process.argv.slice(2);
  const doc = `note:${note}`;
  const a = await connect(url, tokA);
  const b = await connect(url, tokB);
  for (const c of [a, b]) {
    const r = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!r.ok) throw new Error('join ' + JSON.stringify(r));
  }
  const deep = (n) => { let v = 1; for (let i = 0; i < n; i++) v = [v]; return v; };
  const enc = (s) => Array.from(new TextEncoder().encode(s));
  const cases = {
    updateString: ['ydoc:document:update', 'just a string'],
    updateNumber: ['ydoc:document:update', 42],
    updateNull: ['ydoc:document:update', null],
    updateArray: ['ydoc:document:update', [1, 2, 3]],
    docIdNumber: ['ydoc:document:update', { document_id: 5, update: [0, 0] }],
    docIdObject: ['ydoc:document:join', { document_id: { a: 1 } }],
    updateAsString: ['ydoc:document:update', { document_id: doc, update: 'AAA=' }],
    updateOver255: ['ydoc:document:update', { document_id: doc, update: [0, 300] }],
    updateNegative: ['ydoc:document:update', { document_id: doc, update: [-1, 0] }],
    updateFraction: ['ydoc:document:update', { document_id: doc, update: [0.5, 0] }],
    updateNested: ['ydoc:document:update', { document_id: doc, update: { nested: { junk: [1, [2, { x: null }]] } } }],
    updateDeep: ['ydoc:document:update', { document_id: doc, update: deep(500) }],
    updateHugeJunk: ['ydoc:document:update', { document_id: doc, update: new Array(300000).fill(255) }],
    updateHostileLength: ['ydoc:document:update', { document_id: doc, update: [255, 255, 255, 255, 255, 255, 255, 255, 255, 1] }],
    updateNeither: ['ydoc:document:update', { document_id: doc }],
    awarenessNotJSON: ['ydoc:awareness:update', { document_id: doc, update: enc('not json') }],
    awarenessNotObject: ['ydoc:awareness:update', { document_id: doc, update: enc('{"1": 5}') }],
    awarenessBadKey: ['ydoc:awareness:update', { document_id: doc, update: enc('{"x": {}}') }],
    awarenessOver255: ['ydoc:awareness:update', { document_id: doc, update: [123, 999, 125] }],
    awarenessMissing: ['ydoc:awareness:update', { document_id: doc }],
    userJoinString: ['user-join', 'token'],
    userJoinBadToken: ['user-join', { auth: { token: 12 } }],
    joinNoteMissing: ['join-note', { note_id: 7 }],
    unknownEvent: ['no-such-event', {}],
    leaveNotJoined: ['ydoc:document:leave', { document_id: 'note:other' }],
  };
  // B edits concurrently with A's garbage.
  const bd = new Y.Doc();
  const bUpdates = [];
  bd.on('update', (u) => bUpdates.push(Array.from(u)));
  const t = bd.getText('t');
  const bAcks = [];
  const bDone = (async () => {
    for (let i = 0; i < 20; i++) {
      t.insert(t.length, 'b');
      bAcks.push(await call(b.socket, 'ydoc:document:update', { document_id: doc, update: bUpdates[bUpdates.length - 1] }));
    }
  })();
  const acks = {};
  await Promise.all(Object.entries(cases).map(async ([k, [ev, data]]) => { acks[k] = await call(a.socket, ev, data); }));
  await bDone;
  // A still works after all that.
  const aw = await call(a.socket, 'ydoc:awareness:update', { document_id: doc, update: enc('{"7": {"user": {"name": "a"}}}') });
  const st = await lateState(url, tokB, doc);
  const late = new Y.Doc();
  Y.applyUpdate(late, new Uint8Array(st.state));
  const res = {
    acks, aStillWorks: aw, aConnected: a.socket.connected,
    bAcksOk: bAcks.filter((x) => x.ok).length, bText: late.getText('t').toString(),
    bGotUpdates: b.rec.of('ydoc:document:update').length,
  };
  a.socket.close(); b.socket.close();
  return res;
});
