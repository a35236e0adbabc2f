// Awareness (protocol.md §4.1, §9.4): relayed to the others, remembered for new
// joiners, and removed (state {}, never null, + ydoc:user:left) when a socket
// leaves or disconnects, so no ghost cursors remain; a client id is the
// account's that sent it first; a flood is cut off. The built-in app's
// awareness (ui/src/awareness.js) drops a peer on the {} removal.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants } from './helpers/api.mjs'
import { DocClient } from './helpers/ydoc.mjs'
import { expectOk } from './helpers/socket.mjs'
import { Awareness } from '../ui/src/awareness.js'

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

const isEmpty = s => s !== null && typeof s === 'object' && Object.keys(s).length === 0

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
        assert.deepEqual(decode(removal.update), { [ann.doc.clientID]: {} })
        const left = await bob.client.waitFor('ydoc:user:left', () => true, { since })
        assert.equal(left.document_id, `note:${note.id}`)
        assert.equal(left.user_id, accounts[0].id)
        await cat.client.waitFor('ydoc:awareness:update', d => isEmpty(decode(d.update)[ann.doc.clientID]))

        // Disconnect without leaving: same removal.
        since = bob.client.mark()
        cat.close()
        const catRemoval = await bob.client.waitFor('ydoc:awareness:update', d => String(cat.doc.clientID) in decode(d.update), { since })
        assert.deepEqual(decode(catRemoval.update), { [cat.doc.clientID]: {} })
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

    test('a client removing its own state (null) is relayed as {} and not sent to later joiners', { timeout: TEST_TIMEOUT }, async () => {
      const [ann, bob, cat] = await openAll()
      try {
        await ann.join(); await bob.join()
        await setAwareness(ann, cursor('ann', 7))
        await bob.client.waitFor('ydoc:awareness:update', d => decode(d.update)[ann.doc.clientID] !== undefined)
        const since = bob.client.mark()
        await setAwareness(ann, null)
        const gone = await bob.client.waitFor('ydoc:awareness:update', () => true, { since })
        assert.deepEqual(decode(gone.update), { [ann.doc.clientID]: {} })
        await cat.join()
        const seen = merged(cat)
        assert.ok(!seen[ann.doc.clientID], `a removed state must not reach a new joiner, got ${JSON.stringify(seen)}`)
      } finally {
        for (const c of [ann, bob, cat]) c.close()
      }
    })

    test('a client id is its first account\'s: others are refused and not relayed; the owner takes it back', { timeout: TEST_TIMEOUT }, async () => {
      const [ann, bob, cat] = await openAll()
      let ann2
      try {
        await ann.join(); await bob.join(); await cat.join()
        const id = ann.doc.clientID
        await setAwareness(ann, cursor('ann', 1))
        await cat.client.waitFor('ydoc:awareness:update', d => String(id) in decode(d.update))
        const since = cat.client.mark()
        for (const update of [{ [id]: cursor('bob', 9) }, { [id]: null }, { [id]: {} }, { [bob.doc.clientID]: cursor('bob', 2), [id]: null }]) {
          const ack = await bob.client.call('ydoc:awareness:update', { document_id: bob.documentId, user_id: bob.client.id, update: encode(update) })
          assert.deepEqual(ack, { ok: false, error: 'forbidden' }, `another account's client id: ${JSON.stringify(update)}`)
        }
        // ann leaves; her id stays hers: bob still cannot take it, ann's new socket can.
        ann.close()
        await cat.client.waitFor('ydoc:awareness:update', d => isEmpty(decode(d.update)[id]), { since })
        const ack = await bob.client.call('ydoc:awareness:update', { document_id: bob.documentId, user_id: bob.client.id, update: encode({ [id]: cursor('bob', 9) }) })
        assert.deepEqual(ack, { ok: false, error: 'forbidden' })
        ann2 = await DocClient.open(server.url, accounts[0], `note:${note.id}`)
        await ann2.join()
        expectOk(await ann2.client.call('ydoc:awareness:update', { document_id: ann2.documentId, user_id: ann2.client.id, update: encode({ [id]: cursor('ann', 5) }) }), 'take back')
        await cat.client.waitFor('ydoc:awareness:update', d => decode(d.update)[id]?.cursor?.anchor === 5, { since })
        // cat saw ann's removal and her take-back, nothing of bob's.
        assert.deepEqual(cat.client.received('ydoc:awareness:update', () => true, since).map(d => decode(d.update)),
          [{ [id]: {} }, { [id]: cursor('ann', 5) }])
      } finally {
        for (const c of [ann, bob, cat, ann2]) c?.close()
      }
    })

    test('ydoc:user:joined carries the stored account name, not the claimed one', { timeout: TEST_TIMEOUT }, async () => {
      const [ann, bob] = await openAll()
      try {
        await ann.join()
        bob.user = { ...bob.user, name: 'Not Bob' }
        const since = ann.client.mark()
        await bob.join()
        const joined = await ann.client.waitFor('ydoc:user:joined', () => true, { since })
        assert.equal(joined.user_id, accounts[1].id)
        assert.equal(joined.user_name, 'bob')
      } finally {
        for (const c of [ann, bob]) c.close()
      }
    })

    test('the built-in app\'s awareness forgets a peer on the server\'s {} removal', { timeout: TEST_TIMEOUT }, async () => {
      const [ann, bob] = await openAll()
      try {
        await ann.join(); await bob.join()
        const app = new Awareness(bob.doc)
        const changes = []
        app.on('change', diff => changes.push(diff))
        bob.client.socket.on('ydoc:awareness:update', d => app.applyUpdate(Uint8Array.from(d.update), 'server'))
        await setAwareness(ann, cursor('ann', 3))
        await bob.client.waitFor('ydoc:awareness:update', d => String(ann.doc.clientID) in decode(d.update))
        assert.deepEqual(app.getStates().get(ann.doc.clientID), cursor('ann', 3))
        ann.close()
        await bob.client.waitFor('ydoc:awareness:update', d => isEmpty(decode(d.update)[ann.doc.clientID]))
        assert.equal(app.getStates().has(ann.doc.clientID), false, 'a {} removal must remove the remote cursor')
        assert.deepEqual(changes.at(-1).removed, [ann.doc.clientID])
      } finally {
        for (const c of [ann, bob]) c.close()
      }
    })

    test('a flood of 1,000 awareness updates of 2 KB is not all relayed, and the flooding socket is closed', { timeout: TEST_TIMEOUT }, async () => {
      const [ann, bob] = await openAll()
      try {
        await ann.join(); await bob.join()
        const since = bob.client.mark()
        const pad = 'x'.repeat(2048)
        const acks = {}
        const closed = new Promise(resolve => ann.client.socket.once('disconnect', resolve))
        // 16 in flight: fewer than the event queue holds, so this is about the rate.
        let next = 0
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < 1000 && ann.client.socket.connected) {
            const i = next++
            const a = await ann.client.call('ydoc:awareness:update', { document_id: ann.documentId, update: encode({ [ann.doc.clientID]: { i, pad } }) }).catch(() => null)
            const k = a ? (a.ok ? 'ok' : a.error) : 'none'
            acks[k] = (acks[k] || 0) + 1
          }
        }))
        await closed
        // The removal comes after every relay of the flood (cleanup runs last).
        await bob.client.waitFor('ydoc:awareness:update', d => isEmpty(decode(d.update)[ann.doc.clientID]), { since })
        const relayed = bob.client.received('ydoc:awareness:update', d => decode(d.update)[ann.doc.clientID]?.pad, since).length
        assert.ok(relayed < 1000, `relayed ${relayed} of 1000 (acks ${JSON.stringify(acks)})`)
        assert.ok(acks.rate_limited > 0, `acks ${JSON.stringify(acks)}`)
        const metrics = await (await fetch(server.url + '/metrics')).text()
        assert.match(metrics, /quire_realtime_closed_total\{reason="rate_limited"\} [1-9]/)
      } finally {
        for (const c of [ann, bob]) c.close()
      }
    })
  })
}
