// coldjoin.mjs URL TOKEN DOC N: N sockets connect, then all join DOC at
// once; prints {p50, p99, max} ms from the join to the whole state.
import { connect, call, main } from './lib.mjs';

const [url, token, doc, n] = process.argv.slice(2);
main(async () => {
  const cs = await Promise.all(Array.from({ length: Number(n) }, () => connect(url, token, { timeout: 20000 })));
  const t0 = performance.now();
  const ms = await Promise.all(cs.map(async (c) => {
    const st = c.rec.waitFor('ydoc:document:state', (d) => d.document_id === doc, { timeout: 60000 });
    const ack = await call(c.socket, 'ydoc:document:join', { document_id: doc }, 60000);
    if (!ack.ok) throw new Error('join: ' + JSON.stringify(ack));
    if (new Uint8Array((await st).state).length < 1000) throw new Error('short state');
    return performance.now() - t0;
  }));
  cs.forEach((c) => c.socket.close());
  ms.sort((a, b) => a - b);
  const q = (p) => Math.round(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]);
  return { p50: q(0.5), p99: q(0.99), max: Math.round(ms[ms.length - 1]) };
});
