// Per-phase timing of N clients joining one note at once (thin Socket.IO client).
import WebSocket from 'ws'
const [,, base, N = '10'] = process.argv
const j = async (path, body, token) => (await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: 'Bearer ' + token } : {}) }, body: JSON.stringify(body) })).json()
const u = await j('/api/v1/auths/signup', { name: 'a', email: `a${Date.now()}@x.io`, password: 'password123' })
let md = ''; let k = 0
while (md.length < 1024 * 1024) { md += `paragraph ${k++} lorem ipsum dolor sit amet quire note yjs socket editor server document latency relay state\n\n` }
const note = await j('/api/v1/notes/create', { title: 'big', data: { content: { md } } }, u.token)
const docId = 'note:' + note.id
function client (t0, tag) {
  const ph = {}
  const mark = (k) => { ph[k] = Math.round(performance.now() - t0) }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base.replace('http', 'ws') + '/ws/socket.io/?EIO=4&transport=websocket', { perMessageDeflate: false })
    ws.on('open', () => mark('wsopen'))
    ws.on('error', reject)
    ws.on('message', (data, isBinary) => {
      if (isBinary) { mark('attach'); if (ph.ack) { ws.terminate(); resolve(ph) }; return }
      const s = data.toString()
      if (s[0] === '0') { mark('eio'); ws.send('40' + JSON.stringify({ token: u.token })) } else if (s[0] === '2') ws.send('3')
      else if (s.startsWith('40')) { mark('connect'); ws.send('421' + JSON.stringify(['ydoc:document:join', { document_id: docId, user_id: u.id, user_name: 'x', user_color: '#000' }])) }
      else if (s.startsWith('451-') || s.startsWith('42["ydoc:document:state"')) { mark('state'); if (s.startsWith('42')) ph.attach = ph.state }
      else if (s.startsWith('431')) { mark('ack'); if (ph.attach !== undefined) { ws.terminate(); resolve(ph) } }
    })
  })
}
const warm = await client(performance.now(), 'warm')
console.log('warm (seeds)', JSON.stringify(warm))
await new Promise((r) => setTimeout(r, 500))
const t0 = performance.now()
const all = await Promise.all(Array.from({ length: Number(N) }, (_, i) => client(t0, i)))
for (const p of all) console.log(JSON.stringify(p))
