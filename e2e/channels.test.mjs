// Channels end to end against the built binary (protocol.md §5.1, §9.7):
// every events:channel type reaches the members' sockets, unread counts
// survive a reconnect, and a private channel's events never reach a
// non-member's socket, even one that tries join-channels or typing.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, ok, request } from './helpers/api.mjs'
import { Client, expectOk } from './helpers/socket.mjs'

const C = '/api/v1/channels/'

for (const db of databases()) {
  describe(`channels (${db})`, () => {
    let server, admin, alice, bob, eve
    const socks = []
    const open = async (u) => {
      const c = await Client.connect(server.url, u.token)
      socks.push(c)
      return c
    }

    before(async () => {
      server = await startServer({ db })
      admin = await signup(server.url, 'admin')
      alice = await signup(server.url, 'alice')
      bob = await signup(server.url, 'bob')
      eve = await signup(server.url, 'eve')
    })
    after(async () => {
      for (const s of socks) s.close()
      await server?.cleanup()
    })

    test('every event type, unread counts across a reconnect, private isolation', { timeout: TEST_TIMEOUT }, async () => {
      const [a, b, e] = await Promise.all([alice, bob, eve].map(open))
      const typeOf = (t) => (d) => d?.data?.type === t
      // Acked events: every socket is authenticated (in its user:<id> room).
      for (const [c, u] of [[a, alice], [b, bob], [e, eve]]) expectOk(await c.call('join-channels', { auth: { token: u.token } }))

      // A new group puts its members' live sockets in its room at once.
      const ch = await ok(server.url, 'POST', C + 'create', { token: alice.token, body: { name: 'pals', type: 'group', user_ids: [bob.id] } })
      await b.waitFor('events:channel', typeOf('channel:created'))
      await a.waitFor('events:channel', typeOf('channel:created'))
      expectOk(await e.call('join-channels', { auth: { token: eve.token } })) // still not a member

      // Stored before delivered: as soon as the event arrives (before the
      // POST has even answered), the message is there to read.
      const posted = ok(server.url, 'POST', C + ch.id + '/messages/post', { token: alice.token, body: { content: 'hi', temp_id: 'tmp-1' } })
      const got = await b.waitFor('events:channel', typeOf('message'))
      const listed = await ok(server.url, 'GET', C + ch.id + '/messages', { token: bob.token })
      assert.deepEqual(listed.map((x) => x.id), [got.message_id])
      const m = await posted
      assert.equal(got.channel_id, ch.id)
      assert.equal(got.message_id, m.id)
      assert.equal(got.user.id, alice.id)
      assert.equal(got.channel.id, ch.id)
      assert.equal(got.data.data.content, 'hi')
      assert.equal(got.data.data.temp_id, 'tmp-1')
      await a.waitFor('events:channel', typeOf('message')) // the sender's tabs too

      const reply = await ok(server.url, 'POST', C + ch.id + '/messages/post', { token: bob.token, body: { content: 'yo', parent_id: m.id } })
      const r = await a.waitFor('events:channel', typeOf('message:reply'))
      assert.equal(r.message_id, m.id)
      assert.equal(r.data.data.reply_count, 1)
      assert.equal((await a.waitFor('events:channel', (d) => typeOf('message')(d) && d.message_id === reply.id)).data.data.parent_id, m.id)

      await ok(server.url, 'POST', `${C}${ch.id}/messages/${m.id}/update`, { token: alice.token, body: { content: 'hi!' } })
      assert.equal((await b.waitFor('events:channel', typeOf('message:update'))).data.data.content, 'hi!')
      await ok(server.url, 'POST', `${C}${ch.id}/messages/${m.id}/reactions/add`, { token: bob.token, body: { name: 'wave' } })
      const ra = await a.waitFor('events:channel', typeOf('message:reaction:add'))
      assert.equal(ra.data.data.name, 'wave')
      assert.deepEqual(ra.data.data.reactions, [{ name: 'wave', user_ids: [bob.id], count: 1 }])
      await ok(server.url, 'POST', `${C}${ch.id}/messages/${m.id}/reactions/remove`, { token: bob.token, body: { name: 'wave' } })
      assert.deepEqual((await a.waitFor('events:channel', typeOf('message:reaction:remove'))).data.data.reactions, [])
      await ok(server.url, 'POST', `${C}${ch.id}/messages/${m.id}/pin`, { token: bob.token, body: { is_pinned: true } })
      assert.equal((await a.waitFor('events:channel', (d) => typeOf('message:update')(d) && d.data.data.is_pinned)).data.data.pinned_by, bob.id)

      expectOk(await b.call('events:channel', { channel_id: ch.id, message_id: null, data: { type: 'typing', data: { typing: true } } }))
      const ty = await a.waitFor('events:channel', typeOf('typing'))
      assert.deepEqual([ty.channel_id, ty.user.id, ty.data.data.typing], [ch.id, bob.id, true])
      assert.equal(b.received('events:channel', typeOf('typing')).length, 0, 'the typer does not hear itself')
      const refused = await e.call('events:channel', { channel_id: ch.id, message_id: null, data: { type: 'typing', data: { typing: true } } })
      assert.equal(refused.ok, false)

      await request(server.url, 'DELETE', `${C}${ch.id}/messages/${reply.id}/delete`, { token: bob.token })
      const del = await a.waitFor('events:channel', typeOf('message:delete'))
      assert.equal(del.data.data.id, reply.id)
      assert.equal(del.data.data.user.id, bob.id)
      await a.waitFor('events:channel', (d) => typeOf('message:reply')(d) && d.data.data.reply_count === 0)

      // Unread: bob reads, alice posts twice, bob's socket goes away; a new
      // socket and the list both see 2 unread, then reading clears them.
      const unread = async (u) => (await ok(server.url, 'GET', C, { token: u.token })).find((c) => c.id === ch.id).unread_count
      assert.equal(await unread(bob), 1)
      expectOk(await b.call('events:channel', { channel_id: ch.id, message_id: null, data: { type: 'last_read_at' } }))
      assert.equal(await unread(bob), 0)
      b.close()
      for (const t of ['one', 'two']) await ok(server.url, 'POST', C + ch.id + '/messages/post', { token: alice.token, body: { content: t } })
      assert.equal(await unread(bob), 2)
      const b2 = await open(bob)
      expectOk(await b2.call('join-channels', { auth: { token: bob.token } }))
      assert.equal(await unread(bob), 2, 'a reconnect does not mark anything read')
      await ok(server.url, 'POST', C + ch.id + '/messages/post', { token: alice.token, body: { content: 'three' } })
      await b2.waitFor('events:channel', (d) => typeOf('message')(d) && d.data.data.content === 'three')
      expectOk(await b2.call('events:channel', { channel_id: ch.id, message_id: null, data: { type: 'last_read_at' } }))
      assert.equal(await unread(bob), 0)
      assert.equal(await unread(alice), 0, "alice's own messages are not unread to her")

      // The non-member heard nothing, and REST refuses it too.
      expectOk(await e.call('heartbeat', {}))
      assert.deepEqual(e.received('events:channel'), [])
      assert.equal((await request(server.url, 'GET', C + ch.id + '/messages', { token: eve.token })).status, 403)
      assert.equal((await request(server.url, 'GET', C + ch.id + '/messages', { token: admin.token })).status, 403)
    })
  })
}
