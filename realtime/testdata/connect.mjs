// connect.mjs URL TOKEN|- : connect (no token when "-"), call user-join with
// the same token, and a document join, reporting the acks.
import { connect, call, main } from './lib.mjs';

main(async () => {
  const [url, tok, noteID] = process.argv.slice(2);
  const token = tok === '-' ? undefined : tok;
  const { socket } = await connect(url, token);
  const id = socket.id;
  const heartbeat = await call(socket, 'heartbeat', {});
  const join = await call(socket, 'ydoc:document:join', { document_id: `note:${noteID}`, user_id: 'x', user_name: 'n', user_color: '#111111' });
  const userJoin = await call(socket, 'user-join', { auth: { token: token ?? '' } });
  socket.close();
  return { connected: true, id, heartbeat, join, userJoin };
});
