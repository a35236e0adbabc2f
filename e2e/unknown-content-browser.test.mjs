// Content Quire's editor schema does not know (a node type, a mark, an
// attribute: REST content.json keeps them, a newer Open WebUI may write
// them) must survive being opened in Quire's editor: y-prosemirror would
// delete it from the shared document for everyone (ui/src/schemaguard.js).
// The note opens read-only instead, with a notice, and the page sends no
// update. Real chromium against the real binary, plus a Node yjs client.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { yXmlFragmentToProsemirrorJSON } from 'y-prosemirror'
import { startServer } from './helpers/server.mjs'
import { serverDoc } from './helpers/editor.mjs'
import { Y, joinedClient, normalizePM } from './helpers/ydoc.mjs'
import { CHROMIUM, Person, launch, screenshotPath } from './lib/browser-app.mjs'

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`

async function setup (t) {
  const server = await startServer()
  t.after(() => server.cleanup())
  const browser = await launch()
  t.after(() => browser.close())
  const alice = await new Person(browser, server.url, 'Alice').signUp()
  // The same account over a Node socket: the second client.
  const user = { id: alice.id, name: 'Alice', token: await alice.page.evaluate(() => localStorage.token) }
  return { server, alice, user }
}

const paragraph = (text) => ({ type: 'paragraph', content: [{ type: 'text', text }] })

// appendParagraph adds a paragraph from the Node client and waits for its
// ack: the round trip after which the page is checked.
async function appendParagraph (dc, text) {
  dc.doc.transact(() => {
    const p = new Y.XmlElement('paragraph')
    dc.fragment.push([p])
    p.insert(0, [new Y.XmlText(text)])
  })
  await dc.flush()
}

// settled waits until the page shows text and has nothing unsent or
// unacknowledged: whatever the page wrote after receiving it (y-prosemirror
// deleting what its schema lacks) has reached the server by then.
async function settled (person, text) {
  await person.page.waitForFunction((t) => document.querySelector('[data-testid="editor"]')?.textContent.includes(t), text)
  await person.waitState('save', 'saved')
}

// stored returns the note as the server has it: the REST JSON (once its
// Markdown shows marker) and a fresh reader's copy of the live document.
async function stored (server, person, user, noteId, marker) {
  let content
  for (const deadline = Date.now() + 30000; ;) {
    content = (await person.api('GET', `/api/v1/notes/${noteId}`)).data.content
    if (content.md.includes(marker) || Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.ok(content.md.includes(marker), `the REST note never showed "${marker}": ${content.md}`)
  const doc = await serverDoc(server.url, user, 'note:' + noteId)
  return { json: content.json, live: normalizePM(yXmlFragmentToProsemirrorJSON(doc.getXmlFragment('prosemirror'))) }
}

async function assertReadOnly (person, unknown) {
  const notice = person.page.getByTestId('unknown-content')
  await notice.waitFor()
  const text = await notice.textContent()
  assert.match(text, /cannot show/)
  assert.match(text, /it is open read-only so nothing is lost/)
  for (const u of unknown) assert.ok(text.includes(u), `the notice names ${u}: ${text}`)
  assert.equal(await person.page.locator('[contenteditable="true"]').count(), 0, 'nothing is editable')
  assert.equal(await person.page.locator('.ProseMirror').count(), 0, 'no editor is bound')
  assert.ok(await person.page.locator('.toolbar').isHidden(), 'no toolbar')
  assert.equal(await person.page.evaluate(() => window.quire.view), null)
}

test('a note with a node, mark and attribute the editor lacks opens read-only, and keeps them', { skip, timeout: 120000 }, async (t) => {
  const { server, alice, user } = await setup(t)
  const json = {
    type: 'doc',
    content: [
      { type: 'paragraph', content: [
        { type: 'text', text: 'before ' },
        { type: 'text', marks: [{ type: 'sparkle', attrs: { level: 3 } }], text: 'shiny' },
        { type: 'text', text: ' after' }
      ] },
      { type: 'fancyBox', attrs: { tone: 'warm' }, content: [{ type: 'text', text: 'inside the box' }] },
      { type: 'paragraph', attrs: { textAlign: 'center' }, content: [{ type: 'text', text: 'centred' }] }
    ]
  }
  const note = await alice.api('POST', '/api/v1/notes/create', { title: 'Unknown', data: { content: { json, md: 'ignored' } } })
  await alice.page.goto(`${server.url}/#/notes/${encodeURIComponent(note.id)}`)
  const dc = await joinedClient(server.url, 'note:' + note.id, user)
  t.after(() => dc.close())

  await appendParagraph(dc, 'marker one')
  await settled(alice, 'marker one')
  let want = [...json.content, paragraph('marker one')]
  let got = await stored(server, alice, user, note.id, 'marker one')
  assert.deepEqual(got.json.content, want, 'the REST note still holds everything')
  assert.deepEqual(got.live.content, normalizePM(want), 'the live document still holds everything')

  await assertReadOnly(alice, ['fancyBox', 'sparkle (mark)', 'textAlign (paragraph attribute)'])
  const shown = await alice.page.evaluate(() => {
    const root = document.querySelector('[data-testid="readonly-content"]')
    return {
      text: [...root.children].map((c) => c.textContent),
      box: root.querySelector('.unknown[data-type="fancyBox"]')?.textContent,
      mark: root.querySelector('.unknown-mark[data-type="sparkle"]')?.textContent
    }
  })
  assert.deepEqual(shown, { text: ['before shiny after', 'inside the box', 'centred', 'marker one'], box: 'inside the box', mark: 'shiny' })
  await alice.page.screenshot({ path: screenshotPath('unknown-content.png') })

  // Typing into it changes nothing; the page never sent an update.
  await alice.page.getByTestId('readonly-content').click()
  await alice.page.keyboard.type('zzz')
  await appendParagraph(dc, 'marker two')
  await settled(alice, 'marker two')
  want = [...want, paragraph('marker two')]
  got = await stored(server, alice, user, note.id, 'marker two')
  assert.deepEqual(got.json.content, want)
  assert.deepEqual(got.live.content, normalizePM(want))
  assert.equal(alice.updatesSent, 0, 'the page sent no update')
  assert.deepEqual(alice.errors, [])
})

test('unknown content arriving while editing turns the editor read-only before it can delete it', { skip, timeout: 120000 }, async (t) => {
  const { server, alice, user } = await setup(t)
  const note = await alice.api('POST', '/api/v1/notes/create', { title: 'Known', data: { content: { md: 'known only' } } })
  await alice.open(note.id)
  await alice.caretAtEnd(0)
  await alice.type(' typed')
  await alice.waitState('save', 'saved')
  assert.equal(await alice.page.locator('.ProseMirror').getAttribute('contenteditable'), 'true')
  const sent = alice.updatesSent
  assert.ok(sent > 0, 'the typing was sent')

  const dc = await joinedClient(server.url, 'note:' + note.id, user)
  t.after(() => dc.close())
  // One update: an element and a mark the editor lacks, and a marker.
  dc.doc.transact(() => {
    const box = new Y.XmlElement('fancyBox')
    const p = new Y.XmlElement('paragraph')
    dc.fragment.push([box, p])
    box.insert(0, [new Y.XmlText()])
    box.get(0).insert(0, 'remote box', { glow: {} })
    p.insert(0, [new Y.XmlText('marker')])
  })
  await dc.flush()
  await settled(alice, 'marker')
  const want = [
    paragraph('known only typed'),
    { type: 'fancyBox', content: [{ type: 'text', marks: [{ type: 'glow' }], text: 'remote box' }] },
    paragraph('marker')
  ]
  let got = await stored(server, alice, user, note.id, 'marker')
  assert.deepEqual(got.live.content, normalizePM(want), 'the live document still holds the element')
  assert.deepEqual(got.json.content, want)
  await assertReadOnly(alice, ['fancyBox', 'glow (mark)'])

  // Later changes still show, read-only; the page sent nothing since.
  await appendParagraph(dc, 'still live')
  await settled(alice, 'still live')
  got = await stored(server, alice, user, note.id, 'still live')
  assert.deepEqual(got.live.content, normalizePM([...want, paragraph('still live')]))
  assert.equal(alice.updatesSent, sent, 'the page sent no update once the content arrived')
  assert.deepEqual(alice.errors, [])
})
