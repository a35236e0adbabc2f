// Shared helpers for the realtime tests: real socket.io-client sockets with
// an event recorder, ack calls with a timeout, and waiting for events.
import { io } from 'socket.io-client';
import * as Y from 'yjs';

export const PATH = '/ws/socket.io';

// connect opens a socket (websocket only unless transports is given) and
// resolves once the Socket.IO CONNECT is acknowledged.
//
// About 1 in 1,000-4,000 websocket connects never gets the library's CONNECT
// reply (shared/DEPENDENCIES.md, zishang520/socket.io defect 1). Browsers
// reconnect, so connect does too: a first attempt that times out (and only a
// timeout: a refused or failed connect is reported as is) is closed and
// retried once with a longer timeout, announced on stderr. The retry waits
// up to a minute: a -race server starved by two suites at once on two cores
// once left a connect unanswered for 5 s and its retry for 15 s (the
// upgrade alone took 1.6 s), and its heavy requests took 30–35 s. Stalls are counted
// per process and bounded (2 plus 1% of the connects), so a regression that
// makes them common still fails.
export const connectStats = { connects: 0, stalls: 0 };

export async function connect(url, token, { transports = ['websocket'], timeout = 5000, retryTimeout = Math.max(60000, 4 * timeout) } = {}) {
  connectStats.connects++;
  try {
    return await connectOnce(url, token, transports, timeout);
  } catch (e) {
    if (!e || !e.connectTimeout) throw e;
    connectStats.stalls++;
    const { connects, stalls } = connectStats;
    process.stderr.write(`# stalled connect retried (${stalls} of ${connects} connects in this process): ${e.message}\n`);
    if (stalls > 2 + connects / 100) {
      throw new Error(`${stalls} stalled connects in ${connects}: far above the library's known rate`);
    }
    return connectOnce(url, token, transports, retryTimeout);
  }
}

function connectOnce(url, token, transports, timeout) {
  const opts = { path: PATH, transports, reconnection: false, forceNew: true, timeout };
  if (token !== undefined) opts.auth = { token };
  const socket = io(url, opts);
  const rec = recorder(socket);
  return new Promise((resolve, reject) => {
    const timedOut = (msg) => {
      socket.close();
      const e = new Error(msg);
      e.connectTimeout = true;
      reject(e);
    };
    const t = setTimeout(() => timedOut(`connect timeout after ${timeout} ms`), timeout);
    socket.once('connect', () => { clearTimeout(t); resolve({ socket, rec }); });
    socket.once('connect_error', (e) => {
      clearTimeout(t);
      // The client's own open timeout (engine.io handshake not done in
      // time) is the same stall seen one step earlier.
      if (e && e.message === 'timeout' && !e.data) return timedOut(`connect timeout after ${timeout} ms (engine open)`);
      socket.close();
      reject(e);
    });
  });
}

// changes lets a script wait for a condition on what its sockets got:
// notify() after each change; until(cond, timeout, message) resolves once
// cond() holds, or rejects with Error(message) after timeout ms.
export function changes() {
  const waiters = [];
  return {
    notify() {
      for (const w of waiters.slice()) w();
    },
    until(cond, timeout, message) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!cond()) return;
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(message));
        }, timeout);
        waiters.push(check);
        check();
      });
    },
  };
}

// recorder keeps every incoming event in order and lets callers wait.
export function recorder(socket) {
  const events = [];
  const changed = changes();
  socket.onAny((name, ...args) => {
    events.push({ name, data: args[0] });
    changed.notify();
  });
  socket.on('disconnect', (reason) => {
    events.push({ name: 'disconnect', data: reason });
    changed.notify();
  });
  return {
    events,
    of: (name) => events.filter((e) => e.name === name).map((e) => e.data),
    // waitFor resolves with the n-th (1-based) matching event's data.
    async waitFor(name, pred = () => true, { n = 1, timeout = 20000 } = {}) {
      const hits = () => events.filter((e) => e.name === name && pred(e.data));
      await changed.until(() => hits().length >= n, timeout, `timeout waiting for ${name} x${n}`);
      return hits()[n - 1].data;
    },
  };
}

// call emits with an ack and resolves with the ack's first argument.
export function call(socket, event, data, timeout = 20000) {
  return socket.timeout(timeout).emitWithAck(event, data);
}

export function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// main runs fn and prints its result (or the error) as JSON, then exits.
export function main(fn) {
  fn().then(
    (r) => { out(r); process.exit(0); },
    (e) => { out({ error: String(e && e.stack || e) }); process.exit(1); },
  );
}

// lateText joins doc with a fresh socket and returns the text of Y.Text
// name (or Y.XmlFragment when xml) in the state the server sends.
export async function lateState(url, token, doc) {
  const c = await connect(url, token);
  const ack = await call(c.socket, 'ydoc:document:join', { document_id: doc });
  if (!ack.ok) throw new Error('late join: ' + JSON.stringify(ack));
  const st = await c.rec.waitFor('ydoc:document:state');
  c.socket.close();
  return st;
}

// textUpdate is the Yjs update of a fresh document with text inserted into
// its Y.Text 't', as a JSON int array (the wire form).
export function textUpdate(text) {
  const d = new Y.Doc();
  let u;
  d.on('update', (x) => { u = x; });
  d.getText('t').insert(0, text);
  return Array.from(u);
}
