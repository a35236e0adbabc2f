// sockets.mjs URL TOKEN...
// One socket per token (socket i has TOKEN i), each recording what it
// receives. Prints {"ready":true}; then per stdin line, a JSON array:
//   ["call", i, event, payload]  sends it with an ack, prints {ack}
//   ["calls", i, [[event, payload], ...]]  sends them all at once (so they
//       queue on the server back to back), prints {acks} in order
//   ["wait", i, event, n]  prints {data}: socket i's n-th event of that
//       name (an error after 10 s)
//   ["seen", i]  a heartbeat round trip on socket i (what was sent to it
//       before comes first), then prints {events: [{name, data}]}: what it
//       received since its last "seen"
// A payload {"$text": "s"} under "update" is replaced by the Yjs update
// that inserts s into a fresh document's Y.Text 't'.
import * as readline from 'node:readline';
import { connect, out, textUpdate } from './lib.mjs';

const [url, ...tokens] = process.argv.slice(2);
const socks = await Promise.all(tokens.map((t) => connect(url, t)));
const read = socks.map(() => 0);
const ack = (i, ev, payload) => {
  if (payload && payload.update && payload.update.$text !== undefined) {
    payload = { ...payload, update: textUpdate(payload.update.$text) };
  }
  return socks[i].socket.timeout(10000).emitWithAck(ev, payload).catch((e) => ({ timeout: String(e) }));
};
out({ ready: true });
for await (const line of readline.createInterface({ input: process.stdin })) {
  const [op, i, ...args] = JSON.parse(line);
  const { rec } = socks[i];
  try {
    if (op === 'call') {
      out({ ack: await ack(i, args[0], args[1]) });
    } else if (op === 'calls') {
      out({ acks: await Promise.all(args[0].map(([ev, p]) => ack(i, ev, p))) });
    } else if (op === 'wait') {
      out({ data: await rec.waitFor(args[0], () => true, { n: args[1], timeout: 10000 }) });
    } else if (op === 'seen') {
      await ack(i, 'heartbeat', {});
      // The heartbeat's own ack is not an event; anything else since the last look is.
      out({ events: rec.events.slice(read[i]) });
      read[i] = rec.events.length;
    } else {
      out({ error: 'unknown op ' + op });
    }
  } catch (e) {
    out({ error: String(e) });
  }
}
process.exit(0);
