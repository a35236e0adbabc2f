// A large paste (protocol.md §1.1, upstream #26140): one ~2 MB Yjs update,
// sent as a JSON int array of ~7 MB, is acknowledged, relayed and durable.
// Also: binary attachments are accepted and relayed as JSON int arrays (§1.5).

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { startServer, databases, waitUntil, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants } from './helpers/api.mjs'
import { DocClient, Y, plainText, sameBytes } from './helpers/ydoc.mjs'
import { expectOk } from './helpers/socket.mjs'

const PASTE_BYTES = 2 * 1024 * 1024

for (const db of databases()) {
  describe(`large update (${db})`, () => {
    let server, owner, reader

    before(async () => {
      server = await startServer({ db })
      owner = await signup(server.url, 'owner')
      reader = await signup(server.url, 'other')
    })
    after(async () => { await server?.cleanup() })

    test('a 2 MB paste is acked, reaches another client and survives a restart', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'paste', content: { md: 'short' } })
      await setGrants(server.url, owner.token, note.id, [{ userId: reader.id, permission: 'write' }])
      const a = await DocClient.open(server.url, owner, `note:${note.id}`)
      const b = await DocClient.open(server.url, reader, `note:${note.id}`)
      let pasted
      try {
        await a.join()
        await b.join()
        a.detach() // send the one update by hand to check its size and ack
        let update
        a.doc.once('update', u => { update = u })
        pasted = randomBytes(PASTE_BYTES * 3 / 4).toString('base64') // 2 MiB of ASCII
        a.doc.transact(() => {
          const p = new Y.XmlElement('paragraph')
          const t = new Y.XmlText()
          t.insert(0, pasted)
          p.insert(0, [t])
          a.fragment.insert(a.fragment.length, [p])
        })
        assert.ok(update.length >= PASTE_BYTES, `update is ${update.length} bytes`)
        assert.ok(JSON.stringify(Array.from(update)).length > 3 * PASTE_BYTES, 'sent as a JSON int array of several MB')

        expectOk(await a.send(update), 'large ydoc:document:update')
        await waitUntil(() => plainText(b.fragment).includes(pasted), { timeout: 30000, what: 'the paste to reach b' })
        assert.ok(sameBytes(a.stateVector(), b.stateVector()))
      } finally {
        a.close()
        b.close()
      }

      await server.restart()
      const c = await DocClient.open(server.url, owner, `note:${note.id}`)
      try {
        await c.join()
        assert.ok(plainText(c.fragment).includes(pasted), 'the paste must survive a restart')
        assert.ok(plainText(c.fragment).includes('short'), 'the seeded text must still be there')
      } finally {
        c.close()
      }
    })

    test('an update sent as a binary attachment is stored and relayed as a JSON int array', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'binary', content: { md: '' } })
      await setGrants(server.url, owner.token, note.id, [{ userId: reader.id, permission: 'write' }])
      const a = await DocClient.open(server.url, owner, `note:${note.id}`)
      const b = await DocClient.open(server.url, reader, `note:${note.id}`)
      try {
        await a.join()
        await b.join()
        a.detach()
        let update
        a.doc.once('update', u => { update = u })
        a.fragment.insert(0, [new Y.XmlElement('paragraph')])
        const since = b.client.mark()
        expectOk(await a.send(update, { binary: true }), 'binary ydoc:document:update')
        const relayed = await b.client.waitFor('ydoc:document:update', d => d?.document_id === a.documentId, { since })
        assert.ok(Array.isArray(relayed.update), `relayed update must be a JSON array, got ${typeof relayed.update}`)
        assert.ok(sameBytes(relayed.update, update), 'relayed bytes must equal the sent bytes')
        assert.equal(relayed.socket_id, a.client.id)
        const fresh = await DocClient.open(server.url, owner, `note:${note.id}`)
        await fresh.join()
        assert.equal(fresh.xml(), a.xml())
        fresh.close()
      } finally {
        a.close()
        b.close()
      }
    })
  })
}
