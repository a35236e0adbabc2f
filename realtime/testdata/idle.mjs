// idle.mjs URL TOKEN N : opens N authenticated idle sockets, prints "ready",
// and keeps them until stdin closes.
import { connect, out } from './lib.mjs';

const [url, token, nStr] = process.argv.slice(2);
const n = Number(nStr);
const socks = [];
for (let i = 0; i < n; i += 50) {
  const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => connect(url, token, { timeout: 20000 })));
  socks.push(...batch);
}
out({ ready: socks.length });
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
