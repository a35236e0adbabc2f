// The one Socket.IO connection of the page, set up the way Open WebUI's
// frontend does it, plus a visible connection state:
//   connecting | connected | reconnecting | offline
// When the browser reports that it is offline the socket is closed at once
// (instead of waiting for ping timeouts) and reopened when it is back online.
// While connected it sends Open WebUI's `heartbeat` every 30 s: the server
// drops a socket silent for 120 s from presence.
import { io } from 'socket.io-client'

const HEARTBEAT_MS = 30000

export class Connection {
  constructor (token) {
    this.listeners = new Set()
    this.state = 'connecting'
    this.socket = io(location.origin, {
      path: '/ws/socket.io',
      transports: ['websocket'],
      auth: { token },
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.5,
      autoConnect: false
    })
    this.socket.on('connect', () => {
      this.socket.emit('heartbeat', {})
      this.set('connected')
    })
    this.heartbeat = setInterval(() => {
      if (this.socket.connected) this.socket.emit('heartbeat', {})
    }, HEARTBEAT_MS)
    this.socket.on('disconnect', () => this.set(navigator.onLine ? 'reconnecting' : 'offline'))
    this.socket.on('connect_error', () => this.set(navigator.onLine ? 'reconnecting' : 'offline'))
    this.onOffline = () => {
      this.socket.disconnect()
      this.set('offline')
    }
    this.onOnline = () => {
      this.set('reconnecting')
      this.socket.connect()
    }
    window.addEventListener('offline', this.onOffline)
    window.addEventListener('online', this.onOnline)
    if (navigator.onLine) this.socket.connect()
    else this.set('offline')
  }

  set (state) {
    if (state === this.state) return
    this.state = state
    for (const fn of [...this.listeners]) fn(state)
  }

  subscribe (fn) {
    this.listeners.add(fn)
    fn(this.state)
    return () => this.listeners.delete(fn)
  }

  close () {
    clearInterval(this.heartbeat)
    window.removeEventListener('offline', this.onOffline)
    window.removeEventListener('online', this.onOnline)
    this.listeners.clear()
    this.socket.disconnect()
  }
}
