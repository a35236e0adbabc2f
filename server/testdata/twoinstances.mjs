// twoinstances.mjs URL_A URL_B NOTE TOKEN_A TOKEN_B
// One socket on each instance joins the note's document; each inserts its
// own text; prints {"text": ...} once both have both, and waits for stdin
// to close before closing the sockets (so the documents stay live).
import * as Y from 'yjs';
import { connect } from '../../realtime/testdata/lib.mjs';

const [urlA, urlB, note, tokA, tokB] = process.argv.slice(2);
const doc = `note:${note}`;
const until = async (cond) => { while (!cond()) await new Promise((r) => setTimeout(r, 5)); };

async function open(url, token) {
  const { socket } = await connect(url, token);
  const y = new Y.Doc();
  let joined = false;
  socket.on('ydoc:document:update', (d) => { if (d.document_id === doc) Y.applyUpdate(y, new Uint8Array(d.update), 'server'); });
  socket.on('ydoc:document:state', (d) => { if (d.document_id === doc) { Y.applyUpdate(y, new Uint8Array(d.state), 'server'); joined = true; } });
  const r = await socket.timeout(10000).emitWithAck('ydoc:document:join', { document_id: doc });
  if (!r.ok) throw new Error('join ' + JSON.stringify(r));
  await until(() => joined);
  y.on('update', (u, origin) => {
    if (origin === 'server') return;
    socket.timeout(10000).emitWithAck('ydoc:document:update', { document_id: doc, update: Array.from(u) })
      .then((a) => { if (!a.ok) { process.stderr.write('update refused ' + JSON.stringify(a) + '\n'); process.exit(1); } });
  });
  return { socket, y };
}

const a = await open(urlA, tokA);
const b = await open(urlB, tokB);
a.y.getText('t').insert(0, 'from A. ');
b.y.getText('t').insert(0, 'from B. ');
const text = (c) => c.y.getText('t').toString();
await until(() => text(a).length === 16 && text(a) === text(b));
process.stdout.write(JSON.stringify({ text: text(a) }) + '\n');
process.stdin.on('end', () => { a.socket.close(); b.socket.close(); });
process.stdin.resume();
