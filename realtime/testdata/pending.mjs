// pending.mjs URL NOTE TOKEN CHANNEL : an account waiting for approval tries
// every event, with its token in the handshake and by user-join; prints the
// acks.
import { connect, call, main, textUpdate } from './lib.mjs';

main(async () => {
  const [url, note, token, channel] = process.argv.slice(2);
  const doc = `note:${note}`;
  const res = {};
  for (const [name, c] of [['handshake', await connect(url, token)], ['plain', await connect(url)]]) {
    const acks = {};
    acks.userJoin = await call(c.socket, 'user-join', { auth: { token } });
    acks.heartbeat = await call(c.socket, 'heartbeat', {});
    acks.joinNote = await call(c.socket, 'join-note', { note_id: note, auth: { token } });
    acks.join = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    acks.update = await call(c.socket, 'ydoc:document:update', { document_id: doc, update: textUpdate('x') });
    acks.awareness = await call(c.socket, 'ydoc:awareness:update', { document_id: doc, update: Array.from(new TextEncoder().encode('{"1":{}}')) });
    acks.joinChannels = await call(c.socket, 'join-channels', { auth: { token } });
    acks.typing = await call(c.socket, 'events:channel', { channel_id: channel, message_id: null, data: { type: 'typing', data: { typing: true } } });
    acks.lastRead = await call(c.socket, 'events:channel', { channel_id: channel, message_id: null, data: { type: 'last_read_at' } });
    res[name] = acks;
    c.socket.close();
  }
  return res;
});
