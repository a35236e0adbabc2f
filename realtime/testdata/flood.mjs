// flood.mjs URL NOTE TOKEN_A TOKEN_B N BYTES
// A sends N awareness updates of about BYTES each, 16 in flight (fewer than
// the event queue holds: this is about the rate, not the queue); B watches
// the room. Reports A's acks, whether A was disconnected, and what
// B got of A's states before A's removal ({}), which comes after them all.
import { connect, call, main } from './lib.mjs';

const enc = (o) => Array.from(new TextEncoder().encode(JSON.stringify(o)));
const dec = (a) => JSON.parse(new TextDecoder().decode(new Uint8Array(a)));

main(async () => {
  const [url, note, tokA, tokB, nStr, bytesStr] = process.argv.slice(2);
  const doc = `note:${note}`;
  const A = await connect(url, tokA);
  const B = await connect(url, tokB);
  for (const c of [A, B]) {
    const r = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!r.ok) throw new Error('join ' + JSON.stringify(r));
  }
  const pad = 'x'.repeat(Number(bytesStr));
  const acks = {};
  const n = Number(nStr);
  let next = 0;
  const pump = async () => {
    while (next < n && A.socket.connected) {
      const i = next++;
      const a = await call(A.socket, 'ydoc:awareness:update', { document_id: doc, update: enc({ 7: { i, pad } }) }).catch(() => null);
      const k = a ? (a.ok ? 'ok' : a.error) : 'none';
      acks[k] = (acks[k] || 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 16 }, pump));
  const reason = await A.rec.waitFor('disconnect', () => true, { timeout: 60000 });
  await B.rec.waitFor('ydoc:awareness:update', (m) => Object.keys(dec(m.update)['7'] || { x: 1 }).length === 0, { timeout: 60000 });
  const states = B.rec.of('ydoc:awareness:update').map((m) => dec(m.update)['7']).filter((s) => s && s.pad);
  B.socket.close();
  return { acks, reason, relayed: states.length, first: states.length ? states[0].i : -1, last: states.length ? states[states.length - 1].i : -1 };
});
