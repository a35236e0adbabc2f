// The collaboration provider: binds one Y.Doc (and its awareness) to one
// document on the server, speaking Open WebUI's ydoc:* events.
//
// - join on every (re)connect; the server answers with the full state, which
//   is applied with origin 'server' (the server seeds documents, never us);
// - after applying it, push whatever the server lacks: edits made while the
//   socket was down, or whose acknowledgement never came;
// - every local update is sent with an ack: "saved" means no local change is
//   waiting to be sent and every sent update was acknowledged ok.
import * as Y from 'yjs'
import { Awareness } from './awareness.js'

const ACK_TIMEOUT_MS = 15000
// At most 20 awareness updates a second: the server refuses more than 30
// a second per document (realtime.Config.AwarenessRate).
const AWARENESS_DELAY_MS = 50

export class Collab {
  constructor ({ connection, documentId, user, color, onChange }) {
    this.socket = connection.socket
    this.documentId = documentId
    this.user = user
    this.color = color
    this.onChange = onChange
    this.doc = new Y.Doc()
    this.awareness = new Awareness(this.doc)
    this.joined = false // the current connection has received the state
    this.synced = false // a state was received at least once
    this.pending = false // local changes not yet sent on this connection
    this.inflight = 0 // updates sent and not yet acknowledged
    this.error = null // last refusal from the server, in words
    this.fatal = false // join refused: there is nothing to edit
    this.destroyed = false
    this.awarenessTimer = 0
    this.joining = false // a join is waiting for its ack

    this.doc.on('update', (update, origin) => {
      if (origin !== 'server') this.sendUpdate(update)
    })
    this.awareness.on('update', (_diff, origin) => {
      if (origin === 'local') this.scheduleAwareness()
    })
    this.awareness.setLocalState({ user: { name: user.name, color, id: this.socket.id ?? null, user_id: user.id } })

    this.handlers = {
      connect: () => this.join(),
      disconnect: () => {
        this.joined = false
        if (this.inflight > 0) this.pending = true
        this.awareness.removeRemote('server')
        this.changed()
      },
      'ydoc:document:state': (data) => {
        if (data?.document_id === this.documentId) this.applyState(data.state)
      },
      'ydoc:document:update': (data) => {
        if (data?.document_id !== this.documentId || data.socket_id === this.socket.id || !data.update) return
        try {
          Y.applyUpdate(this.doc, new Uint8Array(data.update), 'server')
        } catch {
          this.requestState()
        }
      },
      'ydoc:awareness:update': (data) => {
        if (data?.document_id === this.documentId && data.update) {
          this.awareness.applyUpdate(new Uint8Array(data.update), 'server')
        }
      }
    }
    for (const [ev, fn] of Object.entries(this.handlers)) this.socket.on(ev, fn)
    if (this.socket.connected) this.join()
  }

  // status is what the page shows.
  get status () {
    let save
    if (this.error) save = 'error'
    else if (!this.synced) save = 'loading'
    else if (this.inflight > 0) save = 'saving'
    else if (this.pending) save = 'unsaved'
    else save = 'saved'
    return { save, error: this.error, fatal: this.fatal, synced: this.synced }
  }

  changed () {
    if (!this.destroyed) this.onChange?.(this.status)
  }

  join () {
    if (this.destroyed || !this.socket.connected || this.joining) return
    this.joining = true
    this.joined = false
    this.awareness.removeRemote('server')
    this.socket.timeout(ACK_TIMEOUT_MS).emit('ydoc:document:join', {
      document_id: this.documentId,
      user_id: this.user.id,
      user_name: this.user.name,
      user_color: this.color
    }, (err, res) => {
      this.joining = false
      if (this.destroyed) return
      if (err) {
        // Timed out or disconnected: the next connect joins again.
        if (this.socket.connected) setTimeout(() => this.join(), 1000)
        return
      }
      if (res && res.ok === false) {
        this.error = describeError(res.error, 'join')
        this.fatal = !this.synced
        this.changed()
      }
    })
  }

  // requestState asks for the full state again (after an update we could
  // not apply); joining again is the way every server supports.
  requestState () {
    if (this.socket.connected) this.join()
  }

  applyState (state) {
    // new Uint8Array reads a JSON array and a binary attachment (an
    // ArrayBuffer; Uint8Array.from would give an empty array for it).
    const bytes = new Uint8Array(state || [0, 0])
    try {
      Y.applyUpdate(this.doc, bytes, 'server')
    } catch {
      this.error = 'The note could not be loaded from the server.'
      this.changed()
      return
    }
    this.joined = true
    this.error = this.fatal ? this.error : null
    // Push what the server lacks (CRDT merge makes a superset harmless).
    const serverSV = Y.encodeStateVectorFromUpdate(bytes)
    if (this.pending || hasMore(Y.encodeStateVector(this.doc), serverSV)) {
      this.pending = false
      this.sendUpdate(Y.encodeStateAsUpdate(this.doc, serverSV))
    }
    this.sendAwareness()
    this.synced = true
    this.changed()
  }

  sendUpdate (update) {
    if (!this.joined || !this.socket.connected) {
      this.pending = true
      this.changed()
      return
    }
    this.inflight++
    this.socket.timeout(ACK_TIMEOUT_MS).emit('ydoc:document:update', {
      document_id: this.documentId,
      user_id: this.user.id,
      socket_id: this.socket.id,
      update: Array.from(update)
    }, (err, res) => {
      this.inflight--
      if (err) {
        // Never acknowledged: resend on the next join (a timeout while still
        // connected rejoins now to learn what the server has).
        this.pending = true
        if (this.socket.connected && this.joined) this.join()
      } else if (res && res.ok === false && res.error === 'not_joined') {
        // The server forgot our membership (e.g. it restarted): join again.
        this.pending = true
        this.join()
      } else if (res && res.ok === false) {
        this.error = describeError(res.error, 'update')
      }
      this.changed()
    })
    this.changed()
  }

  scheduleAwareness () {
    if (this.awarenessTimer) return
    this.awarenessTimer = setTimeout(() => {
      this.awarenessTimer = 0
      this.sendAwareness()
    }, AWARENESS_DELAY_MS)
  }

  sendAwareness () {
    if (!this.joined || !this.socket.connected || this.destroyed) return
    const local = this.awareness.getLocalState()
    if (local?.user && local.user.id !== this.socket.id) {
      // Open WebUI's user.id is the socket id; refresh it silently.
      local.user = { ...local.user, id: this.socket.id }
    }
    this.socket.emit('ydoc:awareness:update', {
      document_id: this.documentId,
      user_id: this.socket.id,
      update: Array.from(this.awareness.encodeUpdate())
    })
  }

  // people returns everyone in the document (one entry per account, self
  // first), from the awareness states.
  people () {
    const seen = new Map()
    const self = this.awareness.getLocalState()?.user
    if (self) seen.set(self.user_id ?? 'self', { ...self, self: true })
    for (const [id, state] of this.awareness.getStates()) {
      if (id === this.awareness.clientID || !state?.user) continue
      const key = state.user.user_id ?? state.user.id ?? id
      if (!seen.has(key)) seen.set(key, state.user)
    }
    return [...seen.values()]
  }

  destroy () {
    if (this.destroyed) return
    this.destroyed = true
    clearTimeout(this.awarenessTimer)
    for (const [ev, fn] of Object.entries(this.handlers)) this.socket.off(ev, fn)
    if (this.socket.connected && this.joined) {
      // Say goodbye explicitly so that no caret of ours lingers anywhere.
      this.socket.emit('ydoc:awareness:update', {
        document_id: this.documentId,
        user_id: this.socket.id,
        update: Array.from(new TextEncoder().encode(JSON.stringify({ [this.awareness.clientID]: null })))
      })
      this.socket.emit('ydoc:document:leave', { document_id: this.documentId, user_id: this.user.id })
    }
    this.awareness.destroy()
    this.doc.destroy()
  }
}

// hasMore reports whether state vector a has anything b lacks.
function hasMore (a, b) {
  const sa = Y.decodeStateVector(a)
  const sb = Y.decodeStateVector(b)
  for (const [client, clock] of sa) {
    if (clock > (sb.get(client) ?? 0)) return true
  }
  return false
}

// describeError turns a server refusal (Quire's ack reasons, see
// realtime/errors.go) into a sentence.
export function describeError (reason, what) {
  const join = what === 'join'
  switch (String(reason || '')) {
    case 'too_large':
      return join ? 'This note is too large to open.' : 'The note is too large: your last change was not saved.'
    case 'forbidden':
      return join ? 'You do not have access to this note.' : 'You do not have permission to edit this note: your change was not saved.'
    case 'unauthenticated':
      return 'Your session has expired. Please sign in again.'
    case 'unknown_document':
      return 'This note does not exist (it may have been deleted).'
    case 'busy':
    case 'unavailable':
      return 'The server is busy: your change was not saved. Reload to try again.'
    case 'invalid_update':
      return 'The server rejected a change as invalid: it was not saved. Reload the note.'
    default:
      return `The server refused the ${join ? 'note' : 'change'}: ${reason || 'unknown reason'}.`
  }
}
