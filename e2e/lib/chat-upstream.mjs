// A small OpenAI-compatible server for the browser chat tests, started by
// the test itself: GET /v1/models lists the scripted models, POST
// /v1/chat/completions streams their Server-Sent Events.
//   steps    "Hello", " there", then waits for release(), then
//            " — the full answer." and [DONE]
//   endless  "Counting: 1", then " 2", " 3", … every 50 ms until the
//            request goes away (its close is recorded: cancelled())
import http from 'node:http'
import { once } from 'node:events'

export const MODELS = [
  { id: 'steps', name: 'Steps' },
  { id: 'endless', name: 'Endless' }
]

export async function startChatUpstream () {
  const requests = []
  const gates = [] // resolvers of the steps requests waiting for release()
  const closed = [] // resolvers of cancelled() waiters
  let cancels = 0
  const sockets = new Set()

  const chunk = (res, model, content) => res.write(`data: ${JSON.stringify({
    id: 'cmpl-e2e', object: 'chat.completion.chunk', model,
    choices: [{ index: 0, delta: { content }, finish_reason: null }]
  })}\n\n`)

  const server = http.createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: MODELS.map((m) => ({ ...m, object: 'model', owned_by: 'e2e' })) }))
      return
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end()
      return
    }
    let raw = ''
    for await (const part of req) raw += part
    const body = JSON.parse(raw)
    requests.push(body)
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' })
    let done = false
    res.on('close', () => {
      if (done) return
      cancels++
      for (const r of closed.splice(0)) r()
    })
    if (body.model === 'steps') {
      chunk(res, body.model, 'Hello')
      chunk(res, body.model, ' there')
      await new Promise((resolve) => gates.push(resolve))
      chunk(res, body.model, ' — the full answer.')
      done = true
      res.end('data: [DONE]\n\n')
    } else if (body.model === 'endless') {
      chunk(res, body.model, 'Counting: 1')
      let n = 1
      const timer = setInterval(() => {
        if (res.destroyed || res.writableEnded) return clearInterval(timer)
        chunk(res, body.model, ' ' + (++n))
      }, 50)
      res.on('close', () => clearInterval(timer))
    } else {
      done = true
      res.end(`data: ${JSON.stringify({ error: { message: 'unknown model ' + body.model } })}\n\n`)
    }
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    // release lets the waiting steps answers finish.
    release () { for (const r of gates.splice(0)) r() },
    // waiting is how many steps answers wait for release().
    get waiting () { return gates.length },
    // cancelled resolves once a request went away before its end (at
    // once if one already did and was not yet counted).
    cancelled () {
      if (cancels > 0) { cancels--; return Promise.resolve() }
      return new Promise((resolve) => closed.push(() => { cancels--; resolve() }))
    },
    async close () {
      this.release()
      for (const s of sockets) s.destroy()
      server.close()
      await once(server, 'close')
    }
  }
}
