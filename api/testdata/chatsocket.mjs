// chatsocket.mjs URL TOKEN [TOKEN …]
// One authenticated socket per TOKEN (a round trip each, so the server has
// adopted it), keeping every "events" and "events:channel" payload it gets
// as {name, payload}. Prints {"ready":true}, then per stdin line one JSON
// line:
//   sids                → {sids: [socket ids]}
//   join I              → socket I sends join-channels; {ack}
//   until I TYPE [MID]  → once socket I got an "events" of data.type TYPE
//                         (for message MID): {ok: true}
//   events I [MID]      → after a round trip on socket I: {events: [...]}
//                         (only message MID's "events" when given)
//   gone I [MID]        → once socket I was disconnected (the server
//                         stopped): {events: [...]}, all it got before
//   close I             → disconnects socket I; {closed: I}
import * as readline from 'node:readline';
import { changes, connect, call, out } from '../../realtime/testdata/lib.mjs';

const [url, ...tokens] = process.argv.slice(2);
const socks = await Promise.all(tokens.map((t) => connect(url, t)));
const seen = socks.map(() => []);
const changed = changes();
socks.forEach((s, i) => {
  for (const name of ['events', 'events:channel']) {
    s.socket.on(name, (payload) => {
      seen[i].push({ name, payload });
      changed.notify();
    });
  }
});
await Promise.all(socks.map((s) => call(s.socket, 'heartbeat', {})));
out({ ready: true });

const ofMessage = (i, mid) => seen[i].filter((e) => mid === undefined || (e.name === 'events' && e.payload.message_id === mid));

for await (const line of readline.createInterface({ input: process.stdin })) {
  const [cmd, a, b, c] = line.split(' ');
  const i = Number(a);
  if (cmd === 'sids') {
    out({ sids: socks.map((s) => s.socket.id) });
  } else if (cmd === 'join') {
    out({ ack: await call(socks[i].socket, 'join-channels', { auth: { token: tokens[i] } }) });
  } else if (cmd === 'until') {
    const hit = () => ofMessage(i, c).some((e) => e.name === 'events' && e.payload.data && e.payload.data.type === b);
    await changed.until(hit, 30000, `timeout waiting for ${b} on socket ${i}`);
    out({ ok: true });
  } else if (cmd === 'events') {
    await call(socks[i].socket, 'heartbeat', {});
    out({ events: ofMessage(i, b) });
  } else if (cmd === 'gone') {
    if (socks[i].socket.connected) await new Promise((resolve) => socks[i].socket.once('disconnect', resolve));
    out({ events: ofMessage(i, b) });
  } else if (cmd === 'close') {
    socks[i].socket.disconnect();
    out({ closed: i });
  } else {
    throw new Error('unknown step ' + line);
  }
}
process.exit(0);
