// ui/src/schemaguard.js in Node with real yjs: what counts as unknown to
// the editor's schema, and that the watcher reports a change before an
// observer registered after it (y-prosemirror's) sees it. The browser side
// is in unknown-content-browser.test.mjs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { schema } from '../ui/src/schema.js'
import { unknownContent, watchUnknown } from '../ui/src/schemaguard.js'

// fresh returns a document holding one known paragraph with marked text.
function fresh () {
  const doc = new Y.Doc()
  const fragment = doc.getXmlFragment('prosemirror')
  const p = new Y.XmlElement('paragraph')
  fragment.insert(0, [p])
  p.setAttribute('ychange', { type: 'added' }) // y-prosemirror's own: ignored
  const text = new Y.XmlText()
  p.insert(0, [text])
  // "link--<hash>" is how y-prosemirror stores a mark that may overlap itself.
  text.insert(0, 'hello', { bold: {}, 'link--AbCd+/=9': { href: 'https://x', target: '_blank' } })
  const heading = new Y.XmlElement('heading')
  heading.setAttribute('level', 2)
  heading.setAttribute('unset', null) // a null attribute holds nothing to lose
  fragment.insert(1, [heading])
  return { doc, fragment, p, text, heading }
}

test('known content passes: node types, marks (also hashed), attributes', () => {
  const { fragment } = fresh()
  assert.deepEqual(unknownContent(fragment, schema), [])
})

// Every attribute the stock 0.11 editor's nodes and marks define (read from
// its bundle) is known, so its notes open writable: Link's title, Image's
// width, height and file.
test('the stock editor\'s attributes are known', () => {
  const { fragment, text } = fresh()
  text.insert(0, 'x', { link: { href: 'https://y', target: '_blank', rel: 'noopener', class: 'c', title: 'T' } })
  const img = new Y.XmlElement('image')
  for (const [k, v] of Object.entries({ src: 'https://y/i.png', alt: 'a', title: 't', width: '300', height: '200', file: 'f' })) img.setAttribute(k, v)
  fragment.insert(0, [img])
  assert.deepEqual(unknownContent(fragment, schema), [])
})

test('unknown node types, marks and attributes are named, at any depth', () => {
  const { fragment, p, text, heading } = fresh()
  const quote = new Y.XmlElement('blockquote')
  fragment.insert(2, [quote])
  const box = new Y.XmlElement('fancyBox')
  quote.insert(0, [box])
  box.insert(0, [new Y.XmlText('inside')])
  text.insert(5, ' shiny', { sparkle: { level: 3 } })
  text.insert(0, 'x', { link: { href: 'https://y', referrerpolicy: 'no-referrer' } })
  p.setAttribute('textAlign', 'center')
  heading.insert(0, [new Y.XmlElement('text')]) // not an element type
  // Names an object has by inheritance are no types or attributes.
  fragment.insert(0, [new Y.XmlElement('constructor')])
  heading.setAttribute('toString', 'x')
  text.format(0, 1, { hasOwnProperty: {} })
  assert.deepEqual(unknownContent(fragment, schema).sort(), [
    'constructor', 'fancyBox', 'hasOwnProperty (mark)', 'referrerpolicy (link attribute)', 'sparkle (mark)', 'text',
    'textAlign (paragraph attribute)', 'toString (heading attribute)'
  ])
})

test('what y-prosemirror cannot render at all counts too', () => {
  const { fragment, text } = fresh()
  fragment.insert(0, [new Y.XmlText('stray')])
  text.insertEmbed(0, { image: 'x' })
  fragment.insert(0, [new Y.XmlHook('hook')])
  assert.deepEqual(unknownContent(fragment, schema).sort(), ['embedded object', 'text outside a block', 'unsupported content'])
})

// watched returns a document (from fresh) replicated into a second one, as
// updates from the server arrive, with the guard watching the replica and
// an observer registered after it that records what it saw first.
function watched () {
  const src = fresh()
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(src.doc), 'server')
  src.doc.on('update', (u) => Y.applyUpdate(doc, u, 'server'))
  const fragment = doc.getXmlFragment('prosemirror')
  const order = []
  const stop = watchUnknown(fragment, schema, (unknown) => order.push(['guard', unknown]))
  fragment.observeDeep(() => order.push(['later']))
  return { src, order, stop }
}

test('a remote change bringing unknown content is reported before a later observer runs, once', () => {
  const cases = {
    'a new element holding an unknown one': ({ fragment }) => {
      const q = new Y.XmlElement('blockquote')
      const box = new Y.XmlElement('fancyBox')
      fragment.insert(2, [q])
      q.insert(0, [box])
      box.insert(0, [new Y.XmlText('in')])
    },
    'an unknown mark on existing text': ({ text }) => text.format(0, 2, { sparkle: {} }),
    'an unknown attribute on an existing element': ({ heading }) => heading.setAttribute('textAlign', 'left'),
    'text straight in the document': ({ fragment }) => fragment.insert(0, [new Y.XmlText('stray')])
  }
  const want = {
    'a new element holding an unknown one': ['fancyBox'],
    'an unknown mark on existing text': ['sparkle (mark)'],
    'an unknown attribute on an existing element': ['textAlign (heading attribute)'],
    'text straight in the document': ['text outside a block']
  }
  for (const [name, change] of Object.entries(cases)) {
    const { src, order } = watched()
    src.doc.transact(() => change(src))
    assert.deepEqual(order, [['guard', want[name]], ['later']], name)
    src.doc.transact(() => src.fragment.insert(0, [new Y.XmlElement('fancyBox')]))
    assert.deepEqual(order.length, 3, `${name}: reported once`)
  }
})

test('known edits are not reported; stop ends the watch', () => {
  const { src, order, stop } = watched()
  src.text.insert(5, ' world', { italic: {} })
  src.doc.transact(() => {
    const p = new Y.XmlElement('paragraph')
    src.fragment.push([p])
    p.insert(0, [new Y.XmlText('more')])
  })
  src.heading.setAttribute('level', 3)
  // Added and deleted in one change: never rendered, nothing to lose.
  src.doc.transact(() => {
    src.fragment.insert(0, [new Y.XmlElement('fancyBox')])
    src.fragment.delete(0, 1)
  })
  assert.deepEqual(order, [['later'], ['later'], ['later'], ['later']])
  stop()
  src.fragment.insert(0, [new Y.XmlElement('fancyBox')])
  assert.deepEqual(order.length, 5)
})

test('content already unknown is reported at once, without observing', () => {
  const { doc, fragment } = fresh()
  fragment.insert(0, [new Y.XmlElement('fancyBox')])
  const seen = []
  watchUnknown(fragment, schema, (u) => seen.push(u))
  assert.deepEqual(seen, [['fancyBox']])
  fragment.insert(0, [new Y.XmlElement('other')])
  assert.equal(seen.length, 1)
  doc.destroy()
})
