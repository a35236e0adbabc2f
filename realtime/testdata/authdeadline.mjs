// authdeadline.mjs URL TOKEN
// H authenticates in the handshake and J by user-join; U never does. U is
// closed by the server; H and J (connected before U) still answer after.
import { connect, call, main } from './lib.mjs';

main(async () => {
  const [url, token] = process.argv.slice(2);
  const H = await connect(url, token);
  const J = await connect(url);
  const joinAck = await call(J.socket, 'user-join', { auth: { token } });
  const U = await connect(url);
  const reason = await U.rec.waitFor('disconnect', () => true, { timeout: 20000 });
  const h = await call(H.socket, 'heartbeat', {});
  const j = await call(J.socket, 'heartbeat', {});
  H.socket.close(); J.socket.close();
  return { joinOk: joinAck.ok, reason, h, j };
});
