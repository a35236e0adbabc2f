// The channels view in a real browser (Debian's chromium via playwright-core)
// against the real binary, with two people in two browser contexts: a new
// channel and a member added, live messages, a thread, a reaction, the
// typing indicator, unread counts kept while the notes are on screen and
// cleared (on the server too) by opening the channel, and a DM.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { startServer } from './helpers/server.mjs'
import { CHROMIUM, Person, launch, screenshotPath } from './lib/browser-app.mjs'

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`

// The channel routes are new (issue 9): a binary without them answers 404.
async function channelsMissing (server) {
  const res = await fetch(server.url + '/api/v1/channels/')
  return res.status === 404
}

// totalUnread is the number on the Channels tab, or 0 when it is hidden.
async function totalUnread (person) {
  return person.page.evaluate(() => {
    const el = document.querySelector('[data-testid="unread-total"]')
    return !el || el.hidden ? 0 : Number(el.textContent)
  })
}

async function waitTotalUnread (person, n) {
  await person.page.waitForFunction((want) => {
    const el = document.querySelector('[data-testid="unread-total"]')
    return el && (want === 0 ? el.hidden : !el.hidden && el.textContent === String(want))
  }, n)
}

// joined waits until the page's socket has entered its channel rooms.
async function joined (person) {
  await person.page.waitForFunction(() => window.quire.channels?.joined)
}

// readsSettled waits until every last_read_at the page sent was acknowledged.
async function readsSettled (person) {
  await person.page.waitForFunction(() => window.quire.channels && window.quire.channels.pendingReads.size === 0)
}

function channelRow (person, name) {
  return person.page.locator(`li.channel[data-name="${name}"]`)
}

async function openChannel (person, name) {
  await person.page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: /^Channels/ }).click()
  await channelRow(person, name).getByRole('link').click()
  await person.page.getByTestId('channel-title').filter({ hasText: name }).waitFor()
}

async function post (person, text, where = 'Message') {
  const box = person.page.getByLabel(where, { exact: true })
  await box.fill(text)
  await box.press('Enter')
}

// serverAndBrowser starts the binary and a browser for test t, both
// stopped after it; {} (t skipped) when the binary has no channel routes.
async function serverAndBrowser (t) {
  const server = await startServer()
  t.after(() => server.cleanup())
  if (await channelsMissing(server)) {
    t.skip('this binary has no /api/v1/channels/ (404): the channel routes are not built in')
    return {}
  }
  const browser = await launch()
  t.after(() => browser.close())
  return { server, browser }
}

function message (person, text, scope = 'messages') {
  return person.page.getByTestId(scope).locator('li.msg', { hasText: text })
}

test('two people use channels: live messages, a thread, reactions, typing, unread counts, a DM', { skip, timeout: 180000 }, async (t) => {
  const { server, browser } = await serverAndBrowser(t)
  if (!server) return
  const alice = await new Person(browser, server.url, 'Alice').signUp() // the first account: admin
  const bob = await new Person(browser, server.url, 'Bob').signUp()
  await Promise.all([joined(alice), joined(bob)])

  // Alice creates a private channel and adds Bob from its Members panel.
  await alice.page.getByRole('link', { name: /^Channels/ }).click()
  await alice.page.getByRole('button', { name: 'New channel' }).click()
  await alice.page.getByLabel('Channel name').fill('general')
  await alice.page.getByRole('button', { name: 'Create channel' }).click()
  await alice.page.waitForURL(/#\/channels\/[^/]+$/)
  await alice.page.getByTestId('channel-title').filter({ hasText: 'general' }).waitFor()
  await alice.page.getByText('No messages yet').waitFor()
  await alice.page.getByRole('button', { name: 'Members' }).click()
  await alice.page.getByLabel('Add member (email)').fill(bob.email)
  await alice.page.getByRole('button', { name: 'Add', exact: true }).click()
  await alice.page.getByText('Added Bob.').waitFor()

  // Bob, on his notes, is told of the channel and opens it.
  await channelRowAppears(bob, 'general')
  await openChannel(bob, 'general')
  await bob.page.getByText('No messages yet').waitFor()

  // While Alice types, Bob sees that she does (recorded as it is shown, so
  // the indicator's 5 s expiry cannot make this miss it); her message
  // arrives live and takes the indicator away.
  await bob.page.evaluate(() => {
    window.typingSeen = []
    const el = document.querySelector('[data-testid="typing"]')
    new MutationObserver(() => window.typingSeen.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true })
  })
  await alice.page.getByLabel('Message', { exact: true }).pressSequentially('Hello Bob', { delay: 20 })
  await bob.page.waitForFunction(() => window.typingSeen.includes('Alice is typing…'))
  await alice.page.getByLabel('Message', { exact: true }).press('Enter')
  await message(bob, 'Hello Bob').filter({ has: bob.page.locator('.author', { hasText: 'Alice' }) }).waitFor()
  await bob.page.getByTestId('typing').filter({ hasText: /^$/ }).waitFor()
  await alice.page.waitForFunction(() => document.querySelector('textarea[aria-label="Message"]').value === '')

  // Bob replies in a thread; Alice sees the reply count and the reply.
  await message(bob, 'Hello Bob').getByRole('button', { name: 'Reply in thread' }).click()
  await bob.page.getByTestId('thread').waitFor()
  await post(bob, 'Reply from Bob', 'Reply in thread')
  await message(bob, 'Reply from Bob', 'thread-messages').waitFor()
  await message(alice, 'Hello Bob').getByRole('button', { name: '1 reply' }).click()
  await message(alice, 'Reply from Bob', 'thread-messages').waitFor()
  assert.equal(await message(alice, 'Reply from Bob').count(), 0, 'a reply stays out of the main list')
  assert.equal(await message(alice, 'Hello Bob').count(), 1, 'the sender shows her message once (answer and event)')

  // Alice reacts; Bob sees the reaction, with its count, live.
  const hello = message(alice, 'Hello Bob')
  await hello.hover()
  await hello.getByRole('button', { name: 'Add reaction' }).click()
  await hello.getByRole('button', { name: 'React 👍' }).click()
  await message(bob, 'Hello Bob').locator('button.reaction[data-name="👍"]', { hasText: '👍 1' }).waitFor()
  await alice.page.locator('li.msg button.reaction.mine[data-name="👍"]').first().waitFor()
  await alice.page.screenshot({ path: screenshotPath('channels-alice.png') })
  await bob.page.screenshot({ path: screenshotPath('channels-bob.png') })

  // Bob's connection drops; what Alice posts meanwhile is on his screen
  // once he is back (the page catches up after join-channels).
  await bob.context.setOffline(true)
  await bob.page.waitForFunction(() => !window.quire.channels.joined)
  await post(alice, 'while you were away')
  await message(alice, 'while you were away').waitFor()
  assert.equal(await message(bob, 'while you were away').count(), 0, 'nothing arrives while offline')
  await bob.context.setOffline(false)
  await message(bob, 'while you were away').waitFor()
  await message(bob, 'Hello Bob').getByRole('button', { name: '1 reply' }).waitFor()

  // Bob goes to his notes; Alice posts twice; his Channels tab counts both.
  await bob.page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Notes' }).click()
  await bob.page.getByLabel('New note title').waitFor()
  await readsSettled(bob)
  assert.equal(await totalUnread(bob), 0)
  // The answer to "one" is held until Alice has typed "two" (the room's
  // event shows "one" first): the late answer must not wipe what she typed.
  let release
  const held = new Promise((resolve) => { release = resolve })
  await alice.page.route('**/api/v1/channels/*/messages/post', async (route) => {
    const res = await route.fetch()
    await held
    await route.fulfill({ response: res })
  }, { times: 1 })
  await post(alice, 'one')
  await message(alice, 'one').waitFor()
  const box = alice.page.getByLabel('Message', { exact: true })
  await box.fill('two')
  release()
  await alice.page.waitForFunction(() => document.querySelector('textarea[aria-label="Message"]').dataset.pending === '0')
  assert.equal(await box.inputValue(), 'two', 'the answer to "one" left what was typed since')
  await box.press('Enter')
  await message(alice, 'two').waitFor()
  await waitTotalUnread(bob, 2)
  await bob.page.getByRole('link', { name: /^Channels/ }).click()
  await channelRow(bob, 'general').getByTestId('unread').filter({ hasText: '2' }).waitFor()
  await bob.page.screenshot({ path: screenshotPath('channels-bob-unread.png') })

  // Opening the channel clears the count, on the server too: after a
  // reload on the notes, the listing says 0.
  await channelRow(bob, 'general').getByRole('link').click()
  await message(bob, 'two').waitFor()
  await waitTotalUnread(bob, 0)
  assert.ok(await channelRow(bob, 'general').getByTestId('unread').isHidden())
  await bob.page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Notes' }).click()
  await readsSettled(bob)
  await bob.page.reload()
  await joined(bob)
  await bob.page.waitForFunction(() => window.quire.channels?.list.some((c) => c.name === 'general'))
  const listed = await bob.page.evaluate(() => window.quire.channels.list.find((c) => c.name === 'general').unread_count)
  assert.equal(listed, 0, 'the server counts nothing unread after Bob opened the channel')
  assert.equal(await totalUnread(bob), 0)

  // A direct message: Alice opens one to Bob and writes; it shows up on
  // Bob's side as unread, he opens it and answers, Alice sees the answer.
  await alice.page.getByRole('button', { name: 'New direct message' }).click()
  await alice.page.getByLabel('Direct message to (email)').fill(bob.email)
  await alice.page.getByRole('button', { name: 'Open conversation' }).click()
  await alice.page.getByTestId('channel-title').filter({ hasText: 'Bob' }).waitFor()
  await post(alice, 'Psst, Bob')
  await message(alice, 'Psst, Bob').waitFor()
  await waitTotalUnread(bob, 1)
  await bob.page.getByRole('link', { name: /^Channels/ }).click()
  const dm = bob.page.getByTestId('dm-list').locator('li.channel[data-name="Alice"]')
  await dm.getByTestId('unread').filter({ hasText: '1' }).waitFor()
  await dm.getByRole('link').click()
  await message(bob, 'Psst, Bob').waitFor()
  await post(bob, 'Hi Alice')
  await message(alice, 'Hi Alice').filter({ has: alice.page.locator('.author', { hasText: 'Bob' }) }).waitFor()
  await waitTotalUnread(bob, 0)
  await alice.page.screenshot({ path: screenshotPath('channels-alice-dm.png') })

  assert.deepEqual([...alice.errors, ...bob.errors], [], 'no page errors and no CSP violations')
})

// channelRowAppears waits, on the notes page, until the channel store has
// the channel (channel:created made it refetch).
async function channelRowAppears (person, name) {
  await person.page.waitForFunction((n) => window.quire.channels?.list.some((c) => c.name === n), name)
}

// Two messages sent quickly arrive in the order typed: the first one's
// request is held before it reaches the server while the second is typed
// and sent. The composer keeps the second until the first is answered;
// sent at once (as before), the second reached the server first and the
// channel showed the two swapped.
test('messages sent in quick succession keep their order', { skip, timeout: 120000 }, async (t) => {
  const { server, browser } = await serverAndBrowser(t)
  if (!server) return
  const alice = await new Person(browser, server.url, 'Alice').signUp()
  await joined(alice)
  await alice.page.getByRole('link', { name: /^Channels/ }).click()
  await alice.page.getByRole('button', { name: 'New channel' }).click()
  await alice.page.getByLabel('Channel name').fill('order')
  await alice.page.getByRole('button', { name: 'Create channel' }).click()
  await alice.page.getByTestId('channel-title').filter({ hasText: 'order' }).waitFor()
  await alice.page.getByText('No messages yet').waitFor()

  let release
  const held = new Promise((resolve) => { release = resolve })
  let secondAnswered
  const second = new Promise((resolve) => { secondAnswered = resolve })
  let n = 0
  await alice.page.route('**/api/v1/channels/*/messages/post', async (route) => {
    if (++n === 1) await held // the first: not on the server yet
    const res = await route.fetch()
    await route.fulfill({ response: res })
    if (n === 2) secondAnswered()
  })
  await post(alice, 'first')
  await post(alice, 'second')
  // Release the first once the second waits behind it in the page (this
  // composer) or has been answered (one that sends at once).
  await Promise.race([
    second,
    alice.page.waitForFunction(() => document.querySelector('textarea[aria-label="Message"]').dataset.queued === '1')
  ])
  release()
  await alice.page.waitForFunction(() => document.querySelector('textarea[aria-label="Message"]').dataset.pending === '0')
  await message(alice, 'first').waitFor()
  await message(alice, 'second').waitFor()
  await alice.page.reload() // the order the server keeps, not the page's
  await message(alice, 'second').waitFor()
  const shown = await alice.page.getByTestId('messages').locator('li.msg .content').allTextContents()
  assert.deepEqual(shown.filter((s) => s === 'first' || s === 'second'), ['first', 'second'])
})

// A channel's messages are read while its events already arrive: a message
// deleted (or edited) after the server read the list must not come back
// when the list lands. The page applied the deletion, then the older list
// put the message back until the next reload. The read is held, once the
// server has answered it, until the page saw the deletion.
test('a message deleted while the channel is read stays deleted', { skip, timeout: 120000 }, async (t) => {
  const { server, browser } = await serverAndBrowser(t)
  if (!server) return
  const alice = await new Person(browser, server.url, 'Alice').signUp()
  const rest = (method, path, body) => alice.api(method, '/api/v1' + path, body)
  const c = await rest('POST', '/channels/create', { name: 'held', is_private: true, user_ids: [] })
  await rest('POST', `/channels/${c.id}/messages/post`, { content: 'keep me' })
  const gone = await rest('POST', `/channels/${c.id}/messages/post`, { content: 'delete me' })
  await alice.page.reload()
  await joined(alice)

  let seeDelete
  const deleteSeen = new Promise((resolve) => { seeDelete = resolve })
  let listAnswered
  const answered = new Promise((resolve) => { listAnswered = resolve })
  await alice.page.route((url) => url.pathname === `/api/v1/channels/${c.id}/messages`, async (route) => {
    const response = await route.fetch() // the server reads now: before the deletion
    listAnswered()
    await deleteSeen
    await route.fulfill({ response })
  })
  await alice.page.evaluate(() => {
    window.deleted = false
    window.quire.channels.socket.on('events:channel', (e) => { if (e?.data?.type === 'message:delete') window.deleted = true })
  })
  await alice.page.goto(`${server.url}/#/channels/${encodeURIComponent(c.id)}`)
  await answered
  await rest('DELETE', `/channels/${c.id}/messages/${gone.id}/delete`)
  await alice.page.waitForFunction(() => window.deleted)
  seeDelete()
  await message(alice, 'keep me').waitFor()
  assert.equal(await message(alice, 'delete me').count(), 0, 'the deleted message is shown again')
  assert.deepEqual(alice.errors, [])
})

// The channel page reads its messages while the socket connects: a message
// posted after that read and before the socket joined the channel's room
// reached nobody, and the reload after join-channels was set up only once
// the first read had landed, so it never ran. The socket is held until the
// message is stored, the read (answered before it) until the socket
// joined its channels.
test('a message posted while the page opens a channel and connects is shown', { skip, timeout: 120000 }, async (t) => {
  const { server, browser } = await serverAndBrowser(t)
  if (!server) return
  const alice = await new Person(browser, server.url, 'Alice').signUp()
  const rest = (method, path, body) => alice.api(method, '/api/v1' + path, body)
  const c = await rest('POST', '/channels/create', { name: 'late', is_private: true, user_ids: [] })
  await rest('POST', `/channels/${c.id}/messages/post`, { content: 'early bird' })
  await alice.page.goto(`${server.url}/#/channels/${encodeURIComponent(c.id)}`)
  await message(alice, 'early bird').waitFor()

  let connectSocket
  const socketMayConnect = new Promise((resolve) => { connectSocket = resolve })
  await alice.page.routeWebSocket((url) => url.pathname.startsWith('/ws/socket.io'), async (ws) => {
    await socketMayConnect
    ws.connectToServer()
  })
  let releaseRead
  const readMayLand = new Promise((resolve) => { releaseRead = resolve })
  let readAnswered
  const answered = new Promise((resolve) => { readAnswered = resolve })
  let first = true
  await alice.page.route((url) => url.pathname === `/api/v1/channels/${c.id}/messages`, async (route) => {
    if (!first) return route.fallback()
    first = false
    const response = await route.fetch() // the server reads now: before the post
    readAnswered()
    await readMayLand
    await route.fulfill({ response })
  })
  await alice.page.reload() // a fresh page, its socket held
  await answered
  await rest('POST', `/channels/${c.id}/messages/post`, { content: 'late arrival' })
  connectSocket()
  await joined(alice)
  releaseRead()
  await message(alice, 'early bird').waitFor()
  await message(alice, 'late arrival').waitFor({ timeout: 30000 })
    .catch(() => assert.fail('the message posted while the page connected is not shown'))
  assert.deepEqual(alice.errors, [])
})
