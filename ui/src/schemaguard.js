// Workaround for y-prosemirror's schema-mismatch deletion (1.3.x,
// src/plugins/sync-plugin.js): it deletes from the shared Y document every
// element whose node type the editor's schema lacks, and every text carrying
// a mark it lacks (createNodeFromYElement, createTextNodesFromYText), as soon
// as it renders them (on binding, on every remote update), and it drops the
// attributes the schema lacks from the nodes it rewrites (updateYFragment).
// A note may hold such content (REST content.json keeps unknown types; a
// newer Open WebUI may add some), and one person opening it here would
// delete it for everyone. So the editor is bound only to a document whose
// every type, mark and attribute the schema knows; otherwise the note is
// shown read-only, rendered here without y-prosemirror (nothing here writes
// to the document). Remove this module once y-prosemirror leaves unknown
// content alone.
import * as Y from 'yjs'
import { DOMSerializer } from 'prosemirror-model'

// y-prosemirror stores a mark that may overlap itself as "<name>--<hash>".
const hashedMark = /^(.*)--[a-zA-Z0-9+/=]{8}$/
const markName = (key) => hashedMark.exec(key)?.[1] ?? key

// unknownContent lists what in the fragment the schema does not know, in
// words ("fancyBox", "sparkle (mark)", "align (paragraph attribute)"); it
// is empty when the editor can safely be bound.
export function unknownContent (fragment, schema) {
  const found = new Set()
  checkChildren(fragment, schema, true, found)
  return [...found]
}

// watchUnknown checks the fragment now and after every change, and calls
// onUnknown(list) once, synchronously, when it finds unknown content. Its
// observer must be registered before y-prosemirror's (call this before the
// editor is created): Yjs calls a type's deep observers in the order they
// were added, so onUnknown runs before y-prosemirror sees the change and can
// destroy the editor first (the binding's observer then finds no view and
// does nothing). Returns a function that stops watching.
export function watchUnknown (fragment, schema, onUnknown) {
  const now = unknownContent(fragment, schema)
  if (now.length > 0) {
    onUnknown(now)
    return () => {}
  }
  const observer = (events) => {
    const found = new Set()
    try {
      for (const event of events) checkEvent(event, fragment, schema, found)
    } catch {
      found.add('unreadable content') // unsure: better read-only than lost
    }
    if (found.size === 0) return
    fragment.unobserveDeep(observer)
    onUnknown([...found])
  }
  fragment.observeDeep(observer)
  return () => fragment.unobserveDeep(observer)
}

// checkEvent checks what one change brought: the text of a changed text,
// the attributes of a changed element, each child added (with all under it:
// a type created in the same transaction has no event of its own).
function checkEvent (event, fragment, schema, found) {
  const target = event.target
  if (target instanceof Y.XmlText) return checkText(target, schema, found)
  if (target instanceof Y.XmlElement) checkAttributes(target, schema, found)
  for (const item of event.changes.added) { // Yjs leaves out what the change also deleted
    const type = item.content instanceof Y.ContentType ? item.content.type : null
    if (type) checkType(type, schema, target === fragment, found)
    else found.add('unsupported content')
  }
}

function checkChildren (parent, schema, atRoot, found) {
  for (const child of parent.toArray()) checkType(child, schema, atRoot, found)
}

function checkType (type, schema, atRoot, found) {
  if (type instanceof Y.XmlText) {
    if (atRoot) found.add('text outside a block')
    checkText(type, schema, found)
  } else if (type instanceof Y.XmlElement) {
    if (!nodeType(type, schema)) found.add(type.nodeName)
    else checkAttributes(type, schema, found)
    checkChildren(type, schema, false, found)
  } else {
    found.add('unsupported content') // e.g. a Y.XmlHook
  }
}

function nodeType (el, schema) {
  return el.nodeName !== 'text' ? schema.nodes[el.nodeName] : undefined
}

function checkAttributes (el, schema, found) {
  const type = nodeType(el, schema)
  if (!type) return
  for (const [key, value] of Object.entries(el.getAttributes())) {
    if (value != null && key !== 'ychange' && !(key in type.attrs)) found.add(`${key} (${el.nodeName} attribute)`)
  }
}

function checkText (text, schema, found) {
  for (const { insert, attributes } of text.toDelta()) {
    if (typeof insert !== 'string') found.add('embedded object')
    for (const [key, attrs] of Object.entries(attributes || {})) {
      const name = markName(key)
      const type = schema.marks[name]
      if (!type) {
        found.add(`${name} (mark)`)
        continue
      }
      for (const [k, v] of Object.entries(attrs && typeof attrs === 'object' ? attrs : {})) {
        if (v != null && k !== 'ychange' && !(k in type.attrs)) found.add(`${k} (${name} attribute)`)
      }
    }
  }
}

// --- the read-only rendering -------------------------------------------------

// showReadOnly renders the fragment into mount and keeps it current. Known
// nodes and marks look as in the editor; unknown ones are outlined, with
// their content. It only reads the document. Returns a function that stops.
export function showReadOnly (fragment, schema, mount) {
  const root = document.createElement('div')
  root.className = 'prose readonly'
  root.setAttribute('aria-label', 'Note content (read-only)')
  root.dataset.testid = 'readonly-content'
  const draw = () => root.replaceChildren(...renderChildren(fragment, schema, false))
  let timer = 0
  const redraw = () => {
    if (!timer) timer = setTimeout(() => { timer = 0; draw() })
  }
  draw()
  mount.replaceChildren(root)
  fragment.observeDeep(redraw)
  return () => {
    clearTimeout(timer)
    fragment.unobserveDeep(redraw)
  }
}

// renderChildren renders a type's children; inline tells whether they sit
// in a textblock (an unknown element there is a span, else a div).
function renderChildren (parent, schema, inline) {
  return parent.toArray().flatMap((child) => {
    if (child instanceof Y.XmlText) return renderText(child, schema)
    if (child instanceof Y.XmlElement) return [renderElement(child, schema, inline)]
    return [unknownBox('unsupported content', inline)]
  })
}

function renderElement (el, schema, inline) {
  const type = nodeType(el, schema)
  if (!type?.spec.toDOM) {
    const box = unknownBox(el.nodeName, inline)
    box.append(...renderChildren(el, schema, el.toArray().some((c) => c instanceof Y.XmlText)))
    return box
  }
  let out
  try {
    // create ignores attributes the type lacks and fills in its defaults.
    out = DOMSerializer.renderSpec(document, type.spec.toDOM(type.create(el.getAttributes())))
  } catch {
    const box = unknownBox(el.nodeName, inline)
    out = { dom: box, contentDOM: box }
  }
  out.contentDOM?.append(...renderChildren(el, schema, type.inlineContent))
  return out.dom
}

function renderText (text, schema) {
  return text.toDelta().map(({ insert, attributes }) => {
    let dom = typeof insert === 'string' ? document.createTextNode(insert) : unknownBox('embedded object', true)
    for (const [key, attrs] of Object.entries(attributes || {})) {
      const name = markName(key)
      const type = schema.marks[name]
      let out = { dom: unknownBox(name, true, 'unknown-mark') }
      if (type?.spec.toDOM) {
        try {
          out = DOMSerializer.renderSpec(document, type.spec.toDOM(type.create(attrs && typeof attrs === 'object' ? attrs : null), true))
        } catch {}
      }
      const into = out.contentDOM || out.dom
      into.append(dom)
      dom = out.dom
    }
    return dom
  })
}

function unknownBox (name, inline, cls = 'unknown') {
  const box = document.createElement(inline ? 'span' : 'div')
  box.className = cls
  box.dataset.type = name
  box.title = `Not shown by this editor: ${name}`
  return box
}
