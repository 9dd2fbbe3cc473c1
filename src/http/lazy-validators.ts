import AjvCompiler from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'

type BuildValidator = ReturnType<typeof AjvCompiler>
type Compile = ReturnType<BuildValidator>
type Validate = ReturnType<Compile>

/**
 * Fastify's own validators (Ajv, with fastify's settings), each compiled when its route first
 * validates a request instead of while the server starts: compiling them all, and Ajv's JSON
 * Schema meta-schema before the first, was 55 ms of a 0.85 s restart, for routes most nodes
 * never see. A schema that does not compile fails its route's requests (500) rather than the
 * start; every route's schema is compiled by the tests that call it.
 */
export function lazyValidators (): NonNullable<FastifyServerOptions['schemaController']> {
  const build = AjvCompiler()
  return {
    compilersFactory: {
      buildValidator: (externalSchemas, options) => {
        const compile = build(externalSchemas, options)
        return (route) => {
          let validate: Validate | undefined
          // Fastify reads `errors` from the function it was given, after a call that returned false.
          const lazy = ((data: unknown) => {
            validate ??= compile(route)
            const result = validate(data)
            lazy.errors = validate.errors
            return result
          }) as Validate
          return lazy
        }
      }
    }
  }
}
