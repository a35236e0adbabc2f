// A Socket.IO client wrapper: promise acks and a log of every received event
// that tests can wait on (events that arrived before the wait are found too).

import { io } from 'socket.io-client'

/** Connects and stalled (retried) connects in this process: see Client.connect. */
export const connectStats = { connects: 0, stalls: 0 }

export class Client {
  constructor (socket) {
    this.socket = socket
    this.events = [] // {event, data} in arrival order
    this.waiters = new Set()
    socket.onAny((event, data) => {
      this.events.push({ event, data })
      for (const w of this.waiters) w()
    })
  }

  /**
   * Connect with auth {token}; resolves once connected.
   *
   * About 1 in 1,000-4,000 websocket connects never gets the library's
   * CONNECT reply (shared/DEPENDENCIES.md, zishang520/socket.io defect 1).
   * Browsers reconnect, so a first attempt that times out (only a timeout: a
   * refused or failed connect is reported as is) is closed and retried once
   * with a longer timeout (up to a minute: a starved server, not a stall,
   * realtime/testdata/lib.mjs), announced on stderr. Stalls are counted per test
   * file and bounded (2 plus 1% of its connects), as in churn.test.mjs, so a
   * regression that makes them common still fails. Pass retry: false to
   * count stalls yourself.
   */
  static async connect (base, token, { timeout = 5000, retryTimeout = Math.max(60000, 4 * timeout), reconnection = false, retry = true } = {}) {
    connectStats.connects++
    try {
      return await Client.connectOnce(base, token, { timeout, reconnection })
    } catch (err) {
      if (!retry || !err?.connectTimeout) throw err
      connectStats.stalls++
      const { connects, stalls } = connectStats
      process.stderr.write(`# stalled connect retried (${stalls} of ${connects} connects in this file): ${err.message}\n`)
      if (stalls > 2 + connects / 100) throw new Error(`${stalls} stalled connects in ${connects}: far above the library's known rate`)
      return Client.connectOnce(base, token, { timeout: retryTimeout, reconnection })
    }
  }

  /** One connect attempt; a timeout rejects with err.connectTimeout set. */
  static async connectOnce (base, token, { timeout, reconnection }) {
    const socket = io(base, {
      path: '/ws/socket.io',
      transports: ['websocket'],
      auth: { token },
      reconnection,
      forceNew: true,
      timeout
    })
    const client = new Client(socket)
    await new Promise((resolve, reject) => {
      const timedOut = message => {
        socket.close()
        reject(Object.assign(new Error(message), { connectTimeout: true }))
      }
      const timer = setTimeout(() => timedOut(`socket connect timed out after ${timeout} ms`), timeout)
      socket.once('connect', () => { clearTimeout(timer); resolve() })
      socket.once('connect_error', err => {
        clearTimeout(timer)
        // The client's own open timeout (engine.io handshake not done in
        // time) is the same stall seen one step earlier.
        if (err?.message === 'timeout' && !err.data) return timedOut(`socket connect timed out after ${timeout} ms (engine open)`)
        socket.close()
        reject(err)
      })
    })
    return client
  }

  get id () { return this.socket.id }

  /** Emit with an ack; resolves with the ack's first argument. */
  call (event, payload, { timeout = 15000 } = {}) {
    if (!this.socket.connected) return Promise.reject(new Error(`${event}: socket is not connected`))
    let onDisconnect
    const dropped = new Promise((resolve, reject) => {
      onDisconnect = reason => reject(new Error(`${event}: server closed the socket before the ack (${reason})`))
      this.socket.once('disconnect', onDisconnect)
    })
    const acked = this.socket.timeout(timeout).emitWithAck(event, payload)
      .catch(err => { throw new Error(`no ack for ${event} within ${timeout} ms (${err.message})`) })
    return Promise.race([acked, dropped]).finally(() => this.socket.off('disconnect', onDisconnect))
  }

  emit (event, payload) { this.socket.emit(event, payload) }

  /** Index to pass as `since` so a later wait only sees newer events. */
  mark () { return this.events.length }

  /** Received events named `event` (matching pred), optionally since a mark. */
  received (event, pred = () => true, since = 0) {
    return this.events.slice(since).filter(e => e.event === event && pred(e.data)).map(e => e.data)
  }

  /** Wait for an event named `event` whose data satisfies pred. */
  waitFor (event, pred = () => true, { timeout = 20000, since = 0 } = {}) {
    return new Promise((resolve, reject) => {
      let i = since
      const check = () => {
        for (; i < this.events.length; i++) {
          const e = this.events[i]
          if (e.event === event && pred(e.data)) {
            done()
            resolve(e.data)
            return
          }
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${timeout} ms waiting for ${event}; got: ${this.summary()}`))
      }, timeout)
      const done = () => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }

  summary () {
    return this.events.slice(-10).map(e => e.event).join(', ') || '(nothing)'
  }

  /** Disconnect (client-initiated) and wait until the socket is closed. */
  close () {
    this.socket.close()
  }
}

/** Assert-friendly ack check: throws with the ack when it is not {ok:true}. */
export function expectOk (ack, what = 'ack') {
  if (!ack || ack.ok !== true) throw new Error(`${what}: expected {ok:true}, got ${JSON.stringify(ack)}`)
  return ack
}
