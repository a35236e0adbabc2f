// Chat in the stock Open WebUI frontend (v0.11.0; test data in
// ../shared/openwebui-frontend, never committed) served by Quire with
// --webui-dir, against a local OpenAI-compatible upstream this test starts
// (lib/openai-upstream.mjs), in Debian's chromium: a signed-in person
// picks a model in the stock selector and sends a message; the answer
// streams in (the page shows part of it while the upstream holds the
// rest); the chat gets its title and a place in the sidebar; after a
// reload the chat is there with its answer, and a follow-up question
// reaches the model with the whole conversation, read by Quire from the
// stored chat (the 0.11 frontend sends only the new question); the
// sidebar's search finds the chat. No uncaught page errors, no failed API
// call.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { startServer } from './helpers/server.mjs'
import { CHROMIUM, launch, screenshotPath } from './lib/browser-app.mjs'
import { Person, TARBALL, unpackWebUI } from './lib/openwebui-app.mjs'
import { startUpstream } from './lib/openai-upstream.mjs'

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (apt-get install -y chromium)`
  : !existsSync(TARBALL) ? `${TARBALL} is missing (the Open WebUI frontend build; set QUIRE_WEBUI_TARBALL)` : false

// until polls check (a function of the page's state, async) until it
// returns something truthy; generous, for a shared machine.
async function until (check, what, ms = 60000) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('stock Open WebUI frontend: a chat streams its answer and is kept', { skip, timeout: 300000 }, async (t) => {
  const upstream = await startUpstream({ models: ['alpha-model', 'beta-model'] })
  t.after(() => upstream.close())
  const webui = unpackWebUI()
  t.after(() => webui.cleanup())
  const server = await startServer({ args: ['--webui-dir', webui.dir, '--openai-base-url', upstream.baseURL] })
  t.after(() => server.cleanup())
  const browser = await launch()
  t.after(() => browser.close())

  // The first answer stops twice: until the page has the new chat's id
  // (events before that are not the page's yet, it reads them back from
  // the stored chat at the end), and halfway, until the page has shown
  // part of it.
  upstream.answer('Quire ', 'keeps ', { gate: 'chat-known' }, 'notes ', 'in ', { gate: 'partial-seen' }, 'sync.')
  upstream.answer('Yes, ', 'offline ', 'too.')

  const ada = await new Person(browser, server.url, 'Ada').open()
  await ada.signUp({ first: true })
  await ada.page.getByRole('button', { name: 'Open Sidebar', exact: true }).click()
  await ada.pickModel('beta-model')

  const question = 'What does Quire do?'
  await ada.send(question)
  const first = await upstream.request(1)
  assert.equal(first.model, 'beta-model', 'the model picked in the selector')
  assert.deepEqual(first.messages, [{ role: 'user', content: question }])
  await ada.page.waitForURL(/\/c\/[0-9a-f-]{36}$/) // the chat Quire made for it
  const chatId = ada.page.url().split('/c/')[1]
  upstream.open('chat-known')

  // Streaming: part of the answer is on the page while the rest is held.
  const answer = ada.messages().nth(1)
  await until(async () => (await answer.textContent()).includes('notes in'), 'part of the answer on the page')
  const partial = await answer.textContent()
  assert.ok(!partial.includes('sync.'), `only part of the answer yet: ${partial}`)
  await ada.page.screenshot({ path: screenshotPath('openwebui-chat-streaming.png') })
  upstream.open('partial-seen')
  await answer.getByText('Quire keeps notes in sync.').waitFor()

  // Titled after the question: in the sidebar, and in the page's header
  // once the answer has ended (chat:title).
  await ada.sidebarChat(question).waitFor()
  await ada.page.getByRole('main').getByRole('navigation').getByText(question, { exact: true }).waitFor()

  // A reload: the chat is in the sidebar and holds the answer.
  await ada.page.reload()
  await ada.sidebarChat(question).waitFor()
  await ada.messages().nth(1).getByText('Quire keeps notes in sync.').waitFor()
  assert.equal(await ada.messages().count(), 2)
  assert.match(await ada.messages().nth(0).textContent(), /What does Quire do\?/)
  await ada.page.screenshot({ path: screenshotPath('openwebui-chat-after-reload.png') })

  // The follow-up: the frontend sends only the new question; the model
  // gets the whole conversation.
  await ada.send('And offline?')
  const second = await upstream.request(2)
  assert.deepEqual(second.messages, [
    { role: 'user', content: question },
    { role: 'assistant', content: 'Quire keeps notes in sync.' },
    { role: 'user', content: 'And offline?' }
  ])
  assert.equal(second.model, 'beta-model')
  await ada.messages().nth(3).getByText('Yes, offline too.').waitFor()

  // What Quire stored: both turns, finished, in the conversation's order.
  const res = await fetch(`${server.url}/api/v1/chats/${chatId}`, { headers: { Authorization: 'Bearer ' + await ada.token() } })
  assert.equal(res.status, 200)
  const stored = await res.json()
  assert.equal(stored.title, question)
  const path = stored.chat.messages.map((m) => [m.role, m.content, m.done ?? null])
  assert.deepEqual(path, [
    ['user', question, null],
    ['assistant', 'Quire keeps notes in sync.', true],
    ['user', 'And offline?', null],
    ['assistant', 'Yes, offline too.', true]
  ])
  assert.equal(upstream.requests.length, 2, 'one upstream request per question')

  // The sidebar's search finds it by its title.
  await ada.page.getByRole('navigation', { name: 'Chat history' }).getByRole('button', { name: 'Search', exact: true }).click()
  // The dialog's focus trap focuses its search box on a timer after it
  // opens; keys typed before then are lost and the search is for the rest
  // of the word (1 run in ~15 on a loaded machine). Type once it has focus.
  const box = await ada.page.getByRole('dialog').getByPlaceholder('Search', { exact: true }).elementHandle()
  await ada.page.waitForFunction((el) => document.activeElement === el, box)
  const searched = ada.page.waitForResponse((r) => r.url().includes('/api/v1/chats/search?text=quire') && r.ok())
  await ada.page.keyboard.type('quire')
  await searched
  await ada.page.getByRole('dialog').getByText(question, { exact: true }).waitFor()
  await ada.page.keyboard.press('Escape')

  assert.deepEqual(ada.errors, [], 'no uncaught page errors')
  assert.deepEqual(ada.failed, [], 'no API call of the frontend failed')
})
