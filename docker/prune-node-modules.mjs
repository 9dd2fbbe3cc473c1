// Slims the production node_modules of the container image (run by the Dockerfile's build stage,
// after `npm prune --omit=dev`), then checks that the native modules the node needs still load.
//
//   node docker/prune-node-modules.mjs <app dir>             prune, then verify
//   node docker/prune-node-modules.mjs --verify-only <app dir>
//
// What goes, and why it is safe:
// - @surrealdb/node ships its embedded engine for every platform inside the one package (about
//   150 MB); only surrealdb-node.linux-<arch>-gnu.node can load in the image (Linux, glibc).
// - @chainsafe/libp2p-quic-<platform> packages other than linux-<arch>-gnu (npm installs only the
//   matching one; this is a guard).
// - typescript and @types/*: installed in production only because surrealdb names typescript as
//   a peer dependency (for its type declarations) and @libp2p/mdns depends on @types packages;
//   nothing loads them at run time. Before removing typescript, every JavaScript file left in
//   node_modules is searched for an import or require of it; if one is found it stays.
//
// It must run on the image's platform (the build stage runs on the target platform, so
// process.arch is the target architecture) and refuses to run on anything but Linux with glibc.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

const args = process.argv.slice(2)
const verifyOnly = args[0] === '--verify-only'
const appDir = resolve(args[verifyOnly ? 1 : 0] ?? '')
const nodeModules = join(appDir, 'node_modules')

function fail (message) {
  process.stderr.write(`prune-node-modules: ${message}\n`)
  process.exit(1)
}

if (args.length !== (verifyOnly ? 2 : 1)) fail('usage: prune-node-modules.mjs [--verify-only] <app dir>')
if (!existsSync(join(appDir, 'package.json')) || !existsSync(nodeModules)) fail(`${appDir} has no package.json and node_modules`)
if (process.platform !== 'linux') fail(`the image is Linux; this runs on ${process.platform}`)
// The same test the native modules' loaders use: glibc reports its version, musl does not.
const glibc = process.report?.getReport?.().header?.glibcVersionRuntime
if (glibc === undefined) fail('the image is built on glibc (Debian); this C library is not glibc')

const platform = `linux-${process.arch}-gnu`

function size (path) {
  const st = statSync(path, { throwIfNoEntry: false })
  if (st === undefined) return 0
  if (!st.isDirectory()) return st.size
  return readdirSync(path).reduce((sum, name) => sum + size(join(path, name)), 0)
}

let freed = 0
const remove = (path) => {
  freed += size(path)
  rmSync(path, { recursive: true, force: true })
}

/** Any .js/.mjs/.cjs file under `dir` (outside `skip`) that imports or requires `name`. */
function findImporter (dir, name, skip) {
  const pattern = new RegExp(`(?:from\\s*|import\\s*\\(\\s*|require\\s*\\(\\s*)['"]${name}['"]`)
  const stack = [dir]
  while (stack.length > 0) {
    const current = stack.pop()
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name)
      if (skip.includes(path)) continue
      if (entry.isDirectory()) stack.push(path)
      else if (entry.isFile() && /\.[cm]?js$/.test(entry.name) && pattern.test(readFileSync(path, 'utf8'))) return path
    }
  }
  return undefined
}

if (!verifyOnly) {
  const surrealDist = join(nodeModules, '@surrealdb', 'node', 'dist')
  const keep = `surrealdb-node.${platform}.node`
  if (!existsSync(join(surrealDist, keep))) fail(`${join(surrealDist, keep)} is missing: @surrealdb/node has no engine for ${platform}`)
  for (const name of readdirSync(surrealDist)) {
    if (name.endsWith('.node') && name !== keep) remove(join(surrealDist, name))
  }

  const chainsafe = join(nodeModules, '@chainsafe')
  for (const name of existsSync(chainsafe) ? readdirSync(chainsafe) : []) {
    if (name.startsWith('libp2p-quic-') && name !== `libp2p-quic-${platform}`) remove(join(chainsafe, name))
  }

  remove(join(nodeModules, '@types'))
  const typescript = join(nodeModules, 'typescript')
  if (existsSync(typescript)) {
    const importer = findImporter(nodeModules, 'typescript', [typescript])
    if (importer === undefined) remove(typescript)
    else process.stderr.write(`prune-node-modules: keeping typescript: ${importer} loads it\n`)
  }
  process.stdout.write(`prune-node-modules: removed ${(freed / 1048576).toFixed(1)} MiB for ${platform} (glibc ${glibc})\n`)
}

// Loading the packages loads their native code: a missing or incompatible binary fails here, at
// build time, instead of at the node's first start. The certificate library too: the node loads
// it only when it makes a certificate, which may be long after it started. Then every chunk of
// the bundled CLI (dist/cli/chunk-*.bundle.js, the parts a command loads only when it runs, such
// as the node itself and QUIC, which finds its native binary from where its package lies in
// node_modules): `serve --help` would not load them.
const CHECK = `
  await import('@surrealdb/node'); await import('@chainsafe/libp2p-quic'); await import('reflect-metadata'); await import('@peculiar/x509')
  const { readdirSync } = await import('node:fs')
  const { pathToFileURL } = await import('node:url')
  const chunks = readdirSync('dist/cli').filter((f) => /^chunk-.*\\.bundle\\.js$/.test(f))
  if (chunks.length === 0) throw new Error('no chunks in dist/cli: was the bundle built?')
  for (const f of chunks) await import(pathToFileURL('dist/cli/' + f).href)
  process.exit(0)`
const check = spawnSync(process.execPath, ['--input-type=module', '-e', CHECK], { cwd: appDir, encoding: 'utf8', timeout: 120_000 })
if (check.status !== 0) {
  const why = `${check.stderr}${check.error === undefined ? '' : check.error.message}${check.signal === null ? '' : ` (ended by ${check.signal})`}`
  fail(`the native modules, the certificate library or the bundle do not load on ${platform}:\n${why}`)
}
process.stdout.write(`prune-node-modules: the SurrealDB engine, QUIC, the certificate library and the bundle load on ${platform}\n`)
