// channels.mjs URL CHANNEL TOKEN_A TOKEN_B TOKEN_C
// Three sockets. Per stdin line it acts, waits a round trip on every socket
// (so whatever the server sent before has arrived) and prints one JSON line:
//   join     → every socket sends join-channels; prints the acks
//   typing   → A types in CHANNEL, C (outside the room) tries typing and
//              last_read_at there, B marks it read; bad payloads from A
//   show     → nothing; prints what each socket received on events:channel
import * as readline from 'node:readline';
import { connect, call, out } from './lib.mjs';

const [url, channel, ...tokens] = process.argv.slice(2);
const socks = await Promise.all(tokens.map((t) => connect(url, t)));
const [a, b, c] = socks;
const barrier = () => Promise.all(socks.map((s) => call(s.socket, 'heartbeat', {})));
const seen = (s) => s.rec.of('events:channel').map((e) => ({ channel_id: e.channel_id ?? null, message_id: e.message_id ?? null,
  type: e.data.type, data: e.data.data ?? null, user: e.user ? e.user.id : null, channel: e.channel ? e.channel.id : null }));
const typing = (typing) => ({ channel_id: channel, message_id: null, data: { type: 'typing', data: { typing } } });

out({ ready: true });
for await (const line of readline.createInterface({ input: process.stdin })) {
  let r = {};
  if (line === 'join') {
    r = { acks: await Promise.all(socks.map((s, i) => call(s.socket, 'join-channels', { auth: { token: tokens[i] } }))) };
  } else if (line === 'typing') {
    r.a = await call(a.socket, 'events:channel', typing(true));
    r.c = await call(c.socket, 'events:channel', typing(true));
    r.cRead = await call(c.socket, 'events:channel', { channel_id: channel, message_id: null, data: { type: 'last_read_at' } });
    r.bRead = await call(b.socket, 'events:channel', { channel_id: channel, message_id: null, data: { type: 'last_read_at' } });
    r.bad = await Promise.all([
      'nope', { channel_id: channel }, { channel_id: channel, data: { type: 'shout' } },
      { channel_id: channel, data: { type: 'typing', data: { typing: 'yes' } } },
      { channel_id: 5, data: { type: 'typing', data: { typing: true } } },
    ].map((p) => call(a.socket, 'events:channel', p)));
  } else if (line !== 'show') {
    throw new Error('unknown step ' + line);
  }
  await barrier();
  out({ ...r, seen: socks.map(seen) });
}
process.exit(0);
