// Start and stop the real quire binary for end-to-end tests.
//
// Each server gets a port of its own, its own temporary data directory and, for
// PostgreSQL, its own freshly created database that is dropped afterwards.
// A server can be stopped (SIGTERM), killed (SIGKILL) and started again on the
// same port, data directory and database, to test durability.

import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

const BIN = process.env.QUIRE_BIN || new URL('../../bin/quire', import.meta.url).pathname
const PG_URL = process.env.QUIRE_TEST_DATABASE_URL || ''

/** The database flavours every parametrized test runs on. */
export function databases () {
  return PG_URL ? ['sqlite', 'postgres'] : ['sqlite']
}

/** Report, once per file, that PostgreSQL variants are not running. */
export function postgresSkipNote () {
  return PG_URL ? undefined : 'QUIRE_TEST_DATABASE_URL is not set: PostgreSQL variants skipped'
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort () {
  const srv = net.createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  srv.close()
  await once(srv, 'close')
  return port
}

function psql (sql) {
  execFileSync('psql', [PG_URL, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] })
}

function databaseURL (name) {
  const u = new URL(PG_URL)
  u.pathname = '/' + name
  return u.toString()
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/**
 * Poll fn until it returns a truthy value; return that value. Throws with
 * `what` (and the last error fn threw, if any) after `timeout` ms.
 */
export async function waitUntil (fn, { timeout = 20000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout
  let lastErr
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` + (lastErr ? `: ${lastErr.message}` : ''))
    }
    await sleep(interval)
  }
}

export class QuireServer {
  constructor ({ db = 'sqlite', args = [], env = {}, port = 0 } = {}) {
    this.db = db
    this.fixedPort = port // 0: quire binds :0 and logs the port it got
    this.extraArgs = args
    this.env = env
    this.proc = null
    this.logLines = []
    this.exits = [] // exit codes/signals of earlier runs, in order
  }

  get url () { return `http://127.0.0.1:${this.port}` }
  get pid () { return this.proc?.pid }

  /** Create the data directory / database, start, wait for /healthz. */
  async init () {
    this.dataDir = mkdtempSync(join(tmpdir(), 'quire-e2e-'))
    if (this.db === 'postgres') {
      if (!PG_URL) throw new Error('QUIRE_TEST_DATABASE_URL is not set')
      this.dbName = 'quire_e2e_' + randomBytes(6).toString('hex')
      psql(`CREATE DATABASE ${this.dbName}`)
      this.databaseURL = databaseURL(this.dbName)
    }
    if (this.fixedPort) this.port = this.fixedPort
    else if (!this.logsListening()) this.port = await freePort()
    await this.start()
    return this
  }

  /**
   * Whether quire logs its "listening" line (Info) with the log level it
   * gets. Then the first start binds 127.0.0.1:0 and reads the port from it:
   * a port found free and released (freePort) could be taken by another
   * process before quire binds it.
   */
  logsListening () {
    return !/^(warn|error)$/i.test(this.env.QUIRE_LOG_LEVEL ?? process.env.QUIRE_E2E_LOG_LEVEL ?? '')
  }

  /** Start the process (again) with the same port, data directory and database. */
  async start () {
    if (this.proc) throw new Error('server already running')
    const args = ['serve', '--addr', `127.0.0.1:${this.port ?? 0}`, '--data-dir', this.dataDir, ...this.extraArgs]
    if (this.databaseURL) args.push('--database-url', this.databaseURL)
    const proc = spawn(BIN, args, {
      env: { ...process.env, QUIRE_LOG_LEVEL: process.env.QUIRE_E2E_LOG_LEVEL || 'info', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.proc = proc
    // Whole lines: a chunk may end inside one (the "listening" line too).
    const keep = line => {
      if (!line) return
      this.port ??= Number(/ msg=listening .*?\baddr=127\.0\.0\.1:(\d+)/.exec(line)?.[1]) || undefined
      if (process.env.QUIRE_E2E_VERBOSE) process.stderr.write(`[quire:${this.port}] ${line}\n`)
      this.logLines.push(line)
      if (this.logLines.length > 400) this.logLines.shift()
    }
    createInterface({ input: proc.stdout, crlfDelay: Infinity }).on('line', keep)
    createInterface({ input: proc.stderr, crlfDelay: Infinity }).on('line', keep)
    proc.exited = new Promise(resolve => proc.on('exit', (code, signal) => {
      this.exits.push({ code, signal, asked: proc.asked === true })
      if (this.proc === proc) this.proc = null
      resolve({ code, signal })
    }))
    proc.on('error', err => this.logLines.push(`spawn error: ${err.message}`))
    await this.waitHealthy(proc)
  }

  async waitHealthy (proc = this.proc, timeout = 30000) {
    const deadline = Date.now() + timeout
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`quire exited during start (${proc.exitCode ?? proc.signalCode}):\n${this.logs()}`)
      }
      try {
        const res = this.port && await fetch(this.url + '/healthz') // no port before the listening line
        if (res?.status === 200) return
      } catch {}
      if (Date.now() > deadline) throw new Error(`quire not healthy after ${timeout} ms:\n${this.logs()}`)
      await sleep(30)
    }
  }

  /** GET /healthz status (0 when the server does not answer). */
  async health () {
    try {
      const res = await fetch(this.url + '/healthz')
      return res.status
    } catch {
      return 0
    }
  }

  /** SIGTERM and wait for exit; returns {code, signal}. */
  async stop (timeout = 15000) {
    const proc = this.proc
    if (!proc) return this.exits.at(-1)
    proc.asked = true
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeout)
    const res = await proc.exited
    clearTimeout(timer)
    return res
  }

  /** SIGKILL (kill -9) and wait for exit. */
  async kill () {
    const proc = this.proc
    if (!proc) return
    proc.asked = true
    proc.kill('SIGKILL')
    await proc.exited
  }

  async restart () {
    const res = await this.stop()
    await this.start()
    return res
  }

  /** Server CPU seconds (utime+stime) and RSS bytes, from /proc. */
  procStats () {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14, 15)
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
    const rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)[1])
    return { cpuSeconds: ticks / 100, rssBytes: rssKB * 1024 }
  }

  /** One numeric sample from /metrics, or undefined. */
  async metric (name) {
    const text = await (await fetch(this.url + '/metrics')).text()
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)
    return m ? Number(m[1]) : undefined
  }

  logs () { return this.logLines.join('\n') }

  /** Stop the process, remove the data directory, drop the database. */
  async cleanup () {
    await this.stop()
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true })
    if (this.dbName) {
      try { psql(`DROP DATABASE IF EXISTS ${this.dbName} WITH (FORCE)`) } catch {}
    }
  }
}

/** Start a server (see QuireServer) and return it once /healthz answers 200. */
export async function startServer (opts) {
  const server = new QuireServer(opts)
  try {
    await server.init()
  } catch (err) {
    await server.cleanup()
    throw err
  }
  return server
}

/** Per-test timeout, so a server that never answers fails a test instead of hanging the suite. */
export const TEST_TIMEOUT = 120000
