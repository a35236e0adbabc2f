// The rich-text editor: ProseMirror bound to the Y.XmlFragment 'prosemirror'
// with y-prosemirror (sync, shared undo, remote carets), Markdown shortcuts
// and a toolbar.
import { EditorState, Plugin, TextSelection } from 'prosemirror-state'
import { EditorView } from 'prosemirror-view'
import { keymap } from 'prosemirror-keymap'
import { baseKeymap, chainCommands, exitCode, setBlockType, toggleMark, wrapIn, lift } from 'prosemirror-commands'
import { InputRule, inputRules, textblockTypeInputRule, wrappingInputRule, undoInputRule } from 'prosemirror-inputrules'
import { liftListItem, sinkListItem, splitListItem, wrapInList } from 'prosemirror-schema-list'
import { ySyncPlugin, yCursorPlugin, yUndoPlugin, undoCommand, redoCommand } from 'y-prosemirror'
import { schema } from './schema.js'
import { h } from './dom.js'

const { nodes: N, marks: M } = schema

// --- Markdown shortcuts ---------------------------------------------------

// markRule turns `<open>text<close>` typed at the end of a text into marked
// text; match[1] is the character before the opening delimiter (kept).
function markRule (regexp, markType) {
  return new InputRule(regexp, (state, match, start, end) => {
    const [, before, text] = match
    const from = start + before.length
    const tr = state.tr.replaceWith(from, end, schema.text(text, [markType.create()]))
    return tr.removeStoredMark(markType)
  })
}

const linkRule = new InputRule(/\[([^\]]+)\]\(([^)\s]+)\)$/, (state, match, start, end) => {
  const mark = M.link.create({ href: match[2] })
  return state.tr.replaceWith(start, end, schema.text(match[1], [mark])).removeStoredMark(M.link)
})

const horizontalRuleRule = new InputRule(/^(?:---|\*\*\*|___)$/, (state, _match, start) => {
  const $start = state.doc.resolve(start)
  if ($start.parent.type !== N.paragraph) return null
  const from = $start.before()
  const tr = state.tr.replaceWith(from, $start.after(), [N.horizontalRule.create(), N.paragraph.create()])
  return tr.setSelection(TextSelection.create(tr.doc, from + 2))
})

const shortcuts = inputRules({
  rules: [
    textblockTypeInputRule(/^(#{1,6})\s$/, N.heading, (m) => ({ level: m[1].length })),
    wrappingInputRule(/^\s*>\s$/, N.blockquote),
    wrappingInputRule(/^\s*([-+*])\s$/, N.bulletList),
    wrappingInputRule(/^(\d+)\.\s$/, N.orderedList, (m) => ({ start: Number(m[1]) }),
      (m, node) => node.childCount + node.attrs.start === Number(m[1])),
    textblockTypeInputRule(/^```([\w-]+)?\s$/, N.codeBlock, (m) => ({ language: m[1] || null })),
    horizontalRuleRule,
    markRule(/(^|[^*])\*\*([^*]+)\*\*$/, M.bold),
    markRule(/(^|[^_])__([^_]+)__$/, M.bold),
    markRule(/(^|[^*])\*([^*\s][^*]*)\*$/, M.italic),
    markRule(/(^|[^_\w])_([^_\s][^_]*)_$/, M.italic),
    markRule(/(^|[^~])~~([^~]+)~~$/, M.strike),
    markRule(/(^|[^`])`([^`]+)`$/, M.code),
    linkRule
  ]
})

// --- Commands ----------------------------------------------------------------

const hardBreak = (state, dispatch) => {
  dispatch?.(state.tr.replaceSelectionWith(N.hardBreak.create()).scrollIntoView())
  return true
}

function markActive (state, type) {
  const { from, $from, to, empty } = state.selection
  if (empty) return !!type.isInSet(state.storedMarks || $from.marks())
  return state.doc.rangeHasMark(from, to, type)
}

function blockActive (state, type, attrs = {}) {
  const { $from } = state.selection
  for (let d = $from.depth; d > 0; d--) {
    const node = $from.node(d)
    if (node.type === type && Object.entries(attrs).every(([k, v]) => node.attrs[k] === v)) return true
  }
  return false
}

// toggleBlock sets a textblock type, or back to a paragraph when it is set.
const toggleBlock = (type, attrs) => (state, dispatch) =>
  blockActive(state, type, attrs) ? setBlockType(N.paragraph)(state, dispatch) : setBlockType(type, attrs)(state, dispatch)

const toggleList = (type) => (state, dispatch) =>
  blockActive(state, type) ? liftListItem(N.listItem)(state, dispatch) : wrapInList(type)(state, dispatch)

const toggleQuote = (state, dispatch) =>
  blockActive(state, N.blockquote) ? lift(state, dispatch) : wrapIn(N.blockquote)(state, dispatch)

const insertRule = (state, dispatch) => {
  dispatch?.(state.tr.replaceSelectionWith(N.horizontalRule.create()).scrollIntoView())
  return true
}

// setLink applies (or, with an empty href, removes) a link on the selection.
export function setLink (view, href) {
  const { state } = view
  const { from, to, empty } = state.selection
  let tr = state.tr
  if (!href) {
    tr = tr.removeMark(from, to, M.link)
  } else if (empty) {
    const mark = M.link.create({ href })
    tr = tr.replaceSelectionWith(schema.text(href, [mark]), false)
  } else {
    tr = tr.addMark(from, to, M.link.create({ href }))
  }
  view.dispatch(tr.scrollIntoView())
  view.focus()
}

function buildKeymap (onLink) {
  const keys = {
    'Mod-z': undoCommand,
    'Mod-y': redoCommand,
    'Shift-Mod-z': redoCommand,
    Backspace: undoInputRule,
    'Mod-b': toggleMark(M.bold),
    'Mod-i': toggleMark(M.italic),
    'Mod-u': toggleMark(M.underline),
    'Mod-e': toggleMark(M.code),
    'Shift-Mod-s': toggleMark(M.strike),
    'Mod-k': (state) => { onLink(state); return true },
    Enter: chainCommands(splitListItem(N.listItem), splitListItem(N.taskItem)),
    Tab: chainCommands(sinkListItem(N.listItem), sinkListItem(N.taskItem)),
    'Shift-Tab': chainCommands(liftListItem(N.listItem), liftListItem(N.taskItem)),
    'Shift-Enter': chainCommands(exitCode, hardBreak),
    'Mod-Enter': chainCommands(exitCode, hardBreak),
    'Mod-Alt-0': setBlockType(N.paragraph),
    'Shift-Mod-7': toggleList(N.orderedList),
    'Shift-Mod-8': toggleList(N.bulletList),
    'Shift-Mod-b': toggleQuote,
    'Mod-Alt-c': toggleBlock(N.codeBlock)
  }
  for (let level = 1; level <= 6; level++) keys['Mod-Alt-' + level] = toggleBlock(N.heading, { level })
  return keys
}

// --- Toolbar -------------------------------------------------------------------

function toolbarItems (onLink) {
  return [
    { label: 'P', title: 'Paragraph (Ctrl+Alt+0)', run: setBlockType(N.paragraph), active: (s) => s.selection.$from.parent.type === N.paragraph },
    { label: 'H1', title: 'Heading 1 (# )', run: toggleBlock(N.heading, { level: 1 }), active: (s) => blockActive(s, N.heading, { level: 1 }) },
    { label: 'H2', title: 'Heading 2 (## )', run: toggleBlock(N.heading, { level: 2 }), active: (s) => blockActive(s, N.heading, { level: 2 }) },
    { label: 'H3', title: 'Heading 3 (### )', run: toggleBlock(N.heading, { level: 3 }), active: (s) => blockActive(s, N.heading, { level: 3 }) },
    null,
    { label: 'B', cls: 'b', title: 'Bold (Ctrl+B, **text**)', run: toggleMark(M.bold), active: (s) => markActive(s, M.bold) },
    { label: 'I', cls: 'i', title: 'Italic (Ctrl+I, *text*)', run: toggleMark(M.italic), active: (s) => markActive(s, M.italic) },
    { label: 'S', cls: 's', title: 'Strikethrough (~~text~~)', run: toggleMark(M.strike), active: (s) => markActive(s, M.strike) },
    { label: '</>', title: 'Inline code (`code`)', run: toggleMark(M.code), active: (s) => markActive(s, M.code) },
    { label: 'Link', title: 'Link (Ctrl+K, [text](url))', run: (state, dispatch) => { if (dispatch) onLink(state); return true }, active: (s) => markActive(s, M.link) },
    null,
    { label: '• List', title: 'Bullet list (- )', run: toggleList(N.bulletList), active: (s) => blockActive(s, N.bulletList) },
    { label: '1. List', title: 'Numbered list (1. )', run: toggleList(N.orderedList), active: (s) => blockActive(s, N.orderedList) },
    { label: '❝', title: 'Quote (> )', run: toggleQuote, active: (s) => blockActive(s, N.blockquote) },
    { label: '{ }', title: 'Code block (``` )', run: toggleBlock(N.codeBlock), active: (s) => blockActive(s, N.codeBlock) },
    { label: '―', title: 'Horizontal rule (---)', run: insertRule },
    null,
    { label: '↶', title: 'Undo (Ctrl+Z)', run: undoCommand },
    { label: '↷', title: 'Redo (Ctrl+Shift+Z)', run: redoCommand }
  ]
}

// toolbarPlugin keeps the buttons' active/disabled state current.
function toolbarPlugin (bar, items, editable) {
  const buttons = items.map((item) => {
    if (!item) return bar.appendChild(h('span', { class: 'sep' }))
    const b = h('button', { type: 'button', title: item.title, class: item.cls || '', 'aria-label': item.title }, item.label)
    b.addEventListener('mousedown', (e) => e.preventDefault()) // keep the editor's selection
    bar.appendChild(b)
    return b
  })
  return new Plugin({
    view (view) {
      const update = () => {
        const writable = editable()
        items.forEach((item, i) => {
          if (!item) return
          const b = buttons[i]
          b.onclick = () => { item.run(view.state, view.dispatch, view); view.focus() }
          b.disabled = !writable || !item.run(view.state, undefined, view)
          b.classList.toggle('active', !!item.active?.(view.state))
        })
      }
      update()
      return { update }
    }
  })
}

// caret draws a remote person's caret with their name. It holds no text
// nodes (the label is CSS generated content): the browser can never put a
// typed character inside it, where ProseMirror would not see it.
function caret (user) {
  return h('span', { class: 'caret', style: `--c:${safeColor(user.color)}`, 'data-name': String(user.name ?? '') })
}

// safeColor admits only #rrggbb: awareness states come from other people.
export function safeColor (c) {
  return /^#[0-9a-fA-F]{6}$/.test(c) ? c : '#888888'
}

// createEditor mounts the editor for a synced Y.Doc into `mount`.
export function createEditor ({ mount, toolbar, doc, awareness, writable, onLink }) {
  const editable = () => writable
  const items = toolbarItems(onLink)
  const state = EditorState.create({
    schema,
    plugins: [
      ySyncPlugin(doc.getXmlFragment('prosemirror')),
      yCursorPlugin(awareness, { cursorBuilder: caret }),
      yUndoPlugin(),
      shortcuts,
      keymap(buildKeymap(onLink)),
      keymap(baseKeymap),
      toolbarPlugin(toolbar, items, editable)
    ]
  })
  const view = new EditorView(mount, {
    state,
    editable,
    attributes: { class: 'prose', spellcheck: 'false', 'aria-label': 'Note content' }
  })
  return view
}
