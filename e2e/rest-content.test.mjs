// The CRDT is the truth (protocol.md §9.3): a REST content update while the
// document is live reaches the connected clients as a CRDT update, and the
// note's data.content is rendered by the server from the CRDT.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, databases, waitUntil, TEST_TIMEOUT } from './helpers/server.mjs'
import { signup, createNote, setGrants, getNote, updateNote } from './helpers/api.mjs'
import { DocClient, Y, normalizePM, plainText, sameBytes } from './helpers/ydoc.mjs'

const NEW_JSON = {
  type: 'doc',
  content: [
    { type: 'heading', attrs: { level: 2 }, content: [{ type: 'text', text: 'Replaced by REST' }] },
    { type: 'paragraph', content: [{ type: 'text', text: 'new ' }, { type: 'text', text: 'body', marks: [{ type: 'italic' }] }] }
  ]
}

// Render timing: debounce ~2 s, at most 10 s (design.md); allow generous slack.
const RENDER_TIMEOUT = 25000

for (const db of databases()) {
  describe(`REST content and rendering (${db})`, () => {
    let server, owner, editor

    before(async () => {
      server = await startServer({ db })
      owner = await signup(server.url, 'owner')
      editor = await signup(server.url, 'editor')
    })
    after(async () => { await server?.cleanup() })

    async function live (md) {
      const note = await createNote(server.url, owner.token, { title: 'live', content: { md } })
      await setGrants(server.url, owner.token, note.id, [{ userId: editor.id, permission: 'write' }])
      const a = await DocClient.open(server.url, owner, `note:${note.id}`)
      const b = await DocClient.open(server.url, editor, `note:${note.id}`)
      await a.join()
      await b.join()
      return { note, a, b }
    }

    test('a REST JSON content update reaches live clients as a CRDT update', { timeout: TEST_TIMEOUT }, async () => {
      const { note, a, b } = await live('old text that goes away')
      try {
        const since = [a.client.mark(), b.client.mark()]
        await updateNote(server.url, owner.token, note.id, { data: { content: { json: NEW_JSON } } })
        for (const [i, c] of [a, b].entries()) {
          await c.client.waitFor('ydoc:document:update', d => d.document_id === c.documentId, { since: since[i] })
          await waitUntil(() => JSON.stringify(normalizePM(c.pmJSON())) === JSON.stringify(normalizePM(NEW_JSON)), {
            what: `client ${i} to show the REST content; has ${JSON.stringify(c.pmJSON())}`
          })
        }
        assert.ok(!plainText(a.fragment).includes('old text'))
        // A fresh joiner and the note itself agree.
        const c = await DocClient.open(server.url, owner, `note:${note.id}`)
        await c.join()
        assert.ok(sameBytes(c.stateVector(), a.stateVector()))
        assert.deepEqual(normalizePM(c.pmJSON()), normalizePM(NEW_JSON))
        c.close()
        const got = await getNote(server.url, owner.token, note.id)
        assert.deepEqual(normalizePM(got.data.content.json), normalizePM(NEW_JSON))
      } finally {
        a.close(); b.close()
      }
    })

    test('a REST Markdown content update reaches live clients, and live edits continue on top', { timeout: TEST_TIMEOUT }, async () => {
      const { note, a, b } = await live('before')
      try {
        await updateNote(server.url, owner.token, note.id, { data: { content: { md: '## From markdown\n\nplain words' } } })
        for (const c of [a, b]) {
          await waitUntil(() => plainText(c.fragment).includes('From markdown') && !plainText(c.fragment).includes('before'),
            { what: 'the Markdown REST content to reach a client' })
        }
        assert.equal(a.fragment.get(0).nodeName, 'heading')
        assert.equal(a.fragment.get(0).getAttribute('level'), 2)
        // Editing after the REST change converges as usual.
        const t = b.fragment.get(1).toArray().find(x => x instanceof Y.XmlText)
        t.insert(t.length, ' and more')
        await b.flush()
        await waitUntil(() => plainText(a.fragment).includes('plain words and more'), { what: 'b\'s edit to reach a' })
      } finally {
        a.close(); b.close()
      }
    })

    // An edit made against the client's current state but not sent yet: it
    // is concurrent with whatever the server does before it arrives.
    function typedOffline (dc, edit) {
      const fork = new Y.Doc()
      Y.applyUpdate(fork, Y.encodeStateAsUpdate(dc.doc))
      const sv = Y.encodeStateVector(fork)
      edit(fork.getXmlFragment('prosemirror'))
      return Y.encodeStateAsUpdate(fork, sv)
    }
    const textOf = (fragment, i) => fragment.get(i).toArray().find(x => x instanceof Y.XmlText)
    const typeAtEnd = (i, s) => f => { const t = textOf(f, i); t.insert(t.length, s) }
    async function deliver (dc, update) {
      Y.applyUpdate(dc.doc, update, 'server') // not re-sent by the binding
      const ack = await dc.send(update)
      assert.equal(ack?.ok, true, JSON.stringify(ack))
    }
    const para = s => ({ type: 'paragraph', content: [{ type: 'text', text: s }] })
    async function converged (clients, want, note) {
      for (const [i, c] of clients.entries()) {
        await waitUntil(() => JSON.stringify(normalizePM(c.pmJSON())) === JSON.stringify(normalizePM(want)), {
          what: `client ${i} to converge; has ${JSON.stringify(c.pmJSON())}`
        })
      }
      const fresh = await DocClient.open(server.url, owner, `note:${note.id}`)
      await fresh.join()
      assert.deepEqual(normalizePM(fresh.pmJSON()), normalizePM(want))
      fresh.close()
    }

    test('a REST edit that appends a paragraph keeps what two editors type into paragraphs 1 and 2, once', { timeout: TEST_TIMEOUT }, async () => {
      const { note, a, b } = await live('first\n\nsecond')
      try {
        const base = a.pmJSON()
        assert.deepEqual(normalizePM(base), { type: 'doc', content: [para('first'), para('second')] })
        const typedA = typedOffline(a, typeAtEnd(0, ' typed by a'))
        const typedB = typedOffline(b, typeAtEnd(1, ' typed by b'))
        await updateNote(server.url, owner.token, note.id, { data: { content: { json: { type: 'doc', content: [...base.content, para('appended')] } } } })
        await deliver(a, typedA)
        await deliver(b, typedB)
        await converged([a, b], { type: 'doc', content: [para('first typed by a'), para('second typed by b'), para('appended')] }, note)
      } finally {
        a.close(); b.close()
      }
    })

    test('a REST edit of one word in a paragraph keeps what is typed at its end, once', { timeout: TEST_TIMEOUT }, async () => {
      const { note, a, b } = await live('the quick brown fox')
      try {
        const typed = typedOffline(b, typeAtEnd(0, ' jumps'))
        await updateNote(server.url, owner.token, note.id, { data: { content: { json: { type: 'doc', content: [para('the slow brown fox')] } } } })
        await deliver(b, typed)
        await converged([a, b], { type: 'doc', content: [para('the slow brown fox jumps')] }, note)
      } finally {
        a.close(); b.close()
      }
    })

    test('a REST edit identical to the live content is no update: nothing relayed, the same state', { timeout: TEST_TIMEOUT }, async () => {
      const { note, a, b } = await live('## Title\n\nsome **bold** and *it*\n\n- one\n  - two\n\n> quoted')
      try {
        const first = await DocClient.open(server.url, owner, `note:${note.id}`)
        const { state: before } = await first.join()
        first.close()
        const seen = a.remoteUpdates
        // Empty attrs, as some editors send them, make the JSON differ from any
        // stored rendering byte for byte, so the edit always reaches the live document.
        const same = a.pmJSON()
        same.content = same.content.map(n => ({ attrs: {}, ...n }))
        await updateNote(server.url, owner.token, note.id, { data: { content: { json: same } } })
        const again = await DocClient.open(server.url, owner, `note:${note.id}`)
        const { state: after } = await again.join()
        again.close()
        assert.ok(sameBytes(new Uint8Array(after.state), new Uint8Array(before.state)), 'the document state changed')
        // The server relays a REST update before it answers, and one socket
        // keeps order: once b's later edit reaches a, a REST relay would have too.
        typeAtEnd(1, '!')(b.fragment)
        await b.flush()
        await waitUntil(() => a.remoteUpdates > seen, { what: 'b\'s edit to reach a' })
        assert.equal(a.remoteUpdates, seen + 1, 'a received an update for the identical REST edit')
      } finally {
        a.close(); b.close()
      }
    })

    // y-crdt wrote text after a bold run bold (and the rest of the
    // paragraph with it) when the edit also deleted the text there
    // (ydoc/ycrdt_format.go): yjs clients must see it plain.
    test('plain text a REST edit writes right after a bold run reaches yjs clients without bold', { timeout: TEST_TIMEOUT }, async () => {
      const { note, a, b } = await live('**bold**old tail')
      const delta = dc => dc.fragment.get(0).toArray().find(x => x instanceof Y.XmlText).toDelta()
      try {
        assert.deepEqual(delta(a), [{ insert: 'bold', attributes: { bold: {} } }, { insert: 'old tail' }])
        const bold = { type: 'text', text: 'bold', marks: [{ type: 'bold' }] }
        const want = { type: 'doc', content: [{ type: 'paragraph', content: [bold, { type: 'text', text: 'new tail' }] }] }
        await updateNote(server.url, owner.token, note.id, { data: { content: { json: want } } })
        await waitUntil(() => plainText(a.fragment).includes('new tail') && plainText(b.fragment).includes('new tail'),
          { what: 'the REST edit to reach both clients' })
        const fresh = await DocClient.open(server.url, owner, `note:${note.id}`)
        await fresh.join()
        for (const dc of [a, b, fresh]) {
          assert.deepEqual(delta(dc), [{ insert: 'bold', attributes: { bold: {} } }, { insert: 'new tail' }])
          assert.deepEqual(normalizePM(dc.pmJSON()), normalizePM(want))
        }
        fresh.close()
      } finally {
        a.close(); b.close()
      }
    })

    test('data.content (md, html, json) is rendered from the CRDT', { timeout: TEST_TIMEOUT }, async () => {
      const { note, a, b } = await live('first line')
      try {
        const p = new Y.XmlElement('paragraph')
        const t = new Y.XmlText()
        t.insert(0, 'typed live ')
        t.insert(11, 'strongly', { bold: {} })
        p.insert(0, [t])
        a.fragment.insert(a.fragment.length, [p])
        await a.flush()
        const got = await waitUntil(async () => {
          const n = await getNote(server.url, owner.token, note.id)
          return n.data?.content?.md?.includes('typed live') && n
        }, { timeout: RENDER_TIMEOUT, what: 'GET /api/v1/notes/{id} to show the typed text' })
        const { md, html, json } = got.data.content
        assert.match(md, /first line/)
        assert.match(md, /typed live (\*\*|__)strongly\1/)
        assert.match(html, /typed live <strong>strongly<\/strong>/)
        assert.deepEqual(normalizePM(json), normalizePM(a.pmJSON()))
        // The other client's view is the same document.
        assert.deepEqual(normalizePM(b.pmJSON()), normalizePM(a.pmJSON()))
      } finally {
        a.close(); b.close()
      }
    })
  })
}
