// Channels next to notes (§9.7, §5.1): the channel list with unread counts,
// a live message list, threads, reactions, typing, new channels and DMs.
//
// ChannelStore lives as long as the sign-in (not the page), so unread
// counts keep up while the notes are on screen. The counts come from the
// server (GET /channels/), refetched when another account's message lands
// in a channel that is not open: the server's count is the truth, so a
// message counted by both an event and a listing is never counted twice.
import { api, APIError } from './api.js'
import { h, replace } from './dom.js'

const REACTIONS = ['👍', '❤️', '😄', '🎉', '👀']
const TYPING_SEND_MS = 2000 // re-send typing:true at most this often
const TYPING_IDLE_MS = 3000 // typing:false after this long without a key
const TYPING_SHOW_MS = 5000 // a remote typing state expires after this (as Open WebUI)

export class ChannelStore {
  constructor (user, connection, token) {
    this.user = user
    this.socket = connection.socket
    this.token = token
    this.list = [] // channel models from GET /channels/, with unread_count
    this.openId = null // the channel on screen
    this.names = new Map() // account id → name, learned from messages and look-ups
    this.listeners = new Set() // events:channel for the page
    this.changed = new Set() // list changes
    this.rejoined = new Set() // after each join-channels: the page refetches what it missed
    this.fetching = null
    this.again = false
    this.pendingReads = new Set() // channels whose last_read_at is not acknowledged yet
    this.readSeq = 0 // counts markRead calls
    this.readAt = new Map() // channel id → readSeq of its latest markRead
    this.joined = false
    this.onConnect = () => this.join()
    this.onDisconnect = () => { this.joined = false }
    this.onEvent = (e) => this.event(e)
    this.socket.on('connect', this.onConnect)
    this.socket.on('disconnect', this.onDisconnect)
    this.socket.on('events:channel', this.onEvent)
    if (this.socket.connected) this.join()
    else this.refresh()
  }

  // join enters every channel room of the account; the list is read after
  // it, so nothing posted in between is missed by both.
  join () {
    this.socket.timeout(15000).emit('join-channels', { auth: { token: this.token } }, (err, res) => {
      // Refused or unanswered: reads wait for the next connect.
      this.joined = !err && res?.ok !== false && this.socket.connected
      if (this.joined) for (const id of this.pendingReads) this.sendRead(id)
      this.refresh()
      for (const fn of [...this.rejoined]) fn()
    })
  }

  // refresh refetches the list; calls during a fetch make one more fetch.
  refresh () {
    if (this.fetching) {
      this.again = true
      return this.fetching
    }
    this.fetching = (async () => {
      do {
        this.again = false
        const since = this.readSeq
        try {
          const list = await api.listChannels()
          for (const c of list) {
            // A listing asked for before a read was stored may still count
            // what was read; the one after the read's ack is the truth.
            if (c.id === this.openId || this.pendingReads.has(c.id) || this.readAt.get(c.id) > since) c.unread_count = 0
            this.learnNames(c)
          }
          this.list = list
          this.error = ''
        } catch (err) {
          this.error = err instanceof APIError ? err.message : String(err)
        }
      } while (this.again)
      this.fetching = null
      this.notify()
    })()
    return this.fetching
  }

  learnNames (c) {
    const names = c?.meta?.dm_names
    if (names && typeof names === 'object') {
      for (const [id, name] of Object.entries(names)) {
        if (typeof name === 'string' && !this.names.has(id)) this.names.set(id, name)
      }
    }
  }

  get (id) { return this.list.find((c) => c.id === id) }

  // label is what a channel is called: its name, or for a DM the other side.
  label (c) {
    if (!c) return ''
    if (c.type === 'dm') {
      const ids = Object.keys(c.meta?.dm_names || {}).filter((id) => id !== this.user.id)
      const who = ids.map((id) => this.names.get(id)).filter(Boolean)
      return who.length ? who.join(', ') : (c.name || 'Direct message')
    }
    return c.name || 'Untitled'
  }

  totalUnread () { return this.list.reduce((n, c) => n + (c.id === this.openId ? 0 : c.unread_count || 0), 0) }

  notify () {
    const total = this.totalUnread()
    for (const el of document.querySelectorAll('[data-testid="unread-total"]')) {
      el.textContent = total > 99 ? '99+' : String(total)
      el.hidden = total === 0
    }
    for (const fn of [...this.changed]) fn()
  }

  event (e) {
    if (!e || typeof e !== 'object') return
    const type = e.data?.type
    if (type === 'channel:created') return this.refresh()
    const cid = e.channel_id
    if (typeof cid !== 'string') return
    const msg = e.data?.data
    if (e.user?.id && e.user.name) this.names.set(e.user.id, e.user.name)
    if (msg?.user?.id && msg.user.name) this.names.set(msg.user.id, msg.user.name)
    if (type === 'message' && msg) {
      const c = this.get(cid)
      if (!c) this.refresh() // a DM shown again, a channel we were added to
      else if (cid === this.openId) {
        if (!msg.parent_id && msg.user_id !== this.user.id) this.markRead(cid)
      } else if (!msg.parent_id && msg.user_id !== this.user.id) this.refresh()
    }
    for (const fn of [...this.listeners]) fn(e)
  }

  // open puts a channel on screen and marks it read; close marks it read
  // again on the way out (as Open WebUI does on open and leave).
  open (id) {
    this.openId = id
    this.markRead(id)
  }

  close (id) {
    if (this.openId === id) this.openId = null
    this.markRead(id)
  }

  markRead (id) {
    const c = this.get(id)
    if (c) c.unread_count = 0
    this.readAt.set(id, ++this.readSeq)
    this.pendingReads.add(id)
    this.notify()
    if (this.joined) this.sendRead(id)
  }

  sendRead (id) {
    this.socket.timeout(15000).emit('events:channel', { channel_id: id, message_id: null, data: { type: 'last_read_at' } }, (err, res) => {
      if (err || res?.ok === false) return // retried after the next join-channels
      this.pendingReads.delete(id)
      this.refresh()
    })
  }

  typing (channelId, messageId, typing) {
    if (!this.socket.connected) return
    this.socket.emit('events:channel', { channel_id: channelId, message_id: messageId || null, data: { type: 'typing', data: { typing } } })
  }

  destroy () {
    this.socket.off('connect', this.onConnect)
    this.socket.off('disconnect', this.onDisconnect)
    this.socket.off('events:channel', this.onEvent)
    this.listeners.clear()
    this.changed.clear()
    this.rejoined.clear()
  }
}

function formatTime (ns) {
  const ms = Number(ns) / 1e6
  if (!Number.isFinite(ms) || ms <= 0) return ''
  const d = new Date(ms)
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString()
}

// typingText says who is typing: "Alice is typing…", "Alice and Bob are typing…".
function typingText (names) {
  if (!names.length) return ''
  if (names.length === 1) return `${names[0]} is typing…`
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`
}

// Typing tracks who types where (null: the channel, else a thread id).
class Typing {
  constructor (render) {
    this.render = render
    this.people = new Map() // `${where}|${id}` → {where, name, timer}
  }

  set (where, id, name, typing) {
    const key = `${where}|${id}`
    clearTimeout(this.people.get(key)?.timer)
    this.people.delete(key)
    if (typing) {
      this.people.set(key, { where, name, timer: setTimeout(() => { this.people.delete(key); this.render() }, TYPING_SHOW_MS) })
    }
    this.render()
  }

  names (where) { return [...this.people.values()].filter((p) => p.where === where).map((p) => p.name) }

  clear () {
    for (const p of this.people.values()) clearTimeout(p.timer)
    this.people.clear()
  }
}

// composer is a message box: Enter sends, Shift+Enter is a new line; it
// tells the channel while its owner types. onSend(text, at) resolves to false
// when the message was not sent; at is what at() gave when Enter was pressed
// (the send may wait for the one before).
function composer ({ placeholder, label, onSend, onTyping, at = () => undefined }) {
  const box = h('textarea', { rows: 1, placeholder, 'aria-label': label })
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send')
  let lastSent = 0
  let idle = 0
  let pending = 0 // sends not answered yet (box.dataset.pending, for tests)
  // Sends go one after another: a message typed while the one before is
  // unanswered waits for that answer, so the server receives (and dates)
  // them in the order typed; sent at once, two requests could overtake each
  // other and the channel would show them swapped.
  let last = Promise.resolve()
  let queued = 0 // sends waiting behind another (box.dataset.queued, for tests)
  const stopTyping = () => {
    clearTimeout(idle)
    if (lastSent) onTyping(false)
    lastSent = 0
  }
  const submit = async () => {
    const text = box.value.trim()
    if (!text) return
    stopTyping()
    // The box empties now, not at the answer: the message is often on
    // screen first (the room's event comes before the answer), and what
    // is typed next must not be wiped when the answer arrives.
    box.value = ''
    const where = at()
    box.dataset.pending = String(++pending)
    const before = last
    let done
    last = new Promise((resolve) => { done = resolve })
    try {
      if (pending > 1) {
        box.dataset.queued = String(++queued)
        await before
        box.dataset.queued = String(--queued)
      }
      const sent = await onSend(text, where)
      if (sent === false && !box.value) box.value = text // not sent: the text comes back
    } finally {
      done()
      box.dataset.pending = String(--pending)
      box.focus()
    }
  }
  box.addEventListener('input', () => {
    if (!box.value.trim()) return stopTyping()
    const now = Date.now()
    if (now - lastSent > TYPING_SEND_MS) {
      lastSent = now
      onTyping(true)
    }
    clearTimeout(idle)
    idle = setTimeout(stopTyping, TYPING_IDLE_MS)
  })
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      submit()
    }
  })
  const form = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); submit() } }, box, send)
  form.stop = stopTyping
  return form
}

// channelsPage renders the channels view into `main` and returns its
// cleanup. ctx: {user, store, findUser(email), message(err) → text}.
export function channelsPage (ctx, channelId) {
  const { user, store } = ctx
  const error = h('p', { class: 'error', role: 'alert', hidden: true })
  const fail = (err) => { error.textContent = ctx.message(err); error.hidden = false }
  const list = h('ul', { class: 'channel-list', 'data-testid': 'channel-list', 'aria-label': 'Channels' })
  const dmList = h('ul', { class: 'channel-list', 'data-testid': 'dm-list', 'aria-label': 'Direct messages' })

  // --- new channel / new DM -------------------------------------------------
  const newName = h('input', { name: 'channel-name', placeholder: 'Channel name', 'aria-label': 'Channel name', required: true })
  const newPeople = h('input', { name: 'channel-members', placeholder: 'Members: emails, comma-separated', 'aria-label': 'Members (emails)' })
  const newPrivate = h('input', { type: 'checkbox', name: 'channel-private', checked: true })
  const newForm = h('form', { class: 'side-form', hidden: true, onsubmit: async (e) => {
    e.preventDefault()
    try {
      const people = await resolveAll(newPeople.value)
      // Standard channels are the admins' (as Open WebUI); others make a group.
      const body = user.role === 'admin'
        ? { name: newName.value.trim(), is_private: newPrivate.checked, user_ids: people.map((p) => p.id) }
        : { name: newName.value.trim(), type: 'group', user_ids: people.map((p) => p.id) }
      const c = await api.createChannel(body)
      newForm.hidden = true
      newName.value = newPeople.value = ''
      await store.refresh()
      location.hash = '#/channels/' + encodeURIComponent(c.id)
    } catch (err) { fail(err) }
  } },
  newName, newPeople,
  user.role === 'admin' ? h('label', { class: 'check' }, newPrivate, 'Private (members only)') : null,
  h('button', { type: 'submit', class: 'primary' }, 'Create channel'))

  const dmWho = h('input', { name: 'dm-email', type: 'email', placeholder: 'Their email', 'aria-label': 'Direct message to (email)', required: true })
  const dmForm = h('form', { class: 'side-form', hidden: true, onsubmit: async (e) => {
    e.preventDefault()
    try {
      const [other] = await resolveAll(dmWho.value)
      if (!other) return
      const c = await api.createChannel({
        type: 'dm', user_ids: [other.id],
        meta: { dm_names: { [user.id]: user.name, [other.id]: other.name || other.email } }
      })
      dmForm.hidden = true
      dmWho.value = ''
      await store.refresh()
      location.hash = '#/channels/' + encodeURIComponent(c.id)
    } catch (err) { fail(err) }
  } }, dmWho, h('button', { type: 'submit', class: 'primary' }, 'Open conversation'))

  async function resolveAll (text) {
    const out = []
    for (const email of text.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean)) {
      const u = await ctx.findUser(email)
      if (!u) throw new Error(`No account uses ${email}.`)
      store.names.set(u.id, u.name || u.email)
      out.push(u)
    }
    return out
  }

  const side = h('aside', { class: 'channels-side' },
    h('div', { class: 'side-head' }, h('h2', {}, 'Channels'),
      h('button', { type: 'button', class: 'link', 'aria-label': 'New channel', onclick: () => { newForm.hidden = !newForm.hidden; if (!newForm.hidden) newName.focus() } }, '+ New')),
    newForm, list,
    h('div', { class: 'side-head' }, h('h2', {}, 'Direct messages'),
      h('button', { type: 'button', class: 'link', 'aria-label': 'New direct message', onclick: () => { dmForm.hidden = !dmForm.hidden; if (!dmForm.hidden) dmWho.focus() } }, '+ New')),
    dmForm, dmList)

  function renderList () {
    const row = (c) => {
      const unread = c.id === store.openId ? 0 : (c.unread_count || 0)
      return h('li', { class: 'channel' + (c.id === channelId ? ' active' : '') + (unread ? ' unread' : ''), 'data-id': c.id, 'data-name': store.label(c) },
        h('a', { href: '#/channels/' + encodeURIComponent(c.id) },
          h('span', { class: 'channel-name' }, c.type === 'dm' ? h('span', { class: 'glyph' }, '@') : h('span', { class: 'glyph' }, '#'), store.label(c),
            c.type !== 'dm' && c.is_private ? h('span', { class: 'private', title: 'Members only' }, 'private') : null),
          h('span', { class: 'count', 'data-testid': 'unread', hidden: !unread }, String(unread))))
    }
    const chans = store.list.filter((c) => c.type !== 'dm')
    const dms = store.list.filter((c) => c.type === 'dm')
    replace(list, chans.length ? chans.map(row) : h('li', { class: 'empty' }, 'No channels yet.'))
    replace(dmList, dms.length ? dms.map(row) : h('li', { class: 'empty' }, 'No conversations yet.'))
    if (store.error) fail(new Error(store.error))
    if (channelId) renderHead()
  }

  // --- the open channel ------------------------------------------------------
  const center = h('section', { class: 'channel-main', 'data-testid': 'channel' })
  const thread = h('section', { class: 'thread', 'data-testid': 'thread', hidden: true })
  const view = h('main', { class: 'channels' }, side, h('div', { class: 'channel-col' }, error, center), thread)
  const title = h('h1', { class: 'channel-title', 'data-testid': 'channel-title' })
  const headMeta = h('span', { class: 'meta' })
  const members = h('div', { class: 'panel', hidden: true })
  const messages = h('ol', { class: 'messages', 'data-testid': 'messages', 'aria-live': 'polite' })
  const typingLine = h('div', { class: 'typing', 'data-testid': 'typing' })
  const threadMessages = h('ol', { class: 'messages', 'data-testid': 'thread-messages' })
  const threadTyping = h('div', { class: 'typing', 'data-testid': 'thread-typing' })

  const byId = new Map() // top-level message id → message
  const threadById = new Map() // the open thread: root and replies
  let threadId = null
  let loaded = false

  const typing = new Typing(() => {
    typingLine.textContent = typingText(typing.names(null))
    threadTyping.textContent = typingText(typing.names(threadId))
  })

  function renderHead () {
    const c = store.get(channelId)
    if (!c) return
    membersBtn.hidden = c.type === 'dm'
    title.textContent = (c.type === 'dm' ? '@ ' : '# ') + store.label(c)
    headMeta.textContent = c.description || (c.type === 'dm' ? 'Direct message' : c.type === 'group' ? 'Group' : c.is_private ? 'Private channel' : 'Channel')
    document.title = store.label(c) + ' · Quire'
  }

  function reactionsRow (m) {
    const row = h('div', { class: 'reactions' })
    for (const r of m.reactions || []) {
      const mine = (r.user_ids || []).includes(user.id)
      row.append(h('button', {
        type: 'button', class: 'reaction' + (mine ? ' mine' : ''), 'data-name': r.name, 'aria-pressed': mine ? 'true' : 'false',
        title: (r.user_ids || []).map((id) => store.names.get(id) || 'someone').join(', '),
        onclick: () => api.react(channelId, m.id, r.name, !mine).catch(fail)
      }, `${r.name} ${r.count}`))
    }
    const picker = h('span', { class: 'picker', hidden: true },
      REACTIONS.map((name) => h('button', { type: 'button', 'aria-label': 'React ' + name, onclick: () => {
        picker.hidden = true
        api.react(channelId, m.id, name, true).catch(fail)
      } }, name)))
    row.append(h('button', { type: 'button', class: 'react-btn', 'aria-label': 'Add reaction', onclick: () => { picker.hidden = !picker.hidden } }, '☺+'), picker)
    return row
  }

  function messageEl (m, inThread) {
    // A model's answer (a mention of it) is posted by the asker: show the model.
    const model = typeof m.meta?.model_id === 'string' ? (m.meta.model_name || m.meta.model_id) : ''
    const name = model || m.user?.name || store.names.get(m.user_id) || 'Someone'
    const el = h('li', { class: 'msg' + (m.user_id === user.id && !model ? ' own' : '') + (model ? ' model' : ''), 'data-id': m.id, 'data-author': name },
      h('div', { class: 'msg-head' }, h('span', { class: 'author' }, name), h('span', { class: 'meta' }, formatTime(m.created_at))),
      h('div', { class: 'content' }, m.content),
      reactionsRow(m))
    if (!inThread) {
      const n = m.reply_count || 0
      el.querySelector('.reactions').append(h('button', { type: 'button', class: 'link replies', onclick: () => openThread(m.id) },
        n ? `${n} ${n === 1 ? 'reply' : 'replies'}` : 'Reply in thread'))
    }
    return el
  }

  function nearBottom (el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 80 }

  function renderMessages (scroll) {
    const stick = scroll || nearBottom(messages)
    const sorted = [...byId.values()].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1))
    replace(messages, sorted.length ? sorted.map((m) => messageEl(m, false)) : h('li', { class: 'empty' }, loaded ? 'No messages yet. Say hello!' : 'Loading…'))
    if (stick) messages.scrollTop = messages.scrollHeight
  }

  function renderThread (scroll) {
    const stick = scroll || nearBottom(threadMessages)
    const sorted = [...threadById.values()].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1))
    replace(threadMessages, sorted.map((m) => messageEl(m, true)))
    if (stick) threadMessages.scrollTop = threadMessages.scrollHeight
  }

  // upsert stores m; an update without thread figures keeps the old ones.
  function upsert (map, m) {
    const old = map.get(m.id)
    if (old && m.reply_count === 0 && old.reply_count) {
      m = { ...m, reply_count: old.reply_count, latest_reply_at: old.latest_reply_at }
    }
    map.set(m.id, m)
  }

  async function openThread (id) {
    threadId = id
    threadById.clear()
    const root = byId.get(id)
    if (root) threadById.set(id, root)
    thread.hidden = false
    renderThread(true)
    typing.render()
    try {
      const [msgs, seen] = await readLive(() => api.listThread(channelId, id))
      if (threadId !== id) return
      for (const m of msgs) upsert(threadById, m)
      for (const e of seen) applyEvent(e)
      renderThread(true)
      threadBox.querySelector('textarea').focus()
    } catch (err) { fail(err) }
  }

  const threadBox = composer({
    placeholder: 'Reply…',
    label: 'Reply in thread',
    at: () => threadId, // the thread open when Enter was pressed
    onSend: async (text, parent) => {
      try {
        const m = await api.postMessage(channelId, text, parent)
        if (m?.parent_id === threadId) { upsert(threadById, m); renderThread(true) }
      } catch (err) { fail(err); return false }
    },
    onTyping: (t) => store.typing(channelId, threadId, t)
  })
  replace(thread,
    h('div', { class: 'thread-head' }, h('h2', {}, 'Thread'),
      h('button', { type: 'button', class: 'link', 'aria-label': 'Close thread', onclick: () => { threadId = null; thread.hidden = true; typing.render() } }, '✕')),
    threadMessages, threadTyping, threadBox)

  const mainBox = composer({
    placeholder: 'Message…',
    label: 'Message',
    onSend: async (text) => {
      try {
        const m = await api.postMessage(channelId, text)
        if (m?.id && !m.parent_id) { upsert(byId, m); renderMessages(true) }
      } catch (err) { fail(err); return false }
    },
    onTyping: (t) => store.typing(channelId, null, t)
  })

  const memberWho = h('input', { name: 'member-email', type: 'email', placeholder: 'Their email', 'aria-label': 'Add member (email)' })
  const memberOk = h('p', { class: 'ok', role: 'status', hidden: true })
  const memberForm = h('form', { class: 'share', onsubmit: async (e) => {
    e.preventDefault()
    try {
      const people = await resolveAll(memberWho.value)
      if (!people.length) return
      const c = await api.addMembers(channelId, people.map((p) => p.id))
      memberWho.value = ''
      memberOk.textContent = `Added ${people.map((p) => p.name || p.email).join(', ')}. ${c.user_ids?.length || ''} members.`
      memberOk.hidden = false
    } catch (err) { fail(err) }
  } }, memberWho, h('button', { type: 'submit', class: 'primary' }, 'Add'))

  const membersBtn = h('button', { type: 'button', class: 'members-btn', onclick: () => { members.hidden = !members.hidden; if (!members.hidden) memberWho.focus() } }, 'Members')

  // Message events that arrive while a list is read (one buffer per read)
  // are applied again after it: the server may have read the list before
  // them, and the older list would undo a deletion or an edit.
  const reading = new Set()
  async function readLive (read) {
    const seen = []
    reading.add(seen)
    try {
      return [await read(), seen]
    } finally { reading.delete(seen) }
  }
  const onEvent = (e) => {
    if (e.channel_id === channelId && e.data?.type !== 'typing') for (const b of reading) b.push(e)
    applyEvent(e)
  }
  const applyEvent = (e) => {
    if (e.channel_id !== channelId) return
    const type = e.data?.type
    const m = e.data?.data
    if (type === 'typing') {
      if (e.user?.id && e.user.id !== user.id) typing.set(e.message_id ?? null, e.user.id, e.user.name || 'Someone', !!m?.typing)
      return
    }
    if (!m || typeof m !== 'object' || typeof m.id !== 'string') return
    if (type === 'message') {
      if (m.user_id) typing.set(m.parent_id ?? null, m.user_id, '', false)
      if (!m.parent_id) { upsert(byId, m); renderMessages() } else if (m.parent_id === threadId) { upsert(threadById, m); renderThread() }
    } else if (type === 'message:delete') {
      byId.delete(m.id)
      threadById.delete(m.id)
      if (m.id === threadId) { threadId = null; thread.hidden = true }
      renderMessages()
      renderThread()
    } else if (type === 'message:update' || type === 'message:reply' || type.startsWith('message:reaction:')) {
      if (byId.has(m.id)) { upsert(byId, m); renderMessages() }
      if (threadById.has(m.id)) { upsert(threadById, m); renderThread() }
    }
  }

  // The newest read wins: one that lands after a later one (the first
  // read, overtaken by the reload of a join) would bring older messages back.
  let loadSeq = 0
  async function loadMessages () {
    const my = ++loadSeq
    const [msgs, seen] = await readLive(() => api.listMessages(channelId))
    if (my !== loadSeq) return
    for (const m of msgs) if (!m.parent_id) upsert(byId, m)
    for (const e of seen) applyEvent(e)
    loaded = true
    renderMessages(true)
  }

  // reload catches up after a reconnect: what was posted or changed while
  // the socket was away did not arrive as events.
  const reload = async () => {
    try {
      byId.clear()
      await loadMessages()
      store.markRead(channelId)
      if (threadId) {
        const id = threadId
        const [msgs, seen] = await readLive(() => api.listThread(channelId, id))
        if (threadId === id) {
          threadById.clear()
          for (const m of msgs) upsert(threadById, m)
          for (const e of seen) applyEvent(e)
          renderThread()
        }
      }
    } catch (err) { fail(err) }
  }

  if (channelId) {
    replace(center,
      h('div', { class: 'channel-head' }, title, headMeta,
        membersBtn),
      members, messages, typingLine, mainBox)
    replace(members, h('div', { class: 'share-panel' }, memberForm, memberOk))
    store.listeners.add(onEvent)
    store.open(channelId)
    renderMessages()
    ;(async () => {
      try {
        const c = store.get(channelId) || await api.getChannel(channelId)
        if (!store.get(channelId)) { store.learnNames(c); store.list = [...store.list, c] }
        renderHead()
        // Set up before the first read: a join-channels answered while it
        // is on its way (the socket connecting) reads again what was
        // posted before the socket was in the channel's room.
        store.rejoined.add(reload)
        await loadMessages()
        mainBox.querySelector('textarea').focus()
      } catch (err) {
        loaded = true
        renderMessages()
        fail(err instanceof APIError && (err.status === 403 || err.status === 404)
          ? new Error('This channel does not exist or you are not a member.')
          : err)
      }
    })()
  } else {
    replace(center, h('div', { class: 'pick' }, h('p', {}, 'Pick a channel on the left, or start one.')))
    document.title = 'Channels · Quire'
  }

  store.changed.add(renderList)
  renderList()

  const cleanup = () => {
    store.changed.delete(renderList)
    store.listeners.delete(onEvent)
    store.rejoined.delete(reload)
    mainBox.stop()
    threadBox.stop()
    typing.clear()
    if (channelId) store.close(channelId)
  }
  return { view, cleanup }
}
