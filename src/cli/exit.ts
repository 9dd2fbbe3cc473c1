import { ConfigError } from '../config/index.ts'
import { EdgeError, UsageError, messageOf } from '../shared/errors.ts'

/** Exit codes: 0 done, 1 failed (or unhealthy), 2 the command or its configuration is wrong. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/**
 * Reports an error that ends a command on stderr, in one or a few lines a person can act on,
 * never a stack trace, and returns the exit code.
 */
export function reportFatal (err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof ConfigError) {
    stderr.write(`edge-hive: invalid configuration:\n${err.problems.map((p) => `  - ${p.setting} (from ${p.source}): ${p.message}`).join('\n')}\n`)
    return EXIT_USAGE
  }
  if (err instanceof UsageError) {
    stderr.write(`edge-hive: ${err.message}\n`)
    return EXIT_USAGE
  }
  if (err instanceof EdgeError) {
    stderr.write(`edge-hive: ${err.message}\n`)
    return EXIT_FAILURE
  }
  stderr.write(`edge-hive: unexpected error: ${messageOf(err)}\n`)
  return EXIT_FAILURE
}
