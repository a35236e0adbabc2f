// A ProseMirror schema with Tiptap StarterKit names (Open WebUI's editor),
// shared by the fixture generator and the checker. Mark order follows
// Tiptap's priority sort: link first, then StarterKit order, then highlight.
import { Schema } from 'prosemirror-model'

function cellAttrs () {
  return { colspan: { default: 1 }, rowspan: { default: 1 }, colwidth: { default: null } }
}

export const schema = new Schema({
  nodes: {
    doc: { content: 'block+' },
    paragraph: { content: 'inline*', group: 'block' },
    text: { group: 'inline' },
    heading: { attrs: { level: { default: 1 } }, content: 'inline*', group: 'block', defining: true },
    blockquote: { content: 'block+', group: 'block' },
    codeBlock: { attrs: { language: { default: null } }, content: 'text*', marks: '', code: true, group: 'block' },
    horizontalRule: { group: 'block' },
    bulletList: { content: 'listItem+', group: 'block list' },
    orderedList: { attrs: { start: { default: 1 } }, content: 'listItem+', group: 'block list' },
    listItem: { content: 'paragraph block*', defining: true },
    taskList: { content: 'taskItem+', group: 'block list' },
    taskItem: { attrs: { checked: { default: false } }, content: 'paragraph block*', defining: true },
    hardBreak: { inline: true, group: 'inline', selectable: false, marks: '' },
    // Tiptap's Mention: an inline atom.
    mention: {
      attrs: { id: { default: null }, label: { default: null }, mentionSuggestionChar: { default: '@' } },
      inline: true,
      group: 'inline',
      atom: true,
      selectable: false
    },
    image: { attrs: { src: {}, alt: { default: null }, title: { default: null } }, group: 'block' },
    // Tiptap's TableKit as the stock frontend builds it.
    table: { content: 'tableRow+', group: 'block', isolating: true },
    tableRow: { content: '(tableCell | tableHeader)*' },
    tableCell: { attrs: cellAttrs(), content: 'block+', isolating: true },
    tableHeader: { attrs: cellAttrs(), content: 'block+', isolating: true }
  },
  marks: {
    link: { attrs: { href: {}, target: { default: null } }, inclusive: false },
    bold: {},
    code: {},
    italic: {},
    strike: {},
    underline: {},
    highlight: {} // Tiptap's Highlight: priority 100, after StarterKit
  }
})

const markRank = name => schema.marks[name]?.rank ?? 1e9

// normalize turns yXmlFragmentToProsemirrorJSON output into the shape
// ProseMirror itself would produce from the same content, minus default
// attrs: marks sorted by rank, empty mark attrs dropped, adjacent text nodes
// with equal marks joined.
export function normalize (node) {
  const out = { type: node.type }
  if (node.attrs && Object.keys(node.attrs).length) out.attrs = node.attrs
  if (node.text !== undefined) out.text = node.text
  if (node.marks && node.marks.length) {
    out.marks = node.marks
      .map(m => (m.attrs && Object.keys(m.attrs).length) ? { type: m.type, attrs: m.attrs } : { type: m.type })
      .sort((a, b) => markRank(a.type) - markRank(b.type))
  }
  if (node.content && node.content.length) {
    const content = []
    for (const c of node.content.flat().map(normalize)) {
      const prev = content[content.length - 1]
      if (prev && prev.type === 'text' && c.type === 'text' &&
          JSON.stringify(prev.marks ?? []) === JSON.stringify(c.marks ?? [])) {
        prev.text += c.text
      } else {
        content.push(c)
      }
    }
    out.content = content
  }
  return out
}
