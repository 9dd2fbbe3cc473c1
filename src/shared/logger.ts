import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { LogLevel } from './log-level.ts'

export type { Logger }

// Belt and braces: code never logs these on purpose, and if an object carrying one is
// logged by mistake the value is still cut out.
const REDACT = [
  'authorization', '*.authorization', 'req.headers.authorization', 'req.headers.cookie',
  'password', '*.password', 'secret', '*.secret', 'client_secret', '*.client_secret',
  'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token',
  'private_key', '*.private_key', 'privateKey', '*.privateKey'
]

/**
 * The process logger: JSON lines on stdout, or pretty lines when stdout is a terminal.
 * Each part takes a child (`logger.child({ part: 'http' })`).
 */
export function createLogger (level: LogLevel, options: { pretty?: boolean, destination?: NodeJS.WritableStream } = {}): Logger {
  const base = {
    level: level === 'off' ? 'silent' : level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { pid: process.pid }
  }
  const wantPretty = options.pretty ?? (process.stdout.isTTY === true)
  if (wantPretty) {
    return pino(base, pretty({ colorize: true, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', destination: options.destination ?? 1 }))
  }
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: true }))
}
