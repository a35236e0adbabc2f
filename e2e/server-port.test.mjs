// The test servers' ports: quire binds 127.0.0.1:0 itself and the helper
// reads the port from its "listening" line, so no port is picked free,
// released, and then maybe taken by another process before quire binds it.

import { test } from 'node:test'
import assert from 'node:assert/strict'
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
