// Bad input (protocol.md §9.5): malformed payloads, hostile Yjs bytes, bad
// awareness and unknown documents get an error ack; the server stays healthy
// and nothing reaches the other clients in the document or its stored state.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, waitUntil, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants } from './helpers/api.mjs'
import { Client } from './helpers/socket.mjs'
import { DocClient, Y, prng, sameBytes } from './helpers/ydoc.mjs'

const utf8 = s => Array.from(new TextEncoder().encode(s))

/** A real update (a paragraph with text) made by yjs, and its v2 encoding. */
function sampleUpdates () {
  const d = new Y.Doc()
  const p = new Y.XmlElement('paragraph')
  p.insert(0, [new Y.XmlText('some text here')])
  d.getXmlFragment('prosemirror').insert(0, [p])
  return { v1: Y.encodeStateAsUpdate(d), v2: Y.encodeStateAsUpdateV2(d) }
}

/** Bad `update` values for ydoc:document:update, each labelled. */
function badUpdates () {
  const { v1, v2 } = sampleUpdates()
  const rand = prng(42)
  const out = [
    ['string', 'hello'],
    ['number', 12],
    ['object', { 0: 1, 1: 0 }],
    ['null', null],
    ['empty array', []],
    ['number > 255', [256, 0]],
    ['negative number', [-1, 0]],
    ['fraction', [1.5, 0]],
    ['string element', ['a', 0]],
    ['nested array', [[1], 0]],
    ['varint overflow', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    ['huge client count', [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]],
    ['huge struct count', [0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x00]],
    ['huge string length', [0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x0b, ...utf8('prosemirror'), 0xff, 0xff, 0xff, 0xff, 0x0f, 0x41]],
    ['huge delete set', [0x00, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ['truncated update', Array.from(v1.subarray(0, v1.length - 5))],
    ['v2 update', Array.from(v2)],
    ['binary hostile bytes', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])],
    ['binary truncated update', v1.subarray(0, 7)]
  ]
  for (let i = 0; i < 8; i++) {
    const bytes = Array.from({ length: 4 + Math.floor(rand() * 40) }, () => Math.floor(rand() * 256))
    bytes[0] = 1 + (bytes[0] % 3) // look like a v1 update with a few clients
    out.push([`random bytes #${i}`, bytes])
  }
  return out
}

/** Bad awareness `update` values (the format is UTF-8 JSON {"<clientID>": state|null}). */
const BAD_AWARENESS = [
  ['not JSON', utf8('not json')],
  ['JSON array', utf8('[1,2]')],
  ['JSON number', utf8('5')],
  ['JSON string', utf8('"x"')],
  ['state is a number', utf8('{"1":5}')],
  ['state is a string', utf8('{"1":"x"}')],
  ['state is an array', utf8('{"1":[1]}')],
  ['client id not a number', utf8('{"abc":{}}')],
  ['negative client id', utf8('{"-1":{}}')],
  ['fractional client id', utf8('{"1.5":{}}')],
  ['invalid UTF-8', [0x7b, 0x22, 0x31, 0x22, 0x3a, 0xff, 0xfe, 0x7d]],
  ['update is a string', '{"1":{}}'],
  ['update is missing', undefined],
  ['byte > 255', [0x7b, 0x7d, 300]]
]

function assertErrorAck (ack, what) {
  assert.ok(ack && ack.ok === false, `${what}: expected {ok:false,…}, got ${JSON.stringify(ack)}`)
  assert.equal(typeof ack.error, 'string', `${what}: error ack must carry an error string`)
}

/**
 * A note (title, markdown md) the observer may write too, with a sender
 * (owner, a) and the observer (b) joined.
 */
async function openRoom (server, owner, observer, title, md) {
  const note = await createNote(server.url, owner.token, { title, content: { md } })
  await setGrants(server.url, owner.token, note.id, [{ userId: observer.id, permission: 'write' }])
  const a = await DocClient.open(server.url, owner, `note:${note.id}`)
  const b = await DocClient.open(server.url, observer, `note:${note.id}`)
  await a.join()
  await b.join()
  return { note, a, b }
}

for (const db of databases()) {
  describe(`bad input (${db})`, () => {
    let server, owner, observer

    before(async () => {
      server = await startServer({ db })
      owner = await signup(server.url, 'owner')
      observer = await signup(server.url, 'observer')
    })
    after(async () => { await server?.cleanup() })

    const room = () => openRoom(server, owner, observer, 'bad', 'keep me')

    /**
     * After the garbage: the server is healthy, the observer saw nothing, a
     * valid update still flows, and a new joiner gets no garbage.
     */
    async function assertUnaffected ({ note, a, b }, since) {
      assert.equal(await server.health(), 200, '/healthz must stay 200')
      assert.deepEqual(b.client.received('ydoc:document:update', () => true, since), [], 'observer must not see refused updates')
      assert.deepEqual(b.client.received('ydoc:awareness:update', () => true, since), [], 'observer must not see refused awareness')
      a.fragment.insert(a.fragment.length, [new Y.XmlElement('paragraph')])
      await a.flush()
      await b.client.waitFor('ydoc:document:update', d => d.socket_id === a.client.id, { since })
      assert.equal(b.client.received('ydoc:document:update', () => true, since).length, 1, 'exactly the one valid update')
      const fresh = await DocClient.open(server.url, owner, `note:${note.id}`)
      await fresh.join()
      assert.ok(sameBytes(fresh.stateVector(), a.stateVector()))
      assert.equal(fresh.xml(), a.xml())
      fresh.close()
    }

    test('malformed and hostile update bytes get error acks', { timeout: TEST_TIMEOUT }, async () => {
      const r = await room()
      try {
        const since = r.b.client.mark()
        for (const [what, update] of badUpdates()) {
          const ack = await r.a.client.call('ydoc:document:update', {
            document_id: r.a.documentId, user_id: owner.id, socket_id: r.a.client.id, update
          })
          assertErrorAck(ack, what)
        }
        await assertUnaffected(r, since)
      } finally {
        r.a.close(); r.b.close()
      }
    })

    test('wrong payload shapes and unknown document ids get error acks', { timeout: TEST_TIMEOUT }, async () => {
      const r = await room()
      const { v1 } = sampleUpdates()
      const update = Array.from(v1)
      try {
        const since = r.b.client.mark()
        const cases = [
          ['join: string payload', 'ydoc:document:join', 'note:x'],
          ['join: number payload', 'ydoc:document:join', 42],
          ['join: array payload', 'ydoc:document:join', [1, 2]],
          ['join: null payload', 'ydoc:document:join', null],
          ['join: missing document_id', 'ydoc:document:join', { user_id: owner.id }],
          ['join: numeric document_id', 'ydoc:document:join', { document_id: 5 }],
          ['join: chat:x', 'ydoc:document:join', { document_id: 'chat:x', user_id: owner.id }],
          ['join: note:doesnotexist', 'ydoc:document:join', { document_id: 'note:doesnotexist', user_id: owner.id }],
          ['join: bare id', 'ydoc:document:join', { document_id: r.note.id }],
          ['update: string payload', 'ydoc:document:update', 'x'],
          ['update: no update, no data', 'ydoc:document:update', { document_id: r.a.documentId }],
          ['update: chat:x', 'ydoc:document:update', { document_id: 'chat:x', update }],
          ['update: note:doesnotexist', 'ydoc:document:update', { document_id: 'note:doesnotexist', update }],
          ['update: missing document_id', 'ydoc:document:update', { update }],
          ['awareness: chat:x', 'ydoc:awareness:update', { document_id: 'chat:x', update: utf8('{"1":{}}') }],
          ['awareness: number payload', 'ydoc:awareness:update', 7],
          ['state: chat:x', 'ydoc:document:state', { document_id: 'chat:x' }],
          ['state: note:doesnotexist', 'ydoc:document:state', { document_id: 'note:doesnotexist' }]
        ]
        const aSince = r.a.client.mark()
        for (const [what, event, payload] of cases) {
          assertErrorAck(await r.a.client.call(event, payload), what)
        }
        assert.deepEqual(r.a.client.received('ydoc:document:state', () => true, aSince), [], 'a refused join/state must send no state')
        await assertUnaffected(r, since)
      } finally {
        r.a.close(); r.b.close()
      }
    })

    test('awareness that is not a map of client id to object|null gets error acks', { timeout: TEST_TIMEOUT }, async () => {
      const r = await room()
      try {
        const since = r.b.client.mark()
        for (const [what, update] of BAD_AWARENESS) {
          const ack = await r.a.client.call('ydoc:awareness:update', { document_id: r.a.documentId, user_id: owner.id, update })
          assertErrorAck(ack, what)
        }
        assert.equal(await server.health(), 200)
        assert.deepEqual(r.b.client.received('ydoc:awareness:update', () => true, since), [])
        // A valid awareness update still goes through afterwards.
        const good = utf8(JSON.stringify({ [r.a.doc.clientID]: { user: { name: 'owner' } } }))
        const ack = await r.a.client.call('ydoc:awareness:update', { document_id: r.a.documentId, user_id: owner.id, update: good })
        assert.deepEqual(ack, { ok: true })
        const got = await r.b.client.waitFor('ydoc:awareness:update', () => true, { since })
        assert.deepEqual(got.update, good)
        await assertUnaffected(r, r.b.client.mark())
      } finally {
        r.a.close(); r.b.close()
      }
    })

    test('an unauthenticated socket is refused', { timeout: TEST_TIMEOUT }, async () => {
      const note = await createNote(server.url, owner.token, { title: 'anon', content: { md: 'secret' } })
      const anon = await Client.connect(server.url, 'not-a-token')
      try {
        const since = anon.mark()
        assertErrorAck(await anon.call('ydoc:document:join', { document_id: `note:${note.id}` }), 'anonymous join')
        assert.deepEqual(anon.received('ydoc:document:state', () => true, since), [])
      } finally {
        anon.close()
      }
    })
  })

  describe(`size limits (${db})`, () => {
    let server, owner, observer
    const MAX_MESSAGE = 256 * 1024
    const MAX_DOCUMENT = 128 * 1024

    before(async () => {
      server = await startServer({ db, args: ['--max-message-bytes', String(MAX_MESSAGE), '--max-document-bytes', String(MAX_DOCUMENT)] })
      owner = await signup(server.url, 'owner')
      observer = await signup(server.url, 'observer')
    })
    after(async () => { await server?.cleanup() })

    /** A self-contained update (own client, no dependencies) adding n bytes of text. */
    function standaloneUpdate (n) {
      const d = new Y.Doc()
      const p = new Y.XmlElement('paragraph')
      p.insert(0, [new Y.XmlText('x'.repeat(n))])
      d.getXmlFragment('prosemirror').insert(0, [p])
      return Y.encodeStateAsUpdate(d)
    }

    const limitRoom = () => openRoom(server, owner, observer, 'limits', '')

    test('a message over --max-message-bytes gets an error ack and is not relayed', { timeout: TEST_TIMEOUT }, async () => {
      const { a, b } = await limitRoom()
      try {
        const since = b.client.mark()
        // ~100 KB binary → ~360 KB of JSON: over the message limit.
        assert.deepEqual(await a.send(standaloneUpdate(100 * 1024)), { ok: false, error: 'too_large' })
        // As a binary attachment (~100 KB, under the limit as text) and
        // over it (~300 KB): attachments count too.
        assert.deepEqual(await a.send(standaloneUpdate(300 * 1024), { binary: true }), { ok: false, error: 'too_large' })
        assert.equal(await server.health(), 200)
        // The socket stays usable and the observer got nothing.
        assert.deepEqual(await a.send(standaloneUpdate(10)), { ok: true })
        await b.client.waitFor('ydoc:document:update', () => true, { since })
        assert.equal(b.client.received('ydoc:document:update', () => true, since).length, 1)
      } finally {
        a.close(); b.close()
      }
    })

    test('a frame over the engine limit (max(2x, +1 MiB) of --max-message-bytes) closes that connection only', { timeout: TEST_TIMEOUT }, async () => {
      const { a, b } = await limitRoom()
      try {
        // ~600 KB binary → ~2 MB of JSON: past 256 KiB + 1 MiB.
        await assert.rejects(a.send(standaloneUpdate(600 * 1024)), /closed the socket/)
        assert.deepEqual(await b.send(standaloneUpdate(10)), { ok: true })
        assert.equal(await server.health(), 200)
      } finally {
        a.close(); b.close()
      }
    })

    test('an update growing the document past --max-document-bytes gets an error ack', { timeout: TEST_TIMEOUT }, async () => {
      const { note, a, b } = await limitRoom()
      try {
        const since = b.client.mark()
        // Growing past the document limit in 50 KB steps (each message fits).
        let accepted = 0
        let refused = false
        for (let i = 0; i < 4 && !refused; i++) {
          const ack = await a.send(standaloneUpdate(50 * 1024))
          if (ack?.ok === true) accepted++
          else refused = true
        }
        assert.ok(refused, 'an update that grows the document past --max-document-bytes must be refused')
        assert.equal(await server.health(), 200)
        // The observer gets the accepted updates and nothing else.
        await waitUntil(() => b.client.received('ydoc:document:update', () => true, since).length >= accepted,
          { what: 'the accepted updates to reach the observer' })
        const fresh = await DocClient.open(server.url, owner, `note:${note.id}`)
        await fresh.join()
        fresh.close()
        assert.equal(b.client.received('ydoc:document:update', () => true, since).length, accepted)
      } finally {
        a.close(); b.close()
      }
    })
  })
}
