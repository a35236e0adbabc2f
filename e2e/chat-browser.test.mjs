// The chat view in a real browser (Debian's chromium via playwright-core)
// against the real binary and a local OpenAI-compatible upstream the test
// starts: pick a model, send, see the answer stream in (a part, then the
// whole), stop a long answer, reload and reopen the chat from the list
// with its stored messages.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { startServer } from './helpers/server.mjs'
import { CHROMIUM, Person, launch, screenshotPath } from './lib/browser-app.mjs'
import { startChatUpstream } from './lib/chat-upstream.mjs'
import { ok } from './helpers/api.mjs'

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`

const WAIT = { timeout: 60000 }

function answers (person) {
  return person.page.getByTestId('chat-messages').locator('li.chat-msg.assistant')
}

function questions (person) {
  return person.page.getByTestId('chat-messages').locator('li.chat-msg.user')
}

async function ask (person, text) {
  const box = person.page.getByLabel('Message the model')
  await box.fill(text)
  await box.press('Enter')
}

// waitAnswer waits until answer i is in state (streaming, done, stopped,
// error) and its text passes check; it returns the text.
async function waitAnswer (person, i, state, check = () => true) {
  const el = answers(person).nth(i)
  await el.waitFor(WAIT)
  const deadline = Date.now() + 60000
  for (;;) {
    const [st, text] = await el.evaluate((li) => [li.dataset.state, li.querySelector('[data-testid="content"]').textContent])
    if (st === state && check(text)) return text
    if (Date.now() > deadline) throw new Error(`answer ${i} is "${st}" with ${JSON.stringify(text)}, not ${state}`)
    await el.evaluate((li) => new Promise((resolve) => {
      const mo = new MutationObserver(() => { mo.disconnect(); resolve() })
      mo.observe(li, { attributes: true, childList: true, subtree: true, characterData: true })
      setTimeout(() => { mo.disconnect(); resolve() }, 1000)
    }))
  }
}

// chatServer starts an upstream that holds its answer after "Hello
// there", Quire using it, and a browser in which Alice signed up (the
// first account: admin).
async function chatServer (t) {
  const upstream = await startChatUpstream()
  t.after(() => upstream.close())
  const server = await startServer({ args: ['--openai-base-url', upstream.baseURL] })
  t.after(() => server.cleanup())
  const browser = await launch()
  t.after(() => browser.close())
  const alice = await new Person(browser, server.url, 'Alice').signUp()
  return { upstream, server, alice }
}

// chatMidAnswer has Alice ask in a new chat (chatServer): it returns once
// the answer streams and the page shows the chat's address.
async function chatMidAnswer (t) {
  const { upstream, server, alice } = await chatServer(t)

  await alice.page.goto(server.url + '/#/chat')
  await alice.page.locator('select[aria-label="Model"] option[value="steps"]').waitFor({ state: 'attached', ...WAIT })
  await alice.page.getByLabel('Model', { exact: true }).selectOption('steps')
  await ask(alice, 'Wait for it')
  await waitAnswer(alice, 0, 'streaming', (s) => s === 'Hello there')
  await alice.page.waitForURL(/#\/chat\/[^/]+$/)
  const chatId = decodeURIComponent(alice.page.url().split('#/chat/')[1])
  return { upstream, server, alice, chatId }
}

// holdChatReads lets the page's reads of the chat and of its tasks reach
// the server, then holds their answers until land resolves; bothAnswered
// resolves once the server has answered both.
async function holdChatReads (person, chatId, land) {
  let answered = 0
  let readsAnswered
  const bothAnswered = new Promise((resolve) => { readsAnswered = resolve })
  const reads = new Set([`/api/v1/chats/${chatId}`, `/api/tasks/chat/${chatId}`])
  await person.page.route((url) => reads.has(url.pathname), async (route) => {
    if (route.request().method() !== 'GET') return route.fallback()
    const response = await route.fetch() // the server reads now
    if (++answered === 2) readsAnswered()
    await land
    await route.fulfill({ response })
  })
  return { bothAnswered } // not the promise itself: an async function's caller would wait for it
}

test('chat with a model: pick, send, stream, stop, reload and reopen', { skip, timeout: 240000 }, async (t) => {
  const { upstream, server, alice } = await chatServer(t)

  await alice.page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Chat' }).click()
  await alice.page.waitForURL(/#\/chat$/)
  const picker = alice.page.getByLabel('Model', { exact: true })
  await alice.page.locator('select[aria-label="Model"] option[value="steps"]').waitFor({ state: 'attached', ...WAIT })
  await picker.selectOption('steps')
  await alice.page.waitForFunction(() => window.quire.chat && document.querySelector('[data-testid="chat-list"] li'), null, WAIT)

  // A part of the answer shows while the upstream holds the rest; then
  // the whole. The chat is saved and listed under its first question.
  await ask(alice, 'Say hello')
  await questions(alice).filter({ hasText: 'Say hello' }).waitFor(WAIT)
  const part = await waitAnswer(alice, 0, 'streaming', (s) => s === 'Hello there')
  assert.equal(part, 'Hello there')
  assert.equal(await alice.page.getByRole('button', { name: 'Stop' }).isVisible(), true, 'stop is offered while it streams')
  await alice.page.waitForURL(/#\/chat\/[^/]+$/)
  const chatId = decodeURIComponent(alice.page.url().split('#/chat/')[1])
  upstream.release()
  assert.equal(await waitAnswer(alice, 0, 'done'), 'Hello there — the full answer.')
  await alice.page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden', ...WAIT })
  assert.equal(upstream.requests[0].model, 'steps')
  assert.deepEqual(upstream.requests[0].messages, [{ role: 'user', content: 'Say hello' }])
  await alice.page.locator(`[data-testid="chat-list"] li[data-id="${chatId}"]`, { hasText: 'Say hello' }).waitFor(WAIT)

  // A long answer, stopped: the upstream request goes away, the text so
  // far stays; the conversation so far went upstream.
  await picker.selectOption('endless')
  await ask(alice, 'Count forever')
  await waitAnswer(alice, 1, 'streaming', (s) => /^Counting: 1 2/.test(s))
  const cancelled = upstream.cancelled()
  await alice.page.getByRole('button', { name: 'Stop' }).click()
  await cancelled
  const stopped = await waitAnswer(alice, 1, 'stopped')
  assert.match(stopped, /^Counting: 1( \d+)*$/)
  assert.deepEqual(upstream.requests[1].messages, [
    { role: 'user', content: 'Say hello' },
    { role: 'assistant', content: 'Hello there — the full answer.' },
    { role: 'user', content: 'Count forever' }
  ])
  await alice.page.screenshot({ path: screenshotPath('chat-alice.png') })

  // Reload, open the chat from the list: the stored messages, as shown.
  await alice.page.goto(server.url + '/#/chat')
  await alice.page.reload()
  const row = alice.page.locator(`[data-testid="chat-list"] li[data-id="${chatId}"]`)
  await row.waitFor(WAIT)
  await row.getByRole('link').click()
  await alice.page.waitForURL(/#\/chat\/[^/]+$/)
  await answers(alice).nth(1).waitFor(WAIT)
  assert.deepEqual(await questions(alice).locator('[data-testid="content"]').allTextContents(), ['Say hello', 'Count forever'])
  assert.equal(await waitAnswer(alice, 0, 'done'), 'Hello there — the full answer.')
  assert.equal(await waitAnswer(alice, 1, 'done'), stopped, 'the stopped answer was stored as it was shown')
  assert.equal(await alice.page.getByTestId('chat-title').textContent(), 'Say hello')
  assert.deepEqual(alice.errors, [])
})

// A model mentioned in a channel thread answers there: the reply, shown
// as the model's, streams in (a part while the upstream holds the rest,
// then the whole), and is stored (a reload shows it).
test('a model mentioned in a channel answers in the thread', { skip, timeout: 240000 }, async (t) => {
  const { upstream, server, alice } = await chatServer(t)
  await alice.page.waitForFunction(() => window.quire.channels?.joined, null, WAIT)

  await alice.page.getByRole('link', { name: /^Channels/ }).click()
  await alice.page.getByRole('button', { name: 'New channel' }).click()
  await alice.page.getByLabel('Channel name').fill('general')
  await alice.page.getByRole('button', { name: 'Create channel' }).click()
  await alice.page.getByTestId('channel-title').filter({ hasText: 'general' }).waitFor(WAIT)
  const box = alice.page.getByLabel('Message', { exact: true })
  await box.fill('Question time')
  await box.press('Enter')
  const root = alice.page.getByTestId('messages').locator('li.msg', { hasText: 'Question time' })
  await root.waitFor(WAIT)
  await root.getByRole('button', { name: 'Reply in thread' }).click()
  await alice.page.getByTestId('thread').waitFor(WAIT)
  const reply = alice.page.getByLabel('Reply in thread', { exact: true })
  await reply.fill('@steps say hi')
  await reply.press('Enter')

  const answer = alice.page.getByTestId('thread-messages').locator('li.msg[data-author="Steps"]')
  await answer.locator('.content', { hasText: /^Hello there$/ }).waitFor(WAIT)
  assert.equal(upstream.waiting, 1, 'the upstream holds the rest')
  upstream.release()
  await answer.locator('.content', { hasText: /^Hello there — the full answer\.$/ }).waitFor(WAIT)
  assert.equal(upstream.requests[0].model, 'steps')
  assert.deepEqual(upstream.requests[0].messages, [
    { role: 'user', content: 'Alice: Question time' },
    { role: 'user', content: 'Alice: @steps say hi' }
  ])

  await alice.page.reload()
  await alice.page.getByTestId('messages').locator('li.msg', { hasText: 'Question time' })
    .getByRole('button', { name: '2 replies' }).click()
  await alice.page.getByTestId('thread-messages').locator('li.msg[data-author="Steps"] .content', { hasText: /^Hello there — the full answer\.$/ }).waitFor(WAIT)
  assert.deepEqual(alice.errors, [])
})

// A chat reloaded while its answer streams: the page finds the task
// running (Stop is offered) and shows the stored answer once it ends.
test('a chat reopened mid-answer shows the answer when it ends', { skip, timeout: 240000 }, async (t) => {
  const { upstream, alice } = await chatMidAnswer(t)

  await alice.page.reload()
  await questions(alice).filter({ hasText: 'Wait for it' }).waitFor(WAIT)
  await alice.page.getByRole('button', { name: 'Stop' }).waitFor(WAIT)
  await waitAnswer(alice, 0, 'streaming')
  upstream.release()
  assert.equal(await waitAnswer(alice, 0, 'done'), 'Hello there — the full answer.')
  await alice.page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden', ...WAIT })
  assert.deepEqual(alice.errors, [])
})

// The page reads a chat (its stored messages and its running tasks) while
// the socket is already connected: an answer whose last events arrive
// while those reads are on their way must still show as ended. The page
// took the events for a chat it had not loaded yet and dropped them, then
// showed what it read (unfinished, a task running) for good. The reads are
// held, once the server has answered them, until the page saw the end.
test('a chat whose answer ends while the page reads it shows the end', { skip, timeout: 240000 }, async (t) => {
  const { upstream, alice, chatId } = await chatMidAnswer(t)

  let seeEnd
  const endSeen = new Promise((resolve) => { seeEnd = resolve })
  const { bothAnswered } = await holdChatReads(alice, chatId, endSeen)
  await alice.page.reload()
  await bothAnswered
  await alice.page.waitForFunction(() => window.quire.channels?.socket?.connected, null, WAIT)
  await alice.page.evaluate(() => {
    window.answerEnded = false
    window.quire.channels.socket.on('events', (e) => {
      if (e?.data?.type === 'chat:active' && e.data.data?.active === false) window.answerEnded = true
    })
  })
  upstream.release()
  await alice.page.waitForFunction(() => window.answerEnded, null, WAIT)
  seeEnd()
  assert.equal(await waitAnswer(alice, 0, 'done'), 'Hello there — the full answer.')
  await alice.page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden', ...WAIT })
  assert.deepEqual(alice.errors, [])
})

// The page reads a chat before its socket has connected, and the answer
// ends before the socket is in the account's room: its last events reach
// nobody, and the page's "connect" came while the reads were on their way
// (nothing on screen to read again yet). The page showed what it read,
// unfinished with a task running, for good. The socket is held until the
// end is stored, the reads (answered before the end) until it connected.
test('a chat whose answer ends before the socket connects shows the end', { skip, timeout: 240000 }, async (t) => {
  const { upstream, server, alice, chatId } = await chatMidAnswer(t)
  const token = await alice.page.evaluate(() => localStorage.token)

  let connectSocket
  const socketMayConnect = new Promise((resolve) => { connectSocket = resolve })
  await alice.page.routeWebSocket((url) => url.pathname.startsWith('/ws/socket.io'), async (ws) => {
    await socketMayConnect
    ws.connectToServer()
  })
  let releaseReads
  const readsMayLand = new Promise((resolve) => { releaseReads = resolve })
  const { bothAnswered } = await holdChatReads(alice, chatId, readsMayLand)
  await alice.page.reload()
  await bothAnswered
  upstream.release()
  // The end is stored (and told to nobody): no task is listed any more.
  const deadline = Date.now() + 60000
  for (;;) {
    if ((await ok(server.url, 'GET', `/api/tasks/chat/${encodeURIComponent(chatId)}`, { token })).task_ids?.length === 0) break
    if (Date.now() > deadline) throw new Error('the answer did not end')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  connectSocket()
  await alice.page.waitForFunction(() => window.quire.channels?.socket?.connected, null, WAIT)
  releaseReads()
  assert.equal(await waitAnswer(alice, 0, 'done'), 'Hello there — the full answer.')
  await alice.page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden', ...WAIT })
  assert.deepEqual(alice.errors, [])
})
