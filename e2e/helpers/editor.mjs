// Editors of one document whose Y.Doc outlives their socket, and checks
// of what the instances store, for the multi-instance fault tests.

import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { Client, expectOk } from './socket.mjs'
import { randomEdit, prng, sameBytes, deletionDiff } from './ydoc.mjs'

/**
 * An editor whose Y.Doc outlives its socket: move() reconnects it to
 * another instance, joins, and sends what the server's state lacks.
 * Every update acked {ok:true} is kept in `acked`.
 */
export class Editor {
  constructor (user, documentId, seed) {
    this.user = user
    this.documentId = documentId
    this.doc = new Y.Doc()
    this.rand = prng(seed)
    this.acked = []
    this.failed = [] // answers other than {ok:true}, and acks that never came
    this.timeout = 30000 // per update's ack
    this.connectTimeout = 5000
    this.inflight = new Set()
    this.doc.on('update', (update, origin) => {
      if (origin === 'server' || !this.client) return
      this.send(update)
    })
  }

  send (update) {
    const client = this.client
    const p = client.call('ydoc:document:update', {
      document_id: this.documentId, user_id: this.user.id, socket_id: client.id, update: Array.from(update)
    }, { timeout: this.timeout }).then(ack => {
      if (ack?.ok === true) this.acked.push(update)
      else this.failed.push(JSON.stringify(ack))
    }, err => this.failed.push(err.message)) // the instance died: not acked, resent by the next join's diff
    this.inflight.add(p)
    p.finally(() => this.inflight.delete(p))
  }

  async connect (base) {
    const client = await Client.connect(base, this.user.token, { timeout: this.connectTimeout })
    client.socket.on('ydoc:document:update', d => {
      if (d?.document_id === this.documentId && d.socket_id !== client.id) Y.applyUpdate(this.doc, new Uint8Array(d.update), 'server')
    })
    const since = client.mark()
    expectOk(await client.call('ydoc:document:join', { document_id: this.documentId, user_id: this.user.id, user_name: this.user.name ?? 'u', user_color: '#336699' }, { timeout: this.timeout }), 'join')
    const st = await client.waitFor('ydoc:document:state', d => d?.document_id === this.documentId, { since })
    const server = new Uint8Array(st.state)
    Y.applyUpdate(this.doc, server, 'server')
    this.client = client
    // Sync step 2 of y-protocols: everything the server may lack, deletions
    // included (an unacked update may have been a delete only).
    const missing = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVectorFromUpdate(server))
    const { structs, ds } = Y.decodeUpdate(missing)
    if (structs.length > 0 || ds.clients.size > 0) this.send(missing)
  }

  async move (base) {
    this.client?.close()
    this.client = null
    await this.connect(base)
  }

  async edit (n) {
    for (let i = 0; i < n; i++) {
      randomEdit(this.doc, this.rand)
      if (this.rand() < 0.3) await new Promise(resolve => setImmediate(resolve))
    }
  }

  async settle () { while (this.inflight.size) await Promise.all([...this.inflight]) }

  close () { this.client?.close() }
  sv () { return Y.encodeStateVector(this.doc) }
  xml () { return this.doc.getXmlFragment('prosemirror').toString() }
}

export const converged = eds => eds.every(e => sameBytes(e.sv(), eds[0].sv()) && e.xml() === eds[0].xml() && deletionDiff(eds[0].doc, e.doc).length === 0)

/** A fresh reader's view of the document from an instance. */
export async function serverDoc (base, user, documentId) {
  const client = await Client.connect(base, user.token)
  try {
    const since = client.mark()
    expectOk(await client.call('ydoc:document:join', { document_id: documentId, user_id: user.id, user_name: 'r', user_color: '#000000' }), 'join')
    const st = await client.waitFor('ydoc:document:state', d => d?.document_id === documentId, { since })
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(st.state))
    return doc
  } finally {
    client.close()
  }
}

/** On a failure: what each editor and instance holds (state vectors, content size). */
export async function describeDivergence (eds, servers, reader, documentId) {
  const sv = d => JSON.stringify(Object.fromEntries(Y.decodeStateVector(Y.encodeStateVector(d))))
  for (const e of eds) process.stderr.write(`# ${e.user.name}: sv ${sv(e.doc)} xml ${e.xml().length} acked ${e.acked.length}\n`)
  for (const s of servers) {
    try {
      const d = await serverDoc(s.url, reader, documentId)
      process.stderr.write(`# instance ${s.port}: sv ${sv(d)} xml ${d.getXmlFragment('prosemirror').toString().length}\n`)
    } catch (err) { process.stderr.write(`# instance ${s.port}: ${err.message}\n`) }
  }
}

/** Every update some instance acknowledged is in doc: applying it changes nothing. */
export function assertHasAcked (doc, editors) {
  const sv = Y.encodeStateVector(doc)
  const xml = doc.getXmlFragment('prosemirror').toString()
  for (const e of editors) {
    for (const u of e.acked) {
      const copy = new Y.Doc()
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
      Y.applyUpdate(copy, u)
      assert.ok(sameBytes(Y.encodeStateVector(copy), sv), `an acked update of ${e.user.name} is missing (state vector)`)
      assert.equal(copy.getXmlFragment('prosemirror').toString(), xml, `an acked update of ${e.user.name} is missing (content)`)
    }
  }
}
