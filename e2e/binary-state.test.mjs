// Document states on the wire (protocol.md §9.3, docs/design.md "Document
// state on the wire"): a state of 1 KiB or more reaches a joiner as a
// Socket.IO binary attachment, a smaller one as a JSON int array; the stock
// frontend's `new Uint8Array(data.state)` reads both. Joiners of one version
// get the same bytes, and they hold the whole document. Binary updates from
// clients are accepted.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants } from './helpers/api.mjs'
import { DocClient, Y, plainText, sameBytes, EMPTY_STATE } from './helpers/ydoc.mjs'
import { expectOk } from './helpers/socket.mjs'

for (const db of databases()) {
  describe(`binary document state (${db})`, () => {
    let server, owner, writer

    before(async () => {
      server = await startServer({ db })
      owner = await signup(server.url, 'owner')
      writer = await signup(server.url, 'writer')
    })
    after(async () => { await server?.cleanup() })

    test('a small state comes as a JSON array, a large one as a binary attachment with the same content', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'wire', content: { md: '' } })
      await setGrants(server.url, owner.token, note.id, [{ userId: writer.id, permission: 'write' }])
      const doc = `note:${note.id}`
      const a = await DocClient.open(server.url, owner, doc)
      const clients = [a]
      try {
        const { state: empty } = await a.join()
        assert.ok(Array.isArray(empty.state), 'a small state stays a JSON array')
        assert.deepEqual(empty.state, EMPTY_STATE)

        // A paste of ~48 KB, sent as a binary attachment.
        a.detach()
        let update
        a.doc.once('update', u => { update = u })
        const pasted = Array.from({ length: 1200 }, (_, i) => `line ${i} of the paste;`).join(' ')
        a.doc.transact(() => {
          const p = new Y.XmlElement('paragraph')
          const t = new Y.XmlText()
          t.insert(0, pasted)
          p.insert(0, [t])
          a.fragment.insert(0, [p])
        })
        expectOk(await a.send(update, { binary: true }), 'binary ydoc:document:update')

        // Joiners at once (one version): the same bytes, as an attachment,
        // holding exactly what a has.
        const joiners = await Promise.all([owner, writer, writer].map(u => DocClient.open(server.url, u, doc)))
        clients.push(...joiners)
        const states = (await Promise.all(joiners.map(j => j.join()))).map(r => r.state.state)
        for (const [i, st] of states.entries()) {
          assert.ok(!Array.isArray(st) && st.length >= 1024, `joiner ${i}: a binary attachment, got ${Array.isArray(st) ? 'an array' : typeof st}`)
          assert.ok(sameBytes(new Uint8Array(st), new Uint8Array(states[0])), `joiner ${i} got other bytes`)
        }
        for (const j of joiners) {
          assert.ok(sameBytes(j.stateVector(), a.stateVector()), 'the joiner holds every update')
          assert.equal(j.xml(), a.xml())
        }
        assert.ok(plainText(joiners[0].fragment).includes(pasted))

        // What the stock frontend does with it: new Uint8Array, applyUpdate.
        const check = new Y.Doc()
        Y.applyUpdate(check, new Uint8Array(states[0]))
        assert.ok(sameBytes(Y.encodeStateVector(check), a.stateVector()))
        assert.equal(check.getXmlFragment('prosemirror').toString(), a.xml())

        // Edits keep flowing after a binary join, both ways.
        const b = joiners[1]
        b.fragment.insert(b.fragment.length, [new Y.XmlElement('paragraph')])
        await b.flush()
        const late = await DocClient.open(server.url, owner, doc)
        clients.push(late)
        const { state: after } = await late.join()
        assert.ok(!Array.isArray(after.state))
        assert.ok(sameBytes(late.stateVector(), b.stateVector()), 'the next version carries the new edit')
      } finally {
        for (const c of clients) c.close()
      }
    })
  })
}
