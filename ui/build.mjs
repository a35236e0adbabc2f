// Builds the browser app from ui/ into web/dist (embedded in the Go binary).
// Deterministic: the same sources give byte-identical output (no timestamps,
// no absolute paths; asset URLs carry a hash of their content for caching).
// Usage: node ui/build.mjs
import { build } from 'esbuild'
import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ui = dirname(fileURLToPath(import.meta.url))
const repo = dirname(ui)
const dist = join(repo, 'web', 'dist')

const common = {
  absWorkingDir: repo,
  bundle: true,
  minify: true,
  write: false,
  charset: 'utf8',
  legalComments: 'none',
  logLevel: 'warning'
}

const [js, css] = await Promise.all([
  build({
    ...common,
    entryPoints: ['ui/src/main.js'],
    format: 'iife',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    define: { 'process.env.NODE_ENV': '"production"' }
  }),
  build({ ...common, entryPoints: ['ui/src/style.css'], target: ['chrome100', 'firefox100', 'safari15'] })
])

const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 12)
const jsBytes = js.outputFiles[0].contents
const cssBytes = css.outputFiles[0].contents
const html = (await readFile(join(ui, 'index.html'), 'utf8'))
  .replace('__JS_HASH__', hash(jsBytes))
  .replace('__CSS_HASH__', hash(cssBytes))

// Replace web/dist's contents (the directory itself stays for go:embed).
await mkdir(dist, { recursive: true })
for (const name of await readdir(dist)) await rm(join(dist, name), { recursive: true, force: true })
await writeFile(join(dist, 'app.js'), jsBytes)
await writeFile(join(dist, 'app.css'), cssBytes)
await writeFile(join(dist, 'index.html'), html)

const kib = (n) => (n / 1024).toFixed(1) + ' KiB'
console.log(`web/dist: app.js ${kib(jsBytes.length)}, app.css ${kib(cssBytes.length)}, index.html ${kib(html.length)}`)
