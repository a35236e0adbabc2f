// statewire.mjs URL TOKEN DOC TRANSPORT: joins DOC over TRANSPORT
// (websocket or polling) with socket.io-client and prints the state as it
// arrived: {binary, state (base64), text (Y.Text 't' after applying it)}.
import * as Y from 'yjs';
import { connect, call, main } from './lib.mjs';

const [url, token, doc, transport] = process.argv.slice(2);
main(async () => {
  const c = await connect(url, token, { transports: [transport], timeout: 20000 });
  const ack = await call(c.socket, 'ydoc:document:join', { document_id: doc });
  if (!ack.ok) throw new Error('join: ' + JSON.stringify(ack));
  const st = await c.rec.waitFor('ydoc:document:state', (d) => d.document_id === doc, { timeout: 20000 });
  const bytes = new Uint8Array(st.state); // what the stock frontend does
  const d = new Y.Doc();
  Y.applyUpdate(d, bytes);
  c.socket.close();
  return { binary: !Array.isArray(st.state), state: Buffer.from(bytes).toString('base64'), text: d.getText('t').toString() };
});
