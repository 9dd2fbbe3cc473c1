// Bundles the compiled CLI (dist/cli/program.bundle.js), which loads several times faster than
// the hundreds of modules it is made of. What a command loads only when it runs (the node, for
// `serve`) goes into chunks beside it (dist/cli/chunk-*.bundle.js), which the other commands
// never read: `--version`, `status` and `clients list` took 0.26-0.36 s from the modules, and
// take 0.14-0.24 s so; a restart to the ready line took 0.73 s against 0.78-0.81 s with one file
// for everything (two interleaved runs of six). Run by `npm run build` after tsc.
import { build } from 'esbuild'
import { parse, type Node } from 'acorn'
import { chmodSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, relative, resolve, sep } from 'node:path'
import { isBuiltin } from 'node:module'
import { compileCachePath } from '../src/cli/compile-cache.ts'

const result = await build({
  entryPoints: ['dist/cli/program.js'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  write: false,
  // Not linked from the bundle: bench/profile-summary.ts reads it to name the package or project
  // file of each frame of a profile.
  sourcemap: 'external',
  outdir: 'dist/cli',
  splitting: true,
  entryNames: '[name].bundle',
  chunkNames: 'chunk-[hash].bundle',
  // SurrealDB's client compares objects with those of its engine, so both stay one copy outside.
  // The certificate library is CommonJS and imported only when a certificate is made: from a
  // chunk, import() of bundled CommonJS gives only a default export (Node's own import() finds
  // the named ones), so Node loads it from node_modules.
  external: ['@surrealdb/node', 'surrealdb', '@peculiar/x509'],
  metafile: true,
  // Bundling renames classes and functions whose names clash (a second `ValidationError`
  // becomes `ValidationError2`), and libraries read `constructor.name` (commander and
  // oidc-provider name their errors so): names are kept.
  keepNames: true,
  // Node reads, decodes and compiles the whole file on every start: without the layout it is a
  // third smaller (10.2 -> 6.8 MB) and a restart about 45 ms quicker. Names stay, so stack
  // traces still name every function.
  minifyWhitespace: true,
  logLevel: 'warning',
  plugins: [{
    // Node makes an ES module view of a built-in module the first time one is imported, reading
    // every export, and reading `http`'s loads undici, Node's fetch (55 ms of a restart's CPU in a
    // profile; the first MCP request loads it later anyway): the bundle gets built-in modules
    // with require(), which reads nothing up front.
    name: 'builtins-by-require',
    setup (b) {
      b.onResolve({ filter: /^(node:)?[a-z_/0-9]+$/ }, (args) => {
        if (args.kind !== 'import-statement' || !isBuiltin(args.path)) return undefined
        return { path: args.path.replace(/^node:/, ''), namespace: 'builtin-by-require' }
      })
      b.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, (args) => ({ contents: `module.exports = require(${JSON.stringify('node:' + args.path)})`, loader: 'js' }))
    }
  }, {
    // QUIC is bundled too, sharing the bundle's one copy of libp2p's modules instead of loading
    // its own hundreds of files (a restart 0.98 -> 0.84 s). Only its native binary stays a file:
    // the loader looks for it from where the package lies in node_modules, as it would
    // unbundled, not from dist/cli/.
    name: 'native-loader-in-place',
    setup (b) {
      b.onLoad({ filter: /[\\/]@chainsafe[\\/]libp2p-quic[\\/]dist[\\/]src[\\/]napi\.js$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8')
        const from = 'createRequire(import.meta.url)'
        if (!text.includes(from)) throw new Error(`build-bundle: ${args.path} no longer loads its native module with ${from}`)
        const rel = relative(resolve('dist/cli'), args.path).split(sep).join('/')
        return { contents: text.replace(from, `createRequire(new URL(${JSON.stringify(rel)}, import.meta.url))`), loader: 'js' }
      })
    }
  }],
  // Packages bundled from CommonJS call require().
  banner: { js: 'import{createRequire as __edgeHiveRequire}from"node:module";const require=__edgeHiveRequire(import.meta.url);' }
})
// The same for any other import() of bundled CommonJS, unless it is imported for its effects alone.
const EFFECTS_ONLY = new Set(['node_modules/reflect-metadata/Reflect.js'])
for (const [path, input] of Object.entries(result.metafile.inputs)) {
  for (const imp of input.imports) {
    if (imp.kind === 'dynamic-import' && imp.external !== true && result.metafile.inputs[imp.path]?.format === 'cjs' && !EFFECTS_ONLY.has(imp.path)) {
      throw new Error(`build-bundle: ${path} imports CommonJS ${imp.path} with import(), which would have no named exports in a chunk: make it external`)
    }
  }
}

// The CLI runs the bundle whenever its entry exists, so the entry is written last and whole (a
// rename), after every chunk it imports; a build that fails here leaves the previous one intact.
// Chunks are named by their content: those of an earlier build go once the new one is in place
// (a node still running from them would miss a chunk it loads late: restart it after a build).
const outputs = result.outputFiles.map((out) => ({ path: out.path, text: out.path.endsWith('.map') ? out.text : asciiComments(unwrapNames(out.text)) }))
const entry = resolve('dist/cli/program.bundle.js')
for (const out of outputs) if (out.path !== entry) writeFileSync(out.path, out.text)
writeFileSync(`${entry}.tmp`, outputs.find((o) => o.path === entry)!.text)
renameSync(`${entry}.tmp`, entry)
const written = new Set(outputs.map((o) => basename(o.path)))
for (const name of readdirSync('dist/cli')) if (/\.bundle\.js(\.map)?$/.test(name) && !written.has(name)) rmSync(`dist/cli/${name}`)
chmodSync('dist/cli/main.js', 0o755)

// Node's compile cache keeps one entry per file path and never drops any, and chunks are named by
// their content: each build would leave the entries of the one before behind. So a build empties
// the CLI's own cache directory (the one src/cli/main.ts uses); the next runs fill it again.
const cache = compileCachePath()
if (cache !== undefined) rmSync(cache.dir, { recursive: true, force: true })

type AnyNode = Node & Record<string, unknown>

/** Every node of a parsed program, with its parent. */
function * walk (node: AnyNode, parent?: AnyNode): Generator<[AnyNode, AnyNode | undefined]> {
  yield [node, parent]
  for (const key in node) {
    const v = node[key]
    for (const child of Array.isArray(v) ? v : [v]) {
      if (child !== null && typeof child === 'object' && typeof (child as AnyNode).type === 'string') yield * walk(child as AnyNode, node)
    }
  }
}

/**
 * Keeping names wraps functions in `__name(fn, "name")`, which defines `name` each time the
 * function is made: also the closures made on every request (6% of the CPU of an MCP call).
 * Where JavaScript gives the function that very name itself, the wrapper goes: a declared
 * function named as the wrapper says (`function next() {}` then `__name(next, "next")`), and an
 * anonymous function bound to a variable, a property or an assignment of that name
 * (`const f = __name(() => {}, "f")`). A function esbuild renamed keeps its wrapper. What goes
 * becomes spaces, so the bundle's source map still holds.
 */
function unwrapNames (text: string): string {
  const edits: Array<[number, number, string]> = []
  const isName = (n: unknown, name: string): boolean => (n as AnyNode | undefined)?.type === 'Identifier' && (n as { name: string }).name === name
  const anonymous = (n: AnyNode): boolean => n.type === 'ArrowFunctionExpression' || (n.type === 'FunctionExpression' && n.id === null)
  for (const [node, parent] of walk(parse(text, { ecmaVersion: 'latest', sourceType: 'module' }) as unknown as AnyNode)) {
    const args = node.arguments as AnyNode[] | undefined
    if (node.type !== 'CallExpression' || !isName(node.callee, '__name') || args?.length !== 2 || args[1]!.type !== 'Literal') continue
    const [fn, literal] = args as [AnyNode, AnyNode & { value: unknown }]
    const name = String(literal.value)
    if (parent?.type === 'ExpressionStatement' && isName(fn, name)) {
      edits.push([parent.start, parent.end, ';'])
    } else if (anonymous(fn) && (
      (parent?.type === 'VariableDeclarator' && parent.init === node && isName(parent.id, name)) ||
      (parent?.type === 'Property' && parent.value === node && !(parent.computed as boolean) && (isName(parent.key, name) || (parent.key as { value?: unknown }).value === name)) ||
      (parent?.type === 'AssignmentExpression' && parent.right === node && isName(parent.left, name)))) {
      // Only the wrapper's own text goes, so wrappers inside the function are undone too.
      edits.push([node.start, fn.start, ''], [fn.end, node.end, ''])
    }
  }
  const pieces: string[] = []
  let from = 0
  for (const [start, end, replacement] of edits.sort((a, b) => a[0] - b[0])) {
    // Spaces keep every later column where the source map says it is.
    pieces.push(text.slice(from, start), replacement.padEnd(end - start, ' '))
    from = end
  }
  pieces.push(text.slice(from))
  return pieces.join('')
}

/**
 * V8 keeps a script's source for as long as it runs, in one byte a character only if every
 * character is Latin-1. esbuild writes strings and regular expressions in ASCII, but keeps
 * comments as they are, and a few dashes and symbols in the dependencies' comments made the
 * node hold its 10 MB bundle as 20 MB (a lone node's memory 188 -> 179 MiB without them).
 * Those characters become ASCII; one anywhere but in a comment stops the build.
 */
function asciiComments (text: string): string {
  const comments: Array<[number, number]> = []
  parse(text, { ecmaVersion: 'latest', sourceType: 'module', onComment: (_block, _text, start, end) => { comments.push([start, end]) } })
  let ascii = ''
  let from = 0
  for (const [start, end] of comments) {
    // One character for one (the source map's columns hold): a dash, a letter or digit without
    // its accent, or `?` (never `*` or `/`, which could end the comment).
    ascii += text.slice(from, start) + text.slice(start, end).replace(/[\u0080-\uffff]/g, (ch) => {
      const base = ch.normalize('NFKD')[0]!
      return /\p{Pd}/u.test(ch) ? '-' : /^[A-Za-z0-9]$/.test(base) ? base : '?'
    })
    from = end
  }
  ascii += text.slice(from)
  const stray = /[\u0080-\uffff]/.exec(ascii)
  if (stray !== null) throw new Error(`build-bundle: a character outside ASCII (${JSON.stringify(stray[0])}) outside a comment, at ${ascii.slice(Math.max(0, stray.index - 60), stray.index + 20)}`)
  return ascii
}
