// Quire's notes app: sign in, the list of notes, the live editor, channels.
// Routes: #/ (notes), #/notes/<id> (editor), #/channels[/<id>] (channels),
// #/chat[/<id>] (chat with a model);
// signed out, the sign-in form.
import { api, session, APIError } from './api.js'
import { Connection } from './connection.js'
import { Collab } from './collab.js'
import { createEditor, safeColor, setLink } from './editor.js'
import { schema } from './schema.js'
import { showReadOnly, watchUnknown } from './schemaguard.js'
import { h, replace } from './dom.js'
import { ChannelStore, channelsPage } from './channels.js'
import { chatPage } from './chat.js'

const COLORS = ['#e11d48', '#d97706', '#16a34a', '#0891b2', '#2563eb', '#7c3aed', '#c026d3', '#db2777', '#0d9488', '#65a30d']

const app = {
  user: null,
  connection: null,
  channels: null, // the ChannelStore: unread counts live while notes are on screen
  page: null // the current page's cleanup function
}

const root = document.getElementById('app')

// The current editor and provider, for tests and debugging.
window.quire = { view: null, collab: null, channels: null, chat: null }

function colorFor (id) {
  let hash = 0
  for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0
  return COLORS[hash % COLORS.length]
}

function message (err) {
  return err instanceof APIError ? err.message : 'Something went wrong: ' + (err?.message || err)
}

function formatTime (ns) {
  const ms = Number(ns) / 1e6
  if (!Number.isFinite(ms) || ms <= 0) return ''
  return new Date(ms).toLocaleString()
}

// --- shell ---------------------------------------------------------------------

function header (...middle) {
  const onChannels = location.hash.startsWith('#/channels')
  const onChat = /^#\/chat(\/|$)/.test(location.hash)
  const onNotes = !onChannels && !onChat
  const tab = (on) => ({ class: on ? 'current' : '', 'aria-current': on ? 'page' : null })
  const total = app.channels?.totalUnread() || 0
  return h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/' }, 'Quire'),
    h('nav', { class: 'tabs', 'aria-label': 'Sections' },
      h('a', { href: '#/', ...tab(onNotes) }, 'Notes'),
      h('a', { href: '#/channels', ...tab(onChannels) },
        'Channels', h('span', { class: 'count', 'data-testid': 'unread-total', hidden: total === 0, 'aria-label': 'unread messages' }, String(total))),
      h('a', { href: '#/chat', ...tab(onChat) }, 'Chat')),
    h('div', { class: 'middle' }, ...middle),
    h('div', { class: 'me' },
      h('span', { class: 'me-name', 'data-testid': 'me' }, app.user.name),
      h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out')))
}

function show (...children) {
  app.page?.()
  app.page = null
  window.quire.view = null
  window.quire.collab = null
  replace(root, ...children)
}

async function signOut () {
  try { await api.signout() } catch { /* the token is dropped anyway */ }
  session.token = ''
  app.user = null
  app.channels?.destroy()
  app.channels = window.quire.channels = null
  app.connection?.close()
  app.connection = null
  location.hash = '#/'
  route()
}

function signedIn (user) {
  app.user = user
  if (user.token) session.token = user.token
  app.channels?.destroy()
  app.connection?.close()
  app.connection = new Connection(session.token)
  app.channels = window.quire.channels = new ChannelStore(user, app.connection, session.token)
}

// --- channels ------------------------------------------------------------------------

function channelsRoute (id) {
  show(h('p', { class: 'boot' }, 'Loading…')) // the previous page is cleaned up first
  const { view, cleanup } = channelsPage({
    user: app.user,
    store: app.channels,
    message,
    findUser: async (email) => {
      try {
        return await api.findUser(email)
      } catch (err) {
        if (err instanceof APIError && (err.status === 404 || err.status === 405)) {
          throw new Error('This server cannot look people up by email.')
        }
        throw err
      }
    }
  }, id)
  replace(root, header(), view)
  app.page = cleanup
}

// --- chat ----------------------------------------------------------------------------

function chatRoute (id) {
  show(h('p', { class: 'boot' }, 'Loading…'))
  const { view, cleanup } = chatPage({ user: app.user, connection: app.connection, message }, id)
  replace(root, header(), view)
  app.page = cleanup
}

// --- sign in / sign up -----------------------------------------------------------

function authPage (mode = 'signin') {
  const error = h('p', { class: 'error', role: 'alert', hidden: true })
  const name = h('input', { name: 'name', autocomplete: 'name', required: true, placeholder: 'Your name' })
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true, placeholder: 'you@example.com' })
  const password = h('input', {
    name: 'password', type: 'password', required: true, placeholder: 'Password',
    autocomplete: mode === 'signup' ? 'new-password' : 'current-password'
  })
  const submit = h('button', { type: 'submit', class: 'primary' }, mode === 'signup' ? 'Create account' : 'Sign in')
  const form = h('form', { class: 'auth', onsubmit: async (e) => {
    e.preventDefault()
    error.hidden = true
    submit.disabled = true
    try {
      const user = mode === 'signup'
        ? await api.signup(name.value.trim(), email.value.trim(), password.value)
        : await api.signin(email.value.trim(), password.value)
      signedIn(user)
      route()
    } catch (err) {
      error.textContent = err instanceof APIError && err.status === 401 && mode === 'signin'
        ? 'Wrong email or password.'
        : message(err)
      error.hidden = false
    } finally {
      submit.disabled = false
    }
  } },
  h('h1', {}, mode === 'signup' ? 'Create your account' : 'Sign in to Quire'),
  mode === 'signup' ? h('label', {}, 'Name', name) : null,
  h('label', {}, 'Email', email),
  h('label', {}, 'Password', password),
  error,
  submit,
  h('p', { class: 'switch' }, mode === 'signup' ? 'Already have an account? ' : 'New here? ',
    h('button', { type: 'button', class: 'link', onclick: () => show(authPage(mode === 'signup' ? 'signin' : 'signup')) },
      mode === 'signup' ? 'Sign in' : 'Create an account')))
  return h('main', { class: 'center' }, form)
}

// --- the list of notes ---------------------------------------------------------------

function notesPage () {
  const error = h('p', { class: 'error', role: 'alert', hidden: true })
  const list = h('ul', { class: 'notes', 'data-testid': 'notes' })
  const title = h('input', { name: 'title', placeholder: 'Title of a new note', 'aria-label': 'New note title' })
  const fail = (err) => { error.textContent = message(err); error.hidden = false }

  const create = h('form', { class: 'new-note', onsubmit: async (e) => {
    e.preventDefault()
    try {
      const note = await api.createNote(title.value.trim() || 'Untitled')
      location.hash = '#/notes/' + note.id
    } catch (err) { fail(err) }
  } }, title, h('button', { type: 'submit', class: 'primary' }, 'New note'))

  async function load () {
    try {
      const notes = await api.listNotes()
      error.hidden = true
      replace(list, notes.length ? notes.map(row) : h('li', { class: 'empty' }, 'No notes yet. Create one above.'))
    } catch (err) { fail(err) }
  }

  function row (note) {
    const mine = note.user_id === app.user.id || app.user.role === 'admin'
    const li = h('li', { class: 'note', 'data-id': note.id })
    const name = h('a', { class: 'note-title', href: '#/notes/' + note.id }, note.title || 'Untitled')
    const actions = h('span', { class: 'actions' })
    const panel = h('div', { class: 'panel', hidden: true })
    const meta = h('span', { class: 'meta' },
      mine ? '' : 'shared with you · ', formatTime(note.updated_at))

    const rename = h('button', { type: 'button', onclick: () => {
      const input = h('input', { value: note.title || '', 'aria-label': 'New title' })
      // Once only: the reload below removes the input, and chromium fires
      // its blur then, which renamed and reloaded a second time; that late
      // reload could wipe a Delete armed meanwhile.
      let finished = false
      const done = async (save) => {
        if (finished) return
        finished = true
        if (save && input.value.trim() && input.value.trim() !== note.title) {
          try { await api.renameNote(note.id, input.value.trim()) } catch (err) { fail(err) }
        }
        load()
      }
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') done(true)
        if (e.key === 'Escape') done(false)
      })
      input.addEventListener('blur', () => done(true), { once: true })
      name.replaceWith(input)
      input.focus()
      input.select()
    } }, 'Rename')

    let armed = false
    const del = h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!armed) {
        armed = true
        del.textContent = 'Really delete?'
        setTimeout(() => { armed = false; del.textContent = 'Delete' }, 4000)
        return
      }
      try { await api.deleteNote(note.id); load() } catch (err) { fail(err) }
    } }, 'Delete')

    const share = h('button', { type: 'button', onclick: () => {
      panel.hidden = !panel.hidden
      if (!panel.hidden) replace(panel, sharePanel(note.id))
    } }, 'Share')

    if (mine) actions.append(rename, share, del)
    li.append(name, meta, actions, panel)
    return li
  }

  load()
  const onFocus = () => load()
  window.addEventListener('focus', onFocus)
  show(header(),
    h('main', { class: 'list' }, create, error, list))
  app.page = () => window.removeEventListener('focus', onFocus)
}

// --- sharing -------------------------------------------------------------------------

const knownPeople = new Map() // user id → email, learned from look-ups

// sharePanel lists a note's grants and adds one by email (or user id).
function sharePanel (noteId) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true })
  const okMsg = h('p', { class: 'ok', role: 'status', hidden: true })
  const grantsList = h('ul', { class: 'grants' })
  const who = h('input', { name: 'share-email', placeholder: "Their email (or user id)", 'aria-label': 'Share with (email)' })
  const perm = h('select', { name: 'share-permission', 'aria-label': 'Permission' },
    h('option', { value: 'write' }, 'can edit'),
    h('option', { value: 'read' }, 'can read'))
  let grants = []

  const fail = (text) => { okMsg.hidden = true; error.textContent = text; error.hidden = false }

  function render () {
    replace(grantsList, grants.length
      ? grants.map((g) => h('li', {},
        h('span', {}, knownPeople.get(g.principal_id) || g.user?.email || g.principal_id),
        h('span', { class: 'meta' }, g.permission === 'write' ? 'can edit' : 'can read'),
        h('button', { type: 'button', class: 'link', onclick: () => save(grants.filter((x) => x !== g), 'Access removed.') }, 'Remove')))
      : h('li', { class: 'meta' }, 'Only you (and admins) can open this note.'))
  }

  async function save (next, done) {
    try {
      await api.updateAccess(noteId, next.map(({ principal_type, principal_id, permission }) => ({ principal_type, principal_id, permission })))
      grants = next
      render()
      error.hidden = true
      okMsg.textContent = done
      okMsg.hidden = false
    } catch (err) { fail(message(err)) }
  }

  async function resolve (text) {
    if (!text.includes('@')) return { id: text, email: text }
    try {
      return await api.findUser(text)
    } catch (err) {
      if (err instanceof APIError && (err.status === 404 || err.status === 405)) {
        throw new Error('This server cannot look people up by email; enter their user id instead.')
      }
      throw err
    }
  }

  const form = h('form', { class: 'share', onsubmit: async (e) => {
    e.preventDefault()
    const text = who.value.trim()
    if (!text) return
    let user
    try {
      user = await resolve(text)
    } catch (err) { return fail(err instanceof APIError ? message(err) : err.message) }
    if (!user) return fail(`No account uses ${text}.`)
    knownPeople.set(user.id, user.email || text)
    const next = grants.filter((g) => !(g.principal_type === 'user' && g.principal_id === user.id))
    next.push({ principal_type: 'user', principal_id: user.id, permission: perm.value })
    who.value = ''
    await save(next, `Shared with ${user.email || text} (${perm.value === 'write' ? 'can edit' : 'can read'}).`)
  } }, who, perm, h('button', { type: 'submit', class: 'primary' }, 'Share'))

  api.getNote(noteId).then((note) => {
    grants = (note.access_grants || []).filter((g) => g.principal_type === 'user' || g.principal_type === 'group')
    render()
  }).catch((err) => fail(message(err)))

  return h('div', { class: 'share-panel' }, form, error, okMsg, grantsList)
}

// --- the editor ----------------------------------------------------------------------

const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline'
}

const SAVE_TEXT = {
  loading: 'Loading…',
  saving: 'Saving…',
  unsaved: 'Unsaved changes (will sync when back online)',
  saved: 'All changes saved',
  error: 'Not saved'
}

async function notePage (id) {
  const connBadge = h('span', { class: 'badge', 'data-testid': 'connection' })
  const saveBadge = h('span', { class: 'badge', 'data-testid': 'save' })
  const titleInput = h('input', { class: 'title', 'aria-label': 'Title', 'data-testid': 'title' })
  const presence = h('div', { class: 'presence', 'data-testid': 'presence', 'aria-label': 'People in this note' })
  const banner = h('div', { class: 'banner', role: 'alert', 'data-testid': 'error', hidden: true })
  const notice = h('div', { class: 'notice', role: 'status', 'data-testid': 'unknown-content', hidden: true })
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar' })
  const linkForm = h('form', { class: 'link-form', hidden: true })
  const mount = h('div', { class: 'editor', 'data-testid': 'editor' })
  const shareBox = h('div', { class: 'panel', hidden: true })
  const shareBtn = h('button', { type: 'button', hidden: true, onclick: () => {
    shareBox.hidden = !shareBox.hidden
    if (!shareBox.hidden) replace(shareBox, sharePanel(id))
  } }, 'Share')
  const readonly = h('span', { class: 'badge muted', hidden: true }, 'Read only')

  show(header(h('a', { href: '#/', class: 'back' }, '← Notes'), titleInput, readonly, connBadge, saveBadge),
    h('main', { class: 'note-page' },
      h('div', { class: 'note-bar' }, presence, shareBtn), shareBox,
      h('div', { class: 'sticky' }, banner, notice, toolbar, linkForm), mount))

  let cancelled = false
  let collab = null
  let view = null
  let opened = false // the editor, or the read-only rendering, is up
  let stopConn = () => {}
  let stopGuard = () => {}
  let stopReadOnly = () => {}
  app.page = () => {
    cancelled = true
    stopConn()
    stopGuard()
    stopReadOnly()
    view?.destroy()
    collab?.destroy()
  }

  const showError = (text) => {
    banner.hidden = !text
    replace(banner, text ? [h('span', {}, text), h('button', { type: 'button', class: 'link', onclick: () => location.reload() }, 'Reload')] : [])
  }

  let note
  try {
    note = await api.getNote(id)
  } catch (err) {
    if (cancelled) return
    titleInput.disabled = true
    showError(err instanceof APIError && (err.status === 403 || err.status === 401)
      ? 'You do not have access to this note.'
      : err instanceof APIError && err.status === 404 ? 'This note does not exist (it may have been deleted).' : message(err))
    return
  }
  if (cancelled) return

  const writable = note.write_access !== false
  const owner = note.user_id === app.user.id || app.user.role === 'admin'
  titleInput.value = note.title || ''
  titleInput.disabled = !writable
  readonly.hidden = writable
  saveBadge.hidden = !writable // a reader has nothing to save
  shareBtn.hidden = !owner
  document.title = (note.title || 'Untitled') + ' · Quire'

  // Rename as the title is typed (debounced).
  let renameTimer = 0
  titleInput.addEventListener('input', () => {
    clearTimeout(renameTimer)
    renameTimer = setTimeout(async () => {
      try {
        await api.renameNote(id, titleInput.value.trim() || 'Untitled')
        document.title = (titleInput.value.trim() || 'Untitled') + ' · Quire'
      } catch (err) { showError(message(err)) }
    }, 500)
  })

  // Note metadata changes (a rename by someone else) arrive as events:note
  // in the note's room, which join-note enters on every connect. A rename
  // after the read above, or while the socket was away, reached nobody:
  // once in the room the title is read again, unless an event (as new as
  // that read, or newer) came meanwhile.
  const socket = app.connection.socket
  let noteEvents = 0
  const showTitle = (n) => {
    if (n?.id === id && typeof n.title === 'string' && document.activeElement !== titleInput) {
      titleInput.value = n.title
      document.title = (n.title || 'Untitled') + ' · Quire'
    }
  }
  const joinNote = () => socket.timeout(15000).emit('join-note', { note_id: id }, async (err, res) => {
    if (err || res?.ok === false || cancelled) return
    const seen = noteEvents
    try {
      const n = await api.getNote(id)
      if (!cancelled && noteEvents === seen) showTitle(n)
    } catch {} // the page shows what it has; the next connect reads again
  })
  const onNoteEvent = (n) => {
    if (n?.id !== id) return
    noteEvents++
    showTitle(n)
  }
  socket.on('connect', joinNote)
  socket.on('events:note', onNoteEvent)
  if (socket.connected) joinNote()
  const stopState = app.connection.subscribe((state) => {
    connBadge.textContent = CONNECTION_TEXT[state]
    connBadge.className = 'badge conn-' + state
    connBadge.dataset.state = state
  })
  stopConn = () => {
    stopState()
    socket.off('connect', joinNote)
    socket.off('events:note', onNoteEvent)
  }

  const color = colorFor(app.user.id)

  const onLink = (state) => {
    const current = state.selection.$from.marks().find((m) => m.type.name === 'link')
    const input = h('input', { type: 'url', placeholder: 'https://…', value: current?.attrs.href || '', 'aria-label': 'Link address' })
    replace(linkForm, input, h('button', { type: 'submit' }, 'Apply'),
      h('button', { type: 'button', class: 'link', onclick: () => { linkForm.hidden = true; view.focus() } }, 'Cancel'))
    linkForm.onsubmit = (e) => {
      e.preventDefault()
      linkForm.hidden = true
      setLink(view, input.value.trim())
    }
    linkForm.hidden = false
    input.focus()
  }

  const renderPresence = () => {
    replace(presence, collab.people().map((p) =>
      h('span', { class: 'person', style: `--c:${safeColor(p.color)}`, title: p.name, 'data-name': p.name },
        h('span', { class: 'dot' }), p.self ? `${p.name} (you)` : p.name)))
  }

  collab = new Collab({
    connection: app.connection,
    documentId: 'note:' + id,
    user: app.user,
    color,
    onChange: (status) => {
      saveBadge.textContent = SAVE_TEXT[status.save]
      saveBadge.className = 'badge save-' + status.save
      saveBadge.dataset.state = status.save
      showError(status.error)
      if (status.synced && !opened) {
        opened = true
        // The guard first: its observer must run before the editor's
        // (schemaguard.js).
        const fragment = collab.doc.getXmlFragment('prosemirror')
        let known = true
        stopGuard = watchUnknown(fragment, schema, (unknown) => {
          known = false
          view?.destroy() // now, before y-prosemirror sees the change
          view = window.quire.view = null
          toolbar.hidden = linkForm.hidden = true
          mount.classList.add('readonly')
          const list = unknown.length > 6 ? [...unknown.slice(0, 6), '…'] : unknown
          replace(notice, `This note contains content this editor cannot show (unknown: ${list.join(', ')}); it is open read-only so nothing is lost.`)
          notice.hidden = false
          stopReadOnly = showReadOnly(fragment, schema, mount)
        })
        if (known) {
          view = createEditor({ mount, toolbar, doc: collab.doc, awareness: collab.awareness, writable, onLink })
          window.quire.view = view
          if (writable) view.focus()
        }
      }
      if (status.fatal) mount.hidden = toolbar.hidden = true
    }
  })
  window.quire.collab = collab
  collab.changed()
  collab.awareness.on('change', renderPresence)
  renderPresence()
}

// --- routing -----------------------------------------------------------------------------

async function route () {
  if (!app.user) {
    if (!session.token) return show(authPage())
    try {
      signedIn(await api.me())
    } catch (err) {
      if (err instanceof APIError && err.status === 401) session.token = ''
      return show(err instanceof APIError && err.status === 401 ? authPage() : h('main', { class: 'center' }, h('p', { class: 'error' }, message(err))))
    }
  }
  const m = /^#\/notes\/([^/]+)$/.exec(location.hash)
  const c = /^#\/channels(?:\/([^/]+))?$/.exec(location.hash)
  const k = /^#\/chat(?:\/([^/]+))?$/.exec(location.hash)
  if (m) notePage(decodeURIComponent(m[1]))
  else if (c) channelsRoute(c[1] ? decodeURIComponent(c[1]) : null)
  else if (k) chatRoute(k[1] ? decodeURIComponent(k[1]) : null)
  else notesPage()
}

window.addEventListener('hashchange', route)
// Leave the document properly when the page goes away; a page restored
// from the back/forward cache starts over.
window.addEventListener('pagehide', () => {
  app.page?.()
  app.page = null
})
window.addEventListener('pageshow', (e) => { if (e.persisted) route() })
route()
