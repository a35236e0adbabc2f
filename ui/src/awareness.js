// A small awareness object speaking Open WebUI's SimpleAwareness wire format:
// an update is the UTF-8 bytes of JSON {"<clientID>": state | null, ...}.
// The server removes a client with the empty state {} (protocol §9.4), so
// null, {} and anything not an object all remove it here.
// It offers the part of y-protocols' Awareness API that y-prosemirror's
// yCursorPlugin uses (doc, clientID, getLocalState, setLocalStateField,
// getStates, on/off 'change' | 'update').

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class Awareness {
  constructor (doc) {
    this.doc = doc
    this.states = new Map()
    this.listeners = { change: new Set(), update: new Set() }
  }

  get clientID () { return this.doc.clientID }

  getStates () { return this.states }

  getLocalState () { return this.states.get(this.clientID) ?? null }

  setLocalState (state) {
    const id = this.clientID
    const prev = this.states.get(id)
    if (state === null) this.states.delete(id)
    else this.states.set(id, state)
    const changed = JSON.stringify(prev ?? null) !== JSON.stringify(state)
    const diff = { added: [], updated: [], removed: [] }
    if (prev === undefined && state !== null) diff.added.push(id)
    else if (prev !== undefined && state === null) diff.removed.push(id)
    else diff.updated.push(id)
    if (changed) this.emit('change', diff, 'local')
    this.emit('update', diff, 'local')
  }

  setLocalStateField (field, value) {
    const state = this.getLocalState()
    if (state !== null) this.setLocalState({ ...state, [field]: value })
  }

  // encodeUpdate returns the wire bytes for the given clients' states.
  encodeUpdate (clients = [this.clientID]) {
    const out = {}
    for (const id of clients) out[id] = this.states.get(id) ?? null
    return encoder.encode(JSON.stringify(out))
  }

  // applyUpdate merges a remote update; our own client id is never taken
  // from the wire.
  applyUpdate (bytes, origin) {
    let msg
    try {
      msg = JSON.parse(decoder.decode(bytes))
    } catch {
      return
    }
    if (msg === null || typeof msg !== 'object') return
    const diff = { added: [], updated: [], removed: [] }
    for (const [key, state] of Object.entries(msg)) {
      const id = Number(key)
      if (!Number.isSafeInteger(id) || id === this.clientID) continue
      const had = this.states.has(id)
      if (state === null || typeof state !== 'object' || Object.keys(state).length === 0) {
        if (had) {
          this.states.delete(id)
          diff.removed.push(id)
        }
      } else {
        this.states.set(id, state)
        ;(had ? diff.updated : diff.added).push(id)
      }
    }
    if (diff.added.length || diff.updated.length || diff.removed.length) {
      this.emit('change', diff, origin)
      this.emit('update', diff, origin)
    }
  }

  // removeRemote forgets every other client (used when our connection drops:
  // the server resends the live states when we join again).
  removeRemote (origin) {
    const removed = [...this.states.keys()].filter((id) => id !== this.clientID)
    for (const id of removed) this.states.delete(id)
    if (removed.length) {
      const diff = { added: [], updated: [], removed }
      this.emit('change', diff, origin)
      this.emit('update', diff, origin)
    }
  }

  on (name, fn) { this.listeners[name]?.add(fn) }
  off (name, fn) { this.listeners[name]?.delete(fn) }

  emit (name, diff, origin) {
    for (const fn of [...this.listeners[name]]) fn(diff, origin)
  }

  destroy () {
    this.listeners.change.clear()
    this.listeners.update.clear()
    this.states.clear()
  }
}
