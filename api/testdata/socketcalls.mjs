// socketcalls.mjs URL TOKEN
// One authenticated socket. Prints {"ready":true}; then per stdin line, a
// JSON array [event, payload], it sends the event with an ack and prints
// {ack} (or {ack: null} when none came within 10 s).
import * as readline from 'node:readline';
import { connect, out } from '../../realtime/testdata/lib.mjs';

const [url, token] = process.argv.slice(2);
const { socket } = await connect(url, token);
out({ ready: true });
for await (const line of readline.createInterface({ input: process.stdin })) {
  const [ev, payload] = JSON.parse(line);
  let ack = null;
  try {
    ack = await socket.timeout(10000).emitWithAck(ev, payload);
  } catch {}
  out({ ack });
}
process.exit(0);
