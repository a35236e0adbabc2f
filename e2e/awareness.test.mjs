// Awareness (protocol.md §4.1, §9.4): relayed to the others, remembered for new
// joiners, and removed (state null + ydoc:user:left) when a socket leaves or
// disconnects, so no ghost cursors remain.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants } from './helpers/api.mjs'
import { DocClient } from './helpers/ydoc.mjs'
import { expectOk } from './helpers/socket.mjs'

const encode = obj => Array.from(new TextEncoder().encode(JSON.stringify(obj)))
const decode = bytes => JSON.parse(new TextDecoder().decode(new Uint8Array(bytes)))

/** Send the client's awareness state (null removes it). */
async function setAwareness (dc, state) {
  const ack = await dc.client.call('ydoc:awareness:update', {
    document_id: dc.documentId, user_id: dc.client.id, update: encode({ [dc.doc.clientID]: state })
  })
  expectOk(ack, 'ydoc:awareness:update')
}

/** Merge every awareness update a client received (since a mark), like SimpleAwareness does. */
function merged (dc, since = 0) {
  const states = {}
  for (const m of dc.client.received('ydoc:awareness:update', d => d.document_id === dc.documentId, since)) {
    Object.assign(states, decode(m.update))
  }
  return states
}

const cursor = (name, at) => ({ user: { name, color: '#123456' }, cursor: { anchor: at, head: at } })

for (const db of databases()) {
  describe(`awareness (${db})`, () => {
    let server, accounts, note

    before(async () => {
      server = await startServer({ db })
      accounts = []
      for (const name of ['ann', 'bob', 'cat', 'dan']) accounts.push(await signup(server.url, name))
    })
    after(async () => { await server?.cleanup() })

    async function openAll () {
      note = await createNote(server.url, accounts[0].token, { title: 'aw', content: { md: 'cursor here' } })
      await setGrants(server.url, accounts[0].token, note.id, accounts.slice(1).map(u => ({ userId: u.id, permission: 'write' })))
      return Promise.all(accounts.map(u => DocClient.open(server.url, u, `note:${note.id}`)))
    }

    test('relay, leave and disconnect removal, and no ghosts for a new joiner', { timeout: TEST_TIMEOUT }, async () => {
      const [ann, bob, cat, dan] = await openAll()
      try {
        await ann.join(); await bob.join(); await cat.join()

        // Relayed to everyone else, with the authenticated user id, not echoed.
        const bobSince = bob.client.mark()
        await setAwareness(ann, cursor('ann', 1))
        const relayed = await bob.client.waitFor('ydoc:awareness:update', d => String(ann.doc.clientID) in decode(d.update), { since: bobSince })
        assert.deepEqual(decode(relayed.update), { [ann.doc.clientID]: cursor('ann', 1) })
        assert.equal(relayed.user_id, accounts[0].id, 'relayed awareness carries the sender account id')
        await cat.client.waitFor('ydoc:awareness:update', d => String(ann.doc.clientID) in decode(d.update))
        await setAwareness(bob, cursor('bob', 2))
        await setAwareness(bob, cursor('bob', 3)) // the newest state is the one remembered
        await setAwareness(cat, cursor('cat', 4))
        await ann.client.waitFor('ydoc:awareness:update', d => decode(d.update)[cat.doc.clientID] !== undefined)
        assert.deepEqual(ann.client.received('ydoc:awareness:update', d => String(ann.doc.clientID) in decode(d.update)), [],
          'a sender must not get its own awareness back')

        // Leave: the others get a removal of ann's client and ydoc:user:left.
        let since = bob.client.mark()
        expectOk(await ann.leave(), 'ydoc:document:leave')
        const removal = await bob.client.waitFor('ydoc:awareness:update', d => String(ann.doc.clientID) in decode(d.update), { since })
        assert.deepEqual(decode(removal.update), { [ann.doc.clientID]: null })
        const left = await bob.client.waitFor('ydoc:user:left', () => true, { since })
        assert.equal(left.document_id, `note:${note.id}`)
        assert.equal(left.user_id, accounts[0].id)
        await cat.client.waitFor('ydoc:awareness:update', d => decode(d.update)[ann.doc.clientID] === null)

        // Disconnect without leaving: same removal.
        since = bob.client.mark()
        cat.close()
        const catRemoval = await bob.client.waitFor('ydoc:awareness:update', d => String(cat.doc.clientID) in decode(d.update), { since })
        assert.deepEqual(decode(catRemoval.update), { [cat.doc.clientID]: null })
        const catLeft = await bob.client.waitFor('ydoc:user:left', d => d.user_id === accounts[2].id, { since })
        assert.equal(catLeft.document_id, `note:${note.id}`)

        // A new joiner gets bob's latest state and nothing of ann's or cat's,
        // all before its join is acknowledged.
        await dan.join()
        const seen = merged(dan)
        assert.deepEqual(seen, { [bob.doc.clientID]: cursor('bob', 3) }, 'a new joiner must get exactly the live states')

        // ann rejoining does not resurrect her old state either.
        const annSince = ann.client.mark()
        await ann.join()
        assert.deepEqual(merged(ann, annSince), { [bob.doc.clientID]: cursor('bob', 3) })
      } finally {
        for (const c of [ann, bob, cat, dan]) c.close()
      }
    })

    test('a client removing its own state (null) is relayed and not sent to later joiners', { timeout: TEST_TIMEOUT }, async () => {
      const [ann, bob, cat] = await openAll()
      try {
        await ann.join(); await bob.join()
        await setAwareness(ann, cursor('ann', 7))
        await bob.client.waitFor('ydoc:awareness:update', d => decode(d.update)[ann.doc.clientID] !== undefined)
        const since = bob.client.mark()
        await setAwareness(ann, null)
        const gone = await bob.client.waitFor('ydoc:awareness:update', () => true, { since })
        assert.deepEqual(decode(gone.update), { [ann.doc.clientID]: null })
        await cat.join()
        const seen = merged(cat)
        assert.ok(!seen[ann.doc.clientID], `a removed state must not reach a new joiner, got ${JSON.stringify(seen)}`)
      } finally {
        for (const c of [ann, bob, cat]) c.close()
      }
    })
  })
}
