// awareness.mjs URL NOTE TOKEN_A TOKEN_B TOKEN_C
// Awareness relay, the snapshot a joiner gets, and removal on leave and on
// disconnect (no ghost states for later joiners).
import { connect, call, main } from './lib.mjs';

const enc = (o) => Array.from(new TextEncoder().encode(JSON.stringify(o)));
const dec = (a) => JSON.parse(new TextDecoder().decode(new Uint8Array(a)));

main(async () => {
  const [url, note, tokA, tokB, tokC] = process.argv.slice(2);
  const doc = `note:${note}`;
  const join = async (c) => {
    const r = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!r.ok) throw new Error('join ' + JSON.stringify(r));
  };
  const aw = (c, states) => call(c.socket, 'ydoc:awareness:update', { document_id: doc, user_id: c.socket.id, update: enc(states) });
  const A = await connect(url, tokA); await join(A);
  const B = await connect(url, tokB); await join(B);
  const res = {};
  res.aAck = await aw(A, { 101: { user: { name: 'a' }, cursor: null } });
  const relayed = await B.rec.waitFor('ydoc:awareness:update');
  res.relayToB = { document_id: relayed.document_id, user_id: relayed.user_id, states: dec(relayed.update) };
  res.bAck = await aw(B, { 202: { user: { name: 'b' } } });
  await A.rec.waitFor('ydoc:awareness:update');
  res.aEchoed = A.rec.of('ydoc:awareness:update').filter((m) => dec(m.update)['101'] !== undefined).length;

  const C = await connect(url, tokC); await join(C);
  const snap = await C.rec.waitFor('ydoc:awareness:update');
  res.snapshotToC = dec(snap.update);
  res.cOrder = C.rec.events.filter((e) => e.name.startsWith('ydoc:')).map((e) => e.name);
  res.cAck = await aw(C, { 303: { user: { name: 'c' } } });
  await B.rec.waitFor('ydoc:awareness:update', (m) => dec(m.update)['303'] !== undefined);

  res.leaveAck = await call(A.socket, 'ydoc:document:leave', { document_id: doc, user_id: 'a' });
  const goneA = await C.rec.waitFor('ydoc:awareness:update', (m) => dec(m.update)['101'] === null);
  res.removalOnLeave = { user_id: goneA.user_id, states: dec(goneA.update) };
  res.leftOnLeave = await C.rec.waitFor('ydoc:user:left');
  res.aAfterLeave = await aw(A, { 101: { user: { name: 'a' } } });

  B.socket.close();
  const goneB = await C.rec.waitFor('ydoc:awareness:update', (m) => dec(m.update)['202'] === null);
  res.removalOnDisconnect = { user_id: goneB.user_id, states: dec(goneB.update) };
  res.leftOnDisconnect = await C.rec.waitFor('ydoc:user:left', () => true, { n: 2 });

  const D = await connect(url, tokA); await join(D);
  const snapD = await D.rec.waitFor('ydoc:awareness:update');
  res.snapshotToD = dec(snapD.update);
  // Nothing else arrives for D: a later marker from C comes after any ghost.
  await aw(C, { 303: { user: { name: 'c2' } } });
  await D.rec.waitFor('ydoc:awareness:update', () => true, { n: 2 });
  res.dAwareness = D.rec.of('ydoc:awareness:update').map((m) => dec(m.update));
  for (const c of [A, C, D]) c.socket.close();
  return res;
});
