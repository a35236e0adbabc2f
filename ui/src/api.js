// REST client for Quire's (Open WebUI's) /api/v1 endpoints. The token is kept
// in localStorage.token, where Open WebUI keeps it.

export class APIError extends Error {
  constructor (status, detail) {
    super(detail)
    this.status = status
  }
}

export const session = {
  get token () { return localStorage.getItem('token') || '' },
  set token (t) {
    if (t) localStorage.setItem('token', t)
    else localStorage.removeItem('token')
  }
}

// request calls /api/v1<path>; call takes the whole path (/api/…).
const request = (method, path, body) => call(method, '/api/v1' + path, body)

async function call (method, path, body) {
  const headers = { Accept: 'application/json' }
  if (session.token) headers.Authorization = 'Bearer ' + session.token
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let res
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    })
  } catch {
    throw new APIError(0, 'The server cannot be reached. Check your connection.')
  }
  const text = await res.text()
  let data = null
  try { data = text ? JSON.parse(text) : null } catch { data = null }
  if (!res.ok) throw new APIError(res.status, describe(res.status, data))
  return data
}

// describe turns an error response into a sentence for the user.
function describe (status, data) {
  const d = data?.detail
  if (typeof d === 'string' && d) return d
  if (Array.isArray(d) && d[0]?.msg) return d[0].msg
  if (status === 401) return 'Your session has expired. Please sign in again.'
  if (status === 403) return 'You do not have access to this.'
  if (status === 404) return 'Not found.'
  if (status === 413) return 'That is too large for the server.'
  return `The server answered with an error (${status}).`
}

export const api = {
  signup: (name, email, password) => request('POST', '/auths/signup', { name, email, password }),
  signin: (email, password) => request('POST', '/auths/signin', { email, password }),
  me: () => request('GET', '/auths/'),
  signout: () => request('GET', '/auths/signout'),

  listNotes: async () => {
    const data = await request('GET', '/notes/')
    return Array.isArray(data) ? data : (data?.items ?? data?.notes ?? [])
  },
  getNote: (id) => request('GET', `/notes/${encodeURIComponent(id)}`),
  createNote: (title) => request('POST', '/notes/create', {
    title,
    data: { content: { md: '', html: '<p></p>', json: { type: 'doc', content: [{ type: 'paragraph' }] } } }
  }),
  renameNote: (id, title) => request('POST', `/notes/${encodeURIComponent(id)}/update`, { title }),
  deleteNote: (id) => request('DELETE', `/notes/${encodeURIComponent(id)}/delete`),
  updateAccess: (id, grants) => request('POST', `/notes/${encodeURIComponent(id)}/access/update`, { access_grants: grants }),

  // Channels (§9.7): standard/group/dm channels, messages, threads, reactions.
  listChannels: async () => {
    const data = await request('GET', '/channels/')
    return Array.isArray(data) ? data : []
  },
  getChannel: (id) => request('GET', `/channels/${encodeURIComponent(id)}`),
  createChannel: (body) => request('POST', '/channels/create', body),
  addMembers: (id, userIds) => request('POST', `/channels/${encodeURIComponent(id)}/members/add`, { user_ids: userIds }),
  listMessages: async (id, limit = 50) => {
    const data = await request('GET', `/channels/${encodeURIComponent(id)}/messages?skip=0&limit=${limit}`)
    return Array.isArray(data) ? data : []
  },
  listThread: async (id, mid) => {
    const data = await request('GET', `/channels/${encodeURIComponent(id)}/messages/${encodeURIComponent(mid)}/thread?skip=0&limit=200`)
    return Array.isArray(data) ? data : []
  },
  postMessage: (id, content, parentId) => request('POST', `/channels/${encodeURIComponent(id)}/messages/post`,
    parentId ? { content, parent_id: parentId } : { content }),
  react: (id, mid, name, add) => request('POST',
    `/channels/${encodeURIComponent(id)}/messages/${encodeURIComponent(mid)}/reactions/${add ? 'add' : 'remove'}`, { name }),

  // Chat (§9.8): models, saved chats, task-mode completions, stopping.
  listModels: async () => {
    const data = await call('GET', '/api/models')
    return Array.isArray(data?.data) ? data.data : []
  },
  listChats: async () => {
    const data = await request('GET', '/chats/')
    return Array.isArray(data) ? data : []
  },
  getChat: (id) => request('GET', `/chats/${encodeURIComponent(id)}`),
  createChat: (chat) => request('POST', '/chats/new', { chat }),
  updateChat: (id, chat) => request('POST', `/chats/${encodeURIComponent(id)}`, { chat }),
  complete: (body) => call('POST', '/api/chat/completions', body),
  stopTask: (id) => call('POST', `/api/tasks/stop/${encodeURIComponent(id)}`),
  chatTasks: (chatId) => call('GET', `/api/tasks/chat/${encodeURIComponent(chatId)}`),
  stopChatTasks: (chatId) => call('POST', `/api/tasks/chat/${encodeURIComponent(chatId)}/stop`),

  // findUser resolves an email address to an account with the user search
  // endpoint (Open WebUI's GET /api/v1/users/search?query=).
  findUser: async (email) => {
    const data = await request('GET', `/users/search?query=${encodeURIComponent(email)}`)
    const users = Array.isArray(data) ? data : (data?.users ?? data?.items ?? [])
    const want = email.trim().toLowerCase()
    return users.find((u) => String(u.email || '').toLowerCase() === want) ?? null
  }
}
