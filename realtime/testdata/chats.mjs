// chats.mjs URL TOKEN...
// One socket per token, each joined as its account (user-join). Per stdin
// line, a JSON step: {from, payloads: [...], ack: true|false, wait: [n, …]}.
// Socket `from` sends each payload as events:chat (with an ack unless ack
// is false); then, when wait is given, each socket waits until it has
// received that many `events`; then every socket does a round trip (so
// whatever the server sent before has arrived) and one JSON line is
// printed: {acks, seen: [[events payloads] per socket]}.
import * as readline from 'node:readline';
import { connect, call, out } from './lib.mjs';

const [url, ...tokens] = process.argv.slice(2);
const socks = await Promise.all(tokens.map((t) => connect(url, t)));
const joined = await Promise.all(socks.map((s, i) => call(s.socket, 'user-join', { auth: { token: tokens[i] } })));
for (const j of joined) if (!j.ok) throw new Error('user-join: ' + JSON.stringify(j));
const barrier = () => Promise.all(socks.map((s) => call(s.socket, 'heartbeat', {})));

out({ ready: true });
for await (const line of readline.createInterface({ input: process.stdin })) {
  const step = JSON.parse(line);
  const acks = [];
  for (const p of step.payloads ?? []) {
    const s = socks[step.from].socket;
    if (step.ack === false) s.emit('events:chat', p);
    else acks.push(await call(s, 'events:chat', p));
  }
  if (step.wait) await Promise.all(socks.map((s, i) => step.wait[i] > 0 && s.rec.waitFor('events', () => true, { n: step.wait[i] })));
  await barrier();
  out({ acks, seen: socks.map((s) => s.rec.of('events')) });
}
process.exit(0);
