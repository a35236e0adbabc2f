// peer.mjs URL TOKEN
// One authenticated socket (in user:<id>). Prints {"ready":true}, then the
// first "events" event it gets, then {"disconnected":reason} when the
// server closes it.
import { connect, out } from './lib.mjs';

const [url, token] = process.argv.slice(2);
const c = await connect(url, token);
await c.socket.timeout(15000).emitWithAck('user-join', { auth: { token } });
out({ ready: true });
out({ events: await c.rec.waitFor('events') });
out({ disconnected: await c.rec.waitFor('disconnect') });
process.exit(0);
