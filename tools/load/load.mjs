#!/usr/bin/env node
// Quire load tool: the scenarios of /work/shared/PERFORMANCE.md against a real
// quire binary, with real socket.io-client and yjs. Prints one JSON summary.
//
//   node tools/load/load.mjs --scenario fanout --editors 200
//   node tools/load/load.mjs --scenario docs --docs 1000
//   node tools/load/load.mjs --scenario coldjoin --joiners 50 --doc-bytes 1048576 --workers 2
//   node tools/load/load.mjs --scenario idle --connections 5000 --workers 4
//   node tools/load/load.mjs --scenario fanout --editors 200 --instances 3
//   node tools/load/load.mjs --scenario scale --connections 20000 --docs 5000 --workers 4
//     (thin websocket clients, tools/load/thin.mjs; --edit-docs 250 --edit-rate 50
//     --duration 20 --healthz-ms 50 --concurrency 64 --nice 10; docs/design.md, "Scale")
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
import { fork, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setPriority } from 'node:os'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { QuireServer, sleep, waitUntil } from '../../e2e/helpers/server.mjs'
import { signup, createNote } from '../../e2e/helpers/api.mjs'
import { Client, expectOk } from '../../e2e/helpers/socket.mjs'
import { startInstances } from '../../e2e/helpers/instances.mjs'
import { ThinClient } from './thin.mjs'

const { values: opt } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'fanout' }, // fanout | docs | coldjoin | idle | scale
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
    'edit-docs': { type: 'string', default: '250' }, // scale: documents that get edits
    'edit-rate': { type: 'string', default: '50' }, // scale: updates per second, all editors together
    'healthz-ms': { type: 'string', default: '50' }, // scale: /healthz poll interval
    concurrency: { type: 'string', default: '64' }, // scale: connects/joins in flight per worker
    nice: { type: 'string', default: '10' }, // scale: scheduling priority of the client workers
    'note-bytes': { type: 'string', default: '0' }, // scale: Markdown content of each note (0: a few words)
    'server-nice': { type: 'string', default: '0' }, // scale: scheduling priority of the server (below 0: ahead of the machine's other work; needs CAP_SYS_NICE)
    port: { type: 'string', default: '0' }, // the server's port (one instance); 0: a free one
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
  // QUIRE_ARGS: extra serve flags, e.g. "--pprof-addr 127.0.0.1:6060".
  const server = new QuireServer({ db: opt.db, port: num('port'), args: (process.env.QUIRE_ARGS || '').split(/\s+/).filter(Boolean) })
  await server.init()
  return new Cluster([server], () => server.cleanup())
}


// ---------------------------------------------------------------------------
// Worker processes (coldjoin, idle): the parent sends a config, the child
// connects its clients, reports 'ready', runs on 'go', reports results.

if (opt.child && JSON.parse(opt.child).kind === 'scale') {
  scaleChild()
} else if (opt.child && JSON.parse(opt.child).kind === 'floor') {
  const http = await import('node:http')
  const srv = http.createServer((req, res) => res.end('ok')).listen(JSON.parse(opt.child).port, '127.0.0.1', () => process.send({ port: srv.address().port }))
} else if (opt.child) {
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
    const run = { fanout, docs, coldjoin, idle, scale }[opt.scenario]
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

// ---------------------------------------------------------------------------
// (e) Scale: C thin websocket clients over D documents (C/D per document),
// edits on a few of them, /healthz polled all along. Phases: connect (all
// clients), join (every client its document), edit (--duration s of
// --edit-rate updates/s over --edit-docs documents). Reports /healthz
// latency per phase and overall, errors, refused and dropped connections,
// server RSS (total, per connection, per document), goroutines and CPU.

/** The soft and hard RLIMIT_NOFILE of a process, from /proc. */
function fdLimits (pid) {
  const text = readFileSync(`/proc/${pid}/limits`, 'utf8')
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text)
  const n = v => v === 'unlimited' ? Infinity : Number(v)
  return { soft: n(m[1]), hard: n(m[2]) }
}

/**
 * Make sure pid may open `need` files: raise its soft and hard
 * RLIMIT_NOFILE with prlimit(1) when they are lower (raising the hard
 * limit needs root or CAP_SYS_RESOURCE; a failure is reported, not fatal).
 */
function ensureFds (pid, need) {
  const lim = fdLimits(pid)
  if (lim.soft >= need) return { ...lim, raised: false }
  const to = Math.max(need, lim.hard === Infinity ? need : 0)
  try {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${to}:${to}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    process.stderr.write(`# could not raise RLIMIT_NOFILE of ${pid} to ${to}: ${err.stderr?.toString().trim() || err.message}\n`)
  }
  return { ...fdLimits(pid), raised: true }
}

/** Every sample of a metric summed (all label sets), from the first server's /metrics. */
async function metricSum (server, name) {
  let sum = 0
  for (const s of server.servers) {
    const text = await (await fetch(s.url + '/metrics', { signal: AbortSignal.timeout(30000) })).text()
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1])
  }
  return sum
}

/** A histogram's cumulative buckets {le: count}, summed over the servers. */
async function histogram (server, name) {
  const buckets = {}
  for (const s of server.servers) {
    const text = await (await fetch(s.url + '/metrics', { signal: AbortSignal.timeout(30000) })).text()
    for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))) buckets[m[1]] = (buckets[m[1]] ?? 0) + Number(m[2])
  }
  return buckets
}

/**
 * Go's scheduling latency between two snapshots of go_sched_latencies_seconds
 * (the time goroutines waited runnable for a thread): how many waits, the
 * share over 1 ms and over 10 ms, and the bucket bound under which 99 % fell.
 * Long waits here mean Quire's own run queue; short waits next to a slow
 * /healthz mean the process waited for the machine's CPU.
 */
function schedWait (a, b) {
  const les = Object.keys(b).sort((x, y) => Number(x) - Number(y))
  const d = le => (b[le] ?? 0) - (a[le] ?? 0)
  const total = d('+Inf')
  if (!total) return { n: 0 }
  const under = lim => les.filter(le => Number(le) <= lim).reduce((m, le) => Math.max(m, d(le)), 0)
  const p99 = les.find(le => d(le) >= 0.99 * total)
  const pct = v => Math.round(v / total * 10000) / 100
  return { n: total, pct_over_1ms: pct(total - under(0.001)), pct_over_10ms: pct(total - under(0.011)), p99_under_ms: p99 === '+Inf' ? 'inf' : Math.round(Number(p99) * 1e5) / 100 }
}

/** Polls GET /healthz every `interval` ms (one request at a time per tick, overlapping when slow), tagging each sample with the current phase. */
function healthzPoller (url, interval, path = '/healthz') {
  const samples = [] // {phase, ms, ok}
  let phase = 'setup'
  let inflight = 0; let maxInflight = 0
  const errors = []
  const tick = async () => {
    const p = phase
    const t0 = now()
    inflight++; maxInflight = Math.max(maxInflight, inflight)
    try {
      const res = await fetch(url + path, { signal: AbortSignal.timeout(10000) })
      await res.arrayBuffer()
      samples.push({ phase: p, ms: now() - t0, ok: res.status === 200 })
      if (res.status !== 200 && errors.length < 5) errors.push(`status ${res.status}`)
    } catch (err) {
      samples.push({ phase: p, ms: now() - t0, ok: false })
      if (errors.length < 5) errors.push(err.message)
    } finally { inflight-- }
  }
  const timer = setInterval(tick, interval)
  return {
    get phase () { return phase },
    set phase (p) {
      phase = p
      if (this.next) this.next.phase = p
      else process.stderr.write(`# ${new Date().toISOString()} phase ${p}\n`)
    },
    async stop () {
      clearInterval(timer)
      await waitUntil(() => inflight === 0, { timeout: 15000, what: 'last /healthz' }).catch(() => {})
      const summary = xs => ({ ...quantiles(xs.map(s => s.ms)), errors: xs.filter(s => !s.ok).length })
      const phases = {}
      for (const ph of new Set(samples.map(s => s.phase))) phases[ph] = summary(samples.filter(s => s.phase === ph))
      return { interval_ms: interval, all: summary(samples), by_phase: phases, max_in_flight: maxInflight, first_errors: errors }
    }
  }
}

/**
 * Count the servers' log lines by level and message from now on (a flood of
 * one line is a finding), keeping the first few warnings and errors.
 */
function countLogs (server) {
  const counts = new Map()
  const first = []
  for (const s of server.servers) {
    for (const stream of [s.proc.stdout, s.proc.stderr]) {
      let rest = ''
      stream.on('data', chunk => {
        const lines = (rest + chunk.toString()).split('\n')
        rest = lines.pop()
        for (const line of lines) {
          const m = /level=(\w+) msg=(?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(line)
          const key = m ? `${m[1]} ${m[2] ?? m[3]}` : `raw ${line.slice(0, 80)}`
          counts.set(key, (counts.get(key) ?? 0) + 1)
          if (!/level=(INFO|DEBUG)/.test(line) && first.length < 10) first.push(line.slice(0, 300))
        }
      })
    }
  }
  return {
    summary: () => ({
      lines: [...counts.values()].reduce((a, b) => a + b, 0),
      top: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).slice(0, 12)),
      first_warnings: first
    })
  }
}

/** Send msg to every worker and collect one reply of type `reply` from each. */
function askAll (children, msg, reply) {
  return Promise.all(children.map((c, w) => new Promise((resolve, reject) => {
    const on = m => { if (m.type === reply) { c.off('message', on); resolve(m) } }
    c.on('message', on)
    c.once('exit', code => reject(new Error(`worker ${w} exited ${code}`)))
    c.send(typeof msg === 'function' ? msg(w) : msg)
  })))
}

async function scale (server, admin) {
  const n = num('connections'); const d = num('docs'); const workers = num('workers')
  const editDocs = Math.min(d, num('edit-docs')); const editRate = num('edit-rate'); const duration = num('duration')
  const concurrency = num('concurrency')
  let stateBytesPerDoc = 0
  const report = { connections: n, docs: d, workers, clients_per_doc: n / d, note_bytes: num('note-bytes'), edit_docs: editDocs, edit_rate: editRate, duration_s: duration, worker_nice: num('nice') }

  let t = now()
  const notes = []
  // --note-bytes: paragraphs of text up to that size, so that the memory per
  // loaded document can be set against its encoded state.
  const noteBytes = num('note-bytes')
  const para = 'lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(8)
  const content = i => noteBytes > 0 ? { md: Array.from({ length: Math.ceil(noteBytes / (para.length + 2)) }, (_, k) => `${i}.${k} ${para}`).join('\n\n').slice(0, noteBytes) } : { md: `document ${i}` }
  for (let i = 0; i < d; i += 50) {
    notes.push(...await Promise.all(Array.from({ length: Math.min(50, d - i) }, (_, j) =>
      createNote(server.url, admin.token, { title: `scale ${i + j}`, content: content(i + j) }))))
  }
  report.create_notes_s = Math.round((now() - t) / 10) / 100
  const documentIds = notes.map(note => `note:${note.id}`)
  // A fresh process, so the baseline holds nothing of the note creation.
  await server.restart()
  report.server_nofile = server.servers.map(s => ensureFds(s.pid, Math.ceil(n / server.servers.length) + 4096))
  report.load_nofile = fdLimits(process.pid)
  // --server-nice: the server ahead of (or behind) the machine's other work,
  // to tell its own latency from the wait for a busy machine's CPU.
  if (num('server-nice') !== 0) {
    report.server_nice = num('server-nice')
    setPriority(0, num('server-nice')) // and the /healthz poll (this thread)
    for (const s of server.servers) {
      for (const tid of (await import('node:fs')).readdirSync(`/proc/${s.pid}/task`)) setPriority(Number(tid), num('server-nice'))
    }
  }
  const logs = countLogs(server)

  // Server RSS/CPU sampled every 250 ms for the peak and the CPU per phase.
  let peakRss = 0
  const sampler = setInterval(() => { try { peakRss = Math.max(peakRss, server.procStats().rssBytes) } catch {} }, 250)
  // With --pprof-addr in QUIRE_ARGS, a heap profile with gc=1 before every
  // snapshot: the heap figures are then live memory, not garbage awaiting
  // the next cycle (the profile after the joins is kept as
  // $QUIRE_HEAP_PROFILE when set).
  const pprof = /--pprof-addr[ =](\S+)/.exec(process.env.QUIRE_ARGS || '')?.[1]
  const collect = async file => {
    if (!pprof || server.servers.length > 1) return
    // The polls during the forced GC are reported apart (phase forced_gc):
    // the measurement's own cost, not the phase's.
    const was = health.phase
    health.phase = 'forced_gc'
    try {
      const res = await fetch(`http://${pprof}/debug/pprof/heap?gc=1`, { signal: AbortSignal.timeout(60000) })
      const body = Buffer.from(await res.arrayBuffer())
      if (file) (await import('node:fs')).writeFileSync(file, body)
    } finally { health.phase = was }
  }
  report.heap_after_gc = Boolean(pprof && server.servers.length === 1)
  const stats = async file => (await collect(file), { ...server.procStats(), goroutines: await metricSum(server, 'go_goroutines'), heap: await metricSum(server, 'go_memstats_heap_inuse_bytes'), sched: await histogram(server, 'go_sched_latencies_seconds'), at: now() })
  const health = healthzPoller(server.url, num('healthz-ms'))
  // The same poll of an answer that touches nothing (GET /api/version): what
  // any request waits for on this machine, next to what /healthz adds.
  const control = healthzPoller(server.url, num('healthz-ms'), '/api/version')
  health.next = control
  // And the floor: a trivial HTTP server in a process of its own (Node, same
  // priority as the server), polled alike. Its latency is the machine's
  // (other work on the cores, the poll's own event loop), not Quire's.
  const floorProc = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify({ kind: 'floor', port: num('port') ? num('port') + 1 : 0 })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const floorPort = await new Promise(resolve => floorProc.once('message', m => resolve(m.port)))
  if (num('server-nice') !== 0) try { setPriority(floorProc.pid, num('server-nice')) } catch {}
  const floor = healthzPoller(`http://127.0.0.1:${floorPort}`, num('healthz-ms'), '/')
  control.next = floor
  await sleep(1000)
  const base = await stats()

  // Worker processes; connection g (0..n-1) belongs to worker floor(g / per)
  // and joins document g % d, so the clients of one document sit in
  // different workers and join from different processes.
  const children = []
  const per = Math.ceil(n / workers)
  for (let w = 0; w < workers; w++) {
    const first = w * per; const count = Math.max(0, Math.min(per, n - first))
    const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify({ kind: 'scale' })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.first = first; child.count = count
    ensureFds(child.pid, count + 1024)
    // The clients yield the CPU to the server and the /healthz poll (2
    // shared cores): what is measured is the server's responsiveness, not
    // how the load generator starves it. --nice 0 turns this off.
    try { setPriority(child.pid, num('nice')) } catch {}
    children.push(child)
  }
  try {
    health.phase = 'connect'
    t = now()
    const connected = await askAll(children, w => ({ type: 'connect', url: server.urlFor(w), token: admin.token, count: children[w].count, concurrency }), 'connected')
    report.connect_s = Math.round((now() - t) / 10) / 100
    report.connect_ms = quantiles(connected.flatMap(r => r.latencies))
    report.connect_failed = connected.reduce((a, r) => a + r.failed, 0)
    report.connect_retried = connected.reduce((a, r) => a + r.retries, 0)
    report.connect_first_errors = connected.flatMap(r => r.firstErrors).slice(0, 5)
    health.phase = 'connected'
    await sleep(2000)
    const afterConnect = await stats()

    health.phase = 'join'
    t = now()
    const joined = await askAll(children, w => ({
      type: 'join',
      userId: admin.id,
      concurrency,
      documents: Array.from({ length: children[w].count }, (_, i) => documentIds[(children[w].first + i) % d])
    }), 'joined')
    report.join_s = Math.round((now() - t) / 10) / 100
    report.join_ms = quantiles(joined.flatMap(r => r.latencies))
    report.join_failed = joined.reduce((a, r) => a + r.failed, 0)
    report.join_first_errors = joined.flatMap(r => r.firstErrors).slice(0, 5)
    health.phase = 'joined'
    await sleep(2000)
    const afterJoin = await stats(process.env.QUIRE_HEAP_PROFILE)
    const liveDocs = await metricSum(server, 'quire_ydoc_live_documents')

    // Edits: document k < editDocs is edited by its client in worker k % workers.
    health.phase = 'edit'
    const edited = await askAll(children, w => {
      const editors = []
      for (let i = 0; i < children[w].count; i++) {
        const k = (children[w].first + i) % d
        if (k < editDocs && k % workers === w && !editors.some(e => e.documentId === documentIds[k])) editors.push({ index: i, documentId: documentIds[k] })
      }
      return { type: 'edit', userId: admin.id, editors, rate: editRate / workers, duration }
    }, 'edited')
    report.edit_updates = edited.reduce((a, r) => a + r.updates, 0)
    report.edit_ack_ms = quantiles(edited.flatMap(r => r.latencies))
    report.edit_failed = edited.reduce((a, r) => a + r.failed, 0)
    report.edit_first_errors = edited.flatMap(r => r.firstErrors).slice(0, 5)
    health.phase = 'idle'
    await sleep(2000)
    const afterEdit = await stats()

    const final = await askAll(children, { type: 'stats' }, 'stats')
    report.dropped_connections = final.reduce((a, r) => a + r.dropped, 0)
    report.open_connections_at_end = final.reduce((a, r) => a + r.open, 0)
    report.events_received = final.reduce((a, r) => a + r.received, 0)
    // Every client of a document got its state once: the mean encoded state.
    const joinedClients = joined.reduce((a, r) => a + r.latencies.length - r.failed, 0)
    stateBytesPerDoc = joinedClients ? final.reduce((a, r) => a + r.stateBytes, 0) / joinedClients : 0
    report.state_bytes_per_doc = Math.round(stateBytesPerDoc)
    report.refused_total = await metricSum(server, 'quire_server_refused_total')
    report.closed_by_server_total = await metricSum(server, 'quire_realtime_closed_total')
    report.realtime_rejected_total = await metricSum(server, 'quire_realtime_rejected_total')
    report.connected_sockets = await metricSum(server, 'quire_realtime_connected_sockets')
    report.live_documents = liveDocs
    report.server_log = logs.summary()
    report.healthz = await health.stop()
    report.control_api_version = await control.stop()
    report.floor_trivial_server = await floor.stop()
    // SIGTERM with every socket open: the drain closes them all.
    t = now()
    const exits = []
    for (const s of server.servers) exits.push(await s.stop(120000))
    report.sigterm_to_exit_s = Math.round((now() - t) / 10) / 100
    report.sigterm_exits = exits
    report.server_log_after_sigterm = logs.summary().first_warnings.filter(l => !/connection capacity/.test(l))
    const cpu = (a, b) => Math.round((b.cpuSeconds - a.cpuSeconds) * 100) / 100
    const secs = (a, b) => Math.round((b.at - a.at) / 10) / 100
    report.server = {
      rss_base_mb: mb(base.rssBytes),
      rss_connected_mb: mb(afterConnect.rssBytes),
      rss_joined_mb: mb(afterJoin.rssBytes),
      rss_after_edits_mb: mb(afterEdit.rssBytes),
      rss_peak_sampled_mb: mb(peakRss),
      heap_inuse_mb: { base: mb(base.heap), connected: mb(afterConnect.heap), joined: mb(afterJoin.heap), after_edits: mb(afterEdit.heap) },
      kb_heap_per_connection: Math.round((afterConnect.heap - base.heap) / n / 1024 * 10) / 10,
      kb_heap_per_joined_doc: Math.round((afterJoin.heap - afterConnect.heap) / d / 1024 * 10) / 10,
      kb_rss_per_connection: Math.round((afterConnect.rssBytes - base.rssBytes) / n / 1024 * 10) / 10,
      kb_rss_per_joined_doc: Math.round((afterJoin.rssBytes - afterConnect.rssBytes) / d / 1024 * 10) / 10,
      // Issue 13's bound for a loaded document: 25 KB plus 3x its encoded state.
      kb_per_doc_bound: Math.round((25 * 1024 + 3 * stateBytesPerDoc) / 1024 * 10) / 10,
      goroutines: { base: base.goroutines, connected: afterConnect.goroutines, joined: afterJoin.goroutines, after_edits: afterEdit.goroutines },
      goroutines_per_connection: Math.round((afterConnect.goroutines - base.goroutines) / n * 100) / 100,
      cpu_s: { connect: cpu(base, afterConnect), join: cpu(afterConnect, afterJoin), edit: cpu(afterJoin, afterEdit) },
      go_sched_wait: { connect: schedWait(base.sched, afterConnect.sched), join: schedWait(afterConnect.sched, afterJoin.sched), edit: schedWait(afterJoin.sched, afterEdit.sched) },
      phase_s: { connect: secs(base, afterConnect), join: secs(afterConnect, afterJoin), edit: secs(afterJoin, afterEdit) }
    }
    return report
  } finally {
    clearInterval(sampler)
    await health.stop()
    await control.stop()
    await floor.stop()
    floorProc.kill('SIGKILL')
    for (const c of children) c.kill('SIGKILL')
  }
}

/** The scale scenario's worker: holds its share of thin clients and acts on the parent's messages. */
function scaleChild () {
  const clients = []
  let dropped = 0
  const pool = async (count, limit, fn) => {
    let next = 0
    await Promise.all(Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) await fn(next++)
    }))
  }
  const handlers = {
    async connect (msg) {
      const latencies = []; const firstErrors = []
      let failed = 0; let retries = 0
      await pool(msg.count, msg.concurrency, async i => {
        for (let attempt = 0; ; attempt++) {
          const t0 = now()
          try {
            const c = await ThinClient.connect(msg.url, msg.token, { timeout: 10000 })
            latencies.push(now() - t0)
            c.onClose = () => { dropped++ }
            clients[i] = c
            return
          } catch (err) {
            if (attempt < 2) { retries++; continue }
            failed++
            if (firstErrors.length < 3) firstErrors.push(err.message)
            return
          }
        }
      })
      return { type: 'connected', latencies, failed, retries, firstErrors }
    },
    async join (msg) {
      const latencies = []; const firstErrors = []
      let failed = 0
      await pool(msg.documents.length, msg.concurrency, async i => {
        const c = clients[i]
        if (!c) return
        const t0 = now()
        const ack = await c.call('ydoc:document:join', { document_id: msg.documents[i], user_id: msg.userId }, { timeout: 60000 })
        latencies.push(now() - t0)
        if (ack?.ok !== true) {
          failed++
          if (firstErrors.length < 3) firstErrors.push(JSON.stringify(ack ?? 'no ack'))
        }
      })
      return { type: 'joined', latencies, failed, firstErrors }
    },
    async edit (msg) {
      const latencies = []; const firstErrors = []
      let failed = 0; let updates = 0
      if (msg.editors.length === 0 || msg.rate <= 0) return { type: 'edited', latencies, failed, updates, firstErrors }
      const eds = msg.editors.map(e => ({ ...e, ed: editor(), started: false }))
      const total = Math.round(msg.rate * msg.duration)
      const start = now()
      const pending = []
      for (let k = 0; k < total; k++) {
        const due = start + k * 1000 / msg.rate
        while (now() < due) await sleep(Math.max(0, Math.min(4, due - now() - 0.5)))
        const e = eds[k % eds.length]
        const c = clients[e.index]
        if (!c) continue
        const update = e.started ? e.ed.next(`${k} `) : (e.started = true, e.ed.first())
        const t0 = now()
        updates++
        pending.push(c.call('ydoc:document:update', { document_id: e.documentId, user_id: msg.userId, socket_id: c.id, update: Array.from(update) }, { timeout: 60000 })
          .then(a => {
            latencies.push(now() - t0)
            if (a?.ok !== true) { failed++; if (firstErrors.length < 3) firstErrors.push(JSON.stringify(a ?? 'no ack')) }
          }))
      }
      await Promise.all(pending)
      return { type: 'edited', latencies, failed, updates, firstErrors }
    },
    async stats () {
      return { type: 'stats', dropped, open: clients.filter(c => c?.connected).length, received: clients.reduce((a, c) => a + (c?.received ?? 0), 0), stateBytes: clients.reduce((a, c) => a + (c?.stateBytes ?? 0), 0) }
    }
  }
  process.on('message', async msg => {
    const h = handlers[msg.type]
    if (h) process.send(await h(msg))
  })
}
