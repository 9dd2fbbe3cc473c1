// Bundles the compiled CLI into one file (dist/cli/program.bundle.js), which loads several
// times faster than the hundreds of modules it is made of. Run by `npm run build` after tsc.
import { build } from 'esbuild'
import { parse } from 'acorn'
import { chmodSync, writeFileSync } from 'node:fs'

const result = await build({
  entryPoints: ['dist/cli/program.js'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  write: false,
  outfile: 'dist/cli/program.bundle.js',
  // SurrealDB's client compares objects with those of its engine, so both stay one copy outside;
  // the QUIC transport is a native module.
  external: ['@surrealdb/node', 'surrealdb', '@chainsafe/libp2p-quic'],
  // Bundling renames classes whose names clash (a second `ValidationError` becomes
  // `ValidationError2`), and libraries read `constructor.name` (commander and oidc-provider
  // name their errors so): names are kept.
  keepNames: true,
  logLevel: 'warning',
  // Packages bundled from CommonJS call require().
  banner: { js: 'import{createRequire as __edgeHiveRequire}from"node:module";const require=__edgeHiveRequire(import.meta.url);' }
})

// Keeping names wraps every function in a helper that defines its `name` each time the function
// is made, also the closures made on every request (6% of the CPU of an MCP call). The helper
// now does so only where it changes something that code may read: a function that already has
// its name (most: esbuild renames only on a clash) is left alone, and so is an arrow or async
// function, which cannot be constructed (its name shows only in stack traces).
const HELPER = /^var __name = \((\w+), (\w+)\) => __defProp\(\1, "name", \{ value: \2, configurable: true \}\);$/m
const out = result.outputFiles[0]!
const text = out.text
const m = HELPER.exec(text)
if (m === null) throw new Error('build-bundle: esbuild\'s __name helper has changed; update the pattern in scripts/build-bundle.ts')
const [, target, value] = m
const keepName = `${target}.name === ${value} || ${target}.prototype === undefined ? ${target} : __defProp(${target}, "name", { value: ${value}, configurable: true })`
const patched = text.replace(HELPER, `var __name = (${target}, ${value}) => ${keepName};`)

// V8 keeps a script's source for as long as it runs, in one byte a character only if every
// character is Latin-1. esbuild writes strings and regular expressions in ASCII, but keeps
// comments as they are, and a few dashes and symbols in the dependencies' comments made the
// node hold its 10 MB bundle as 20 MB (a lone node's memory 188 -> 179 MiB without them).
// Those characters become ASCII; one anywhere but in a comment stops the build.
const comments: Array<[number, number]> = []
parse(patched, { ecmaVersion: 'latest', sourceType: 'module', onComment: (_block, _text, start, end) => { comments.push([start, end]) } })
let ascii = ''
let from = 0
for (const [start, end] of comments) {
  ascii += patched.slice(from, start) + patched.slice(start, end).normalize('NFKD').replace(/\p{M}/gu, '').replace(/[\u0080-\uffff]/g, (ch) => /\p{Pd}/u.test(ch) ? '-' : '?')
  from = end
}
ascii += patched.slice(from)
const stray = /[\u0080-\uffff]/.exec(ascii)
if (stray !== null) throw new Error(`build-bundle: a character outside ASCII (${JSON.stringify(stray[0])}) outside a comment, at ${ascii.slice(Math.max(0, stray.index - 60), stray.index + 20)}`)
writeFileSync(out.path, ascii)
chmodSync('dist/cli/main.js', 0o755)
