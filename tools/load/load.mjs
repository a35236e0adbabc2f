#!/usr/bin/env node
// Quire load tool: the scenarios of /work/shared/PERFORMANCE.md against a real
// quire binary, with real socket.io-client and yjs. Prints one JSON summary.
//
//   node tools/load/load.mjs --scenario fanout --editors 200
//   node tools/load/load.mjs --scenario docs --docs 1000
//   node tools/load/load.mjs --scenario coldjoin --joiners 50 --doc-bytes 1048576 --workers 2
//   node tools/load/load.mjs --scenario idle --connections 5000 --workers 4
//   node tools/load/load.mjs --scenario fanout --editors 200 --instances 3
//
// --instances N (N > 1) or --redis starts N instances sharing one PostgreSQL
// database and one Redis prefix ($QUIRE_TEST_DATABASE_URL,
// $QUIRE_TEST_REDIS_URL); clients are spread over them round-robin (fanout,
// docs), and server CPU and RSS are the instances' sums.
//
// By default it starts its own server ($QUIRE_BIN or bin/quire, SQLite in a
// temp dir; --db postgres uses $QUIRE_TEST_DATABASE_URL). Server CPU and RSS
// come from /proc/<pid>; goroutines from /metrics.

import { parseArgs } from 'node:util'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { QuireServer, sleep, waitUntil } from '../../e2e/helpers/server.mjs'
import { signup, createNote } from '../../e2e/helpers/api.mjs'
import { Client, expectOk } from '../../e2e/helpers/socket.mjs'
import { startInstances } from '../../e2e/helpers/instances.mjs'

const { values: opt } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'fanout' }, // fanout | docs | coldjoin | idle
    db: { type: 'string', default: 'sqlite' },
    editors: { type: 'string', default: '50' },
    rate: { type: 'string', default: '50' }, // updates per second, all senders together
    duration: { type: 'string', default: '10' }, // seconds of measured load
    docs: { type: 'string', default: '1000' },
    updates: { type: 'string', default: '5000' },
    'docs-rate': { type: 'string', default: '500' },
    joiners: { type: 'string', default: '50' },
    'doc-bytes': { type: 'string', default: String(1024 * 1024) },
    connections: { type: 'string', default: '5000' },
    workers: { type: 'string', default: '1' },
    instances: { type: 'string', default: '1' },
    redis: { type: 'boolean', default: false },
    child: { type: 'string' } // internal: run as a worker process
  }
})
const num = k => Number(opt[k])

/** Wall-clock ms with sub-ms precision, comparable across local processes. */
const now = () => performance.timeOrigin + performance.now()

function quantiles (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const q = p => s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : null
  const r = v => v === null ? null : Math.round(v * 100) / 100
  return { n: s.length, p50: r(q(0.5)), p99: r(q(0.99)), max: r(s.at(-1) ?? null) }
}

// Connects that timed out and were retried (a known socket.io library stall, DEPENDENCIES.md).
let connectRetries = 0
async function connect (url, token) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await Client.connect(url, token, { timeout: 10000 })
    } catch (err) {
      if (attempt >= 3) throw err
      connectRetries++
    }
  }
}

const mb = bytes => Math.round(bytes / 1048576 * 10) / 10

/** One server, or several behind "one address": what the scenarios use of them. */
class Cluster {
  constructor (servers, cleanup) { this.servers = servers; this.cleanupAll = cleanup }
  get url () { return this.servers[0].url }
  get pid () { return this.servers[0].pid }
  urlFor (i) { return this.servers[i % this.servers.length].url }
  procStats () {
    const all = this.servers.map(s => s.procStats())
    return { cpuSeconds: all.reduce((n, s) => n + s.cpuSeconds, 0), rssBytes: all.reduce((n, s) => n + s.rssBytes, 0) }
  }

  async metric (name) {
    let sum = 0
    for (const s of this.servers) sum += (await s.metric(name)) ?? 0
    return sum
  }

  async restart () { for (const s of this.servers) await s.restart() }
  cleanup () { return this.cleanupAll() }
}

async function startCluster () {
  const n = num('instances')
  if (n > 1 || opt.redis) {
    const { servers, cleanup } = await startInstances(n)
    return new Cluster(servers, cleanup)
  }
  const server = new QuireServer({ db: opt.db })
  await server.init()
  return new Cluster([server], () => server.cleanup())
}


// ---------------------------------------------------------------------------
// Worker processes (coldjoin, idle): the parent sends a config, the child
// connects its clients, reports 'ready', runs on 'go', reports results.

if (opt.child) {
  const cfg = JSON.parse(opt.child)
  const clients = []
  for (let i = 0; i < cfg.count; i++) {
    clients.push(await connect(cfg.url, cfg.token))
  }
  process.send({ type: 'ready', connectRetries })
  process.on('message', async msg => {
    if (msg.type === 'go' && cfg.kind === 'coldjoin') {
      while (now() < msg.at) await sleep(Math.max(0, Math.min(5, msg.at - now())))
      const latencies = await Promise.all(clients.map(async c => {
        const t0 = now()
        const state = c.waitFor('ydoc:document:state', () => true, { timeout: 60000 })
        expectOk(await c.call('ydoc:document:join', { document_id: cfg.documentId, user_id: cfg.userId }, { timeout: 60000 }))
        const s = await state
        // A JSON array or, from 1 KiB, a binary attachment (a Buffer here).
        if (new Uint8Array(s.state).length < 1000) throw new Error('short state')
        return now() - t0
      }))
      process.send({ type: 'result', latencies })
    }
    if (msg.type === 'exit') {
      clients.forEach(c => c.close())
      process.exit(0)
    }
  })
} else {
  await main()
}

/** Fork `workers` children sharing `total` clients; resolves when all are connected. */
async function spawnWorkers (total, workers, cfg) {
  const children = []
  for (let w = 0; w < workers; w++) {
    const count = Math.floor(total / workers) + (w < total % workers ? 1 : 0)
    const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify({ ...cfg, count })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.ready = new Promise((resolve, reject) => {
      child.on('message', m => { if (m.type === 'ready') { connectRetries += m.connectRetries; resolve() } })
      child.on('exit', code => reject(new Error(`worker exited ${code}`)))
    })
    children.push(child)
  }
  await Promise.all(children.map(c => c.ready))
  return children
}

async function main () {
  const server = await startCluster()
  const report = { scenario: opt.scenario, db: num('instances') > 1 || opt.redis ? 'postgres' : opt.db, instances: num('instances'), redis: num('instances') > 1 || opt.redis, machine: { loadavg: (await import('node:os')).loadavg().map(x => Math.round(x * 100) / 100) } }
  try {
    const admin = await signup(server.url, 'load')
    const run = { fanout, docs, coldjoin, idle }[opt.scenario]
    if (!run) throw new Error(`unknown --scenario ${opt.scenario}`)
    Object.assign(report, await run(server, admin))
    report.connect_retries = connectRetries
  } finally {
    await server.cleanup()
  }
  console.log(JSON.stringify(report, null, 2))
  process.exit(0)
}

/**
 * An editor that only ever extends its own paragraph: its updates depend on
 * nothing but its own earlier ones, so it needs no remote state.
 */
function editor () {
  const doc = new Y.Doc()
  const text = new Y.XmlText()
  const para = new Y.XmlElement('paragraph')
  para.insert(0, [text])
  let last
  doc.on('update', u => { last = u })
  return {
    first () { doc.getXmlFragment('prosemirror').insert(0, [para]); return last },
    next (s) { text.insert(text.length, s); return last }
  }
}

// (a) N editors in one document, R updates/s in total; delivery latency p50/p99
// and server CPU seconds over the measured window.
async function fanout (server, admin) {
  const n = num('editors'); const rate = num('rate'); const duration = num('duration')
  const note = await createNote(server.url, admin.token, { title: 'fanout', content: { md: 'fan-out' } })
  const documentId = `note:${note.id}`
  const sentAt = new Map() // update bytes as a string -> send time
  const latencies = []
  const acks = []
  const clients = []
  for (let i = 0; i < n; i++) {
    const c = await connect(server.urlFor(i), admin.token)
    expectOk(await c.call('ydoc:document:join', { document_id: documentId, user_id: admin.id }))
    c.socket.on('ydoc:document:update', d => {
      const t = sentAt.get(d.update.join(','))
      if (t !== undefined) latencies.push(now() - t)
    })
    c.events.length = 0 // no need to keep the log
    c.socket.offAny()
    const ed = editor()
    clients.push({ c, ed })
    expectOk(await c.call('ydoc:document:update', { document_id: documentId, user_id: admin.id, socket_id: c.id, update: Array.from(ed.first()) }))
  }
  await sleep(500)
  latencies.length = 0

  const before = server.procStats()
  const start = now()
  const total = Math.round(rate * duration)
  let errors = 0
  const pendingAcks = []
  for (let k = 0; k < total; k++) {
    const due = start + k * 1000 / rate
    while (now() < due) await sleep(Math.max(0, Math.min(4, due - now() - 0.5)))
    const { c, ed } = clients[k % n]
    const update = Array.from(ed.next(`${k} `))
    const t0 = now()
    sentAt.set(update.join(','), t0)
    pendingAcks.push(c.call('ydoc:document:update', { document_id: documentId, user_id: admin.id, socket_id: c.id, update })
      .then(a => { acks.push(now() - t0); if (a?.ok !== true) errors++ }))
  }
  await Promise.all(pendingAcks)
  await waitUntil(() => latencies.length >= total * (n - 1), { timeout: 30000, what: 'all deliveries' }).catch(() => {})
  const after = server.procStats()
  const window = (now() - start) / 1000
  clients.forEach(({ c }) => c.close())
  return {
    editors: n,
    rate,
    updates: total,
    errors,
    deliveries: latencies.length,
    expected_deliveries: total * (n - 1),
    delivery_ms: quantiles(latencies),
    ack_ms: quantiles(acks),
    window_s: Math.round(window * 100) / 100,
    server_cpu_s: Math.round((after.cpuSeconds - before.cpuSeconds) * 100) / 100,
    server_cpu_s_per_10s: Math.round((after.cpuSeconds - before.cpuSeconds) / window * 10 * 100) / 100,
    server_rss_mb: mb(after.rssBytes)
  }
}

// (b) D documents × 2 clients: server CPU seconds per 1,000 (persisted) updates
// and RSS per loaded document.
async function docs (server, admin) {
  const d = num('docs'); const updates = num('updates'); const rate = num('docs-rate')
  const notes = []
  for (let i = 0; i < d; i += 50) {
    notes.push(...await Promise.all(Array.from({ length: Math.min(50, d - i) }, (_, j) =>
      createNote(server.url, admin.token, { title: `doc ${i + j}`, content: { md: `document ${i + j}` } }))))
  }
  const pairs = []
  for (let i = 0; i < d; i++) {
    pairs.push(await Promise.all([0, 1].map(side => connect(server.urlFor(2 * i + side), admin.token))))
    for (const c of pairs[i]) { c.socket.offAny(); c.events.length = 0 }
  }
  await sleep(1000)
  const connected = server.procStats()
  const goroutinesConnected = await server.metric('go_goroutines')
  for (let i = 0; i < d; i += 100) {
    await Promise.all(pairs.slice(i, i + 100).flatMap((pair, j) => pair.map(c =>
      c.call('ydoc:document:join', { document_id: `note:${notes[i + j].id}`, user_id: admin.id }).then(a => expectOk(a, 'join')))))
  }
  await sleep(1000)
  const loaded = server.procStats()
  const goroutinesLoaded = await server.metric('go_goroutines')

  const editors = pairs.map(pair => pair.map(() => editor()))
  const started = new Set()
  const before = server.procStats()
  const start = now()
  let errors = 0
  const pending = []
  const acks = []
  for (let k = 0; k < updates; k++) {
    const due = start + k * 1000 / rate
    while (now() < due) await sleep(Math.max(0, Math.min(4, due - now() - 0.5)))
    const doc = k % d; const side = Math.floor(k / d) % 2
    const key = `${doc}/${side}`
    const ed = editors[doc][side]
    const update = started.has(key) ? ed.next(`${k} `) : (started.add(key), ed.first())
    const c = pairs[doc][side]
    const t0 = now()
    pending.push(c.call('ydoc:document:update', { document_id: `note:${notes[doc].id}`, user_id: admin.id, socket_id: c.id, update: Array.from(update) }, { timeout: 60000 })
      .then(a => { acks.push(now() - t0); if (a?.ok !== true) errors++ }))
  }
  await Promise.all(pending)
  const acked = server.procStats()
  const ackWindow = (now() - start) / 1000
  await sleep(3000) // debounced rendering of the touched documents (~2 s) runs after the last update
  const settled = server.procStats()
  pairs.flat().forEach(c => c.close())
  const cpuAcked = acked.cpuSeconds - before.cpuSeconds
  const cpuSettled = settled.cpuSeconds - before.cpuSeconds
  return {
    docs: d,
    clients: d * 2,
    updates,
    rate,
    errors,
    ack_ms: quantiles(acks),
    window_s: Math.round(ackWindow * 100) / 100,
    server_cpu_s_per_1000_updates: Math.round(cpuAcked / updates * 1000 * 1000) / 1000,
    server_cpu_s_per_1000_updates_incl_render: Math.round(cpuSettled / updates * 1000 * 1000) / 1000,
    rss_connected_mb: mb(connected.rssBytes),
    rss_loaded_mb: mb(loaded.rssBytes),
    rss_after_updates_mb: mb(settled.rssBytes),
    kb_rss_per_loaded_doc: Math.round((loaded.rssBytes - connected.rssBytes) / d / 1024 * 10) / 10,
    kb_rss_per_doc_after_updates: Math.round((settled.rssBytes - connected.rssBytes) / d / 1024 * 10) / 10,
    goroutines_per_loaded_doc: Math.round((goroutinesLoaded - goroutinesConnected) / d * 100) / 100
  }
}

// (c) J clients cold-join a large document at once: join→state latency and
// the server's peak RSS. "Cold": the server is restarted after building the
// document, so its first join loads it from storage.
async function coldjoin (server, admin) {
  const j = num('joiners'); const bytes = num('doc-bytes'); const workers = num('workers')
  const note = await createNote(server.url, admin.token, { title: 'big', content: { md: 'big document' } })
  const documentId = `note:${note.id}`
  // Build the document: paragraphs of ~1 KB text, 64 per update.
  const builder = await connect(server.url, admin.token)
  expectOk(await builder.call('ydoc:document:join', { document_id: documentId, user_id: admin.id }))
  const doc = new Y.Doc()
  let last
  doc.on('update', u => { last = u })
  const frag = doc.getXmlFragment('prosemirror')
  const line = 'lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(18) // ~1 KB
  let size = 0
  while (size < bytes) {
    doc.transact(() => {
      for (let i = 0; i < 64; i++) {
        const p = new Y.XmlElement('paragraph')
        p.insert(0, [new Y.XmlText(`${size}:${i} ${line}`)])
        frag.insert(frag.length, [p])
      }
    })
    expectOk(await builder.call('ydoc:document:update', { document_id: documentId, user_id: admin.id, socket_id: builder.id, update: Array.from(last) }, { timeout: 60000 }))
    size = Y.encodeStateAsUpdate(doc).length
  }
  builder.close()
  await server.restart()
  const idleRss = server.procStats().rssBytes

  const children = await spawnWorkers(j, workers, { kind: 'coldjoin', url: server.url, token: admin.token, userId: admin.id, documentId })
  await sleep(500)
  const connectedRss = server.procStats().rssBytes
  let peak = connectedRss
  const sampler = setInterval(() => { try { peak = Math.max(peak, server.procStats().rssBytes) } catch {} }, 5)
  const results = children.map(c => new Promise(resolve => c.on('message', m => m.type === 'result' && resolve(m.latencies))))
  const before = server.procStats()
  const at = now() + 300
  children.forEach(c => c.send({ type: 'go', at }))
  const latencies = (await Promise.all(results)).flat()
  clearInterval(sampler)
  const after = server.procStats()
  const hwm = Number(/VmHWM:\s+(\d+)/.exec((await import('node:fs')).readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) * 1024
  children.forEach(c => c.send({ type: 'exit' }))
  return {
    joiners: j,
    workers,
    state_bytes: size,
    state_json_bytes: JSON.stringify(Array.from(Y.encodeStateAsUpdate(doc))).length, // what the state would be as JSON; it goes binary
    join_to_state_ms: quantiles(latencies),
    server_cpu_s: Math.round((after.cpuSeconds - before.cpuSeconds) * 100) / 100,
    rss_idle_after_restart_mb: mb(idleRss),
    rss_connected_mb: mb(connectedRss),
    peak_rss_sampled_mb: mb(peak),
    peak_rss_vmhwm_mb: mb(hwm)
  }
}

// (d) N idle connections: RSS and goroutines per connection.
async function idle (server, admin) {
  const n = num('connections'); const workers = num('workers')
  await sleep(500)
  const base = server.procStats()
  const gBase = await server.metric('go_goroutines')
  const children = await spawnWorkers(n, workers, { kind: 'idle', url: server.url, token: admin.token })
  await sleep(2000)
  const loaded = server.procStats()
  const gLoaded = await server.metric('go_goroutines')
  children.forEach(c => c.send({ type: 'exit' }))
  return {
    connections: n,
    workers,
    rss_base_mb: mb(base.rssBytes),
    rss_connected_mb: mb(loaded.rssBytes),
    kb_rss_per_connection: Math.round((loaded.rssBytes - base.rssBytes) / n / 1024 * 10) / 10,
    goroutines_per_connection: Math.round((gLoaded - gBase) / n * 100) / 100
  }
}
