// Faults of a three-instance deployment (issue 12), on a redis-server the
// test starts on its own port (the shared one is never touched):
//   - Redis is killed and restarted mid-edit: every instance keeps serving
//     its own sockets (edits are acked), logs the outage once and does not
//     spin; once Redis is back, every client converges without reloading.
//   - One instance is killed with SIGKILL mid-edit: its clients reconnect
//     to another instance (sending what the server lacks, as a y-protocols
//     client does) and everybody converges; no acknowledged update is lost.
//   - One instance gets SIGTERM mid-edit: it drains and exits 0; its clients
//     move, everybody converges, no acknowledged update is lost.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { waitUntil, sleep, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants, ok } from './helpers/api.mjs'
import { Client, expectOk } from './helpers/socket.mjs'
import { sameBytes, DocClient } from './helpers/ydoc.mjs'
import { Editor, converged, serverDoc, describeDivergence, assertHasAcked } from './helpers/editor.mjs'
import { startInstances, instancesSkip, PrivateRedis } from './helpers/instances.mjs'

const SEED = Number(process.env.QUIRE_E2E_SEED || Date.now() % 1e9)

describe('three instances: Redis outage and a killed instance', { skip: instancesSkip() }, () => {
  let redis, cluster, servers, owner, users

  before(async () => {
    redis = await new PrivateRedis().init()
    cluster = await startInstances(3, { redisURL: redis.url })
    servers = cluster.servers
    owner = await signup(servers[0].url, 'owner')
    users = []
    for (let i = 0; i < 6; i++) users.push(await signup(servers[i % 3].url, `ed${i}`))
  })
  after(async () => {
    await cluster?.cleanup()
    await redis?.cleanup()
  })

  async function noteFor (md) {
    const n = await createNote(servers[0].url, owner.token, { title: 'faults', content: { md } })
    await setGrants(servers[0].url, owner.token, n.id, users.map(u => ({ userId: u.id, permission: 'write' })))
    return `note:${n.id}`
  }

  // Waits until servers[0]'s publisher has failed since mark: the frames
  // it queued while Redis was down (the commands under test, the first it
  // queued) are then dropped, not sent late. A publish can block for a few
  // seconds (go-redis retries) and reach the restarted Redis otherwise.
  async function publishFailed (mark) {
    await waitUntil(() => servers[0].logLines.slice(mark).some(l => l.includes('redis: unreachable')),
      { timeout: 30000, what: 'instance 0 to drop what it published while Redis was down' })
  }

  test(`Redis stopped and restarted mid-edit (seed ${SEED})`, { timeout: TEST_TIMEOUT }, async () => {
    const docID = await noteFor('before the outage')
    const eds = users.map((u, i) => new Editor(u, docID, SEED + i))
    const late = [] // editors of a note opened during the outage
    try {
      for (const [i, e] of eds.entries()) await e.connect(servers[i % 3].url)
      await Promise.all(eds.map(e => e.edit(15)))
      await Promise.all(eds.map(e => e.settle()))

      await redis.stop()
      const logMark = servers.map(s => s.logLines.length)
      const acked = eds.map(e => e.acked.length)
      await Promise.all(eds.map(e => e.edit(15)))
      await Promise.all(eds.map(e => e.settle()))
      eds.forEach((e, i) => assert.ok(e.acked.length > acked[i], `instance ${i % 3} stopped acking while Redis was away`))
      // Two editors on one instance still see each other.
      await waitUntil(() => converged([eds[0], eds[3]]), { timeout: 20000, what: 'editors of one instance to converge without Redis' })
      // No spin: idle, Redis away, each instance uses well under a core.
      const cpu0 = servers.map(s => s.procStats().cpuSeconds)
      await sleep(3000)
      servers.forEach((s, i) => {
        const used = s.procStats().cpuSeconds - cpu0[i]
        assert.ok(used < 1.5, `instance ${i} used ${used} CPU seconds in 3 s with Redis away: spinning`)
      })

      // A note first opened during the outage: two editors on one instance
      // see each other (the room is served locally) ...
      const docID2 = await noteFor('opened during the outage')
      late.push(new Editor(users[1], docID2, SEED + 50), new Editor(users[4], docID2, SEED + 51))
      for (const e of late) await e.connect(servers[1].url)
      await Promise.all(late.map(e => e.edit(10)))
      await Promise.all(late.map(e => e.settle()))
      await waitUntil(() => converged(late), { timeout: 20000, what: 'editors of a room joined during the outage to converge' })
      // Logged once, not once per retry (go-redis dials several times a second).
      servers.forEach((s, i) => {
        const noisy = s.logLines.slice(logMark[i]).filter(l => /level=(WARN|ERROR)|redis: \d{4}\//.test(l))
        assert.ok(noisy.length <= 6, `instance ${i} logged the outage ${noisy.length} times:\n${noisy.join('\n')}`)
      })
      await redis.start()
      // ... and once Redis is back, the room is subscribed: an editor on
      // another instance and those two converge.
      const third = new Editor(users[2], docID2, SEED + 52)
      late.push(third)
      await third.connect(servers[2].url)
      await Promise.all(late.map(e => e.edit(5)))
      await Promise.all(late.map(e => e.settle()))
      await waitUntil(() => converged(late), { timeout: 60000, what: 'the outage note\'s editors on two instances to converge' })
      await Promise.all(eds.map(e => e.edit(10)))
      await Promise.all(eds.map(e => e.settle()))
      await waitUntil(() => converged(eds), { timeout: 60000, what: 'every editor to converge after Redis returned' })
      for (const s of servers) {
        const doc = await serverDoc(s.url, owner, docID)
        assert.ok(sameBytes(Y.encodeStateVector(doc), eds[0].sv()), `instance ${s.port} serves another state`)
        assertHasAcked(doc, eds)
      }
    } finally {
      eds.forEach(e => e.close())
      late.forEach(e => e.close())
    }
  })

  test('channel membership changed while Redis is down reaches the other instances', { timeout: TEST_TIMEOUT }, async () => {
    const [ca, cb] = [await Client.connect(servers[0].url, users[0].token), await Client.connect(servers[1].url, users[1].token)]
    try {
      for (const [c, u] of [[ca, users[0]], [cb, users[1]]]) expectOk(await c.call('join-channels', { auth: { token: u.token } }))
      const typeOf = t => d => d?.data?.type === t
      const mark = cb.mark()
      const left = await ok(servers[0].url, 'POST', '/api/v1/channels/create', { token: users[0].token, body: { name: 'left', type: 'group', user_ids: [users[1].id] } })
      await cb.waitFor('events:channel', typeOf('channel:created'), { since: mark, timeout: 15000 })
      const logMark = servers[0].logLines.length
      await redis.stop()
      // Stored, but their JoinRoom and LeaveRoom commands never reach Redis.
      await ok(servers[0].url, 'POST', `/api/v1/channels/${left.id}/members/remove`, { token: users[0].token, body: { user_ids: [users[1].id] } })
      const joined = await ok(servers[0].url, 'POST', '/api/v1/channels/create', { token: users[0].token, body: { name: 'joined', type: 'group', user_ids: [users[1].id] } })
      await publishFailed(logMark) // the commands were dropped, not sent late to the restarted Redis
      await redis.start()
      // Posts to both until the new channel's reaches cb on another
      // instance: its instance has read cb's channels again. The old
      // channel's posts before that may reach cb (the gap is mended once
      // Redis is back, not before); none after it may.
      const since = cb.mark()
      const post = (id, content) => ok(servers[0].url, 'POST', `/api/v1/channels/${id}/messages/post`, { token: users[0].token, body: { content, temp_id: content } })
      const joinedIDs = new Set()
      await waitUntil(async () => {
        joinedIDs.add((await post(joined.id, 'to the added')).id)
        await sleep(200)
        return cb.received('events:channel', d => typeOf('message')(d) && joinedIDs.has(d.message_id), since).length > 0
      }, { timeout: 30000, interval: 300, what: 'a message of the channel created while Redis was down to reach its member on another instance' })
      const after = cb.mark()
      const late = (await post(left.id, 'to the removed')).id
      const barrier = (await post(joined.id, 'after it')).id // relayed after late's, in order
      await cb.waitFor('events:channel', d => typeOf('message')(d) && d.message_id === barrier, { since: after, timeout: 15000 })
      assert.deepEqual(cb.received('events:channel', d => typeOf('message')(d) && d.message_id === late, after), [],
        'a member removed while Redis was down still gets the channel\'s messages on another instance')
    } finally {
      ca.close()
      cb.close()
    }
  })

  test('a note\'s access removed while Redis is down evicts the reader on another instance', { timeout: TEST_TIMEOUT }, async () => {
    const note = await createNote(servers[0].url, owner.token, { title: 'revoked', content: { md: 'shared' } })
    const [bob, carol] = [users[1], users[4]]
    await setGrants(servers[0].url, owner.token, note.id, [bob, carol].map(u => ({ userId: u.id, permission: 'read' })))
    const docID = `note:${note.id}`
    const w = await DocClient.open(servers[0].url, owner, docID)
    const [b, c] = [await DocClient.open(servers[1].url, bob, docID), await DocClient.open(servers[1].url, carol, docID)]
    try {
      for (const d of [w, b, c]) await d.join()
      const mark = servers[0].logLines.length
      await redis.stop()
      // Stored, but its AccessChanged command never reaches Redis.
      await setGrants(servers[0].url, owner.token, note.id, [{ userId: carol.id, permission: 'read' }])
      await publishFailed(mark)
      await redis.start()
      await b.client.waitFor('ydoc:user:left', d => d?.document_id === docID && d.user_id === bob.id, { timeout: 30000 })
      // Carol, on the same instance and still allowed, gets the next edit; Bob does not.
      const since = b.client.mark()
      const cSince = c.client.mark()
      await waitUntil(async () => {
        w.fragment.insert(w.fragment.length, [new Y.XmlElement('paragraph')])
        await w.flush()
        await sleep(200)
        return c.client.received('ydoc:document:update', d => d.socket_id === w.client.id, cSince).length > 0
      }, { timeout: 30000, interval: 300, what: 'the owner\'s edit to reach the remaining reader on another instance' })
      assert.deepEqual(b.client.received('ydoc:document:update', d => d.socket_id === w.client.id, since), [],
        'a reader whose access was removed while Redis was down still gets the note\'s updates on another instance')
    } finally {
      w.close(); b.close(); c.close()
    }
  })

  test('an account signed out, or demoted, while Redis is down loses its sockets on another instance', { timeout: TEST_TIMEOUT }, async () => {
    const [bob, dan] = [await signup(servers[0].url, 'signedout'), await signup(servers[0].url, 'demoted')]
    const other = users[2]
    const [cb, cd, co] = await Promise.all([bob, dan, other].map(u => Client.connect(servers[1].url, u.token)))
    try {
      const mark = servers[0].logLines.length
      await redis.stop()
      // Stored (stamps rotated), but their DisconnectUser commands never reach Redis.
      await ok(servers[0].url, 'POST', '/api/v1/auths/signout', { token: bob.token })
      await ok(servers[0].url, 'POST', `/api/v1/users/${dan.id}/update/role`, { token: owner.token, body: { role: 'pending' } })
      await publishFailed(mark)
      await redis.start()
      await waitUntil(() => !cb.socket.connected, { timeout: 30000, what: 'the signed-out account\'s socket on another instance to be closed' })
      await waitUntil(() => !cd.socket.connected, { timeout: 30000, what: 'the demoted account\'s socket on another instance to be closed' })
      assert.ok(co.socket.connected, 'another account\'s socket on that instance was closed too')
    } finally {
      cb.close(); cd.close(); co.close()
    }
  })

  test(`an instance killed with SIGKILL mid-edit (seed ${SEED})`, { timeout: TEST_TIMEOUT }, async () => {
    const docID = await noteFor('before the kill')
    const eds = users.map((u, i) => new Editor(u, docID, SEED + 100 + i))
    const victim = servers[2]
    try {
      for (const [i, e] of eds.entries()) await e.connect(servers[i % 3].url)
      await Promise.all(eds.map(e => e.edit(10)))
      await Promise.all(eds.map(e => e.settle()))
      // A cursor of a socket on the victim is shown on instance 0 ...
      const enc = obj => Array.from(new TextEncoder().encode(JSON.stringify(obj)))
      const dec = bytes => JSON.parse(new TextDecoder().decode(new Uint8Array(bytes)))
      const cid = String(eds[2].doc.clientID)
      const watcher = eds[0].client
      const mark = watcher.mark()
      expectOk(await eds[2].client.call('ydoc:awareness:update', { document_id: docID, user_id: eds[2].client.id, update: enc({ [cid]: { user: { name: 'victim' } } }) }))
      await watcher.waitFor('ydoc:awareness:update', d => d?.document_id === docID && dec(d.update)[cid]?.user?.name === 'victim', { since: mark, timeout: 15000 })
      // Kill while every editor is sending.
      const editing = eds.map(e => e.edit(20))
      await sleep(5)
      await victim.kill()
      // ... and removed there once the victim stops beating: no ghost cursor.
      await watcher.waitFor('ydoc:awareness:update', d => d?.document_id === docID && JSON.stringify(dec(d.update)[cid]) === '{}', { since: mark, timeout: 30000 })
      await Promise.all(editing)
      await Promise.all(eds.map(e => e.settle()))
      // Its editors (2 and 5) reconnect elsewhere and keep editing.
      await eds[2].move(servers[0].url)
      await eds[5].move(servers[1].url)
      await Promise.all(eds.map(e => e.edit(10)))
      await Promise.all(eds.map(e => e.settle()))
      try {
        await waitUntil(() => converged(eds), { timeout: 60000, what: 'every editor to converge after the kill' })
      } catch (err) {
        await describeDivergence(eds, servers.slice(0, 2), owner, docID)
        throw err
      }
      for (const s of servers.slice(0, 2)) {
        const doc = await serverDoc(s.url, owner, docID)
        assert.ok(sameBytes(Y.encodeStateVector(doc), eds[0].sv()), `instance ${s.port} serves another state`)
        assertHasAcked(doc, eds)
      }
    } finally {
      eds.forEach(e => e.close())
      if (!victim.proc) await victim.start() // for cleanup's stop
    }
  })

  test(`an instance stopped with SIGTERM mid-edit drains (seed ${SEED})`, { timeout: TEST_TIMEOUT }, async () => {
    const docID = await noteFor('before the drain')
    const eds = users.map((u, i) => new Editor(u, docID, SEED + 200 + i))
    const leaving = servers[1]
    try {
      for (const [i, e] of eds.entries()) await e.connect(servers[i % 3].url)
      await Promise.all(eds.map(e => e.edit(10)))
      await Promise.all(eds.map(e => e.settle()))
      const editing = eds.map(e => e.edit(20))
      await sleep(5)
      const exit = await leaving.stop()
      assert.deepEqual(exit, { code: 0, signal: null }, 'a SIGTERM exits cleanly')
      await Promise.all(editing)
      await Promise.all(eds.map(e => e.settle()))
      await eds[1].move(servers[0].url)
      await eds[4].move(servers[2].url)
      await Promise.all(eds.map(e => e.edit(10)))
      await Promise.all(eds.map(e => e.settle()))
      await waitUntil(() => converged(eds), { timeout: 60000, what: 'every editor to converge after the drain' })
      for (const s of [servers[0], servers[2]]) {
        const doc = await serverDoc(s.url, owner, docID)
        assert.ok(sameBytes(Y.encodeStateVector(doc), eds[0].sv()), `instance ${s.port} serves another state`)
        assertHasAcked(doc, eds)
      }
    } finally {
      eds.forEach(e => e.close())
      if (!leaving.proc) await leaving.start()
    }
  })
})
