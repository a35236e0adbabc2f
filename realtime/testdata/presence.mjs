// presence.mjs URL WATCHER_TOKEN TOKENS_FILE (one token per line)
// A watcher socket sends presence:watch; then every other token's socket
// connects, authenticates and heartbeats every 50 ms for 2 s; the watcher
// applies the presence diffs it gets until everyone is online; then they
// all disconnect and it waits until only itself is left. Prints what it saw.
import { readFileSync } from 'node:fs';
import { call, connect, main } from './lib.mjs';

const [url, watcherToken, tokensFile] = process.argv.slice(2);
const tokens = readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean);

main(async () => {
  const watcher = await connect(url, watcherToken);
  const started = Date.now();
  const ack = await call(watcher.socket, 'presence:watch', {});
  if (!ack.ok) throw new Error('watch: ' + JSON.stringify(ack));
  const online = new Set(ack.online);
  let batches = 0;
  let maxOnline = online.size;
  watcher.socket.on('events', (e) => {
    if (!e || !e.data || e.data.type !== 'presence') return;
    batches++;
    for (const id of e.data.data.online) online.add(id);
    for (const id of e.data.data.offline) online.delete(id);
    maxOnline = Math.max(maxOnline, online.size);
  });
  const until = async (cond, what) => {
    const deadline = Date.now() + 60000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('timeout: ' + what + ' (online ' + online.size + ')');
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const sockets = [];
  for (let i = 0; i < tokens.length; i += 20) {
    sockets.push(...await Promise.all(tokens.slice(i, i + 20).map((t) => connect(url, t))));
  }
  let heartbeats = 0;
  const beatUntil = Date.now() + 2000;
  while (Date.now() < beatUntil) {
    await Promise.all(sockets.map((s) => call(s.socket, 'heartbeat', {}).then((a) => { if (a.ok) heartbeats++; })));
    await new Promise((r) => setTimeout(r, 50));
  }
  await until(() => online.size === tokens.length + 1, 'everyone online');
  for (const s of sockets) s.socket.close();
  await until(() => online.size === 1, 'everyone but the watcher offline');
  return { batches, heartbeats, maxOnline, finalOnline: [...online], elapsedMs: Date.now() - started };
});
