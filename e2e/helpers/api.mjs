// REST helpers: accounts and notes (protocol.md §9.2, §9.3).

import { randomBytes } from 'node:crypto'

/** Call the REST API; returns {status, body}. */
export async function request (base, method, path, { token, body } = {}) {
  const headers = {}
  if (token) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  let parsed
  try { parsed = text ? JSON.parse(text) : undefined } catch { parsed = text }
  return { status: res.status, body: parsed }
}

/** Like request, but throws unless the status is 200. */
export async function ok (base, method, path, opts) {
  const res = await request(base, method, path, opts)
  if (res.status !== 200) {
    throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.body)}`)
  }
  return res.body
}

/** Sign up a new account with a unique email; returns {id, token, name, email, role, password}. */
export async function signup (base, name = 'user') {
  const email = `${name.toLowerCase().replace(/\W/g, '')}-${randomBytes(4).toString('hex')}@example.com`
  const password = 'correct horse battery ' + randomBytes(4).toString('hex')
  const body = await ok(base, 'POST', '/api/v1/auths/signup', { body: { name, email, password } })
  if (!body.token || !body.id) throw new Error('signup returned no token/id: ' + JSON.stringify(body))
  return { ...body, password }
}

export async function signin (base, { email, password }) {
  return ok(base, 'POST', '/api/v1/auths/signin', { body: { email, password } })
}

/** Create a note; content is {md} and/or {json}. Returns the NoteModel. */
export async function createNote (base, token, { title = 'note', content = { md: '' } } = {}) {
  const note = await ok(base, 'POST', '/api/v1/notes/create', { token, body: { title, data: { content } } })
  if (!note.id) throw new Error('create returned no id: ' + JSON.stringify(note))
  return note
}

export async function getNote (base, token, id) {
  return ok(base, 'GET', `/api/v1/notes/${id}`, { token })
}

export async function updateNote (base, token, id, body) {
  return ok(base, 'POST', `/api/v1/notes/${id}/update`, { token, body })
}

/** Replace the note's grants: grants = [{userId, permission: 'read'|'write'}]. */
export async function setGrants (base, token, id, grants) {
  const accessGrants = grants.map(g => ({ principal_type: 'user', principal_id: g.userId, permission: g.permission }))
  return ok(base, 'POST', `/api/v1/notes/${id}/access/update`, { token, body: { access_grants: accessGrants } })
}
