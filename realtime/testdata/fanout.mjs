// fanout.mjs URL NOTE TOKEN EDITORS RATE SECONDS
// EDITORS clients join one document; together they send RATE updates per
// second for SECONDS. Reports the latency from send to receipt at every
// other client (p50/p99 in ms) and the ack latency.
import * as Y from 'yjs';
import { connect, call, main } from './lib.mjs';

main(async () => {
  const [url, note, token, eStr, rStr, sStr] = process.argv.slice(2);
  const editors = Number(eStr), rate = Number(rStr), seconds = Number(sStr);
  const doc = `note:${note}`;
  const clients = [];
  for (let i = 0; i < editors; i++) {
    const c = await connect(url, token);
    const a = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!a.ok) throw new Error('join');
    c.doc = new Y.Doc();
    clients.push(c);
  }
  const sentAt = new Map();
  const lat = [], ackLat = [];
  for (const c of clients) {
    c.socket.on('ydoc:document:update', (m) => {
      const t = sentAt.get(m.update.length + ':' + m.update.slice(-24).join(','));
      if (t !== undefined) lat.push(performance.now() - t);
    });
  }
  const total = rate * seconds;
  const interval = 1000 / rate;
  const start = performance.now();
  const acks = [];
  for (let k = 0; k < total; k++) {
    const due = start + k * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const c = clients[k % editors];
    let u;
    c.doc.once('update', (x) => { u = Array.from(x); });
    c.doc.getText('t').insert(0, `k${k};`);
    const t0 = performance.now();
    sentAt.set(u.length + ':' + u.slice(-24).join(','), t0);
    acks.push(call(c.socket, 'ydoc:document:update', { document_id: doc, update: u }).then(() => ackLat.push(performance.now() - t0)));
  }
  await Promise.all(acks);
  const want = total * (editors - 1);
  const deadline = performance.now() + 10000;
  while (lat.length < want && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
  for (const c of clients) c.socket.close();
  return { editors, updates: total, deliveries: lat.length, want,
    p50: pct(lat, 0.5), p99: pct(lat, 0.99), ackP50: pct(ackLat, 0.5), ackP99: pct(ackLat, 0.99) };
});
