// The stock Open WebUI frontend (v0.11.0, built from its sources; test data
// in ../shared/openwebui-frontend, never committed) served by Quire with
// --webui-dir, in Debian's chromium: two people sign up, one creates a note
// from the Notes page and shares it for writing through the Access dialog,
// both type at once into different paragraphs and see the same text and
// each other's cursor, the second reloads and sees everything (again after
// a long paste, the state then coming as a binary attachment), and the
// first signs out from the user menu. No uncaught page errors, no failed
// API call, and the stock client's echoes of remote updates are neither
// stored nor refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { startServer } from './helpers/server.mjs'
import { CHROMIUM, launch, screenshotPath } from './lib/browser-app.mjs'
import { Person, TARBALL, unpackWebUI } from './lib/openwebui-app.mjs'

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (apt-get install -y chromium)`
  : !existsSync(TARBALL) ? `${TARBALL} is missing (the Open WebUI frontend build; set QUIRE_WEBUI_TARBALL)` : false

// converge waits until both editors hold the same blocks and check(blocks)
// holds on them; returns the blocks.
async function converge (people, check, what) {
  const deadline = Date.now() + 60000
  let seen = []
  for (;;) {
    seen = await Promise.all(people.map((p) => p.blocks()))
    const same = seen.every((b) => JSON.stringify(b) === JSON.stringify(seen[0]))
    if (same && check(seen[0])) return seen[0]
    if (Date.now() > deadline) assert.fail(`${what}: editors did not converge:\n${seen.map((b) => JSON.stringify(b)).join('\n')}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('stock Open WebUI frontend: two people write one note live', { skip, timeout: 300000 }, async (t) => {
  const webui = unpackWebUI()
  t.after(() => webui.cleanup())
  const server = await startServer({ args: ['--webui-dir', webui.dir] })
  t.after(() => server.cleanup())
  const browser = await launch()
  t.after(() => browser.close())

  const alice = await new Person(browser, server.url, 'Alice').open()
  const bob = await new Person(browser, server.url, 'Bob').open()
  await alice.signUp({ first: true })
  assert.equal(alice.role, 'admin')
  await bob.signUp({ first: false })
  assert.equal(bob.role, 'user')

  // Alice goes to Notes through the sidebar, creates and fills a note.
  await alice.openNotesFromSidebar()
  const id = await alice.createNote('Plans')
  await alice.caretAtEnd(0)
  await alice.type('First paragraph.')
  await alice.page.keyboard.press('Enter')
  await alice.type('Second paragraph.')
  await alice.shareForWriting(id, bob)

  // Bob finds it in his Notes list (shared with him) and opens it.
  await bob.openFromList('Plans')
  assert.equal(bob.page.url(), `${server.url}/notes/${id}`)
  await converge([alice, bob], (b) => b[0] === 'First paragraph.' && b[1] === 'Second paragraph.', 'Bob opens the note')

  // Both type at once, Alice into the first paragraph, Bob into the second.
  await alice.caretAtEnd(0)
  await bob.caretAtEnd(1)
  await Promise.all([alice.type(' Alice was here.'), bob.type(' Bob was here.')])
  const want = ['First paragraph. Alice was here.', 'Second paragraph. Bob was here.']
  let blocks = await converge([alice, bob], (b) => b[0] === want[0] && b[1] === want[1], 'typing at once')
  assert.deepEqual(blocks.slice(0, 2), want)

  // Each sees the other's cursor, labelled with the name.
  await alice.remoteCursor(bob).waitFor()
  await bob.remoteCursor(alice).waitFor()
  await alice.page.screenshot({ path: screenshotPath('openwebui-two-users-alice.png') })
  await bob.page.screenshot({ path: screenshotPath('openwebui-two-users-bob.png') })

  // Bob reloads: everything is there, and he is still live with Alice.
  await bob.page.reload()
  await bob.waitEditor()
  blocks = await converge([alice, bob], (b) => b[0] === want[0] && b[1] === want[1], 'after Bob reloads')
  await bob.caretAtEnd(0)
  await bob.type(' Back.')
  await converge([alice, bob], (b) => b[0] === want[0] + ' Back.', 'live after the reload')
  await bob.page.screenshot({ path: screenshotPath('openwebui-bob-after-reload.png') })

  // A long paste makes the state larger than 1 KiB: Bob's next reload gets
  // it as a binary attachment (protocol.md §9.3), which the stock client
  // reads as well, and he edits on.
  const long = Array.from({ length: 120 }, (_, i) => `Pasted sentence ${i}.`).join(' ')
  await alice.caretAtEnd(1)
  await alice.page.keyboard.press('Control+End')
  await alice.page.keyboard.press('Enter')
  await alice.page.keyboard.insertText(long)
  // Where the caret was: End and Control+End do not always reach the end of
  // the note in the stock editor, so the paste is looked for in any block.
  const pasted = (b) => b.findIndex((x) => x.includes(long))
  await converge([alice, bob], (b) => pasted(b) >= 0, 'a long paste')
  const binaryBefore = bob.binaryReceived
  await bob.page.reload()
  await bob.waitEditor()
  await converge([alice, bob], (b) => b.some((x) => x.includes(' Back.')) && pasted(b) >= 0, 'after a reload with a binary state')
  assert.ok(bob.binaryReceived > binaryBefore, 'the state came as a binary attachment')
  // (The long paragraph wraps: End goes to the end of the clicked line.)
  await bob.caretAtEnd(pasted(await bob.blocks()))
  await bob.type(' Bob read it.')
  await converge([alice, bob], (b) => b.some((x) => x.includes(' Bob read it.') && x.replace(' Bob read it.', '').includes(long)), 'live after a binary state')

  // Alice signs out from the user menu: the cookie is cleared and her
  // token no longer works; Bob's session is untouched.
  const aliceToken = await alice.token()
  await alice.signOutFromUserMenu()
  const cookies = await alice.context.cookies()
  assert.ok(!cookies.some((c) => c.name === 'token' && c.value !== ''), `token cookie cleared: ${JSON.stringify(cookies)}`)
  const me = (token) => fetch(server.url + '/api/v1/auths/', { headers: { Authorization: 'Bearer ' + token } }).then((r) => r.status)
  assert.equal(await me(aliceToken), 401, "Alice's token is revoked")
  assert.equal(await me(await bob.token()), 200, "Bob's session stays")
  await alice.page.screenshot({ path: screenshotPath('openwebui-signed-out.png') })

  // The stock client sends every remote update back once (it applies them
  // without the 'server' origin): those echoes are acknowledged, neither
  // stored nor refused; nothing waits for missing dependencies.
  const metrics = await (await fetch(server.url + '/metrics')).text()
  const metric = (re) => [...metrics.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0)
  const applied = metric(/^quire_ydoc_updates_applied_total (\S+)$/gm)
  const sent = alice.updatesSent + bob.updatesSent
  t.diagnostic(`updates sent by the pages ${sent}, applied (stored) ${applied}`)
  assert.ok(applied > 0 && applied < sent, `echoes are not applied again: ${applied} applied of ${sent} sent`)
  assert.equal(metric(/^quire_ydoc_updates_refused_total\{[^}]*\} (\S+)$/gm), 0, 'no update refused')
  assert.equal(metric(/^quire_ydoc_held_updates (\S+)$/gm), 0, 'no update held')

  assert.deepEqual([...alice.errors, ...bob.errors], [], 'no uncaught page errors')
  assert.deepEqual([...alice.failed, ...bob.failed], [], 'no API call of the frontend failed')
})
