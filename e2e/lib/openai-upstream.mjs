// A small OpenAI-compatible upstream for the browser tests, in node: it
// lists its models (GET /v1/models) and answers every
// POST /v1/chat/completions with the next scripted answer, streamed as
// Server-Sent Events, a chunk at a time, with a pause between chunks. An
// answer can also stop at a gate until the test opens it, so that a test
// can look at the page halfway through an answer without guessing at
// timings. Every request's body is kept.
import http from 'node:http'
import { once } from 'node:events'

export class Upstream {
  constructor ({ models = ['quire-test-model'], chunkDelayMs = 40 } = {}) {
    this.models = models
    this.chunkDelayMs = chunkDelayMs
    this.requests = [] // bodies of the completion requests, in order
    this.answers = [] // scripted answers, taken in order; see answer()
    this.gates = new Map() // name -> {promise, open}
    this.waiters = [] // {n, resolve}: requests.length reached n
    this.streams = new Set() // open responses, ended at close
  }

  // answer queues the next answer: a list of steps, each a string (one
  // chunk of text) or {gate: name} (stop until open(name)).
  answer (...steps) {
    this.answers.push(steps)
    return this
  }

  gate (name) {
    if (!this.gates.has(name)) {
      let open
      const promise = new Promise((resolve) => { open = resolve })
      this.gates.set(name, { promise, open })
    }
    return this.gates.get(name)
  }

  // open lets an answer waiting at gate name go on.
  open (name) { this.gate(name).open() }

  // request resolves with the n-th completion request's body (1-based),
  // once it has arrived.
  request (n) {
    if (this.requests.length >= n) return Promise.resolve(this.requests[n - 1])
    return new Promise((resolve) => this.waiters.push({ n, resolve }))
  }

  async start () {
    this.server = http.createServer((req, res) => this.handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: String(err) } }))
    }))
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    this.baseURL = `http://127.0.0.1:${this.server.address().port}/v1`
    return this
  }

  async handle (req, res) {
    if (req.method === 'GET' && req.url === '/v1/models') {
      const data = this.models.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'quire-e2e' }))
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data }))
      return
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }))
      return
    }
    let raw = ''
    for await (const chunk of req) raw += chunk
    const body = JSON.parse(raw)
    this.requests.push(body)
    for (const w of this.waiters.filter((w) => this.requests.length >= w.n)) w.resolve(this.requests[w.n - 1])
    this.waiters = this.waiters.filter((w) => this.requests.length < w.n)
    const steps = this.answers.shift() ?? ['ok']
    if (!body.stream) {
      const text = steps.filter((s) => typeof s === 'string').join('')
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(completion(body.model, text)))
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    this.streams.add(res)
    let gone = false
    res.on('close', () => { gone = true; this.streams.delete(res) })
    const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`)
    send(chunk(body.model, { role: 'assistant', content: '' }))
    for (const step of steps) {
      if (gone) return
      if (typeof step === 'object' && step.gate) {
        await this.gate(step.gate).promise
        continue
      }
      await new Promise((resolve) => setTimeout(resolve, this.chunkDelayMs))
      if (gone) return
      send(chunk(body.model, { content: step }))
    }
    send(chunk(body.model, {}, 'stop'))
    res.end('data: [DONE]\n\n')
    this.streams.delete(res)
  }

  async close () {
    for (const g of this.gates.values()) g.open()
    for (const res of this.streams) res.destroy()
    this.server.closeAllConnections?.()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

let seq = 0

function chunk (model, delta, finish = null) {
  return {
    id: `chatcmpl-e2e-${++seq}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta, finish_reason: finish }]
  }
}

function completion (model, text) {
  return {
    id: `chatcmpl-e2e-${++seq}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }]
  }
}

export async function startUpstream (opts) {
  return new Upstream(opts).start()
}
