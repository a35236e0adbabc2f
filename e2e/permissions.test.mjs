// Access control on the live document (protocol.md §9.3): a read grant can
// join and receive but not write; no grant cannot even join.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants } from './helpers/api.mjs'
import { DocClient, Y, sameBytes, normalizePM } from './helpers/ydoc.mjs'
import { Client } from './helpers/socket.mjs'

for (const db of databases()) {
  describe(`permissions (${db})`, () => {
    let server, owner, reader, stranger

    before(async () => {
      server = await startServer({ db })
      owner = await signup(server.url, 'owner')
      reader = await signup(server.url, 'reader')
      stranger = await signup(server.url, 'stranger')
    })
    after(async () => { await server?.cleanup() })

    test('a read-only user joins and receives, but its updates are refused, not stored, not relayed', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'ro', content: { md: 'read me' } })
      await setGrants(server.url, owner.token, note.id, [{ userId: reader.id, permission: 'read' }])
      const w = await DocClient.open(server.url, owner, `note:${note.id}`)
      const r = await DocClient.open(server.url, reader, `note:${note.id}`)
      try {
        await w.join()
        const { state } = await r.join()
        assert.ok(state.state.length > 2, 'the reader gets the seeded state')
        assert.deepEqual(normalizePM(r.pmJSON()), normalizePM(w.pmJSON()))

        // The reader's edit is refused.
        const since = w.client.mark()
        r.fragment.insert(0, [new Y.XmlElement('paragraph')])
        const ack = await r.pending.pop()
        assert.equal(ack?.ok, false, `read-only update must get an error ack, got ${JSON.stringify(ack)}`)
        assert.equal(typeof ack.error, 'string')

        // The writer's edit reaches the reader, and only it reached the writer.
        w.fragment.insert(w.fragment.length, [new Y.XmlElement('heading')])
        await w.flush()
        await r.client.waitFor('ydoc:document:update', d => d.socket_id === w.client.id)
        assert.deepEqual(w.client.received('ydoc:document:update', () => true, since), [], 'the refused update must not be relayed')

        // Nothing of the reader's is stored.
        const fresh = await DocClient.open(server.url, owner, `note:${note.id}`)
        await fresh.join()
        assert.ok(sameBytes(fresh.stateVector(), w.stateVector()), 'stored state must not include the refused update')
        assert.equal(fresh.xml(), w.xml())
        fresh.close()
      } finally {
        w.close(); r.close()
      }
    })

    test('a user without a grant cannot join or write', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'private', content: { md: 'private' } })
      const w = await DocClient.open(server.url, owner, `note:${note.id}`)
      const s = await Client.connect(server.url, stranger.token)
      try {
        await w.join()
        const since = s.mark()
        const join = await s.call('ydoc:document:join', { document_id: `note:${note.id}`, user_id: stranger.id })
        assert.equal(join?.ok, false, `join without a grant must get an error ack, got ${JSON.stringify(join)}`)
        assert.deepEqual(s.received('ydoc:document:state', () => true, since), [], 'no state without read access')

        const d = new Y.Doc()
        d.getXmlFragment('prosemirror').insert(0, [new Y.XmlText('intruder')])
        const wSince = w.client.mark()
        const upd = await s.call('ydoc:document:update', {
          document_id: `note:${note.id}`, user_id: stranger.id, socket_id: s.id, update: Array.from(Y.encodeStateAsUpdate(d))
        })
        assert.equal(upd?.ok, false, `update without a grant must get an error ack, got ${JSON.stringify(upd)}`)
        assert.equal((await s.call('ydoc:document:state', { document_id: `note:${note.id}` }))?.ok, false)

        // The owner's edit still goes through; nothing of the stranger's was relayed.
        w.fragment.insert(0, [new Y.XmlElement('paragraph')])
        await w.flush()
        const fresh = await DocClient.open(server.url, owner, `note:${note.id}`)
        await fresh.join()
        assert.ok(!fresh.xml().includes('intruder'))
        assert.ok(sameBytes(fresh.stateVector(), w.stateVector()))
        fresh.close()
        assert.deepEqual(w.client.received('ydoc:document:update', () => true, wSince), [])
        assert.deepEqual(s.received('ydoc:document:update', () => true, since), [], 'a refused socket must not receive updates')
      } finally {
        w.close(); s.close()
      }
    })
  })
}
