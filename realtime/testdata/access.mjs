// access.mjs URL NOTE READER_TOKEN STRANGER_TOKEN WRITER_TOKEN
// A stranger's join is refused with no state; a reader joins but its update
// is refused and not relayed, while the writer's update is relayed.
import * as Y from 'yjs';
import { connect, call, main, lateState, textUpdate } from './lib.mjs';

main(async () => {
  const [url, note, readerTok, strangerTok, writerTok] = process.argv.slice(2);
  const doc = `note:${note}`;
  const join = (s) => call(s, 'ydoc:document:join', { document_id: doc, user_id: 'u', user_name: 'n', user_color: '#123456' });

  const stranger = await connect(url, strangerTok);
  const strangerJoin = await join(stranger.socket);
  const strangerNoteJoin = await call(stranger.socket, 'join-note', { note_id: note, auth: { token: strangerTok } });
  const strangerState = await call(stranger.socket, 'ydoc:document:state', { document_id: doc });
  const strangerUpdate = await call(stranger.socket, 'ydoc:document:update', { document_id: doc, update: [0, 0] });

  const reader = await connect(url, readerTok);
  const writer = await connect(url, writerTok);
  const readerJoin = await join(reader.socket);
  const readerNoteJoin = await call(reader.socket, 'join-note', { note_id: note, auth: { token: readerTok } });
  const writerJoin = await join(writer.socket);
  const underscoreJoin = await call(writer.socket, 'ydoc:document:join', { document_id: `note_${note}` });
  const otherDoc = await call(writer.socket, 'ydoc:document:join', { document_id: 'chat:abc' });
  const missing = await call(writer.socket, 'ydoc:document:join', { document_id: 'note:does-not-exist' });

  const readerUpdate = await call(reader.socket, 'ydoc:document:update', { document_id: doc, update: textUpdate('reader') });
  const readerContentOnly = await call(reader.socket, 'ydoc:document:update', { document_id: doc, data: { content: { md: 'x' } } });
  const wu = textUpdate('writer');
  const writerUpdate = await call(writer.socket, 'ydoc:document:update', { document_id: doc, update: wu });
  const writerContentOnly = await call(writer.socket, 'ydoc:document:update', { document_id: doc, data: { content: { md: 'x' } } });
  // The reader sees the writer's update; had the reader's been relayed the
  // writer would have received it before its own ack.
  const relayed = await reader.rec.waitFor('ydoc:document:update');
  const result = {
    strangerJoin, strangerNoteJoin, strangerState, strangerUpdate,
    strangerGotState: stranger.rec.of('ydoc:document:state').length,
    readerJoin, readerNoteJoin, writerJoin, underscoreJoin, otherDoc, missing,
    readerUpdate, readerContentOnly, writerUpdate, writerContentOnly,
    readerGotState: reader.rec.of('ydoc:document:state').map((s) => ({ document_id: s.document_id, state: s.state, sessions: s.sessions.length })),
    writerGotUpdates: writer.rec.of('ydoc:document:update').length,
    relayedMatches: JSON.stringify(relayed.update) === JSON.stringify(wu),
    relayed: { document_id: relayed.document_id, socket_id: relayed.socket_id === writer.socket.id, user_id: relayed.user_id },
    joined: reader.rec.of('ydoc:user:joined'),
  };
  const st = await lateState(url, writerTok, doc);
  const late = new Y.Doc();
  Y.applyUpdate(late, new Uint8Array(st.state));
  result.lateText = late.getText('t').toString();
  for (const c of [stranger, reader, writer]) c.socket.close();
  return result;
});
