// joinmany.mjs URL TOKEN DOC... : one socket joins every document in turn,
// waits for each one's state, prints {"ready":N,"stateBytes":…}, and keeps
// the socket (and the documents joined) until stdin closes.
import { connect, call, out } from './lib.mjs';

const [url, token, ...docs] = process.argv.slice(2);
const c = await connect(url, token, { timeout: 20000 });
let stateBytes = 0;
for (const doc of docs) {
  const ack = await call(c.socket, 'ydoc:document:join', { document_id: doc });
  if (!ack.ok) throw new Error('join: ' + JSON.stringify(ack));
  const st = await c.rec.waitFor('ydoc:document:state', (d) => d.document_id === doc, { timeout: 60000 });
  stateBytes += st.state.length;
}
out({ ready: docs.length, stateBytes });
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
