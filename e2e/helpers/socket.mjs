// A Socket.IO client wrapper: promise acks and a log of every received event
// that tests can wait on (events that arrived before the wait are found too).

import { io } from 'socket.io-client'

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

  /** Connect with auth {token}; resolves once connected. */
  static async connect (base, token, { timeout = 10000, reconnection = false } = {}) {
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
      const timer = setTimeout(() => { socket.close(); reject(new Error(`socket connect timed out after ${timeout} ms`)) }, timeout)
      socket.once('connect', () => { clearTimeout(timer); resolve() })
      socket.once('connect_error', err => { clearTimeout(timer); socket.close(); reject(err) })
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
  waitFor (event, pred = () => true, { timeout = 10000, since = 0 } = {}) {
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
