// order.mjs URL TOKEN N WANT : opens N sockets of one account, prints
// {"ready":N}, then records every events:channel {p, i} each socket gets
// and, once each has WANT of them (or after 60 s), reports how many
// arrived and how many came after a later i of the same p at that socket.
// With a fifth argument "close", it then prints that report and waits for
// each socket to be closed by the server, after one last event {p: -1},
// and reports how many saw the server's disconnect and that event first.
import { connect, main, out } from './lib.mjs';

main(async () => {
  const [url, token, nStr, wantStr] = process.argv.slice(2);
  const n = Number(nStr), want = Number(wantStr);
  const socks = [];
  for (let i = 0; i < n; i += 50) {
    socks.push(...await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => connect(url, token, { timeout: 20000 }))));
  }
  let received = 0, outOfOrder = 0, done = 0;
  let finish;
  const finished = new Promise((r) => { finish = r; });
  for (const s of socks) {
    const last = new Map(); // publisher → last i
    let got = 0;
    s.socket.on('events:channel', (e) => {
      if (typeof e?.p !== 'number' || typeof e?.i !== 'number') return;
      received++;
      if (e.i <= (last.get(e.p) ?? -1)) outOfOrder++;
      last.set(e.p, e.i);
      if (++got === want && ++done === n) finish();
    });
  }
  out({ ready: socks.length });
  await Promise.race([finished, new Promise((r) => setTimeout(r, 60000))]);
  const result = { received, outOfOrder, complete: done };
  if (process.argv[6] !== 'close') return result;
  out(result);
  // Phase 2: the server queues one more event {p: -1} and closes each socket.
  const reasons = await Promise.all(socks.map((s) => new Promise((resolve) => {
    let final = false;
    s.socket.on('events:channel', (e) => { if (e?.p === -1) final = true; });
    s.socket.on('disconnect', (reason) => resolve({ reason, final }));
  })));
  return {
    serverDisconnects: reasons.filter((r) => r.reason === 'io server disconnect').length,
    finalFirst: reasons.filter((r) => r.final).length,
  };
});
