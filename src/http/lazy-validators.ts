import AjvCompiler from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'

type BuildValidator = ReturnType<typeof AjvCompiler>
type Compile = ReturnType<BuildValidator>
type Validate = ReturnType<Compile>

/** Validators of a server (one per route and part of a request), and those that did not compile. */
export interface CompileReport { validators: number, failures: string[] }

/**
 * Fastify's own validators (Ajv, with fastify's settings), each compiled when its route first
 * validates a request instead of while the server starts: compiling them all, and Ajv's JSON
 * Schema meta-schema before the first, was 55 ms of a 0.85 s restart, for routes most nodes
 * never see. A schema that does not compile fails its route's requests (500) rather than the
 * start; a test compiles every route's schema (`compileAll`).
 *
 * Fastify treats validators it did not build as custom, and does not lower-case the header
 * names of a custom validator's schema: a header schema must name headers in lower case, as
 * Node gives them, and one that does not is refused here, when its route is added.
 */
export function lazyValidators (): { options: NonNullable<FastifyServerOptions['schemaController']>, compileAll: () => CompileReport } {
  const build = AjvCompiler()
  const pending: Array<{ route: string, compile: () => Validate }> = []
  const options: NonNullable<FastifyServerOptions['schemaController']> = {
    compilersFactory: {
      buildValidator: (externalSchemas, options) => {
        const compile = build(externalSchemas, options)
        return (route) => {
          if (route.httpPart === 'headers') assertLowerCaseHeaders(route.schema, `${route.method} ${route.url}`)
          let validate: Validate | undefined
          const ensure = (): Validate => (validate ??= compile(route))
          // Fastify reads `errors` from the function it was given, after a call that returned
          // false; and passes where the value sits (so Ajv may replace it) when `schemaEnv` is set.
          const lazy = ((data: unknown, where?: unknown) => {
            const v = ensure()
            const result = (v as (data: unknown, where?: unknown) => boolean | Promise<unknown>)(data, where)
            lazy.errors = v.errors
            return result
          }) as Validate
          lazy.schemaEnv = true as unknown as Validate['schemaEnv']
          pending.push({ route: `${route.method} ${route.url} ${route.httpPart}`, compile: ensure })
          return lazy
        }
      }
    }
  }
  /** Compiles every validator not compiled yet; says how many there are, and which failed and why. */
  const compileAll = (): CompileReport => ({
    validators: pending.length,
    failures: pending.flatMap(({ route, compile }) => {
      try { compile(); return [] } catch (err) { return [`${route}: ${err instanceof Error ? err.message : String(err)}`] }
    })
  })
  return { options, compileAll }
}

function assertLowerCaseHeaders (schema: unknown, route: string): void {
  const upper = upperCaseName(schema)
  if (upper !== undefined) throw new Error(`the header schema of ${route} names ${upper}: header names in schemas must be lower case`)
}

/** A header name in capitals anywhere in a header schema (properties, required, dependencies, names), or a `$ref` it cannot see into. */
function upperCaseName (node: unknown): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) { const found = upperCaseName(item); if (found !== undefined) return found }
    return undefined
  }
  if (node === null || typeof node !== 'object') return undefined
  const o = node as Record<string, unknown>
  if (typeof o.$ref === 'string') return `$ref ${o.$ref} (a header schema must be whole here)`
  const objectAt = (key: string): Record<string, unknown> => isObject(o[key]) ? o[key] : {}
  const listAt = (from: Record<string, unknown>, key: string): unknown[] => Array.isArray(from[key]) ? from[key] : []
  const names: unknown[] = [
    ...Object.keys(objectAt('properties')),
    ...listAt(o, 'required'),
    ...Object.entries(objectAt('dependentRequired')).flat(2),
    // Schema-valued dependencies are walked below; only their names and lists are names here.
    ...Object.entries(objectAt('dependencies')).flatMap(([name, value]) => [name, ...(Array.isArray(value) ? value : [])]),
    objectAt('propertyNames').const,
    ...listAt(objectAt('propertyNames'), 'enum')
  ]
  const upper = names.find((n) => typeof n === 'string' && n !== n.toLowerCase())
  if (upper !== undefined) return String(upper)
  for (const value of Object.values(o)) { const found = upperCaseName(value); if (found !== undefined) return found }
  return undefined
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
