// expiry.mjs URL WATCHER_TOKEN SILENT_TOKEN
// The watcher watches presence (heartbeating, so it stays online); the
// silent socket authenticates and never heartbeats. Prints when the silent
// account came online and when it went offline, still connected.
import { call, connect, main } from './lib.mjs';

const [url, watcherToken, silentToken] = process.argv.slice(2);
main(async () => {
  const watcher = await connect(url, watcherToken);
  const bad = [await call(watcher.socket, 'presence:watch', { watch: 'yes' }), await call(watcher.socket, 'presence:watch', 'x')];
  const watch = await call(watcher.socket, 'presence:watch', {});
  const beat = setInterval(() => call(watcher.socket, 'heartbeat', {}), 200);
  const silent = await connect(url, silentToken);
  const { id } = await call(silent.socket, 'user-join', { auth: { token: silentToken } });
  const presence = (e) => e.data.type === 'presence';
  const came = (await watcher.rec.waitFor('events', (e) => presence(e) && e.data.data.online.includes(id))).data.data.online;
  const expired = (await watcher.rec.waitFor('events', (e) => presence(e) && e.data.data.offline.length > 0)).data.data.offline;
  if (!silent.socket.connected) throw new Error('the silent socket was disconnected');
  clearInterval(beat);
  return { bad, watch, came, expired };
});
