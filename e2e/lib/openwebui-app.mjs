// Drives the stock Open WebUI frontend (a built copy, test data kept outside
// the repository: ../shared/openwebui-frontend) served by Quire with
// --webui-dir, in Debian's chromium through playwright-core. Every helper
// goes through the page as a person would; reads look at the DOM.
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// TARBALL is the frontend build: $QUIRE_WEBUI_TARBALL, else the shared copy
// next to the repository (../shared/openwebui-frontend/).
export const TARBALL = process.env.QUIRE_WEBUI_TARBALL ||
  new URL('../../../shared/openwebui-frontend/openwebui-0.11.0.tar.gz', import.meta.url).pathname

// unpackWebUI unpacks the tarball (after checking its SHA-256 against the
// .sha256 file beside it, when there is one) into a fresh temporary
// directory; returns the build's directory and a cleanup.
export function unpackWebUI () {
  const sumFile = TARBALL + '.sha256'
  if (existsSync(sumFile)) {
    const want = readFileSync(sumFile, 'utf8').trim().split(/\s+/)[0]
    const got = createHash('sha256').update(readFileSync(TARBALL)).digest('hex')
    if (got !== want) throw new Error(`${TARBALL}: SHA-256 ${got}, want ${want}`)
  }
  const root = mkdtempSync(join(tmpdir(), 'quire-webui-'))
  execFileSync('tar', ['-xzf', TARBALL, '-C', root])
  return { dir: join(root, 'openwebui-0.11.0'), cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

// Person is one account of the stock frontend, in its own browser context.
export class Person {
  constructor (browser, base, name) {
    this.browser = browser
    this.base = base
    this.name = name
    this.email = `${name.toLowerCase()}-${randomBytes(3).toString('hex')}@example.com`
    this.password = 'pw-' + randomBytes(6).toString('hex')
    this.errors = [] // uncaught page errors, as text
    this.failed = [] // API answers >= 400: {status, method, path}
    this.updatesSent = 0 // ydoc:document:update events with an update this page sent
    this.binaryReceived = 0 // binary websocket messages (Socket.IO attachments) received
  }

  async open () {
    this.context = await this.browser.newContext({ viewport: { width: 1280, height: 800 } })
    // Generous: the machine is shared, and every wait is for a condition.
    this.context.setDefaultTimeout(60000)
    this.page = await this.context.newPage()
    this.page.on('response', (r) => {
      const path = r.url().slice(this.base.length)
      if (path.startsWith('/api/') && r.status() >= 400) this.failed.push({ status: r.status(), method: r.request().method(), path })
    })
    this.page.on('websocket', (ws) => {
      ws.on('framesent', (f) => {
        // Content-only snapshots ({document_id, data}) carry no update.
        if (typeof f.payload === 'string' && f.payload.includes('"ydoc:document:update"') && f.payload.includes('"update":')) this.updatesSent++
      })
      ws.on('framereceived', (f) => { if (typeof f.payload !== 'string') this.binaryReceived++ })
    })
    this.page.on('pageerror', (err) => this.errors.push(`${err.message || String(err)}\n${err.stack ?? ''}`))
    return this
  }

  // signUp creates the account from the auth page: the first account from
  // the onboarding page ("Get started"), any later one from "Sign up".
  async signUp ({ first }) {
    await this.page.goto(this.base + '/')
    if (first) {
      // The onboarding page plays a background video. Left while its
      // play() is still pending, the stock page (0.11.0) catches the
      // interrupted play by adding a document click listener that calls
      // play() on the video it no longer has: every later click throws
      // (pageerror "Cannot read properties of null (reading 'play')").
      // Wait until the video plays (or cannot: then play() failed early
      // and the listener goes with the next click).
      await this.page.getByRole('button', { name: 'Get started' }).waitFor()
      await this.page.waitForFunction(() => {
        const v = document.querySelector('video')
        return !v || v.error !== null || v.currentTime > 0
      })
      await this.page.getByRole('button', { name: 'Get started' }).click()
    } else {
      await this.page.waitForURL(/\/auth/)
      await this.page.getByRole('button', { name: 'Sign up' }).click()
    }
    await this.page.getByPlaceholder('Enter Your Full Name').fill(this.name)
    await this.page.getByPlaceholder('Enter Your Email').fill(this.email)
    await this.page.getByPlaceholder('Enter Your Password').fill(this.password)
    const signedUp = this.page.waitForResponse((r) => r.url().endsWith('/api/v1/auths/signup'))
    await this.page.locator('button[type=submit]').click()
    const res = await signedUp
    if (!res.ok()) throw new Error(`${this.name}: sign-up answered ${res.status()}: ${await res.text()}`)
    const body = await res.json()
    this.id = body.id
    this.role = body.role
    await this.page.waitForURL((u) => !u.pathname.startsWith('/auth'))
    await this.userMenu().waitFor()
    if (this.role === 'admin') {
      // An admin whose stored settings lack this version gets the release
      // notes once; "Okay, Let's Go!" stores it (users/user/settings/update).
      const stored = this.page.waitForResponse((r) => r.url().endsWith('/api/v1/users/user/settings/update') && r.ok())
      await this.page.getByRole('button', { name: "Okay, Let's Go!" }).click()
      await stored
    }
    return this
  }

  token () { return this.page.evaluate(() => localStorage.token) }

  userMenu () { return this.page.getByRole('button', { name: 'User menu' }).first() }

  // openNotesFromSidebar opens the sidebar and follows its Notes link.
  async openNotesFromSidebar () {
    await this.page.getByRole('button', { name: 'Open Sidebar', exact: true }).click()
    await this.page.getByRole('link', { name: 'Notes', exact: true }).click()
    await this.page.waitForURL(/\/notes$/)
  }

  // createNote makes a note from the Notes page, titles it, and returns
  // its id with the editor open (and focused).
  async createNote (title) {
    await this.page.getByRole('button', { name: 'Create', exact: true }).click()
    await this.page.waitForURL(/\/notes\/[0-9a-f-]{36}$/)
    await this.waitEditor()
    const id = this.page.url().split('/notes/')[1]
    const renamed = this.page.waitForResponse((r) => r.url().endsWith(`/api/v1/notes/${id}/update`) && r.ok())
    await this.page.getByPlaceholder('Title').fill(title)
    await this.editor().click() // the title is saved when it loses focus
    await renamed
    return id
  }

  // shareForWriting gives other write access through the Access dialog:
  // Add Access (the user list comes from users/search without a query),
  // then Write in the row's access level.
  async shareForWriting (id, other) {
    const saved = () => this.page.waitForResponse((r) => r.url().endsWith(`/api/v1/notes/${id}/access/update`) && r.ok())
    await this.page.getByRole('button', { name: 'Access', exact: true }).click()
    await this.page.getByRole('button', { name: 'Add Access' }).click()
    await this.page.getByRole('button', { name: other.name }).first().click() // its name includes the avatar's
    let done = saved()
    await this.page.getByRole('button', { name: 'Add', exact: true }).click()
    await done
    done = saved()
    await this.page.getByLabel('Access level').selectOption('write')
    await done
    await this.page.keyboard.press('Escape')
  }

  // openFromList opens the note with this title from the Notes page.
  async openFromList (title) {
    await this.page.goto(this.base + '/notes')
    await this.page.getByText(title, { exact: true }).first().click()
    await this.page.waitForURL(/\/notes\/[0-9a-f-]{36}$/)
    await this.waitEditor()
  }

  editor () { return this.page.locator('.ProseMirror').first() }

  // waitEditor waits for an editable note editor.
  async waitEditor () {
    await this.page.locator('.ProseMirror[contenteditable="true"]').first().waitFor()
  }

  // caretAtEnd puts the caret at the end of the i-th top-level block.
  async caretAtEnd (i) {
    await this.editor().locator(':scope > *').nth(i).click()
    await this.page.keyboard.press('End')
  }

  type (text, delay = 25) { return this.page.keyboard.type(text, { delay }) }

  // blocks is the text of each top-level block, other people's cursors
  // (y-prosemirror widgets with a name label) left out.
  blocks () {
    return this.editor().evaluate((el) => {
      const copy = el.cloneNode(true)
      copy.querySelectorAll('.ProseMirror-yjs-cursor').forEach((c) => c.remove())
      return [...copy.children].map((c) => c.textContent)
    })
  }

  // remoteCursor is the other person's cursor as drawn in this editor.
  remoteCursor (other) {
    return this.editor().locator('.ProseMirror-yjs-cursor', { hasText: other.name })
  }

  // pickModel chooses model in the chat page's model selector.
  async pickModel (model) {
    await this.page.getByRole('button', { name: /^Select(ed)? (a )?model/ }).first().click()
    await this.page.getByRole('option', { name: `Select ${model} model` }).click()
    await this.page.getByRole('button', { name: `Selected model: ${model}` }).first().waitFor()
  }

  // send types a message into the chat input and sends it with Enter.
  async send (text) {
    await this.page.locator('#chat-input').click()
    await this.page.keyboard.type(text)
    await this.page.keyboard.press('Enter')
  }

  // messages are the conversation's rendered messages (user and
  // assistant), in order.
  messages () { return this.page.getByRole('log').getByRole('listitem') }

  // sidebarChat is the sidebar's entry of the chat with this title.
  sidebarChat (title) {
    return this.page.getByRole('navigation', { name: 'Chat history' }).getByRole('button', { name: title, exact: true })
  }

  // signOutFromUserMenu signs out and waits for the sign-in page: the
  // frontend leaves with a full page load (location.href = '/auth'),
  // which the URL alone may announce before it happens (a screenshot
  // taken in between fails).
  async signOutFromUserMenu () {
    await this.userMenu().click()
    const reloaded = this.page.waitForEvent('load')
    await this.page.getByRole('menuitem', { name: 'Sign Out' }).or(this.page.getByText('Sign Out', { exact: true })).first().click()
    await reloaded
    await this.page.waitForURL(/\/auth/)
    await this.page.getByPlaceholder('Enter Your Email').waitFor()
  }

  async close () { await this.context?.close() }
}
