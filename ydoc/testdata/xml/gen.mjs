// Generates editlog.json: a ProseMirror-style edit log made by real yjs +
// y-prosemirror. Random (seeded, so reproducible) ProseMirror transforms —
// typing, deleting, marks, attribute changes, nested lists, splits, block
// type changes — are synced into a Y.XmlFragment with updateYFragment, the
// function ySyncPlugin uses, one transaction per edit; every update is kept.
// Run from /work/main: node ydoc/testdata/xml/gen.mjs
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { updateYFragment, yXmlFragmentToProsemirrorJSON, yXmlFragmentToProseMirrorRootNode } from 'y-prosemirror'
import { Transform } from 'prosemirror-transform'
import { schema, normalize } from './schema.mjs'

const EDITS = 600

// mulberry32: a tiny seeded PRNG so the log is the same on every run.
let seed = 0x5eed
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = a => a[Math.floor(rand() * a.length)]
const int = n => Math.floor(rand() * n)

const words = ['alpha', 'beta', 'gamma', 'delta', 'ünï', 'x', 'note', 'quire', ' ', 'a b']
const s = schema
const text = (t, marks) => s.text(t, marks)
const para = t => s.nodes.paragraph.create(null, t ? text(t) : null)
const item = (t, nested) => s.nodes.listItem.create(null, nested ? [para(t), nested] : [para(t)])
const randomMark = () => pick([
  s.marks.bold.create(), s.marks.italic.create(), s.marks.strike.create(), s.marks.code.create(),
  s.marks.underline.create(),
  s.marks.link.create({ href: pick(['https://example.com', '/notes/1', 'mailto:a@b.c']), target: pick([null, '_blank']) })
])
const randomBlock = () => pick([
  () => para(pick(words)),
  () => s.nodes.heading.create({ level: 1 + int(6) }, text(pick(words))),
  () => s.nodes.bulletList.create(null, [item(pick(words)), item(pick(words),
    s.nodes.orderedList.create({ start: 1 + int(5) }, [item(pick(words))]))]),
  () => s.nodes.taskList.create(null, [s.nodes.taskItem.create({ checked: rand() < 0.5 }, [para(pick(words))])]),
  () => s.nodes.codeBlock.create({ language: pick([null, 'go', 'js']) }, text('let x = 1\nx++')),
  () => s.nodes.blockquote.create(null, [para(pick(words))]),
  () => s.nodes.horizontalRule.create(),
  () => s.nodes.image.create({ src: 'https://example.com/i.png', alt: pick([null, 'alt']), title: null })
])()

// Positions inside textblocks, and the textblocks themselves.
function textPositions (doc) {
  const out = []
  doc.descendants((node, pos) => {
    if (node.isTextblock) {
      for (let i = 0; i <= node.content.size; i++) out.push({ pos: pos + 1 + i, node })
      return false
    }
  })
  return out
}
function nodesOf (doc, pred) {
  const out = []
  doc.descendants((node, pos) => { if (pred(node)) out.push({ node, pos }) })
  return out
}

const edits = [
  function typeText (tr) {
    const p = pick(textPositions(tr.doc))
    const marks = p.node.type.spec.code ? [] : (rand() < 0.4 ? [randomMark()] : [])
    tr.insert(p.pos, text(pick(words), marks))
  },
  function typeMore (tr) { edits[0](tr) },
  function deleteRange (tr) {
    const ps = textPositions(tr.doc)
    const a = pick(ps).pos
    tr.delete(a, Math.min(tr.doc.content.size, a + 1 + int(6)))
  },
  function addMark (tr) {
    const a = pick(textPositions(tr.doc)).pos
    tr.addMark(a, Math.min(tr.doc.content.size, a + 1 + int(8)), randomMark())
  },
  function removeMark (tr) {
    const a = pick(textPositions(tr.doc)).pos
    tr.removeMark(a, Math.min(tr.doc.content.size, a + 1 + int(8)), pick(Object.values(s.marks)))
  },
  function setAttrs (tr) {
    const ns = nodesOf(tr.doc, n => ['heading', 'taskItem', 'orderedList', 'codeBlock'].includes(n.type.name))
    if (!ns.length) return
    const { node, pos } = pick(ns)
    const attrs = {
      heading: () => ({ level: 1 + int(6) }),
      taskItem: () => ({ checked: !node.attrs.checked }),
      orderedList: () => ({ start: 1 + int(9) }),
      codeBlock: () => ({ language: pick([null, 'go', 'py']) })
    }[node.type.name]()
    tr.setNodeMarkup(pos, null, attrs)
  },
  function insertBlock (tr) {
    const ends = [0]
    tr.doc.forEach((_, offset, i) => ends.push(offset + tr.doc.child(i).nodeSize))
    tr.insert(pick(ends), randomBlock())
  },
  function nestList (tr) {
    const ns = nodesOf(tr.doc, n => n.type.name === 'listItem' || n.type.name === 'taskItem')
    if (!ns.length) return
    const { node, pos } = pick(ns)
    const nested = node.type.name === 'listItem'
      ? s.nodes.bulletList.create(null, [item(pick(words))])
      : s.nodes.taskList.create(null, [s.nodes.taskItem.create({ checked: false }, [para(pick(words))])])
    tr.insert(pos + node.nodeSize - 1, nested)
  },
  function split (tr) {
    const p = pick(textPositions(tr.doc))
    tr.split(p.pos)
  },
  function setBlockType (tr) {
    const p = pick(textPositions(tr.doc))
    const type = pick([s.nodes.paragraph, s.nodes.heading])
    tr.setBlockType(p.pos, p.pos, type, type === s.nodes.heading ? { level: 1 + int(3) } : null)
  },
  function deleteBlock (tr) {
    if (tr.doc.childCount < 2) return
    let offset = 0
    const i = int(tr.doc.childCount)
    for (let k = 0; k < i; k++) offset += tr.doc.child(k).nodeSize
    tr.delete(offset, offset + tr.doc.child(i).nodeSize)
  },
  function hardBreak (tr) {
    const ps = textPositions(tr.doc).filter(p => !p.node.type.spec.code)
    if (ps.length) tr.insert(pick(ps).pos, s.nodes.hardBreak.create())
  }
]

const ydoc = new Y.Doc()
ydoc.clientID = 4242
const frag = ydoc.getXmlFragment('prosemirror')
const updates = []
// checkpoints[i] is the content after updates[0..i], every 50 updates.
const checkpoints = {}
ydoc.on('update', u => {
  updates.push(Buffer.from(u).toString('base64'))
  if (updates.length % (process.env.EVERY ? 1 : 50) === 0) checkpoints[updates.length - 1] = normalize(yXmlFragmentToProsemirrorJSON(frag))
})
const meta = { mapping: new Map(), isOMark: new Map() } // what ySyncPlugin's binding carries

let doc = s.nodes.doc.create(null, [para('start')])
ydoc.transact(() => updateYFragment(ydoc, frag, doc, meta))
for (let applied = 0; applied < EDITS;) {
  const tr = new Transform(doc)
  try {
    pick(edits)(tr)
    tr.doc.check()
  } catch {
    continue // the random step did not fit the schema here
  }
  if (!tr.docChanged) continue
  // y-prosemirror drops marks on non-text inline nodes; such edits would
  // make the log disagree with the editor for reasons outside this test.
  if (nodesOf(tr.doc, n => n.isInline && !n.isText && n.marks.length).length) continue
  doc = tr.doc
  ydoc.transact(() => updateYFragment(ydoc, frag, doc, meta))
  applied++
}

// The Y side must hold what the editor holds, or the fixture is useless.
const root = yXmlFragmentToProseMirrorRootNode(frag, schema)
if (!root.eq(doc)) throw new Error('y-prosemirror lost the editor state')

const out = {
  updates,
  checkpoints,
  final: normalize(yXmlFragmentToProsemirrorJSON(frag)),
  root: root.toJSON()
}
const file = process.env.OUT ?? join(dirname(fileURLToPath(import.meta.url)), 'editlog.json')
writeFileSync(file, JSON.stringify(out) + '\n')
console.log(`${updates.length} updates → ${file}`)
