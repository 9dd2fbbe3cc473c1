/** The levels pino knows, plus `off`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'off'] as const
export type LogLevel = typeof LOG_LEVELS[number]
