// maxdocs.mjs URL TOKEN NOTE1 NOTE2 NOTE3 (the server allows 2 documents a socket)
import { connect, call, main } from './lib.mjs';

main(async () => {
  const [url, token, ...notes] = process.argv.slice(2);
  const C = await connect(url, token);
  const j = (n) => call(C.socket, 'ydoc:document:join', { document_id: `note:${n}` });
  const res = {};
  res.first = await j(notes[0]);
  res.second = await j(notes[1]);
  res.third = await j(notes[2]);
  res.again = await j(notes[1]); // already joined: not a new document
  res.leave = await call(C.socket, 'ydoc:document:leave', { document_id: `note:${notes[0]}` });
  res.thirdAfterLeave = await j(notes[2]);
  C.socket.close();
  return res;
});
