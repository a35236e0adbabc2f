// Generates yupdate's fixtures with the real yjs: run `node yupdate/testdata/gen.mjs` from
// /work/main. Writes fixtures.json (updates and state vectors with what yjs decodes from
// them), missing.json (delivery cases with yjs's verdict on pending state) and seed corpora
// under fuzz/. Deterministic: fixed client ids and a seeded PRNG.
import * as Y from 'yjs'
import { writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

let seed = 12345
const rand = () => { // mulberry32
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const randInt = n => Math.floor(rand() * n)
const pick = a => a[randInt(a.length)]

const newDoc = client => { const d = new Y.Doc(); d.clientID = client; return d }
const b64 = u => Buffer.from(u).toString('base64')

// What yjs itself decodes: struct ranges (skips excluded, adjacent merged), deletes, deps.
const expect = update => {
  const { structs, ds } = Y.decodeUpdate(update)
  const ranges = {}
  for (const s of structs) {
    if (s instanceof Y.Skip) continue
    const rs = (ranges[s.id.client] ??= [])
    const last = rs[rs.length - 1]
    if (last && last[0] + last[1] === s.id.clock) last[1] += s.length
    else rs.push([s.id.clock, s.length])
  }
  const creates = id => (ranges[id.client] ?? []).some(([c, l]) => id.clock >= c && id.clock < c + l)
  const deps = new Map()
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    for (const id of [s.origin, s.rightOrigin, s.parent]) {
      if (id && typeof id === 'object' && 'clock' in id && !creates(id)) deps.set(`${id.client}:${id.clock}`, [id.client, id.clock])
    }
  }
  const deletes = {}
  for (const [client, items] of ds.clients) {
    const rs = items.filter(d => d.len > 0).map(d => [d.clock, d.len])
    if (rs.length) deletes[client] = rs
  }
  const sortedDeps = [...deps.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1])
  return { structs: ranges, deletes, deps: sortedDeps }
}

const fixtures = []
const addUpdate = (name, update) => fixtures.push({ name, kind: 'update', data: b64(update), ...expect(update) })
const addSV = (name, sv) => {
  const m = {}
  for (const [c, k] of Y.decodeStateVector(sv)) m[c] = k
  fixtures.push({ name, kind: 'sv', data: b64(sv), sv: m })
}

// Record every update a doc emits.
const recorder = doc => {
  const log = []
  doc.on('update', u => log.push(u))
  return log
}

// --- Y.Text: typing, deletes, formatting, embeds, unicode ---
{
  const doc = newDoc(1)
  const log = recorder(doc)
  const t = doc.getText('text')
  const words = ['hello', ' world', ' ünïcödé', ' 日本語', ' 👩‍👩‍👧 emoji', ' \u{1F600}', ' tab\tnew\nline']
  for (let i = 0; i < 40; i++) {
    const op = randInt(10)
    if (op < 5 || t.length === 0) t.insert(randInt(t.length + 1), pick(words))
    else if (op < 8) { const at = randInt(t.length); t.delete(at, Math.min(1 + randInt(4), t.length - at)) }
    else if (op < 9) { const at = randInt(t.length); t.format(at, Math.min(3, t.length - at), { bold: true, color: pick(['#f00', null]) }) }
    else t.insertEmbed(randInt(t.length + 1), { image: 'https://example.com/x.png', alt: 'ä' })
  }
  log.forEach((u, i) => addUpdate(`text/${i}`, u))
  addUpdate('text/state', Y.encodeStateAsUpdate(doc))
  addSV('text/sv', Y.encodeStateVector(doc))
  addUpdate('text/merged', Y.mergeUpdates(log))
  addUpdate('text/diff-from-half', Y.encodeStateAsUpdate(doc, Y.encodeStateVectorFromUpdate(Y.mergeUpdates(log.slice(0, 20)))))
  addUpdate('text/merged-gap', Y.mergeUpdates([log[0], log[5], log[9]])) // carries skips
}

// --- large strings ---
{
  const doc = newDoc(7)
  const log = recorder(doc)
  const t = doc.getText('big')
  t.insert(0, 'x'.repeat(50000))
  t.insert(100, 'é😀'.repeat(5000))
  t.delete(10, 20000)
  log.forEach((u, i) => addUpdate(`large/${i}`, u))
  addUpdate('large/state', Y.encodeStateAsUpdate(doc))
}

// --- Y.Map and Y.Array of mixed values, nested types, subdocs ---
{
  const doc = newDoc(2)
  const log = recorder(doc)
  const m = doc.getMap('map')
  const a = doc.getArray('array')
  m.set('n', 1)
  m.set('float', 1.5)
  m.set('big', 2 ** 40)
  m.set('neg', -123456)
  m.set('str', 'value ✓')
  m.set('bool', true)
  m.set('null', null)
  m.set('obj', { a: [1, 2, { b: 'c' }], d: null, e: false, f: 0.1 })
  m.set('bin', new Uint8Array([0, 1, 2, 255]))
  m.set('n', 2)
  m.delete('bool')
  a.insert(0, [1, 'two', { three: 3 }, [4], null, true, new Uint8Array([5])])
  a.insert(2, [-1.25, 'x'.repeat(300)])
  a.delete(1, 2)
  const inner = new Y.Map()
  m.set('nested', inner)
  inner.set('k', 'v')
  const arr2 = new Y.Array()
  inner.set('list', arr2)
  arr2.push(['deep'])
  const txt = new Y.Text('nested text')
  a.push([txt])
  txt.insert(0, '>> ')
  const sub = new Y.Doc({ guid: 'sub-guid-1', meta: { kind: 'note' } })
  m.set('subdoc', sub)
  m.set('big array', new Array(100).fill(0).map((_, i) => i * 3))
  log.forEach((u, i) => addUpdate(`map/${i}`, u))
  addUpdate('map/state', Y.encodeStateAsUpdate(doc))
  addSV('map/sv', Y.encodeStateVector(doc))
}

// ContentJSON is only written by old yjs versions; build one by hand (ref 2) as yjs reads it.
{
  const bytes = [1, 1, 9, 0, // one client, one struct, client 9, clock 0
    2, 1, 3, 0x61, 0x72, 0x72, // info=JSON, parent root "arr"
    3, 1, 0x31, 9, 0x75, 0x6e, 0x64, 0x65, 0x66, 0x69, 0x6e, 0x65, 0x64, 7, 0x7b, 0x22, 0x61, 0x22, 0x3a, 0x32, 0x7d, // ["1","undefined",'{"a":2}']
    0]
  addUpdate('handmade/content-json', new Uint8Array(bytes))
}

// --- ProseMirror-style XmlFragment ---
const buildProse = (doc, paragraphs) => {
  const f = doc.getXmlFragment('prosemirror')
  const h = new Y.XmlElement('heading')
  f.insert(0, [h])
  h.setAttribute('level', '2')
  const ht = new Y.XmlText()
  h.insert(0, [ht])
  ht.insert(0, 'Title ✨')
  for (let i = 0; i < paragraphs; i++) {
    const p = new Y.XmlElement('paragraph')
    f.push([p])
    const t = new Y.XmlText()
    p.insert(0, [t])
    t.insert(0, `paragraph ${i} with `)
    t.insert(t.length, 'bold', { bold: true })
    t.insert(t.length, ' text')
  }
  const list = new Y.XmlElement('bulletList')
  f.push([list])
  for (let i = 0; i < 3; i++) {
    const li = new Y.XmlElement('listItem')
    list.push([li])
    const p = new Y.XmlElement('paragraph')
    li.push([p])
    const t = new Y.XmlText()
    p.push([t])
    t.insert(0, `item ${i}`)
  }
  f.push([new Y.XmlHook('custom-hook')])
  return f
}
{
  const doc = newDoc(3)
  const log = recorder(doc)
  const f = buildProse(doc, 4)
  const p1 = f.get(1)
  const t1 = p1.get(0)
  t1.format(0, 5, { bold: true })
  t1.delete(2, 3)
  t1.insert(1, 'ü')
  f.delete(2, 1)
  f.get(0).setAttribute('level', '3')
  log.forEach((u, i) => addUpdate(`prose/${i}`, u))
  addUpdate('prose/state', Y.encodeStateAsUpdate(doc))
  addSV('prose/sv', Y.encodeStateVector(doc))
  addUpdate('prose/merged', Y.mergeUpdates(log))
}

addUpdate('empty/state', Y.encodeStateAsUpdate(new Y.Doc()))
addSV('empty/sv', Y.encodeStateVector(new Y.Doc()))

// --- two-client concurrent sessions: logs for delivery-order cases ---
const session = (name, clients, steps, edit) => {
  const docs = clients.map(newDoc)
  const log = []
  docs.forEach(d => d.on('update', (u, origin) => { if (origin !== 'sync') log.push(u) }))
  for (let s = 0; s < steps; s++) {
    const i = randInt(docs.length)
    edit(docs[i], s)
    if (rand() < 0.4) { // sync everyone
      for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'sync')
    }
  }
  return log
}
const textEdit = (doc) => {
  const t = doc.getText('t')
  if (t.length > 3 && rand() < 0.35) { const at = randInt(t.length); t.delete(at, Math.min(1 + randInt(3), t.length - at)) } else if (t.length > 3 && rand() < 0.1) t.format(randInt(t.length - 2), 2, { italic: true })
  else t.insert(randInt(t.length + 1), pick(['a', 'bc', 'déf', '😀', ' ']))
}
const proseEdit = (doc) => {
  const f = doc.getXmlFragment('prosemirror')
  if (f.length === 0 || rand() < 0.15) {
    const p = new Y.XmlElement(pick(['paragraph', 'heading']))
    f.insert(randInt(f.length + 1), [p])
    if (p.nodeName === 'heading') p.setAttribute('level', String(1 + randInt(3)))
    const t = new Y.XmlText(); p.insert(0, [t]); t.insert(0, 'new')
    return
  }
  const p = f.get(randInt(f.length))
  const t = p.get(0)
  if (!t) return
  if (t.length > 2 && rand() < 0.3) t.delete(randInt(t.length - 1), 1)
  else if (t.length > 2 && rand() < 0.2) t.format(0, 2, { bold: true })
  else if (rand() < 0.05 && f.length > 1) f.delete(randInt(f.length), 1)
  else t.insert(randInt(t.length + 1), pick(['x', 'yz', 'ß']))
}
const mapEdit = (doc) => {
  const m = doc.getMap('m')
  const a = doc.getArray('a')
  if (rand() < 0.5) m.set(pick(['k1', 'k2', 'k3']), pick([1, 'two', { three: [3] }, null]))
  else if (a.length > 0 && rand() < 0.3) a.delete(randInt(a.length), 1)
  else a.insert(randInt(a.length + 1), [pick([1, 'x', true])])
}

const missing = []
const delivery = (name, log, orders) => {
  const seen = new Set()
  const cases = []
  for (const order of orders) {
    let doc = new Y.Doc()
    const held = []
    const tryApply = (idx) => {
      const clone = new Y.Doc()
      Y.applyUpdate(clone, Y.encodeStateAsUpdate(doc))
      const sv = Y.encodeStateVector(doc)
      Y.applyUpdate(clone, log[idx])
      const pending = clone.store.pendingStructs !== null || clone.store.pendingDs !== null
      const key = `${b64(sv)} ${idx}`
      if (!seen.has(key)) { seen.add(key); cases.push({ name, sv: b64(sv), update: `${name}/${idx}`, missing: pending }) }
      if (!pending) doc = clone
      return !pending
    }
    for (const idx of order) {
      if (!tryApply(idx)) { held.push(idx); continue }
      for (let progress = true; progress;) {
        progress = false
        for (let k = 0; k < held.length; k++) {
          if (tryApply(held[k])) { held.splice(k, 1); progress = true; break }
        }
      }
    }
    if (held.length) throw new Error(`${name}: ${held.length} updates never applied`)
  }
  // Keep the file small: every held case and as many applied ones, sampled.
  const held = cases.filter(c => c.missing)
  const applied = cases.filter(c => !c.missing)
  const sample = (a, n) => { const s = shuffled(a.length).slice(0, n); return s.map(i => a[i]) }
  missing.push(...sample(held, 300), ...sample(applied, 300))
}
const shuffled = n => {
  const a = [...Array(n).keys()]
  for (let i = n - 1; i > 0; i--) { const j = randInt(i + 1);[a[i], a[j]] = [a[j], a[i]] }
  return a
}
for (const [name, clients, steps, edit] of [
  ['seq/text', [11, 12], 60, textEdit],
  ['seq/prose', [21, 22, 23], 60, proseEdit],
  ['seq/map', [31, 32], 40, mapEdit]
]) {
  const log = session(name, clients, steps, edit)
  log.forEach((u, i) => addUpdate(`${name}/${i}`, u))
  const n = log.length
  delivery(name, log, [[...Array(n).keys()], shuffled(n), shuffled(n), [...Array(n).keys()].reverse()])
}

writeFileSync(join(here, 'fixtures.json'), JSON.stringify(fixtures))
writeFileSync(join(here, 'missing.json'), JSON.stringify(missing))

// Seed corpora in `go test fuzz v1` format: the smaller fixtures, bytes as \x escapes.
const corpus = (target, items) => {
  const dir = join(here, 'fuzz', target)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  for (const bytes of items) {
    const body = 'go test fuzz v1\n[]byte("' + [...bytes].map(b => '\\x' + b.toString(16).padStart(2, '0')).join('') + '")\n'
    writeFileSync(join(dir, createHash('sha256').update(body).digest('hex').slice(0, 16)), body)
  }
}
const raw = f => Buffer.from(f.data, 'base64')
corpus('FuzzParse', fixtures.filter(f => f.kind === 'update' && raw(f).length < 400).map(raw).slice(0, 40))
corpus('FuzzParseStateVector', fixtures.filter(f => f.kind === 'sv').map(raw))
console.log(`${fixtures.length} fixtures, ${missing.length} delivery cases`)
