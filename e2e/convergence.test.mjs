// Random concurrent edits from several clients converge: every client, and a
// client joining afterwards, ends with the identical document.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, waitUntil, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants } from './helpers/api.mjs'
import { DocClient, randomEdit, prng, sameBytes, normalizePM, plainText, deletionDiff } from './helpers/ydoc.mjs'

const CLIENTS = 4
const EDITS_PER_CLIENT = 100
const SEED = Number(process.env.QUIRE_E2E_SEED || Date.now() % 1e9)

/** Wait until every client has received every other client's updates. */
async function allDelivered (clients) {
  const total = clients.reduce((n, c) => n + c.sent, 0)
  await waitUntil(() => clients.every(c => c.remoteUpdates >= total - c.sent), {
    timeout: 60000,
    what: 'every update to reach every other client'
  })
  for (const c of clients) {
    assert.equal(c.remoteUpdates, total - c.sent, 'each update must be relayed exactly once to each other client')
  }
}

function assertSameContent (clients, what) {
  const xml = clients[0].xml()
  const pm = clients[0].pmJSON()
  for (const c of clients.slice(1)) {
    assert.equal(c.xml(), xml, `${what}: XML differs`)
    assert.deepEqual(normalizePM(c.pmJSON()), normalizePM(pm), `${what}: ProseMirror JSON differs`)
  }
}

for (const db of databases()) {
  describe(`convergence (${db})`, () => {
    let server, owner, others

    before(async () => {
      server = await startServer({ db })
      owner = await signup(server.url, 'owner')
      others = []
      for (let i = 1; i < CLIENTS + 1; i++) others.push(await signup(server.url, `editor${i}`))
    })
    after(async () => { await server?.cleanup() })

    test(`${CLIENTS} clients × ${EDITS_PER_CLIENT} random edits converge, new joiner included (seed ${SEED})`, { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'random', content: { md: 'start\n\nsecond paragraph' } })
      await setGrants(server.url, owner.token, note.id, others.map(u => ({ userId: u.id, permission: 'write' })))
      const accounts = [owner, ...others.slice(0, CLIENTS - 1)]
      const clients = await Promise.all(accounts.map(u => DocClient.open(server.url, u, `note:${note.id}`)))
      try {
        await Promise.all(clients.map(c => c.join()))

        // Each client edits concurrently, yielding to the event loop now and
        // then so remote updates interleave with local ones.
        await Promise.all(clients.map(async (c, i) => {
          const rand = prng(SEED + i)
          for (let n = 0; n < EDITS_PER_CLIENT; n++) {
            randomEdit(c.doc, rand)
            if (rand() < 0.3) await new Promise(resolve => setImmediate(resolve))
            if (rand() < 0.05) await c.flush()
          }
          await c.flush()
        }))

        await allDelivered(clients)
        for (const c of clients) assert.ok(sameBytes(c.stateVector(), clients[0].stateVector()), 'state vectors differ')
        assertSameContent(clients, 'editors')
        assert.ok(plainText(clients[0].fragment).length > 0, 'the document should not be empty')

        const late = await DocClient.open(server.url, others[CLIENTS - 1], `note:${note.id}`)
        await late.join()
        clients.push(late)
        assert.deepEqual(deletionDiff(clients[0].doc, late.doc), [], 'the server state must hold exactly the editors\' deletions')
        assert.ok(sameBytes(late.stateVector(), clients[0].stateVector()), 'a new joiner must get the converged state')
        assertSameContent(clients, 'new joiner')
      } finally {
        clients.forEach(c => c.close())
      }
    })
  })
}
