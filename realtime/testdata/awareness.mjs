// awareness.mjs URL NOTE TOKEN_A TOKEN_B TOKEN_C
// Awareness relay, the snapshot a joiner gets, and removal ({} for each
// client id, never null) on leave and on disconnect (no ghost states for
// later joiners); client ids owned by account; user:joined's stored name.
// TOKEN_A and D are one account (writer), B another (reader), C the owner.
import { connect, call, main } from './lib.mjs';

const enc = (o) => Array.from(new TextEncoder().encode(JSON.stringify(o)));
const dec = (a) => JSON.parse(new TextDecoder().decode(new Uint8Array(a)));
const isEmpty = (s) => s !== null && typeof s === 'object' && Object.keys(s).length === 0;

main(async () => {
  const [url, note, tokA, tokB, tokC] = process.argv.slice(2);
  const doc = `note:${note}`;
  const join = async (c) => {
    const r = await call(c.socket, 'ydoc:document:join', { document_id: doc, user_name: 'Mallory' });
    if (!r.ok) throw new Error('join ' + JSON.stringify(r));
  };
  const aw = (c, states) => call(c.socket, 'ydoc:awareness:update', { document_id: doc, user_id: c.socket.id, update: enc(states) });
  const A = await connect(url, tokA); await join(A);
  const B = await connect(url, tokB); await join(B);
  const res = {};
  res.joinedName = (await A.rec.waitFor('ydoc:user:joined')).user_name;
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
  const goneA = await C.rec.waitFor('ydoc:awareness:update', (m) => isEmpty(dec(m.update)['101']));
  res.removalOnLeave = { user_id: goneA.user_id, states: dec(goneA.update) };
  res.leftOnLeave = await C.rec.waitFor('ydoc:user:left');
  res.aAfterLeave = await aw(A, { 101: { user: { name: 'a' } } });

  B.socket.close();
  const goneB = await C.rec.waitFor('ydoc:awareness:update', (m) => isEmpty(dec(m.update)['202']));
  res.removalOnDisconnect = { user_id: goneB.user_id, states: dec(goneB.update) };
  res.leftOnDisconnect = await C.rec.waitFor('ydoc:user:left', () => true, { n: 2 });

  const D = await connect(url, tokA); await join(D);
  const snapD = await D.rec.waitFor('ydoc:awareness:update');
  res.snapshotToD = dec(snapD.update);
  // Nothing else arrives for D: a later marker from C comes after any ghost.
  await aw(C, { 303: { user: { name: 'c2' } } });
  await D.rec.waitFor('ydoc:awareness:update', () => true, { n: 2 });
  res.dAwareness = D.rec.of('ydoc:awareness:update').map((m) => dec(m.update));

  // A's client id 101 is still the writer's: another account (B2, the
  // reader) can neither take nor remove it, and a message mixing its own id
  // with 101 is refused whole; nothing of it reaches the room.
  const B2 = await connect(url, tokB); await join(B2);
  const mark = C.rec.of('ydoc:awareness:update').length;
  res.foreignState = await aw(B2, { 101: { user: { name: 'fake' } } });
  res.foreignRemoval = await aw(B2, { 101: null });
  res.foreignMixed = await aw(B2, { 404: { user: { name: 'b2' } }, 101: {} });
  // The writer's other socket (D) takes 101 back; C gets exactly that.
  res.takeBack = await aw(D, { 101: { user: { name: 'a again' } } });
  await C.rec.waitFor('ydoc:awareness:update', (m) => dec(m.update)['101']?.user?.name === 'a again');
  // A client sending null for its own id: the room gets {}.
  res.ownNull = await aw(D, { 101: null });
  await C.rec.waitFor('ydoc:awareness:update', (m) => isEmpty(dec(m.update)['101']), { n: 2 });
  res.cSince = C.rec.of('ydoc:awareness:update').slice(mark).map((m) => dec(m.update));
  for (const c of [A, B2, C, D]) c.socket.close();
  return res;
});
