// Bind a real Y.Doc to a Quire document over a Client, the way Open WebUI's
// Collaboration.ts does (protocol.md §4.1), minus client-side seeding: Quire
// seeds on the server, so this binding never seeds.

import * as Y from 'yjs'
import { yXmlFragmentToProsemirrorJSON } from 'y-prosemirror'
import { Client, expectOk } from './socket.mjs'
import { signup } from './api.mjs'

export { Y }

export const EMPTY_STATE = [0, 0]

export class DocClient {
  /**
   * @param {Client} client connected socket
   * @param {string} documentId e.g. "note:<id>"
   * @param {{id: string, name?: string}} user the account behind the socket
   */
  constructor (client, documentId, user) {
    this.client = client
    this.documentId = documentId
    this.user = user
    this.doc = new Y.Doc()
    this.fragment = this.doc.getXmlFragment('prosemirror')
    this.pending = [] // ack promises of local updates not yet checked
    this.sent = 0 // local updates sent
    this.acked = 0 // ... and acknowledged with {ok:true}
    this.remoteUpdates = 0
    this.onRemote = (data) => {
      if (data?.document_id !== this.documentId || data.socket_id === this.client.id) return
      Y.applyUpdate(this.doc, new Uint8Array(data.update), 'server')
      this.remoteUpdates++
    }
    client.socket.on('ydoc:document:update', this.onRemote)
    this.doc.on('update', (update, origin) => {
      if (origin === 'server' || this.detached) return
      this.sent++
      this.pending.push(this.send(update))
    })
  }

  /** Connect a fresh socket for user and wrap it. */
  static async open (base, user, documentId) {
    const client = await Client.connect(base, user.token)
    return new DocClient(client, documentId, user)
  }

  /** Join; applies the state the server sends. Returns {ack, state}. */
  async join () {
    const since = this.client.mark()
    const ack = await this.client.call('ydoc:document:join', {
      document_id: this.documentId,
      user_id: this.user.id,
      user_name: this.user.name ?? 'user',
      user_color: '#336699'
    })
    expectOk(ack, 'ydoc:document:join')
    const state = await this.client.waitFor('ydoc:document:state', d => d?.document_id === this.documentId, { since })
    Y.applyUpdate(this.doc, new Uint8Array(state.state), 'server')
    this.joinState = state
    return { ack, state }
  }

  /** Send one update with an ack; resolves with the ack. */
  async send (update, { binary = false } = {}) {
    const ack = await this.client.call('ydoc:document:update', {
      document_id: this.documentId,
      user_id: this.user.id,
      socket_id: this.client.id,
      update: binary ? update : Array.from(update)
    }, { timeout: 30000 })
    if (ack?.ok === true) this.acked++
    return ack
  }

  /** Wait for every local update's ack; throws if any was refused. */
  async flush () {
    while (this.pending.length) {
      const batch = this.pending.splice(0)
      const acks = await Promise.all(batch)
      acks.forEach(a => expectOk(a, 'ydoc:document:update'))
    }
  }

  async leave () {
    return this.client.call('ydoc:document:leave', { document_id: this.documentId, user_id: this.user.id })
  }

  /** Stop reacting to the socket (the doc stays readable). */
  detach () {
    this.detached = true
    this.client.socket.off('ydoc:document:update', this.onRemote)
  }

  close () {
    this.detach()
    this.client.close()
  }

  stateVector () { return Y.encodeStateVector(this.doc) }
  pmJSON () { return yXmlFragmentToProsemirrorJSON(this.fragment) }
  xml () { return this.fragment.toString() }
}

/** Join a fresh account's socket to doc; returns the joined DocClient. */
export async function joinedClient (base, documentId, user) {
  const dc = await DocClient.open(base, user, documentId)
  await dc.join()
  return dc
}

/** Signup + connect helper for tests that need n distinct writers on one note. */
export async function users (base, n, prefix = 'user') {
  const out = []
  for (let i = 0; i < n; i++) out.push(await signup(base, `${prefix}${i}`))
  return out
}

export function sameBytes (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Items deleted in one doc but not the other, described by id and content
 * (e.g. "deleted only in b: 12345:67 ContentFormat bold={}").
 */
export function deletionDiff (a, b) {
  const dsOf = d => Y.decodeUpdate(Y.encodeStateAsUpdate(d)).ds
  const out = []
  for (const [from, other, label] of [[a, b, 'b'], [b, a, 'a']]) {
    const otherDS = dsOf(other)
    for (const [client, ranges] of dsOf(from).clients) {
      for (const r of ranges) {
        for (let k = r.clock; k < r.clock + r.len; k++) {
          if (Y.isDeleted(otherDS, Y.createID(client, k))) continue
          let what = ''
          try {
            const c = Y.getItem(other.store, Y.createID(client, k)).content
            what = c.constructor.name + (c.key !== undefined ? ` ${c.key}=${JSON.stringify(c.value)}` : '')
          } catch {}
          out.push(`deleted only in ${label === 'b' ? 'a' : 'b'}: ${client}:${k} ${what}`)
        }
      }
    }
  }
  return out
}

/**
 * Drop what ProseMirror treats as absent (empty attrs, empty marks/content
 * arrays) so JSON from different producers compares structurally.
 */
export function normalizePM (node) {
  if (Array.isArray(node)) return node.map(normalizePM)
  if (!node || typeof node !== 'object') return node
  const out = {}
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'attrs') && v && typeof v === 'object' && Object.keys(v).length === 0) continue
    if ((k === 'marks' || k === 'content') && Array.isArray(v) && v.length === 0) continue
    out[k] = normalizePM(v)
  }
  // Adjacent text nodes with the same marks are one text node in ProseMirror.
  if (Array.isArray(out.content)) {
    const merged = []
    for (const c of out.content) {
      const prev = merged.at(-1)
      if (prev && prev.type === 'text' && c.type === 'text' && JSON.stringify(prev.marks) === JSON.stringify(c.marks)) {
        merged[merged.length - 1] = { ...prev, text: prev.text + c.text }
      } else merged.push(c)
    }
    out.content = merged
  }
  return out
}

/** All text of a fragment, in document order. */
export function plainText (fragment) {
  const parts = []
  const walk = t => {
    if (t instanceof Y.XmlText) parts.push(t.toString().replace(/<[^>]*>/g, ''))
    else t.toArray().forEach(walk)
  }
  fragment.toArray().forEach(walk)
  return parts.join('\n')
}

/** Deterministic PRNG (mulberry32) so a failing random run can be replayed. */
export function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'ε', 'ζeta', '日本', 'quire', ' ', '\n', 'x', '🙂']

/** Every Y.XmlText in the fragment (paragraphs, headings, list items). */
function texts (fragment) {
  const out = []
  const walk = t => {
    if (t instanceof Y.XmlText) out.push(t)
    else t.toArray().forEach(walk)
  }
  walk(fragment)
  return out
}

function block (rand) {
  const r = rand()
  const text = new Y.XmlText()
  text.insert(0, WORDS[Math.floor(rand() * WORDS.length)])
  if (r < 0.15) {
    // bulletList > listItem > paragraph, built before insertion like y-prosemirror does
    const p = new Y.XmlElement('paragraph')
    p.insert(0, [text])
    const li = new Y.XmlElement('listItem')
    li.insert(0, [p])
    const ul = new Y.XmlElement('bulletList')
    ul.insert(0, [li])
    return ul
  }
  const el = new Y.XmlElement(r < 0.3 ? 'heading' : 'paragraph')
  if (r < 0.3) el.setAttribute('level', 1 + Math.floor(rand() * 3))
  el.insert(0, [text])
  return el
}

/**
 * One random ProseMirror-style edit in its own transaction (so one update):
 * insert/delete blocks, insert/delete/format text, change attributes.
 */
export function randomEdit (doc, rand) {
  const fragment = doc.getXmlFragment('prosemirror')
  doc.transact(() => {
    const all = texts(fragment)
    const r = rand()
    if (all.length === 0 || r < 0.12) {
      fragment.insert(Math.floor(rand() * (fragment.length + 1)), [block(rand)])
    } else if (r < 0.17 && fragment.length > 1) {
      fragment.delete(Math.floor(rand() * fragment.length), 1)
    } else if (r < 0.22) {
      const els = fragment.toArray().filter(e => e instanceof Y.XmlElement && e.nodeName === 'heading')
      if (els.length) els[Math.floor(rand() * els.length)].setAttribute('level', 1 + Math.floor(rand() * 6))
    } else {
      const t = all[Math.floor(rand() * all.length)]
      // Positions are UTF-16 offsets; like a real editor, never split a surrogate pair.
      const str = t.toDelta().map(d => d.insert).join('')
      const len = str.length
      const safe = i => (i > 0 && i < len && /[\uD800-\uDBFF]/.test(str[i - 1])) ? i + 1 : i
      const q = rand()
      if (q < 0.55 || len === 0) {
        const marks = rand() < 0.2 ? { bold: {} } : rand() < 0.1 ? { italic: {} } : undefined
        t.insert(safe(Math.floor(rand() * (len + 1))), WORDS[Math.floor(rand() * WORDS.length)], marks)
      } else if (q < 0.8) {
        const at = safe(Math.floor(rand() * len))
        const end = safe(Math.min(len, at + 1 + Math.floor(rand() * 4)))
        if (end > at) t.delete(at, end - at)
      } else {
        const at = safe(Math.floor(rand() * len))
        const end = safe(Math.min(len, at + 1 + Math.floor(rand() * 6)))
        const mark = rand() < 0.5 ? 'bold' : 'italic'
        if (end > at) t.format(at, end - at, { [mark]: rand() < 0.7 ? {} : null })
      }
    }
  })
}
