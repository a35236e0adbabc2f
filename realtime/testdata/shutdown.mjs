// shutdown.mjs URL TOKEN TRANSPORT
// Opens a socket, prints "ready", and reports its disconnect: the reason,
// and on a websocket the close code the client saw.
import { connect, main, out } from './lib.mjs';

const [url, token, transport] = process.argv.slice(2);
main(async () => {
  const c = await connect(url, token, { transports: [transport] });
  const gone = new Promise((resolve) => c.socket.once('disconnect', (reason, desc) => resolve({ reason, code: desc?.context?.code ?? 0 })));
  out({ ready: true });
  return gone;
});
