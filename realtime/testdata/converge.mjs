// converge.mjs URL NOTE TOKEN_A TOKEN_B TOKEN_LATE
// Two editors make concurrent edits to the Y.XmlFragment "prosemirror"
// (paragraph elements with text, as y-prosemirror does) and apply each
// other's relays; both converge, and a late joiner's state equals theirs.
import * as Y from 'yjs';
import { connect, call, main, lateState } from './lib.mjs';

function editor(c, doc) {
  const d = new Y.Doc();
  const sent = [];
  d.on('update', (u, origin) => {
    if (origin === 'server') return;
    sent.push(call(c.socket, 'ydoc:document:update', { document_id: doc, update: Array.from(u) }));
  });
  c.socket.on('ydoc:document:state', (m) => Y.applyUpdate(d, new Uint8Array(m.state), 'server'));
  c.socket.on('ydoc:document:update', (m) => Y.applyUpdate(d, new Uint8Array(m.update), 'server'));
  return { d, sent, frag: d.getXmlFragment('prosemirror') };
}

function paragraph(text) {
  const p = new Y.XmlElement('paragraph');
  p.insert(0, [new Y.XmlText(text)]);
  return p;
}

main(async () => {
  const [url, note, tokA, tokB, tokLate] = process.argv.slice(2);
  const doc = `note:${note}`;
  const A = await connect(url, tokA);
  const B = await connect(url, tokB);
  const ea = editor(A, doc), eb = editor(B, doc);
  for (const c of [A, B]) {
    const r = await call(c.socket, 'ydoc:document:join', { document_id: doc });
    if (!r.ok) throw new Error('join ' + JSON.stringify(r));
  }
  for (let i = 0; i < 30; i++) {
    ea.frag.insert(ea.frag.length, [paragraph(`a${i}`)]);
    eb.frag.insert(0, [paragraph(`b${i}`)]);
    if (i % 5 === 0 && ea.frag.length > 2) ea.frag.delete(1, 1);
    const t = eb.frag.get(eb.frag.length - 1);
    if (t) t.get(0).insert(0, 'x');
    if (i % 3 === 0) ea.frag.get(0)?.setAttribute('level', `${i}`);
  }
  const acks = await Promise.all([...ea.sent, ...eb.sent]);
  // Wait until both have seen every relayed update of the other.
  await A.rec.waitFor('ydoc:document:update', () => true, { n: eb.sent.length, timeout: 30000 });
  await B.rec.waitFor('ydoc:document:update', () => true, { n: ea.sent.length, timeout: 30000 });
  const st = await lateState(url, tokLate, doc);
  const late = new Y.Doc();
  Y.applyUpdate(late, new Uint8Array(st.state));
  const res = {
    acksOk: acks.filter((x) => x.ok).length, acks: acks.length,
    a: ea.frag.toString(), b: eb.frag.toString(), late: late.getXmlFragment('prosemirror').toString(),
  };
  A.socket.close(); B.socket.close();
  return res;
});
