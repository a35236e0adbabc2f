// Chat with a model beside the notes (§5.3, §9.8), in task mode: the chat
// is saved first (POST /api/v1/chats/new, then POST /api/v1/chats/{id}),
// the question is posted with this page's socket id, chat id and the new
// assistant message id, and the answer arrives on the socket as `events`
// (chat:completion text deltas, then done, or an error, or a cancel). The
// server stores the final answer in the chat, so reopening it shows it.
// Stop is POST /api/tasks/stop/{task_id}; the server keeps the partial text.
import { api, APIError } from './api.js'
import { h, replace } from './dom.js'

const MODEL_KEY = 'quire.chatModel'

// uuid works outside secure contexts too (crypto.randomUUID does not).
function uuid () {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID()
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}

// path is the messages from the first down to id, following parentId.
function path (history, id) {
  const out = []
  const seen = new Set()
  for (let m = history.messages[id]; m && !seen.has(m.id); m = history.messages[m.parentId]) {
    seen.add(m.id)
    out.unshift(m)
  }
  return out
}

export function chatPage (ctx, chatId) {
  const socket = ctx.connection.socket
  const error = h('p', { class: 'error', role: 'alert', hidden: true })
  const fail = (err) => { error.textContent = ctx.message(err); error.hidden = false }
  const list = h('ul', { class: 'channel-list', 'data-testid': 'chat-list', 'aria-label': 'Chats' })
  const picker = h('select', { name: 'model', 'aria-label': 'Model', 'data-testid': 'model-picker' })
  const title = h('h1', { 'data-testid': 'chat-title' }, 'New chat')
  const msgList = h('ol', { class: 'messages chat-messages', 'data-testid': 'chat-messages' })
  const input = h('textarea', { name: 'prompt', rows: 1, placeholder: 'Ask the model… (Enter sends, Shift+Enter for a new line)', 'aria-label': 'Message the model' })
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send')
  const stop = h('button', { type: 'button', class: 'danger', hidden: true, onclick: () => stopAnswer() }, 'Stop')
  const form = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); ask() } }, input, send, stop)
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      ask()
    }
  })

  const state = {
    id: chatId, // null: a new chat, saved with the first question
    history: { messages: {}, currentId: null },
    running: null, // {messageId, taskId} while an answer streams
    views: new Map(), // message id → its element's parts
    stale: 0, // answers' ends heard and connects made (see openChat)
    gone: false
  }
  // For tests and debugging.
  window.quire.chat = state

  // --- models ------------------------------------------------------------------
  async function loadModels () {
    try {
      const models = await api.listModels()
      const want = picker.value || localStorage.getItem(MODEL_KEY)
      replace(picker, models.length
        ? models.map((m) => h('option', { value: m.id }, m.name || m.id))
        : h('option', { value: '' }, 'No models: configure --openai-base-url'))
      if (models.some((m) => m.id === want)) picker.value = want
      picker.disabled = models.length === 0
      updateButtons()
    } catch (err) { fail(err) }
  }
  picker.addEventListener('change', () => localStorage.setItem(MODEL_KEY, picker.value))

  // --- the chat list -------------------------------------------------------------
  async function loadList () {
    try {
      const chats = await api.listChats()
      if (state.gone) return
      replace(list, chats.length
        ? chats.map((c) => h('li', { class: 'channel chat-item' + (c.id === state.id ? ' active' : ''), 'data-id': c.id },
          h('a', { href: '#/chat/' + encodeURIComponent(c.id) }, h('span', { class: 'channel-name' }, c.title || 'Untitled'))))
        : h('li', { class: 'empty meta' }, 'No chats yet.'))
    } catch (err) { fail(err) }
  }

  // --- messages ------------------------------------------------------------------
  function renderAll () {
    state.views.clear()
    const msgs = state.history.currentId ? path(state.history, state.history.currentId) : []
    replace(msgList, msgs.length ? msgs.map(view) : h('li', { class: 'empty' }, 'Pick a model and ask something.'))
    msgList.scrollTop = msgList.scrollHeight
  }

  function view (m) {
    const content = h('div', { class: 'content', 'data-testid': 'content' })
    const note = h('div', { class: 'meta status' })
    const li = h('li', { class: 'msg chat-msg ' + m.role, 'data-id': m.id, 'data-role': m.role },
      h('div', { class: 'msg-head' }, h('span', { class: 'author' }, m.role === 'user' ? ctx.user.name : (m.modelName || m.model || 'Model'))),
      content, note)
    state.views.set(m.id, { li, content, note })
    paint(m)
    return li
  }

  // paint shows a message's text and state (streaming, done, stopped, error).
  function paint (m) {
    const v = state.views.get(m.id)
    if (!v) return
    v.content.textContent = m.content || ''
    let st = 'done'
    if (m.role === 'assistant') {
      if (m.error) st = 'error'
      else if (m.stopped) st = 'stopped'
      else if (!m.done) st = 'streaming'
    }
    v.li.dataset.state = st
    v.note.textContent = st === 'error' ? 'Error: ' + (m.error?.content || m.error) : st === 'stopped' ? 'Stopped.' : st === 'streaming' && !m.content ? 'Thinking…' : ''
    v.note.classList.toggle('error', st === 'error')
    const near = msgList.scrollHeight - msgList.scrollTop - msgList.clientHeight < 80
    if (near) msgList.scrollTop = msgList.scrollHeight
  }

  function updateButtons () {
    const busy = !!state.running
    stop.hidden = !busy
    send.disabled = busy || picker.disabled || !picker.value
  }

  // --- asking ----------------------------------------------------------------------
  async function ask () {
    const text = input.value.trim()
    const model = picker.value
    if (!text || !model || state.running) return
    if (!socket.connected) return fail(new Error('Not connected to the server; wait a moment and send again.'))
    error.hidden = true
    const hist = state.history
    const parent = hist.currentId
    const uid = uuid()
    const aid = uuid()
    const now = Math.floor(Date.now() / 1000)
    const modelName = picker.selectedOptions[0]?.textContent || model
    hist.messages[uid] = { id: uid, parentId: parent, childrenIds: [aid], role: 'user', content: text, timestamp: now, models: [model] }
    if (parent && hist.messages[parent]) hist.messages[parent].childrenIds = [...(hist.messages[parent].childrenIds || []), uid]
    hist.messages[aid] = { id: aid, parentId: uid, childrenIds: [], role: 'assistant', content: '', model, modelName, done: false, timestamp: now }
    hist.currentId = aid
    state.running = { messageId: aid, taskId: null }
    input.value = ''
    updateButtons()
    renderAll()
    const answer = hist.messages[aid]
    try {
      const chat = { history: hist, messages: path(hist, aid), models: [model] }
      if (!state.id) {
        chat.title = text.length > 60 ? text.slice(0, 57) + '…' : text
        const saved = await api.createChat(chat)
        state.id = saved.id
        title.textContent = saved.title || chat.title
        history.replaceState(null, '', '#/chat/' + encodeURIComponent(saved.id))
        loadList()
      } else {
        await api.updateChat(state.id, chat)
      }
      const res = await api.complete({
        model,
        messages: path(hist, uid).map((m) => ({ role: m.role, content: m.content })),
        stream: true,
        session_id: socket.id,
        chat_id: state.id,
        id: aid,
        parent_id: uid
      })
      if (state.running?.messageId === aid) state.running.taskId = res?.task_id || null
    } catch (err) {
      answer.done = true
      answer.error = { content: err instanceof APIError ? err.message : String(err.message || err) }
      if (state.running?.messageId === aid) state.running = null
      paint(answer)
      updateButtons()
    }
  }

  async function stopAnswer () {
    const run = state.running
    if (!run) return
    stop.disabled = true
    try {
      if (run.taskId) await api.stopTask(run.taskId)
      else if (state.id) await api.stopChatTasks(state.id) // the task id is not back yet
    } catch (err) {
      if (!(err instanceof APIError && err.status === 404)) fail(err) // 404: it had just ended
    } finally {
      stop.disabled = false
    }
  }

  // The socket's `events` for the chat on screen.
  const onEvent = (e) => {
    if (!e || e.chat_id !== state.id || !state.id) return
    const type = e.data?.type
    const d = e.data?.data
    const m = state.history.messages[e.message_id]
    if ((type === 'chat:active' && d?.active === false) || (type === 'chat:completion' && d?.done) ||
      type === 'chat:message:error' || type === 'chat:tasks:cancel') state.stale++
    if (type === 'chat:active' && d?.active === false) {
      if (state.running?.messageId === e.message_id) {
        state.running = null
        updateButtons()
        loadList()
      }
      if (m && !m.done) openChat(state.id) // an answer this page did not follow: read what was stored
      return
    }
    if (!m || m.role !== 'assistant') return
    if (type === 'chat:completion') {
      const piece = d?.choices?.[0]?.delta?.content
      if (typeof piece === 'string') m.content = (m.content || '') + piece
      if (d?.done) {
        if (typeof d.content === 'string') m.content = d.content
        m.done = true
      }
    } else if (type === 'chat:message:error') {
      m.error = d?.error || { content: 'The answer failed.' }
      m.done = true
    } else if (type === 'chat:tasks:cancel') {
      if (!m.error) m.stopped = true
      m.done = true
    } else {
      return
    }
    paint(m)
  }
  socket.on('events', onEvent)
  // Events sent while the socket was away are lost: after a reconnect an
  // answer still open on screen is read again from the server.
  const onConnect = () => {
    state.stale++ // a read on its way may predate events this socket will never get
    if (state.id && Object.values(state.history.messages).some((m) => m.role === 'assistant' && !m.done)) openChat(state.id)
  }
  socket.on('connect', onConnect)

  // --- opening a chat ------------------------------------------------------------
  // openChat shows the stored chat. An answer not done yet is either still
  // running (opened mid-answer: Stop works, and its end reloads the chat)
  // or was cut off (the server stopped): then it shows as stopped.
  // An answer that ends while the chat is read may have ended after the
  // server read it: its last events found no history to apply to (or one
  // about to be replaced), so the chat is read again; so it is after a
  // connect during the read (what was sent before it reached nobody).
  async function openChat (id, again = false) {
    try {
      const stale = state.stale
      const [c, tasks] = await Promise.all([api.getChat(id), api.chatTasks(id)])
      if (state.gone || state.id !== id) return
      if (state.stale !== stale) return openChat(id, again)
      const hist = c?.chat?.history
      state.history = hist && typeof hist.messages === 'object' ? { messages: hist.messages, currentId: hist.currentId } : { messages: {}, currentId: null }
      title.textContent = c.title || 'Untitled'
      const answers = Object.values(state.history.messages).filter((m) => m.role === 'assistant')
      const last = answers.filter((m) => m.model).pop()
      if (last && [...picker.options].some((o) => o.value === last.model)) picker.value = last.model
      const open = answers.filter((m) => !m.done)
      const ids = tasks?.task_ids || []
      if (open.length && ids.length) {
        const m = state.history.messages[state.history.currentId]
        if (m && !m.done) state.running = { messageId: m.id, taskId: ids[0] }
      } else if (open.length && !again) {
        return openChat(id, true) // the task may have ended between the two reads
      } else {
        for (const m of open) m.stopped = m.done = true
        if (state.running && !state.history.messages[state.running.messageId]) state.running = null
      }
      updateButtons()
      renderAll()
    } catch (err) { fail(err) }
  }

  const side = h('aside', { class: 'channels-side' },
    h('div', { class: 'side-head' }, h('h2', {}, 'Chats'),
      h('a', { class: 'link', href: '#/chat', 'aria-label': 'New chat' }, '+ New')),
    list)
  const main = h('section', { class: 'channel-col' }, error,
    h('div', { class: 'channel-main' },
      h('div', { class: 'channel-head' }, title, h('span', { class: 'meta' }), h('label', { class: 'model' }, 'Model ', picker)),
      msgList, form))
  const page = h('main', { class: 'channels chat' }, side, main)

  updateButtons()
  renderAll()
  loadModels()
  loadList()
  if (chatId) openChat(chatId)
  else input.focus()

  return {
    view: page,
    cleanup: () => {
      state.gone = true
      socket.off('events', onEvent)
      socket.off('connect', onConnect)
      if (window.quire.chat === state) window.quire.chat = null
    }
  }
}
