// The stock Open WebUI frontend (as in openwebui-browser.test.mjs) shows a
// note created over REST from Markdown holding a GFM table as a table
// (Quire seeds Tiptap's table nodes; it was one paragraph of pipes), and
// a cell typed into in the stock editor comes back in the note's Markdown,
// rendered by the server from the table nodes the editor keeps.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { startServer } from './helpers/server.mjs'
import { CHROMIUM, launch, screenshotPath } from './lib/browser-app.mjs'
import { Person, TARBALL, unpackWebUI } from './lib/openwebui-app.mjs'

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (apt-get install -y chromium)`
  : !existsSync(TARBALL) ? `${TARBALL} is missing (the Open WebUI frontend build; set QUIRE_WEBUI_TARBALL)` : false

// until polls fn until it returns a truthy value; returns it.
async function until (fn, what) {
  const deadline = Date.now() + 60000
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) assert.fail(`${what}: timed out`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

test('stock Open WebUI frontend: a Markdown table is a table', { skip, timeout: 300000 }, async (t) => {
  const webui = unpackWebUI()
  t.after(() => webui.cleanup())
  const server = await startServer({ args: ['--webui-dir', webui.dir] })
  t.after(() => server.cleanup())
  const browser = await launch()
  t.after(() => browser.close())

  const alice = await new Person(browser, server.url, 'Alice').open()
  await alice.signUp({ first: true })
  const token = await alice.token()
  const api = async (path, body) => {
    const r = await fetch(server.url + path, {
      method: body ? 'POST' : 'GET',
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: body && JSON.stringify(body)
    })
    assert.equal(r.status, 200, `${path}: ${r.status}`)
    return r.json()
  }
  const md = 'Prices:\n\n| item | price |\n|:--|--:|\n| **tea** | 2 |\n| a \\| b | `x` |\n'
  const note = await api('/api/v1/notes/create', { title: 'Table', data: { content: { md } } })

  await alice.openFromList('Table')
  const table = alice.editor().locator('table')
  await table.waitFor()
  const cells = () => table.evaluate((el) => [...el.querySelectorAll('tr')].map((tr) =>
    [...tr.children].map((c) => `${c.tagName.toLowerCase()}:${c.textContent}`)))
  assert.deepEqual(await cells(), [
    ['th:item', 'th:price'],
    ['td:tea', 'td:2'],
    ['td:a | b', 'td:x']
  ])
  assert.equal(await table.locator('td strong').textContent(), 'tea')
  await alice.page.screenshot({ path: screenshotPath('openwebui-table.png') })

  // Alice types into the "2" cell; the server renders the document the
  // stock editor changed back into the note's Markdown.
  await table.locator('td').nth(1).click()
  await alice.page.keyboard.press('End')
  await alice.type(' each')
  const got = await until(async () => {
    const n = await api(`/api/v1/notes/${note.id}`)
    const md = n.data?.content?.md ?? ''
    return md.includes('2 each') && md
  }, 'the edit reaches the note')
  assert.equal(got, 'Prices:\n\n| item | price |\n| --- | --- |\n| **tea** | 2 each |\n| a \\| b | `x` |')

  assert.deepEqual(alice.errors, [], 'no uncaught page errors')
  assert.deepEqual(alice.failed, [], 'no API call of the frontend failed')
})
