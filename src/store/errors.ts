import { StartupError } from '../shared/errors.ts'

/** The store could not be opened or migrated. */
export class StoreOpenError extends StartupError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('store_open', message, options)
  }
}
