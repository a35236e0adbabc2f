// The note schema. Node and mark names are Tiptap StarterKit's (plus the few
// extensions Open WebUI's editor adds), so a note edited here is the same
// ProseMirror JSON Open WebUI stores. Every type the server may seed must be
// known: a note holding a type, mark or attribute not here opens read-only
// (schemaguard.js; y-prosemirror would delete it).
import { Schema } from 'prosemirror-model'

const attr = (def) => ({ default: def })

const nodes = {
  doc: { content: 'block+' },
  paragraph: {
    content: 'inline*',
    group: 'block',
    parseDOM: [{ tag: 'p' }],
    toDOM: () => ['p', 0]
  },
  heading: {
    attrs: { level: attr(1) },
    content: 'inline*',
    group: 'block',
    defining: true,
    parseDOM: [1, 2, 3, 4, 5, 6].map((level) => ({ tag: 'h' + level, attrs: { level } })),
    toDOM: (node) => ['h' + clampLevel(node.attrs.level), 0]
  },
  blockquote: {
    content: 'block+',
    group: 'block',
    defining: true,
    parseDOM: [{ tag: 'blockquote' }],
    toDOM: () => ['blockquote', 0]
  },
  codeBlock: {
    attrs: { language: attr(null) },
    content: 'text*',
    marks: '',
    group: 'block',
    code: true,
    defining: true,
    parseDOM: [{
      tag: 'pre',
      preserveWhitespace: 'full',
      getAttrs: (dom) => {
        const cls = dom.querySelector('code')?.className || ''
        const m = /language-(\S+)/.exec(cls)
        return { language: m ? m[1] : null }
      }
    }],
    toDOM: (node) => ['pre', ['code', node.attrs.language ? { class: 'language-' + node.attrs.language } : {}, 0]]
  },
  horizontalRule: {
    group: 'block',
    parseDOM: [{ tag: 'hr' }],
    toDOM: () => ['hr']
  },
  bulletList: {
    content: 'listItem+',
    group: 'block list',
    parseDOM: [{ tag: 'ul:not([data-type="taskList"])' }],
    toDOM: () => ['ul', 0]
  },
  orderedList: {
    attrs: { start: attr(1), type: attr(null) },
    content: 'listItem+',
    group: 'block list',
    parseDOM: [{
      tag: 'ol',
      getAttrs: (dom) => ({ start: dom.hasAttribute('start') ? Number(dom.getAttribute('start')) : 1 })
    }],
    toDOM: (node) => ['ol', node.attrs.start !== 1 ? { start: node.attrs.start } : {}, 0]
  },
  listItem: {
    content: 'paragraph block*',
    defining: true,
    parseDOM: [{ tag: 'li:not([data-type="taskItem"])' }],
    toDOM: () => ['li', 0]
  },
  taskList: {
    content: 'taskItem+',
    group: 'block list',
    parseDOM: [{ tag: 'ul[data-type="taskList"]', priority: 51 }],
    toDOM: () => ['ul', { 'data-type': 'taskList' }, 0]
  },
  taskItem: {
    attrs: { checked: attr(false) },
    content: 'paragraph block*',
    defining: true,
    parseDOM: [{
      tag: 'li[data-type="taskItem"]',
      priority: 51,
      getAttrs: (dom) => ({ checked: dom.getAttribute('data-checked') === 'true' })
    }],
    toDOM: (node) => ['li', { 'data-type': 'taskItem', 'data-checked': String(!!node.attrs.checked) }, 0]
  },
  image: {
    // The stock 0.11 image also has width and height (kept from pasted
    // HTML) and file (an upload in flight, never rendered).
    attrs: { src: attr(''), alt: attr(null), title: attr(null), width: attr(null), height: attr(null), file: attr(null) },
    group: 'block',
    draggable: true,
    parseDOM: [{
      tag: 'img[src]',
      getAttrs: (dom) => ({
        src: dom.getAttribute('src'),
        alt: dom.getAttribute('alt'),
        title: dom.getAttribute('title'),
        width: dom.getAttribute('width'),
        height: dom.getAttribute('height')
      })
    }],
    toDOM: (node) => ['img', { src: safeURL(node.attrs.src), alt: node.attrs.alt, title: node.attrs.title, width: node.attrs.width, height: node.attrs.height }]
  },
  // Tiptap's TableKit (Open WebUI's editor has it; the server seeds it from
  // Markdown tables). Shown and edited as text; no table commands here.
  table: {
    content: 'tableRow+',
    group: 'block',
    isolating: true,
    parseDOM: [{ tag: 'table' }],
    toDOM: () => ['table', ['tbody', 0]]
  },
  tableRow: {
    content: '(tableCell | tableHeader)*',
    parseDOM: [{ tag: 'tr' }],
    toDOM: () => ['tr', 0]
  },
  tableCell: tableCell('td'),
  tableHeader: tableCell('th'),
  text: { group: 'inline' },
  hardBreak: {
    inline: true,
    group: 'inline',
    selectable: false,
    parseDOM: [{ tag: 'br' }],
    toDOM: () => ['br']
  },
  // Tiptap's Mention, as Open WebUI's editor configures it: an inline atom
  // shown as its suggestion character and label ("@Bob"; "/" shows as "$").
  mention: {
    attrs: { id: attr(null), label: attr(null), mentionSuggestionChar: attr('@') },
    inline: true,
    group: 'inline',
    atom: true,
    selectable: false,
    parseDOM: [{
      tag: 'span[data-type="mention"]',
      getAttrs: (dom) => ({
        id: dom.getAttribute('data-id'),
        label: dom.getAttribute('data-label'),
        mentionSuggestionChar: dom.getAttribute('data-mention-suggestion-char') || '@'
      })
    }],
    toDOM: (node) => {
      const { id, label, mentionSuggestionChar: char } = node.attrs
      const attrs = { 'data-type': 'mention', class: 'mention', 'data-mention-suggestion-char': char }
      if (id) attrs['data-id'] = id
      if (label) attrs['data-label'] = label
      return ['span', attrs, (char === '/' ? '$' : char ?? '@') + (label ?? id ?? '')]
    }
  }
}

// Mark order is Tiptap's (link first, by priority), which fixes how marks
// are nested and serialised. Every mark the stock editor may store must be
// here too (else the note opens read-only, see schemaguard.js).
const marks = {
  link: {
    attrs: { href: attr(''), target: attr(null), rel: attr(null), class: attr(null), title: attr(null) },
    inclusive: false,
    parseDOM: [{ tag: 'a[href]', getAttrs: (dom) => ({ href: dom.getAttribute('href'), title: dom.getAttribute('title') }) }],
    toDOM: (mark) => ['a', { href: safeURL(mark.attrs.href), title: mark.attrs.title, rel: 'noopener noreferrer nofollow', target: '_blank' }, 0]
  },
  bold: {
    parseDOM: [
      { tag: 'strong' },
      { tag: 'b', getAttrs: (dom) => dom.style.fontWeight !== 'normal' && null },
      { style: 'font-weight=bold' }
    ],
    toDOM: () => ['strong', 0]
  },
  code: {
    excludes: '_',
    code: true,
    parseDOM: [{ tag: 'code' }],
    toDOM: () => ['code', 0]
  },
  italic: {
    parseDOM: [{ tag: 'em' }, { tag: 'i' }, { style: 'font-style=italic' }],
    toDOM: () => ['em', 0]
  },
  strike: {
    parseDOM: [{ tag: 's' }, { tag: 'del' }, { style: 'text-decoration=line-through' }],
    toDOM: () => ['s', 0]
  },
  underline: {
    parseDOM: [{ tag: 'u' }, { style: 'text-decoration=underline' }],
    toDOM: () => ['u', 0]
  },
  // Tiptap's Highlight (multicolor off: no attrs); priority 100, after
  // StarterKit's marks.
  highlight: {
    parseDOM: [{ tag: 'mark' }],
    toDOM: () => ['mark', 0]
  }
}

function tableCell (tag) {
  const span = (dom, name) => Math.max(1, Number(dom.getAttribute(name)) || 1)
  return {
    attrs: { colspan: attr(1), rowspan: attr(1), colwidth: attr(null) },
    content: 'block+',
    isolating: true,
    parseDOM: [{ tag, getAttrs: (dom) => ({ colspan: span(dom, 'colspan'), rowspan: span(dom, 'rowspan') }) }],
    toDOM: (node) => {
      const attrs = {}
      if (node.attrs.colspan !== 1) attrs.colspan = node.attrs.colspan
      if (node.attrs.rowspan !== 1) attrs.rowspan = node.attrs.rowspan
      return [tag, attrs, 0]
    }
  }
}

function clampLevel (level) {
  const n = Number(level)
  return n >= 1 && n <= 6 ? n : 1
}

// Only web and mail links are rendered as links; anything else (javascript:)
// becomes inert.
export function safeURL (href) {
  const s = String(href || '').trim()
  return /^(https?:|mailto:|\/|#)/i.test(s) ? s : '#'
}

export const schema = new Schema({ nodes, marks })
