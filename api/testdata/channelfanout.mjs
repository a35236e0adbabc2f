// channelfanout.mjs — reads one JSON line {url, channel, tokens, poster,
// messages, rate} from stdin. Connects one socket per token (members of
// channel), enters the channel rooms with join-channels, then posts
// `messages` messages over REST at `rate` per second as `poster`, and
// reports the latency from just before each POST to the message event's
// arrival at every socket (p50/p99/max in ms), with the POST's own time
// and each message's spread (its first to its last arrival). Prints
// {"phase":"posting"} just before the first POST. All sockets share one
// thread, which is slower at reading a message's 500 copies than the
// server is at sending them: the Go client (../fanout_client_test.go) is
// the default.
import * as readline from 'node:readline';
import { connect, call, main } from '../../realtime/testdata/lib.mjs';

main(async () => {
  const rl = readline.createInterface({ input: process.stdin });
  const cfg = JSON.parse((await rl[Symbol.asyncIterator]().next()).value);
  const url = cfg.url.replace(/^http/, 'ws');
  const socks = [];
  for (let i = 0; i < cfg.tokens.length; i += 50) { // 50 connects at a time
    socks.push(...await Promise.all(cfg.tokens.slice(i, i + 50).map((t) => connect(url, t, { timeout: 20000 }))));
  }
  for (const [i, s] of socks.entries()) {
    const a = await call(s.socket, 'join-channels', { auth: { token: cfg.tokens[i] } });
    if (!a.ok) throw new Error('join-channels ' + JSON.stringify(a));
  }
  const sentAt = new Map();
  const lat = [];
  const firstLast = new Map(); // temp_id → [first, last] arrival: the fan-out's spread
  let outOfOrder = 0; // arrivals after a later message, at the same socket
  for (const s of socks) {
    let last = -1;
    s.socket.on('events:channel', (e) => {
      const id = e.data?.data?.temp_id;
      const t = sentAt.get(id);
      if (e.data?.type !== 'message' || t === undefined) return;
      const now = performance.now();
      lat.push(now - t);
      const k = Number(id.slice(1));
      if (k < last) outOfOrder++;
      last = Math.max(last, k);
      const fl = firstLast.get(id);
      if (fl) fl[1] = now; else firstLast.set(id, [now, now]);
    });
  }
  process.stdout.write('{"phase":"posting"}\n');
  const post = [];
  const interval = 1000 / cfg.rate;
  const start = performance.now();
  for (let k = 0; k < cfg.messages; k++) {
    const wait = start + k * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = 'm' + k;
    const t0 = performance.now();
    sentAt.set(id, t0);
    const res = await fetch(cfg.url + '/api/v1/channels/' + cfg.channel + '/messages/post', {
      method: 'POST', headers: { authorization: 'Bearer ' + cfg.poster, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'message ' + k, temp_id: id }),
    });
    if (res.status !== 200) throw new Error('post: ' + res.status + ' ' + await res.text());
    await res.text();
    post.push(performance.now() - t0);
  }
  const want = cfg.messages * socks.length;
  const deadline = performance.now() + 20000;
  while (lat.length < want && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  process.stdout.write('{"phase":"done"}\n');
  const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return +s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2); };
  const spread = [...firstLast.values()].map(([f, l]) => l - f);
  for (const s of socks) s.socket.close();
  return { members: socks.length, messages: cfg.messages, deliveries: lat.length, want, out_of_order: outOfOrder,
    p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: pct(lat, 1), postP50: pct(post, 0.5), postP99: pct(post, 0.99),
    // first to last arrival of one message across the members' sockets
    spreadP50: pct(spread, 0.5), spreadP99: pct(spread, 0.99) };
});
