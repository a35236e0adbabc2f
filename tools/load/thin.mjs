// A thin Socket.IO (v5 protocol, engine.io 4, websocket transport only)
// client for the load tool's scale scenario: one `ws` socket and a few
// closures per connection instead of socket.io-client's manager, engine and
// socket objects, so that one worker process can hold thousands of
// connections. It answers pings, sends events with acks and counts what it
// receives; binary attachments (large document states) are counted and
// skipped, which is all the scale scenario needs of them.

import WebSocket from 'ws'

export class ThinClient {
  /**
   * Connect to base (http://host:port) with auth {token}; resolves once the
   * Socket.IO CONNECT is answered. Rejects on a refused connect, a
   * connect_error packet or after timeout ms.
   */
  static connect (base, token, { timeout = 10000 } = {}) {
    const url = base.replace(/^http/, 'ws') + '/ws/socket.io/?EIO=4&transport=websocket'
    return new Promise((resolve, reject) => {
      const c = new ThinClient(url, token)
      const timer = setTimeout(() => { c.close(); reject(Object.assign(new Error(`connect timed out after ${timeout} ms`), { connectTimeout: true })) }, timeout)
      c.onConnect = err => {
        clearTimeout(timer)
        if (err) { c.close(); reject(err) } else resolve(c)
      }
    })
  }

  constructor (url, token) {
    this.token = token
    this.acks = new Map() // ack id -> resolve
    this.nextAck = 0
    this.received = 0 // events received
    this.binaries = 0 // binary frames received (attachments)
    this.stateBytes = 0 // bytes of document states received (attachments and JSON arrays)
    this.connected = false
    this.id = undefined // the Socket.IO session id, once connected
    this.closedByUs = false
    this.onClose = null // (code) => void, when the server or the network closes
    this.onEvent = null // (event, data) => void
    this.ws = new WebSocket(url, { perMessageDeflate: false })
    this.ws.on('message', (data, isBinary) => this.#message(data, isBinary))
    this.ws.on('error', err => { if (!this.connected) this.#settle(err) })
    this.ws.on('close', code => {
      const was = this.connected
      this.connected = false
      for (const resolve of this.acks.values()) resolve(undefined)
      this.acks.clear()
      if (!was) this.#settle(new Error(`closed before connect (${code})`))
      else if (!this.closedByUs) this.onClose?.(code)
    })
  }

  #settle (err) {
    const cb = this.onConnect
    this.onConnect = null
    cb?.(err)
  }

  #message (data, isBinary) {
    if (isBinary) { this.binaries++; this.stateBytes += data.length; return }
    const s = data.toString()
    switch (s[0]) {
      case '0': // engine.io OPEN: send the Socket.IO CONNECT with auth
        this.ws.send('40' + JSON.stringify({ token: this.token }))
        return
      case '2': // ping
        this.ws.send('3')
        return
      case '4':
        break
      default:
        return
    }
    const type = s[1]
    if (type === '0') { // CONNECT answered
      this.connected = true
      try { this.id = JSON.parse(s.slice(2)).sid } catch {}
      this.#settle(null)
      return
    }
    if (type === '4') { // CONNECT_ERROR
      this.#settle(new Error(`connect_error ${s.slice(2)}`))
      return
    }
    if (type === '3') { // ACK: 43<id>[...]
      const i = s.indexOf('[')
      const id = Number(s.slice(2, i))
      const resolve = this.acks.get(id)
      if (resolve) { this.acks.delete(id); resolve(JSON.parse(s.slice(i))[0]) }
      return
    }
    if (type === '2' || type === '5') { // EVENT / BINARY_EVENT
      this.received++
      if (type === '2' && s.startsWith('42["ydoc:document:state"')) { // a state under 1 KiB: a JSON array
        const state = JSON.parse(s.slice(2))[1]?.state
        if (Array.isArray(state)) this.stateBytes += state.length
      }
      if (this.onEvent) {
        const i = s.indexOf('[')
        const [event, payload] = JSON.parse(s.slice(i))
        this.onEvent(event, payload)
      }
    }
  }

  /** Emit event with payload and an ack; resolves with the ack's first argument (undefined if closed or timed out). */
  call (event, payload, { timeout = 60000 } = {}) {
    if (!this.connected) return Promise.resolve(undefined)
    const id = this.nextAck++
    return new Promise(resolve => {
      const timer = setTimeout(() => { this.acks.delete(id); resolve(undefined) }, timeout)
      this.acks.set(id, v => { clearTimeout(timer); resolve(v) })
      this.ws.send('42' + id + JSON.stringify([event, payload]))
    })
  }

  close () {
    this.closedByUs = true
    this.ws.terminate()
  }
}
