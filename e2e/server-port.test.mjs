// The test servers' ports: quire binds 127.0.0.1:0 itself and the helper
// reads the port from its "listening" line, so no port is picked free,
// released, and then maybe taken by another process before quire binds it.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer, TEST_TIMEOUT } from './helpers/server.mjs'

const addrArg = proc => proc.spawnargs[proc.spawnargs.indexOf('--addr') + 1]

test('a server binds :0, serves on the port it logged, and a restart keeps that port', { timeout: TEST_TIMEOUT }, async () => {
  const server = await startServer()
  try {
    assert.equal(addrArg(server.proc), '127.0.0.1:0')
    assert.ok(Number.isInteger(server.port) && server.port > 0, `port ${server.port}`)
    assert.equal(await server.health(), 200)
    await server.restart()
    assert.equal(addrArg(server.proc), `127.0.0.1:${server.port}`)
    assert.equal(await server.health(), 200)
  } finally {
    await server.cleanup()
  }
})

test('a server whose log level hides the listening line gets a free port instead', { timeout: TEST_TIMEOUT }, async () => {
  const server = await startServer({ env: { QUIRE_LOG_LEVEL: 'warn' } })
  try {
    assert.equal(addrArg(server.proc), `127.0.0.1:${server.port}`)
    assert.equal(await server.health(), 200)
  } finally {
    await server.cleanup()
  }
})

test('a listening line that reaches the helper in two pieces still gives the right port', { timeout: TEST_TIMEOUT }, async () => {
  // A stand-in for quire: serves /healthz and writes its listening line in
  // two writes 200 ms apart, cut inside the port, as a pipe may deliver it.
  const dir = mkdtempSync(join(tmpdir(), 'quire-fake-'))
  try {
    const fake = join(dir, 'fake-quire.mjs')
    writeFileSync(fake, `#!${process.execPath}
import http from 'node:http'
const srv = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1', () => {
  const line = 'time=now level=INFO msg=listening addr=127.0.0.1:' + srv.address().port + '\\n'
  process.stderr.write(line.slice(0, -4))
  setTimeout(() => process.stderr.write(line.slice(-4)), 200)
})
process.on('SIGTERM', () => process.exit(0))
`, { mode: 0o755 })
    const helper = new URL('./helpers/server.mjs', import.meta.url).href
    const script = `const m = await import(${JSON.stringify(helper)}); const s = await m.startServer(); console.log(JSON.stringify({ port: s.port, health: await s.health(), pid: s.pid })); await s.cleanup()`
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script],
      { env: { ...process.env, QUIRE_BIN: fake }, encoding: 'utf8', timeout: 60000 })
    const got = JSON.parse(out.trim().split('\n').at(-1))
    assert.equal(got.health, 200, `the helper took port ${got.port}`)
    assert.ok(got.port > 9999, `port ${got.port} is the whole number`) // Linux's ephemeral ports are five digits
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
