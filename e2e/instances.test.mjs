// Three instances behind one address (issue 12): one PostgreSQL database,
// one Redis prefix. Clients spread over the instances edit the same notes
// concurrently and converge, and late joiners on every instance get the
// converged state; awareness, presence, usage and channel messages are the
// same whichever instance a client is on; a chat task is listed, stopped and
// ended through any instance.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitUntil, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, ok, request, createNote, setGrants } from './helpers/api.mjs'
import { Client, expectOk } from './helpers/socket.mjs'
import { DocClient, randomEdit, prng, sameBytes, normalizePM, deletionDiff } from './helpers/ydoc.mjs'
import { startInstances, instancesSkip } from './helpers/instances.mjs'
import { startUpstream } from './lib/openai-upstream.mjs'

const INSTANCES = 3
const EDITORS = 6 // two per instance
const EDITS = 60
const SEED = Number(process.env.QUIRE_E2E_SEED || Date.now() % 1e9)

const encode = obj => Array.from(new TextEncoder().encode(JSON.stringify(obj)))
const decode = bytes => JSON.parse(new TextDecoder().decode(new Uint8Array(bytes)))

/**
 * Every client has the same state vector, content and deletions (yjs's
 * formatting cleanup makes delete-only updates that change neither of the
 * first two, and may still be on their way).
 */
export function converged (clients) {
  const sv = clients[0].stateVector()
  const xml = clients[0].xml()
  return clients.every(c => sameBytes(c.stateVector(), sv) && c.xml() === xml && deletionDiff(clients[0].doc, c.doc).length === 0)
}

export function assertSame (clients, what) {
  const pm = normalizePM(clients[0].pmJSON())
  for (const c of clients.slice(1)) {
    assert.ok(sameBytes(c.stateVector(), clients[0].stateVector()), `${what}: state vectors differ`)
    assert.equal(c.xml(), clients[0].xml(), `${what}: XML differs`)
    assert.deepEqual(normalizePM(c.pmJSON()), pm, `${what}: ProseMirror JSON differs`)
    assert.deepEqual(deletionDiff(clients[0].doc, c.doc), [], `${what}: deletions differ`)
  }
}

describe('three instances, one PostgreSQL, one Redis', { skip: instancesSkip() }, () => {
  let cluster, servers, owner, editors, upstream
  const at = i => servers[i % INSTANCES].url

  before(async () => {
    upstream = await startUpstream({ models: ['e2e-chat-model'], chunkDelayMs: 0 })
    cluster = await startInstances(INSTANCES, { extraArgs: ['--openai-base-url', upstream.baseURL] })
    servers = cluster.servers
    owner = await signup(at(0), 'owner')
    editors = []
    for (let i = 0; i < EDITORS; i++) editors.push(await signup(at(i), `editor${i}`)) // accounts made on every instance
  })
  after(async () => { await cluster?.cleanup(); await upstream?.close() })

  test('a chat task started on one instance is listed, stopped and ended through the others', { timeout: TEST_TIMEOUT }, async () => {
    const u = editors[0]
    const token = u.token
    const sock = await Client.connect(at(0), token)
    await sock.call('heartbeat', {}) // the socket's account is known once it has spoken
    const of = (mid, type) => d => d?.message_id === mid && d?.data?.type === type
    const start = (mid, chatID) => ok(at(0), 'POST', '/api/chat/completions', {
      token,
      body: {
        model: 'e2e-chat-model', stream: true, session_id: sock.socket.id, id: mid, parent_id: null, chat_id: chatID,
        user_message: { id: 'q-' + mid, parentId: null, childrenIds: [mid], role: 'user', content: 'hello' }
      }
    })
    const running = async (i, chatID) => (await ok(at(i), 'GET', `/api/tasks/chat/${chatID}`, { token })).task_ids
    try {
      // Held after its first chunk until the test opens the gate (never:
      // the stop ends it).
      upstream.answer('Quire ', { gate: 'never-1' }, 'no')
      const t1 = await start('a1')
      await sock.waitFor('events', of('a1', 'chat:completion'))
      for (const i of [0, 1, 2]) assert.deepEqual(await running(i, t1.chat_id), [t1.task_id], `listed on instance ${i}`)
      const again = await request(at(1), 'POST', '/api/chat/completions', { token, body: { model: 'e2e-chat-model', stream: true, session_id: sock.socket.id, id: 'a1', parent_id: null, chat_id: t1.chat_id, messages: [{ role: 'user', content: 'hello' }] } })
      assert.equal(again.status, 409, 'a second writer of the answer, on another instance')

      // The stop button's request lands on instance 1: it answers once
      // instance 0's task has saved what it had.
      const stopped = await ok(at(1), 'POST', `/api/tasks/chat/${t1.chat_id}/stop`, { token })
      assert.deepEqual(stopped.task_ids, [t1.task_id])
      const saved = (await ok(at(2), 'GET', `/api/v1/chats/${t1.chat_id}`, { token })).chat.history.messages.a1
      assert.equal(saved.done, true, 'saved before the stop answered')
      assert.equal(saved.content, 'Quire ')
      await sock.waitFor('events', of('a1', 'chat:tasks:cancel'))
      for (const i of [0, 1, 2]) assert.deepEqual(await running(i, t1.chat_id), [], `gone on instance ${i}`)

      // Deleting the chat through instance 2 ends a task running on 0.
      upstream.answer('Quire ', { gate: 'never-2' }, 'no')
      const t2 = await start('a2', t1.chat_id)
      await sock.waitFor('events', of('a2', 'chat:completion'))
      await ok(at(2), 'DELETE', `/api/v1/chats/${t1.chat_id}`, { token })
      for (const i of [0, 1, 2]) assert.deepEqual(await running(i, t1.chat_id), [], `ended with the DELETE, on instance ${i}`)
      assert.equal((await request(at(0), 'POST', `/api/tasks/stop/${t2.task_id}`, { token })).status, 404)
    } finally {
      sock.close()
      upstream.open('never-1')
      upstream.open('never-2')
    }
  })

  test(`${EDITORS} editors on ${INSTANCES} instances × two notes converge; late joiners everywhere (seed ${SEED})`, { timeout: TEST_TIMEOUT }, async () => {
    const notes = []
    for (const md of ['first note\n\nwith two paragraphs', 'second note']) {
      const n = await createNote(at(1), owner.token, { title: 'shared', content: { md } })
      await setGrants(at(2), owner.token, n.id, editors.map(u => ({ userId: u.id, permission: 'write' })))
      notes.push(n)
    }
    const all = []
    try {
      for (const [k, note] of notes.entries()) {
        const clients = await Promise.all(editors.map((u, i) => DocClient.open(at(i + k), u, `note:${note.id}`)))
        all.push(clients)
        await Promise.all(clients.map(c => c.join()))
      }
      await Promise.all(all.flat().map(async (c, i) => {
        const rand = prng(SEED + i)
        for (let n = 0; n < EDITS; n++) {
          randomEdit(c.doc, rand)
          if (rand() < 0.3) await new Promise(resolve => setImmediate(resolve))
          if (rand() < 0.05) await c.flush()
        }
        await c.flush() // every update acked: durable and relayed
      }))
      for (const clients of all) {
        await waitUntil(() => converged(clients), { timeout: 60000, what: 'the editors on every instance to converge' })
        assertSame(clients, 'editors')
      }
      // A late joiner on each instance gets the converged state, from the
      // instance's live copy (it applied the others' updates) or the log.
      for (const [k, note] of notes.entries()) {
        for (let i = 0; i < INSTANCES; i++) {
          const late = await DocClient.open(at(i), editors[i], `note:${note.id}`)
          all[k].push(late)
          await late.join()
        }
        assertSame(all[k], `late joiners of note ${k}`)
      }
    } finally {
      all.flat().forEach(c => c.close())
    }
  })

  test('awareness, presence, usage and channel messages are the same on every instance', { timeout: TEST_TIMEOUT }, async () => {
    const note = await createNote(at(0), owner.token, { title: 'aw', content: { md: 'cursor here' } })
    await setGrants(at(0), owner.token, note.id, editors.map(u => ({ userId: u.id, permission: 'write' })))
    const dcs = await Promise.all([0, 1, 2].map(i => DocClient.open(at(i), editors[i], `note:${note.id}`)))
    const socks = []
    try {
      for (const dc of dcs) await dc.join()
      // Awareness sent on instance 0 reaches the sockets on 1 and 2.
      const since = dcs.map(dc => dc.client.mark())
      expectOk(await dcs[0].client.call('ydoc:awareness:update', {
        document_id: dcs[0].documentId, user_id: dcs[0].client.id, update: encode({ [dcs[0].doc.clientID]: { user: { name: 'e0' } } })
      }), 'ydoc:awareness:update')
      for (const i of [1, 2]) {
        const got = await dcs[i].client.waitFor('ydoc:awareness:update', d => d?.document_id === dcs[0].documentId, { since: since[i], timeout: 15000 })
        assert.deepEqual(decode(got.update)[dcs[0].doc.clientID], { user: { name: 'e0' } })
      }
      // A joiner on instance 2 gets ydoc:user:joined on 0 and 1.
      const late = await DocClient.open(at(2), editors[3], `note:${note.id}`)
      dcs.push(late)
      const marks = dcs.map(dc => dc.client.mark())
      await late.join()
      // ... and with the document, the cursors of sockets on other instances.
      const snapshot = {}
      for (const m of late.client.received('ydoc:awareness:update', d => d?.document_id === late.documentId)) Object.assign(snapshot, decode(m.update))
      assert.deepEqual(snapshot[dcs[0].doc.clientID], { user: { name: 'e0' } }, 'a joiner on another instance misses a remote cursor')
      for (const i of [0, 1]) {
        await dcs[i].client.waitFor('ydoc:user:joined', d => d?.user_id === editors[3].id, { since: marks[i], timeout: 15000 })
      }

      // Presence: every instance lists the same accounts, sockets of all three.
      const want = [editors[0].id, editors[1].id, editors[2].id, editors[3].id]
      await waitUntil(async () => {
        const lists = await Promise.all(servers.map(s => ok(s.url, 'GET', '/api/v1/users/active', { token: owner.token })))
        return lists.every(l => want.every(id => l.user_ids.includes(id)) && JSON.stringify(l.user_ids) === JSON.stringify(lists[0].user_ids))
      }, { timeout: 15000, what: 'the same active users on every instance' })

      // Usage: a model used on instance 1 is in use on all.
      expectOk(await dcs[1].client.call('usage', { action: 'chat', model: 'e2e-model', chat_id: 'c1' }), 'usage')
      const usages = await Promise.all(servers.map(s => ok(s.url, 'GET', '/api/usage', { token: owner.token })))
      for (const u of usages) assert.ok(u.model_ids.includes('e2e-model'), `usage on one instance: ${JSON.stringify(u)}`)

      // Channels: a message posted through instance 0 reaches members on 1
      // and 2; typing sent on 2 reaches 0.
      const a = await Client.connect(at(0), editors[0].token)
      const b = await Client.connect(at(1), editors[1].token)
      const c = await Client.connect(at(2), editors[2].token)
      socks.push(a, b, c)
      for (const [s, u] of [[a, editors[0]], [b, editors[1]], [c, editors[2]]]) expectOk(await s.call('join-channels', { auth: { token: u.token } }))
      const typeOf = t => d => d?.data?.type === t
      const ch = await ok(at(0), 'POST', '/api/v1/channels/create', { token: editors[0].token, body: { name: 'pals', type: 'group', user_ids: [editors[1].id, editors[2].id] } })
      await b.waitFor('events:channel', typeOf('channel:created'), { timeout: 15000 })
      await c.waitFor('events:channel', typeOf('channel:created'), { timeout: 15000 })
      const m = await ok(at(0), 'POST', `/api/v1/channels/${ch.id}/messages/post`, { token: editors[0].token, body: { content: 'hi all', temp_id: 't1' } })
      for (const s of [b, c]) {
        const got = await s.waitFor('events:channel', d => typeOf('message')(d) && d.message_id === m.id, { timeout: 15000 })
        assert.equal(got.channel_id, ch.id)
      }
      expectOk(await c.call('events:channel', { channel_id: ch.id, message_id: null, data: { type: 'typing', data: { typing: true } } }))
      await a.waitFor('events:channel', typeOf('typing'), { timeout: 15000 })
    } finally {
      dcs.forEach(dc => dc.close())
      socks.forEach(s => s.close())
    }
  })
})
