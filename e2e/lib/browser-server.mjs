// The browser tests' quire: QuireServer (e2e/helpers/server.mjs) on SQLite,
// which binds 127.0.0.1:0 and reads the port quire logs, so no free port is
// picked and released before quire binds it; start() after stop() keeps the
// port and the data.
import { startServer as startQuire } from '../helpers/server.mjs'

export async function startServer (args = []) {
  return startQuire({ args })
}
