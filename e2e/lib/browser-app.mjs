// Drives Quire's notes app in Debian's chromium through playwright-core.
// Every helper goes through the page as a person would (forms, buttons,
// keyboard); reads use window.quire (the editor view) to get the document.
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ok } from '../helpers/api.mjs'

export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

// launch starts chromium; playwright gives every launch a fresh temporary
// profile (user-data-dir) and removes it on close.
export function launch () {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS })
}

export function screenshotPath (name) {
  mkdirSync(ARTIFACTS, { recursive: true })
  return join(ARTIFACTS, name)
}

// Person is one signed-up account in its own browser context.
export class Person {
  constructor (browser, base, name) {
    this.browser = browser
    this.base = base
    this.name = name
    this.email = `${name.toLowerCase()}-${randomBytes(3).toString('hex')}@example.com`
    this.password = 'pw-' + randomBytes(6).toString('hex')
  }

  async signUp () {
    this.context = await this.browser.newContext({ viewport: { width: 1100, height: 760 } })
    this.page = await this.context.newPage()
    this.errors = []
    this.page.on('pageerror', (err) => this.errors.push(String(err)))
    this.binaryReceived = 0 // binary websocket messages (Socket.IO attachments) received
    this.updatesSent = 0 // ydoc:document:update events this page sent
    this.page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => { if (typeof f.payload !== 'string') this.binaryReceived++ })
      ws.on('framesent', (f) => { if (typeof f.payload === 'string' && f.payload.includes('"ydoc:document:update"')) this.updatesSent++ })
    })
    // The server sends a Content-Security-Policy; chromium reports what it
    // blocks on the console, and the app must need nothing it forbids.
    this.page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) this.errors.push('CSP: ' + msg.text())
    })
    await this.page.goto(this.base + '/')
    await this.page.getByRole('button', { name: 'Create an account' }).click()
    await this.page.getByPlaceholder('Your name').fill(this.name)
    await this.page.getByPlaceholder('you@example.com').fill(this.email)
    await this.page.getByPlaceholder('Password').fill(this.password)
    await this.page.getByRole('button', { name: 'Create account' }).click()
    await this.page.getByTestId('me').filter({ hasText: this.name }).waitFor()
    this.id = await this.page.evaluate(async () => {
      const res = await fetch('/api/v1/auths/', { headers: { Authorization: 'Bearer ' + localStorage.token } })
      return (await res.json()).id
    })
    return this
  }

  // createNote makes a note from the list page and returns its id (the
  // editor is open afterwards).
  async createNote (title) {
    await this.page.goto(this.base + '/#/')
    await this.page.getByLabel('New note title').fill(title)
    await this.page.getByRole('button', { name: 'New note' }).click()
    await this.page.waitForURL(/#\/notes\//)
    await this.waitEditor()
    return decodeURIComponent(this.page.url().split('#/notes/')[1])
  }

  // api calls the REST API as this person, with the token its page holds
  // (helpers/api.mjs ok: the body; anything but 200 throws). For a test's
  // own moves beside the page, not for what the person does in it.
  async api (method, path, body) {
    const token = await this.page.evaluate(() => localStorage.token)
    return ok(this.base, method, path, { token, body })
  }

  // share grants another person read or write access from the list page.
  async share (title, other, permission) {
    await this.page.goto(this.base + '/#/')
    const row = this.page.locator('li.note', { hasText: title })
    await row.getByRole('button', { name: 'Share' }).click()
    const box = row.locator('.share-panel')
    await box.getByLabel('Permission').selectOption(permission)
    await box.getByLabel('Share with (email)').fill(other.email)
    await box.getByRole('button', { name: 'Share' }).click()
    const ok = box.locator('p.ok:not([hidden])')
    const err = box.locator('p.error:not([hidden])')
    await ok.or(err).first().waitFor()
    if (await err.isVisible()) {
      const text = await err.textContent()
      if (!/user id instead/.test(text)) throw new Error('share failed: ' + text)
      // No email look-up on this server: share by account id.
      this.shareFellBackToId = true
      await box.getByLabel('Share with (email)').fill(other.id)
      await box.getByRole('button', { name: 'Share' }).click()
      await box.locator('p.ok:not([hidden])').waitFor()
    }
  }

  async open (noteId) {
    await this.page.goto(`${this.base}/#/notes/${encodeURIComponent(noteId)}`)
    await this.waitEditor()
  }

  async waitEditor () {
    await this.page.locator('.ProseMirror').waitFor()
    await this.page.waitForFunction(() => window.quire?.view && window.quire.collab?.status.synced)
  }

  // caretAtEnd puts the caret at the end of the i-th top-level block.
  async caretAtEnd (i) {
    await this.page.locator('.ProseMirror > *').nth(i).click()
    await this.page.keyboard.press('End')
  }

  type (text, delay = 15) { return this.page.keyboard.type(text, { delay }) }

  // doc returns the editor's document as ProseMirror JSON text.
  doc () { return this.page.evaluate(() => JSON.stringify(window.quire.view.state.doc.toJSON())) }

  // blocks returns the text of each top-level block.
  blocks () {
    return this.page.evaluate(() => {
      const out = []
      window.quire.view.state.doc.forEach((n) => out.push(n.textContent))
      return out
    })
  }

  state (testId) { return this.page.getByTestId(testId).getAttribute('data-state') }

  async waitState (testId, value) {
    try {
      await this.page.waitForFunction(([id, v]) =>
        document.querySelector(`[data-testid="${id}"]`)?.dataset.state === v, [testId, value])
    } catch (err) {
      const now = await this.state(testId).catch(() => '?')
      const banner = await this.page.getByTestId('error').textContent().catch(() => '')
      throw new Error(`${this.name}: ${testId} never became "${value}" (it is "${now}"${banner ? ', banner: ' + banner : ''}): ${err.message}`)
    }
  }

  // watchConnection records every connection state the page shows from now on;
  // waitReconnected then waits for a drop followed by "connected".
  async watchConnection () {
    await this.page.evaluate(() => {
      window.connSeen = []
      const el = document.querySelector('[data-testid="connection"]')
      new MutationObserver(() => window.connSeen.push(el.dataset.state))
        .observe(el, { attributes: true, attributeFilter: ['data-state'] })
    })
  }

  async waitReconnected () {
    try {
      await this.page.waitForFunction(() => window.connSeen.some((s) => s !== 'connected') &&
        document.querySelector('[data-testid="connection"]').dataset.state === 'connected')
    } catch (err) {
      const seen = await this.page.evaluate(() => window.connSeen.join(' → ')).catch(() => '?')
      throw new Error(`${this.name}: no reconnect seen (states: ${seen || 'none'}): ${err.message}`)
    }
  }

  async close () { await this.context?.close() }
}
