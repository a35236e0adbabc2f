// Server-side seeding (protocol.md §9.3): a note with stored content is seeded
// into its CRDT once, by the server; clients joining at the same moment all get
// exactly one copy, and the seed survives a restart without being repeated.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants } from './helpers/api.mjs'
import { DocClient, Y, normalizePM, plainText, sameBytes, EMPTY_STATE } from './helpers/ydoc.mjs'

const SEED_JSON = {
  type: 'doc',
  content: [
    { type: 'heading', attrs: { level: 1 }, content: [{ type: 'text', text: 'Plan' }] },
    {
      type: 'paragraph',
      content: [
        { type: 'text', text: 'Hello ' },
        { type: 'text', text: 'bold', marks: [{ type: 'bold' }] },
        { type: 'text', text: ' and ' },
        { type: 'text', text: 'a link', marks: [{ type: 'link', attrs: { href: 'https://example.com/' } }] }
      ]
    },
    {
      type: 'bulletList',
      content: [
        { type: 'listItem', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'write' }] }] },
        { type: 'listItem', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'test' }] }] }
      ]
    }
  ]
}

const SEED_MD = '# Plan\n\nHello **bold** world\n\n- write\n- test\n'
const SEED_MD_JSON = {
  type: 'doc',
  content: [
    { type: 'heading', attrs: { level: 1 }, content: [{ type: 'text', text: 'Plan' }] },
    {
      type: 'paragraph',
      content: [
        { type: 'text', text: 'Hello ' },
        { type: 'text', text: 'bold', marks: [{ type: 'bold' }] },
        { type: 'text', text: ' world' }
      ]
    },
    SEED_JSON.content[2]
  ]
}

const count = (haystack, needle) => haystack.split(needle).length - 1

for (const db of databases()) {
  describe(`seeding (${db})`, () => {
    let server, owner, writers

    before(async () => {
      server = await startServer({ db })
      owner = await signup(server.url, 'owner')
      writers = []
      for (let i = 0; i < 4; i++) writers.push(await signup(server.url, `writer${i}`))
    })
    after(async () => { await server?.cleanup() })

    /** Open one socket per account and send every join at the same time. */
    async function joinAtOnce (note, accounts) {
      await setGrants(server.url, owner.token, note.id, writers.map(w => ({ userId: w.id, permission: 'write' })))
      const clients = await Promise.all(accounts.map(a => DocClient.open(server.url, a, `note:${note.id}`)))
      const joins = await Promise.all(clients.map(c => c.join()))
      return { clients, states: joins.map(j => j.state.state) }
    }

    test('two clients joining a JSON note at once get exactly one copy of the seeded content', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'json', content: { json: SEED_JSON } })
      const { clients, states } = await joinAtOnce(note, [owner, writers[0]])
      try {
        assert.notDeepEqual(states[0], EMPTY_STATE, 'a note with content must be seeded by the server')
        assert.ok(sameBytes(states[0], states[1]), 'both joiners must get the same state')
        for (const c of clients) {
          assert.deepEqual(normalizePM(c.pmJSON()), normalizePM(SEED_JSON))
          assert.equal(count(plainText(c.fragment), 'Plan'), 1)
        }
        // A later joiner sees the same single copy.
        const late = await DocClient.open(server.url, writers[1], `note:${note.id}`)
        await late.join()
        assert.deepEqual(normalizePM(late.pmJSON()), normalizePM(SEED_JSON))
        assert.ok(sameBytes(late.stateVector(), clients[0].stateVector()))
        late.close()
      } finally {
        clients.forEach(c => c.close())
      }
    })

    test('five clients joining a Markdown note at once get exactly one copy', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'md', content: { md: SEED_MD } })
      const { clients, states } = await joinAtOnce(note, [owner, ...writers])
      try {
        assert.notDeepEqual(states[0], EMPTY_STATE)
        for (const s of states) assert.ok(sameBytes(s, states[0]), 'every joiner must get the same state')
        for (const c of clients) {
          assert.deepEqual(normalizePM(c.pmJSON()), normalizePM(SEED_MD_JSON))
          const text = plainText(c.fragment)
          assert.equal(count(text, 'Plan'), 1)
          assert.equal(count(text, 'write'), 1)
        }
      } finally {
        clients.forEach(c => c.close())
      }
    })

    test('an empty note has the empty state [0,0]', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'empty', content: { md: '' } })
      const c = await DocClient.open(server.url, owner, `note:${note.id}`)
      try {
        const { state } = await c.join()
        assert.deepEqual(state.state, EMPTY_STATE)
        assert.ok(Array.isArray(state.sessions), 'state.sessions must be an array')
        assert.ok(state.sessions.includes(c.client.id), 'sessions must list the joiner')
      } finally {
        c.close()
      }
    })

    test('the seed is not repeated after a restart, and edits on top of it survive', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'restart', content: { json: SEED_JSON } })
      const a = await DocClient.open(server.url, owner, `note:${note.id}`)
      await a.join()
      // Append to the first paragraph's text.
      const para = a.fragment.get(1)
      const text = para.toArray().find(t => t instanceof Y.XmlText)
      text.insert(text.length, ' (edited)')
      await a.flush()
      const expected = a.pmJSON()
      const expectedSV = a.stateVector()
      a.close()

      await server.restart()
      const b = await DocClient.open(server.url, owner, `note:${note.id}`)
      try {
        await b.join()
        assert.deepEqual(normalizePM(b.pmJSON()), normalizePM(expected))
        assert.ok(sameBytes(b.stateVector(), expectedSV), 'state vector after restart must equal the one before')
        assert.equal(count(plainText(b.fragment), 'Plan'), 1)
      } finally {
        b.close()
      }
    })
  })
}
