// presence.mjs URL TOKEN
// Connects one socket with TOKEN and prints {"ready":true}; then per stdin
// line: "heartbeat" sends one and prints its ack, "usage MODEL" sends a
// usage event for MODEL ("usage" alone: a payload without one) and prints
// its ack, "close" disconnects and prints {"closed":true}.
import * as readline from 'node:readline';
// connect retries one stalled connect (the library's known defect), like a browser.
import { connect } from '../../realtime/testdata/lib.mjs';

const [url, token] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const { socket } = await connect(url, token);
out({ ready: true });

for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line === 'heartbeat') {
    out({ ack: await socket.timeout(10000).emitWithAck('heartbeat', {}) });
  } else if (line.startsWith('usage')) {
    const model = line.slice('usage '.length);
    const payload = model ? { action: 'chat', model, chat_id: 'c1' } : { action: 'chat' };
    out({ ack: await socket.timeout(10000).emitWithAck('usage', payload) });
  } else if (line === 'close') {
    socket.disconnect();
    out({ closed: true });
    process.exit(0);
  }
}
// stdin closed without "close" (the test failed): exit, or the open socket
// keeps this process, and the test's cmd.Wait, alive.
process.exit(0);
