// Several quire instances behind "one address": one PostgreSQL database,
// one Redis key prefix, one secret, each instance on its own loopback port
// (issue 12). Tests spread clients over the instances themselves.

import { spawn, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { QuireServer, freePort, waitUntil, sleep } from './server.mjs'

const PG_URL = process.env.QUIRE_TEST_DATABASE_URL || ''
const REDIS_URL = process.env.QUIRE_TEST_REDIS_URL || ''

/** Why the multi-instance tests cannot run here, or undefined. */
export function instancesSkip () {
  if (!PG_URL) return 'QUIRE_TEST_DATABASE_URL is not set'
  if (!REDIS_URL) return 'QUIRE_TEST_REDIS_URL is not set'
  return undefined
}

function psql (sql) {
  execFileSync('psql', [PG_URL, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Delete every key of prefix in the Redis at url. */
export function deleteRedisPrefix (url, prefix) {
  const keys = execFileSync('redis-cli', ['-u', url, '--scan', '--pattern', prefix + '*'], { encoding: 'utf8' })
    .split('\n').filter(Boolean)
  for (let i = 0; i < keys.length; i += 500) {
    execFileSync('redis-cli', ['-u', url, 'DEL', ...keys.slice(i, i + 500)], { stdio: 'ignore' })
  }
}

/**
 * A redis-server of the test's own on a free port (never the shared one):
 * stop() and start() it to take Redis away mid-edit.
 */
export class PrivateRedis {
  async init () {
    this.port = await freePort()
    this.dir = mkdtempSync(join(tmpdir(), 'quire-redis-'))
    await this.start()
    return this
  }

  get url () { return `redis://127.0.0.1:${this.port}/0` }

  async start () {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir],
      { stdio: 'ignore' })
    this.proc.exited = once(this.proc, 'exit')
    await waitUntil(() => {
      try {
        return execFileSync('redis-cli', ['-u', this.url, 'PING'], { encoding: 'utf8' }).trim() === 'PONG'
      } catch { return false }
    }, { timeout: 20000, what: 'the private redis-server to answer' })
  }

  async stop () {
    if (!this.proc) return
    this.proc.kill('SIGKILL') // an outage, not a clean shutdown
    await this.proc.exited
    this.proc = null
  }

  /** SIGSTOP: Redis keeps its connections but answers nothing (a hung or partitioned Redis). */
  pause () {
    this.proc.kill('SIGSTOP')
    this.paused = true
  }

  /** SIGCONT after pause (nothing if not paused). */
  resume () {
    if (this.paused) this.proc?.kill('SIGCONT')
    this.paused = false
  }

  async cleanup () {
    this.resume()
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * Start n instances sharing a fresh database and Redis prefix. Returns
 * {servers, cleanup}.
 */
export async function startInstances (n, { redisURL = REDIS_URL, extraArgs = [] } = {}) {
  const dbName = 'quire_e2e_' + randomBytes(6).toString('hex')
  psql(`CREATE DATABASE ${dbName}`)
  const u = new URL(PG_URL)
  u.pathname = '/' + dbName
  const prefix = `quire-e2e-${randomBytes(6).toString('hex')}:`
  const secret = randomBytes(24).toString('hex')
  const servers = []
  const cleanup = async () => {
    // An instance that exited by itself (not stopped or killed by a test)
    // is a bug: show how it ended.
    for (const s of servers) {
      for (const e of s.exits) {
        if (!e.asked) {
          process.stderr.write(`# instance ${s.port} exited by itself (${JSON.stringify(e)}):\n${s.logLines.slice(-80).join('\n')}\n`)
        }
      }
    }
    await Promise.all(servers.map(s => s.cleanup()))
    try { psql(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`) } catch {}
    try { deleteRedisPrefix(redisURL, prefix) } catch {}
  }
  try {
    for (let i = 0; i < n; i++) {
      const s = new QuireServer({
        args: ['--database-url', u.toString(), '--redis-url', redisURL, '--redis-prefix', prefix, '--secret', secret, ...extraArgs]
      })
      servers.push(s)
      await s.init()
    }
  } catch (err) {
    await cleanup()
    throw err
  }
  return { servers, prefix, cleanup }
}

export { sleep }
