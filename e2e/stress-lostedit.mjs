// Randomized stress driver (not part of `make test`): hunts for a lost,
// duplicated or emptied acknowledged edit (protocol.md §9.1, §9.3).
//
//   go build -o bin/quire ./cmd/quire && node e2e/stress-lostedit.mjs
//
// Env: STRESS_SECONDS (per round, default 60), STRESS_ROUNDS (default 1),
// STRESS_DB (sqlite, postgres or both; default both when
// QUIRE_TEST_DATABASE_URL is set), STRESS_SEED (default: random, printed),
// STRESS_FINAL_KILL (chance a round ends on a SIGKILL, default 0.5).
//
// Against a real bin/quire (short --doc-idle-timeout/--doc-inactive-timeout
// and a small --doc-compact-rows, so documents unload, reload and compact
// all the time), per round: Yjs editors type unique markers ("[e<i>.<n>]")
// and filler into their own paragraph of a few notes and delete filler; a
// REST writer per note posts the live content plus a new marker; editors
// leave and rejoin, pause past the inactive timeout, and the server is
// stopped with SIGTERM or SIGKILL and started again on the same database,
// clients reconnecting and re-sending what the server lacks. At the end a
// fresh client joins each note and checks: every acknowledged marker's
// insert is in the state, and its text is there unless a REST edit that
// lacked it may have been applied after it was sent (a REST edit replaces
// the content, deleting what it lacks), no marker twice, no note
// empty, every editor converged, and the REST view (GET, data.content)
// renders the same document (json, and md holding every marker). Exits 1 on any finding.

import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { startServer, databases, waitUntil } from './helpers/server.mjs'
import { signup, createNote, request } from './helpers/api.mjs'
import { Client } from './helpers/socket.mjs'
import { Y, prng, normalizePM, plainText } from './helpers/ydoc.mjs'
import { yXmlFragmentToProsemirrorJSON } from 'y-prosemirror'

const SECONDS = Number(process.env.STRESS_SECONDS || 60)
const ROUNDS = Number(process.env.STRESS_ROUNDS || 1)
const DBS = process.env.STRESS_DB && process.env.STRESS_DB !== 'both' ? [process.env.STRESS_DB] : databases()
const FINAL_KILL = Number(process.env.STRESS_FINAL_KILL ?? 0.5) // chance a round ends on a crash
const NOTES = 3
const EDITORS_PER_NOTE = 2
const SERVER_ARGS = ['--doc-idle-timeout', '200ms', '--doc-inactive-timeout', '1s', '--doc-compact-rows', '8']
const MARKER = /\[[er]\d+\.\d+\]/g

const totals = { paragraphsLost: 0, finalKill: 0, rounds: 0, markers: 0, acked: 0, restEdits: 0, restAcked: 0, deletes: 0, sigterm: 0, sigkill: 0, rejoins: 0, pauses: 0, resends: 0, excused: 0, findings: 0 }

function markersIn (s) { return s.match(MARKER) ?? [] }

/** One Yjs editor: its own paragraph of one note, over a socket it re-opens after a restart. */
class Editor {
  constructor (run, idx, noteId) {
    Object.assign(this, { run, idx, noteId, n: 0 })
    this.docId = `note:${noteId}`
    this.doc = new Y.Doc()
    this.frag = this.doc.getXmlFragment('prosemirror')
    this.rand = prng(run.seed * 131 + idx)
    this.pending = new Set() // markers sent, not yet acknowledged
    this.doc.on('update', (u, origin) => {
      if (origin === 'server') return
      const markers = origin?.markers ?? []
      for (const m of markers) { this.pending.add(m); this.run.sent.set(m, Date.now()) }
      this.send(u, markers)
    })
  }

  send (u, markers) {
    const c = this.client
    if (!c?.socket.connected || !this.joined) return // re-sent as a diff on rejoin
    c.socket.timeout(20000).emit('ydoc:document:update', { document_id: this.docId, user_id: this.run.owner.id, socket_id: c.id, update: Array.from(u) }, (err, ack) => {
      if (err || ack?.ok !== true) return
      for (const m of markers) this.ack(m)
    })
  }

  ack (m) {
    if (!this.pending.delete(m)) return
    this.run.acked.set(m, this.run.sent.get(m))
  }

  async connect () {
    this.client?.close()
    this.client = null
    this.joined = false
    const c = await Client.connect(this.run.server.url, this.run.owner.token, { retry: true })
    c.socket.on('ydoc:document:update', d => {
      if (d?.document_id === this.docId && d.socket_id !== c.id) Y.applyUpdate(this.doc, new Uint8Array(d.update), 'server')
    })
    this.client = c
  }

  /** Join, take the server's state, send what it lacks (markers typed while away). */
  async join () {
    const c = this.client
    const since = c.mark()
    const ack = await c.call('ydoc:document:join', { document_id: this.docId, user_id: this.run.owner.id, user_name: 'e' + this.idx, user_color: '#123456' })
    if (ack?.ok !== true) throw new Error('join: ' + JSON.stringify(ack))
    const st = await c.waitFor('ydoc:document:state', d => d?.document_id === this.docId, { since, timeout: 20000 })
    const state = new Uint8Array(st.state)
    Y.applyUpdate(this.doc, state, 'server')
    this.joined = true
    const diff = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVectorFromUpdate(state))
    if (diff.length > 2 || this.pending.size) {
      const waiting = [...this.pending]
      this.run.stats.resends++
      const res = await c.call('ydoc:document:update', { document_id: this.docId, user_id: this.run.owner.id, socket_id: c.id, update: Array.from(diff) }, { timeout: 20000 })
      if (res?.ok === true) for (const m of waiting) this.ack(m)
    }
  }

  /** The editor's paragraph text, made (again) if missing. */
  text () {
    if (this.para && !this.para._item?.deleted && !this.txt._item?.deleted) return this.txt
    if (this.para) this.run.stats.paragraphsLost++ // a REST edit posted without it: allowed
    this.para = new Y.XmlElement('paragraph')
    this.txt = new Y.XmlText()
    this.para.insert(0, [this.txt])
    this.doc.transact(() => this.frag.insert(this.frag.length, [this.para]), { markers: [] })
    return this.txt
  }

  /** One random local edit: a marker, filler, or a deletion of filler (never of a marker). */
  edit () {
    const txt = this.text()
    const s = txt.toString()
    const inMarker = new Array(s.length).fill(false)
    for (const m of s.matchAll(MARKER)) for (let i = m.index; i < m.index + m[0].length; i++) inMarker[i] = true
    const cuts = [] // positions outside any marker
    for (let i = 0; i <= s.length; i++) if (i === 0 || i === s.length || !inMarker[i] || !inMarker[i - 1] || s[i] === '[') cuts.push(i)
    const pick = a => a[Math.floor(this.rand() * a.length)]
    const r = this.rand()
    if (r < 0.45) {
      const m = `[e${this.idx}.${this.n++}]`
      this.run.stats.markers++
      const at = this.rand() < 0.7 ? s.length : pick(cuts)
      // Its first character's Yjs id: the final state holds it (maybe deleted) iff the insert was stored.
      this.run.ids.set(m, [this.doc.clientID, Y.getState(this.doc.store, this.doc.clientID)])
      this.doc.transact(() => txt.insert(at, m), { markers: [m] })
    } else if (r < 0.8) {
      this.doc.transact(() => txt.insert(pick(cuts), 'abcdefgh '.slice(Math.floor(this.rand() * 8))), { markers: [] })
    } else {
      const filler = []
      for (let i = 0; i < s.length; i++) if (!inMarker[i]) filler.push(i)
      if (!filler.length) return
      const at = pick(filler)
      let len = 1
      while (at + len < s.length && !inMarker[at + len] && len < 6) len++
      this.run.stats.deletes++
      this.doc.transact(() => txt.delete(at, len), { markers: [] })
    }
  }

  async loop (until) {
    while (Date.now() < until) {
      try {
        if (!this.client?.socket.connected) {
          await this.run.healthy()
          await this.connect()
          await this.join()
        }
        const r = this.rand()
        if (r < 0.01) { // leave, stay away past the idle timeout, rejoin
          this.run.stats.rejoins++
          this.joined = false
          await this.client.call('ydoc:document:leave', { document_id: this.docId, user_id: this.run.owner.id })
          for (let i = 0; i < 5; i++) this.edit() // typed offline: re-sent on rejoin
          await sleep(250 + this.rand() * 500)
          await this.join()
        } else if (r < 0.015) { // joined but quiet past the inactive timeout
          this.run.stats.pauses++
          await sleep(1100 + this.rand() * 400)
        } else {
          this.edit()
          await sleep(this.rand() * 40)
        }
      } catch (err) {
        this.joined = false
        if (!/not connected|closed the socket|ack|timed out|ECONNREFUSED|fetch failed|xhr|websocket|join/i.test(err.message)) throw err
        await sleep(50)
      }
    }
  }

  /** Final sync: rejoin on a fresh socket so nothing typed stays unsent. */
  async settle () {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.connect()
        await this.join()
        return
      } catch (err) {
        if (attempt > 5) throw err
        await sleep(200)
      }
    }
  }
}

/** A REST writer per note: posts the live content (from a joined observer) plus a new marker. */
class RestWriter {
  constructor (run, idx, noteId) {
    Object.assign(this, { run, idx, noteId, n: 0 })
    this.docId = `note:${noteId}`
    this.rand = prng(run.seed * 977 + idx)
  }

  async observe () {
    this.client?.close()
    this.doc = new Y.Doc()
    const c = await Client.connect(this.run.server.url, this.run.owner.token)
    c.socket.on('ydoc:document:update', d => { if (d?.document_id === this.docId) Y.applyUpdate(this.doc, new Uint8Array(d.update)) })
    const since = c.mark()
    const ack = await c.call('ydoc:document:join', { document_id: this.docId, user_id: this.run.owner.id, user_name: 'rest', user_color: '#654321' })
    if (ack?.ok !== true) throw new Error('observer join: ' + JSON.stringify(ack))
    const st = await c.waitFor('ydoc:document:state', d => d?.document_id === this.docId, { since })
    Y.applyUpdate(this.doc, new Uint8Array(st.state))
    this.client = c
  }

  async loop (until) {
    while (Date.now() < until) {
      try {
        if (!this.client?.socket.connected) {
          await this.run.healthy()
          await this.observe()
        }
        await sleep(150 + this.rand() * 500)
        const json = yXmlFragmentToProsemirrorJSON(this.doc.getXmlFragment('prosemirror'))
        const m = `[r${this.idx}.${this.n++}]`
        const content = json.content ?? []
        const last = content.at(-1)
        if (this.rand() < 0.5 && last?.type === 'paragraph' && markersIn(JSON.stringify(last)).some(x => x.startsWith('[r'))) {
          last.content = [...(last.content ?? []), { type: 'text', text: ' ' + m }]
        } else {
          content.push({ type: 'paragraph', content: [{ type: 'text', text: m }] })
        }
        json.content = content
        const body = new Set(markersIn(JSON.stringify(json)))
        const sent = Date.now()
        this.run.sent.set(m, sent)
        this.run.stats.restEdits++
        const res = await request(this.run.server.url, 'POST', `/api/v1/notes/${this.noteId}/update`, { token: this.run.owner.token, body: { data: { content: { json } } } })
        if (res.status === 200) {
          this.run.stats.restAcked++
          this.run.acked.set(m, sent)
          this.run.rest.push({ noteId: this.noteId, body, answered: Date.now() })
        } else if (res.status !== 503) {
          this.run.note(`REST update answered ${res.status} ${JSON.stringify(res.body)}`)
        }
      } catch (err) {
        if (!/not connected|closed the socket|ack|timed out|ECONNREFUSED|fetch failed|other side closed|socket hang up/i.test(err.message)) throw err
        this.client?.close()
        this.client = null
        await sleep(50)
      }
    }
    this.client?.close()
  }
}

async function round (db, seed) {
  const run = {
    seed,
    sent: new Map(), // marker -> when first sent
    ids: new Map(), // editor marker -> [client, clock] of its first character
    acked: new Map(), // marker -> when the acknowledged send was sent
    rest: [], // {noteId, body: Set of markers, answered}
    stats: { paragraphsLost: 0, finalKill: 0, markers: 0, restEdits: 0, restAcked: 0, deletes: 0, sigterm: 0, sigkill: 0, rejoins: 0, pauses: 0, resends: 0 },
    findings: [],
    note (msg) { this.findings.push(msg); process.stderr.write(`  ! ${msg}\n`) },
    restarting: null,
    healthy () { return waitUntil(async () => !this.restarting && this.server.proc && await this.server.health() === 200, { timeout: 60000, what: 'the server' }) }
  }
  const rand = prng(seed)
  run.server = await startServer({ db, args: SERVER_ARGS })
  try {
    run.owner = await signup(run.server.url, 'owner')
    const notes = []
    for (let i = 0; i < NOTES; i++) notes.push((await createNote(run.server.url, run.owner.token, { title: `stress ${i}`, content: { md: `seed of note ${i}` } })).id)
    const editors = []
    for (let i = 0; i < NOTES * EDITORS_PER_NOTE; i++) editors.push(new Editor(run, i, notes[i % NOTES]))
    for (const e of editors) { await e.connect(); await e.join(); e.text() }
    await sleep(500) // the paragraphs are stored before the first REST edit reads the content
    run.editors = editors
    const writers = notes.map((id, i) => new RestWriter(run, i, id))

    const until = Date.now() + SECONDS * 1000
    const restarts = (async () => {
      while (Date.now() < until - 4000) {
        await sleep(4000 + rand() * 6000)
        if (Date.now() >= until - 2000) break
        const kill = rand() < 0.5
        run.restarting = kill ? 'SIGKILL' : 'SIGTERM'
        if (kill) { await run.server.kill(); run.stats.sigkill++ } else {
          const exit = await run.server.stop()
          run.stats.sigterm++
          if (exit.code !== 0) run.note(`SIGTERM exit ${JSON.stringify(exit)}`)
        }
        await sleep(rand() * 300)
        await run.server.start()
        run.restarting = null
      }
    })()
    await Promise.all([restarts, ...editors.map(e => e.loop(until)), ...writers.map(w => w.loop(until))])
    // Let the last acks arrive, then sometimes crash right after the last
    // edits: the fresh joiner and GET below must see them without any
    // editor sending anything again.
    await waitUntil(() => editors.every(e => !e.client?.socket.connected || e.pending.size === 0), { timeout: 10000, what: 'the last acks' }).catch(() => {})
    for (const e of editors) { e.client?.close(); e.client = null }
    if (rand() < FINAL_KILL) {
      await run.server.kill()
      run.stats.sigkill++
      run.stats.finalKill++
      await run.server.start()
    }
    await check(run, notes)
    // Then the editors rejoin (re-sending what the server lacks) and must converge.
    for (const e of editors) await e.settle()
    await sleep(500)
    for (const e of editors) {
      const c = await Client.connect(run.server.url, run.owner.token)
      const since = c.mark()
      await c.call('ydoc:document:join', { document_id: e.docId, user_id: run.owner.id, user_name: 'check', user_color: '#000000' })
      const st = await c.waitFor('ydoc:document:state', d => d?.document_id === e.docId, { since })
      c.close()
      const doc = new Y.Doc()
      Y.applyUpdate(doc, new Uint8Array(st.state))
      if (plainText(doc.getXmlFragment('prosemirror')) !== plainText(e.frag)) run.note(`editor ${e.idx} did not converge with note ${e.noteId}`)
    }
    for (const e of editors) e.client?.close()
  } finally {
    if (run.findings.length) process.stderr.write(run.server.logLines.filter(l => /level=(WARN|ERROR)/.test(l)).slice(-30).join('\n') + '\n')
    await run.server.cleanup()
  }
  return run
}

async function check (run, notes) {
  const editors = run.editors
  const url = run.server.url
  for (const noteId of notes) {
    const c = await Client.connect(url, run.owner.token)
    const docId = `note:${noteId}`
    const since = c.mark()
    const ack = await c.call('ydoc:document:join', { document_id: docId, user_id: run.owner.id, user_name: 'check', user_color: '#000000' })
    if (ack?.ok !== true) { run.note(`${noteId}: final join ${JSON.stringify(ack)}`); continue }
    const st = await c.waitFor('ydoc:document:state', d => d?.document_id === docId, { since })
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(st.state))
    const sv = Y.decodeStateVector(Y.encodeStateVector(doc))
    c.close()
    const frag = doc.getXmlFragment('prosemirror')
    const text = plainText(frag)
    const pm = yXmlFragmentToProsemirrorJSON(frag)
    if (!text.trim()) run.note(`${noteId}: empty document`)
    const seen = markersIn(text)
    const count = new Map()
    for (const m of seen) count.set(m, (count.get(m) ?? 0) + 1)
    for (const [m, k] of count) if (k > 1) run.note(`${noteId}: ${m} appears ${k} times`)
    if ((text.match(/seed of note/g) ?? []).length > 1) run.note(`${noteId}: seed text duplicated`)
    // Which markers belong here: the editors' and the REST writer's of this note.
    const mine = m => m.startsWith('[r')
      ? notes[Number(m.slice(2).split('.')[0])] === noteId
      : editors[Number(m.slice(2).split('.')[0])].noteId === noteId
    const rest = run.rest.filter(r => r.noteId === noteId)
    for (const [m, sentAt] of run.acked) {
      if (!mine(m) || count.has(m)) continue
      // An editor's marker whose insert is not in the state at all was lost,
      // whatever REST did: a deletion keeps the deleted item's id.
      const id = run.ids.get(m)
      if (id && (sv.get(id[0]) ?? 0) <= id[1]) { run.note(`${noteId}: acknowledged ${m} was never stored (${id[0]}:${id[1]} past the state vector)`); continue }
      // Stored, then deleted: only a REST edit deletes markers (it replaces
      // the content), one without m answered after m was sent.
      if (rest.some(r => !r.body.has(m) && r.answered >= sentAt)) { totals.excused++; continue }
      run.note(`${noteId}: acknowledged ${m} is missing`)
    }
    // The REST view is rendered from the document (debounced).
    let got
    try {
      await waitUntil(async () => {
        got = (await request(url, 'GET', `/api/v1/notes/${noteId}`, { token: run.owner.token })).body
        const md = got?.data?.content?.md
        return isDeepStrictEqual(normalizePM(got?.data?.content?.json), normalizePM(pm)) &&
          typeof md === 'string' && seen.every(m => md.replaceAll('\\', '').includes(m))
      }, { timeout: 20000, interval: 250, what: 'the REST view' })
    } catch {
      if (typeof got?.data?.content?.md !== 'string') run.note(`${noteId}: data.content has no md: ${Object.keys(got?.data?.content ?? {})}`)
      const a = JSON.stringify(normalizePM(got?.data?.content?.json))
      const b = JSON.stringify(normalizePM(pm))
      let i = 0
      while (i < a.length && a[i] === b[i]) i++
      run.note(`${noteId}: REST view differs from the document after 20 s, from character ${i}: data.content.json …${a.slice(Math.max(0, i - 40), i + 80)}… document …${b.slice(Math.max(0, i - 40), i + 80)}…`)
    }
  }
}

let failed = false
for (let r = 0; r < ROUNDS; r++) {
  for (const db of DBS) {
    const seed = Number(process.env.STRESS_SEED || Math.floor(Math.random() * 2 ** 31)) + r
    const t0 = Date.now()
    const run = await round(db, seed)
    totals.rounds++
    for (const k of Object.keys(run.stats)) totals[k] += run.stats[k]
    totals.acked += run.acked.size
    totals.findings += run.findings.length
    failed ||= run.findings.length > 0
    console.log(`round ${r} ${db} seed=${seed} ${((Date.now() - t0) / 1000).toFixed(0)}s ${JSON.stringify(run.stats)} acked=${run.acked.size} findings=${run.findings.length}`)
  }
}
console.log('totals', JSON.stringify(totals))
process.exit(failed ? 1 : 0)
