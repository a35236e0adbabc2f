// caller.mjs URL TOKEN [URL TOKEN …]
// One authenticated socket per URL/TOKEN pair (a round trip each, so the
// server has adopted it). Prints {"ready":true}. Every "events"
// it gets is kept; a call (with an ack) of data.type "input" is answered
// {value: data.data.n * 2, socket: i}, one of type "ignore" never.
// Per stdin line:
//   sids            → {sids: [socket ids]}
//   join-doc I DOC  → socket I joins document DOC; {ack}
//   events          → {events: [[…of socket 0], …]} after a round trip on each open socket
//   wait-ignored N  → {ok: true} once N "ignore" calls arrived (all sockets)
//   close I         → disconnects socket I; {closed: I}
//   user-join I TOKEN → socket I user-joins with TOKEN; {ack, before}:
//                       before: how many "events" it had got at the ack
import * as readline from 'node:readline';
import { changes, connect, call, out } from './lib.mjs';

const args = process.argv.slice(2);
const socks = [];
for (let i = 0; i < args.length; i += 2) socks.push(await connect(args[i], args[i + 1]));
const seen = socks.map(() => []);
const open = socks.map(() => true);
let ignored = 0;
const changed = changes();
socks.forEach((s, i) => {
  s.socket.on('events', (data, ack) => {
    seen[i].push({ data, call: typeof ack === 'function' });
    const type = data && data.data && data.data.type;
    if (typeof ack === 'function' && type === 'input') ack({ value: data.data.data.n * 2, socket: i });
    if (type === 'ignore') {
      ignored++;
      changed.notify();
    }
  });
});
await Promise.all(socks.map((s) => call(s.socket, 'heartbeat', {})));
out({ ready: true });

for await (const line of readline.createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'join-doc') {
    out({ ack: await call(socks[Number(arg)].socket, 'ydoc:document:join', { document_id: line.split(' ')[2] }) });
  } else if (cmd === 'sids') {
    out({ sids: socks.map((s) => s.socket.id) });
  } else if (cmd === 'events') {
    await Promise.all(socks.filter((_, i) => open[i]).map((s) => call(s.socket, 'heartbeat', {})));
    out({ events: seen });
  } else if (cmd === 'wait-ignored') {
    const n = Number(arg);
    await changed.until(() => ignored >= n, 20000, `timeout waiting for ${n} ignored calls`);
    out({ ok: true });
  } else if (cmd === 'user-join') {
    const i = Number(arg);
    const ack = await call(socks[i].socket, 'user-join', { auth: { token: line.split(' ')[2] } });
    out({ ack, before: seen[i].length });
  } else if (cmd === 'close') {
    const i = Number(arg);
    socks[i].socket.disconnect();
    open[i] = false;
    out({ closed: i });
  } else {
    throw new Error('unknown step ' + line);
  }
}
process.exit(0);
