// Client cost of a Yjs payload of N bytes as a JSON int array against a
// Socket.IO binary attachment (docs/design.md, "Document state on the wire"):
// socket.io-parser's Decoder (what socket.io-client runs) and new Uint8Array,
// plus one extra websocket message over loopback for the attachment.
//   node scripts/state-threshold.mjs
import { Decoder } from 'socket.io-parser'
import { WebSocketServer, WebSocket } from 'ws'
const sizes = [16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576]
function bench (fn, minMs = 200) {
  let n = 0; const t0 = performance.now(); let t
  do { fn(); n++ } while ((t = performance.now() - t0) < minMs)
  return (t * 1000) / n // µs
}
// per-message cost of a small ws frame, loopback, both ends in this process
const wss = new WebSocketServer({ port: 0 })
await new Promise((r) => wss.on('listening', r))
const c = new WebSocket(`ws://127.0.0.1:${wss.address().port}`, { perMessageDeflate: false })
const srv = await new Promise((r) => wss.on('connection', r))
await new Promise((r) => c.on('open', r))
async function frames (count, payload) {
  let got = 0
  return new Promise((resolve) => {
    const t0 = performance.now()
    c.on('message', function h () { if (++got === count) { c.off('message', h); resolve((performance.now() - t0) * 1000 / count) } })
    for (let i = 0; i < count; i++) srv.send(payload)
  })
}
await frames(2000, Buffer.alloc(16))
const perFrame = await frames(20000, Buffer.alloc(16))
console.log(`one extra 16-byte ws message, loopback, send+receive: ${perFrame.toFixed(2)} µs`)
console.log('bytes\tjson wire\tjson µs\tbinary wire\tbinary µs (+1 frame)')
for (const n of sizes) {
  const bytes = new Uint8Array(n); for (let i = 0; i < n; i++) bytes[i] = (i * 131 + 7) & 255
  const head = '{"document_id":"note:0b2f7c1e-8d4c-4b8e-9a39-3c0f3f6a1e55","update":'
  const jsonText = '2["ydoc:document:update",' + head + JSON.stringify(Array.from(bytes)) + '}]'
  const binText = '51-["ydoc:document:update",' + head + '{"_placeholder":true,"num":0}}]'
  const buf = Buffer.from(bytes)
  const d = new Decoder()
  let out
  d.on('decoded', (p) => { out = new Uint8Array(p.data[1].update) })
  const j = bench(() => d.add(jsonText))
  if (out.length !== n) throw new Error('json')
  const b = bench(() => { d.add(binText); d.add(buf) })
  if (out.length !== n) throw new Error('bin')
  console.log(`${n}\t${jsonText.length}\t${j.toFixed(2)}\t${binText.length + n}\t${(b + perFrame).toFixed(2)}`)
}
c.close(); wss.close()
