// revoke.mjs URL TOKEN_A TOKEN_B TRANSPORT
// Opens two sockets of account A and one of B, prints "ready", then waits
// (on stdin's close) and reports which sockets were disconnected.
import { connect, out } from './lib.mjs';

const [url, tokA, tokB, transport] = process.argv.slice(2);
const transports = [transport];
const a1 = await connect(url, tokA, { transports });
const a2 = await connect(url, tokA, { transports });
const b = await connect(url, tokB, { transports });
// user-join with an ack: the socket is authenticated (in user:<id>) once it answers.
for (const c of [a1, a2, b]) await c.socket.timeout(15000).emitWithAck('user-join', { auth: { token: c === b ? tokB : tokA } });
out({ ready: true });
await Promise.all([a1, a2].map((c) => c.rec.waitFor('disconnect', () => true, { timeout: 10000 })));
out({ a1: a1.socket.connected, a2: a2.socket.connected, b: b.socket.connected,
  a1Reason: a1.rec.of('disconnect')[0], bEvents: b.rec.of('disconnect').length });
process.exit(0);
