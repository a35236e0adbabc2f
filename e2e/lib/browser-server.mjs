// Runs the quire binary ($QUIRE_BIN, else bin/quire) for the browser tests:
// a free port, a fresh data directory, /healthz polled until 200; restart
// keeps the port and the data.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import net from 'node:net'

const BIN = process.env.QUIRE_BIN || new URL('../../bin/quire', import.meta.url).pathname

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function freePort () {
  const srv = net.createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  srv.close()
  await once(srv, 'close')
  return port
}

export class Server {
  constructor (args = []) {
    this.args = args
    this.proc = null
    this.log = []
  }

  get url () { return `http://127.0.0.1:${this.port}` }

  async start () {
    this.port ??= await freePort()
    this.dataDir ??= mkdtempSync(join(tmpdir(), 'quire-browser-'))
    const proc = spawn(BIN, ['serve', '--addr', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, QUIRE_LOG_LEVEL: process.env.QUIRE_LOG_LEVEL || 'warn' }
    })
    const keep = (chunk) => {
      this.log.push(...chunk.toString().split('\n').filter(Boolean))
      if (this.log.length > 300) this.log.splice(0, this.log.length - 300)
    }
    proc.stdout.on('data', keep)
    proc.stderr.on('data', keep)
    proc.exited = new Promise((resolve) => proc.on('exit', resolve))
    this.proc = proc
    const deadline = Date.now() + 30000
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`quire exited at start:\n${this.log.join('\n')}`)
      try {
        if ((await fetch(this.url + '/healthz')).status === 200) return this
      } catch {}
      if (Date.now() > deadline) throw new Error(`quire not healthy:\n${this.log.join('\n')}`)
      await sleep(50)
    }
  }

  async stop () {
    const proc = this.proc
    if (!proc || proc.exitCode !== null) return
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15000)
    await proc.exited
    clearTimeout(timer)
    this.proc = null
  }

  async restart () {
    await this.stop()
    await this.start()
  }

  async cleanup () {
    await this.stop()
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true })
  }
}

export async function startServer (args) {
  const server = new Server(args)
  try {
    return await server.start()
  } catch (err) {
    await server.cleanup()
    throw err
  }
}
