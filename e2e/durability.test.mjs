// Durability (protocol.md §9.1, §9.3): every acknowledged update survives a
// graceful restart (SIGTERM) and a crash (kill -9).

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { startServer, databases, waitUntil, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote } from './helpers/api.mjs'
import { DocClient, Y, randomEdit, prng, sameBytes, normalizePM } from './helpers/ydoc.mjs'

for (const db of databases()) {
  describe(`durability (${db})`, () => {
    let server, owner

    before(async () => {
      server = await startServer({ db })
      owner = await signup(server.url, 'owner')
    })
    after(async () => { await server?.cleanup() })

    /** Make `n` random edits, all acknowledged; returns the editing client. */
    async function editAndFlush (noteId, n, seed) {
      const a = await DocClient.open(server.url, owner, `note:${noteId}`)
      await a.join()
      const rand = prng(seed)
      for (let i = 0; i < n; i++) randomEdit(a.doc, rand)
      await a.flush()
      return a
    }

    /** A fresh client after a restart must have exactly the acked client's document. */
    async function assertRestored (noteId, acked) {
      const b = await DocClient.open(server.url, owner, `note:${noteId}`)
      try {
        await b.join()
        assert.ok(sameBytes(b.stateVector(), acked.stateVector()), 'state vector differs from the acked client')
        assert.equal(b.xml(), acked.xml())
        assert.deepEqual(normalizePM(b.pmJSON()), normalizePM(acked.pmJSON()))
      } finally {
        b.close()
      }
    }

    test('SIGTERM after acks: exit 0, every acked update is there after restart', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'sigterm', content: { md: 'before restart' } })
      const a = await editAndFlush(note.id, 200, 1)
      a.detach() // the server going away must not change a's copy
      const exit = await server.stop()
      assert.deepEqual(exit, { code: 0, signal: null }, 'graceful shutdown must exit 0')
      a.close()
      await server.start()
      await assertRestored(note.id, a)
    })

    test('kill -9 after acks: every acked update is there after restart', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'kill', content: { md: 'before crash' } })
      const a = await editAndFlush(note.id, 200, 2)
      a.detach()
      await server.kill()
      a.close()
      await server.start()
      await assertRestored(note.id, a)
    })

    // Stream inserts with several in flight, crash the server mid-stream, and
    // check that every insert whose ack arrived is in the restored document.
    for (const how of ['SIGTERM', 'kill -9']) {
      test(`${how} while updates are in flight: every acked update survives`, { timeout: TEST_TIMEOUT }, async () => {
        const note = await createNote(server.url, owner.token, { title: 'stream', content: { md: '' } })
        const a = await DocClient.open(server.url, owner, `note:${note.id}`)
        await a.join()
        a.detach() // send by hand below
        const text = new Y.XmlText()
        const para = new Y.XmlElement('paragraph')
        para.insert(0, [text])
        const updates = []
        a.doc.on('update', (u, origin) => { if (origin !== 'server') updates.push(u) })
        a.doc.transact(() => a.fragment.insert(0, [para]))
        for (let k = 0; k < 400; k++) text.insert(text.length, `[${k}]`)
        // updates[0] creates the paragraph, updates[k+1] inserts "[k]".

        const acked = new Set()
        const socket = a.client.socket
        const disconnected = once(socket, 'disconnect')
        let stopAt = Infinity
        let next = 0
        const WINDOW = 8
        await new Promise(resolve => {
          let inflight = 0
          const pump = () => {
            while (inflight < WINDOW && next < updates.length && next < stopAt && socket.connected) {
              const k = next++
              inflight++
              socket.emit('ydoc:document:update', {
                document_id: a.documentId, user_id: owner.id, socket_id: socket.id, update: Array.from(updates[k])
              }, ack => {
                inflight--
                if (ack?.ok === true) acked.add(k)
                if (acked.size === 100) {
                  stopAt = next + WINDOW // a few more in flight, then crash
                  if (how === 'SIGTERM') server.stop(); else server.kill()
                  resolve()
                }
                pump()
              })
            }
            if (next >= updates.length) resolve()
          }
          pump()
        })
        await disconnected
        await waitUntil(() => !server.proc, { what: 'the server to exit' })
        a.close()
        assert.ok(acked.size >= 100)

        await server.start()
        const b = await DocClient.open(server.url, owner, `note:${note.id}`)
        try {
          await b.join()
          const restored = b.fragment.toString()
          const missing = [...acked].filter(k => k > 0 && !restored.includes(`[${k - 1}]`))
          assert.deepEqual(missing, [], `acked updates missing after ${how} (of ${acked.size} acked)`)
        } finally {
          b.close()
        }
      })
    }
  })
}
