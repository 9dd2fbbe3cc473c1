import { EdgeError } from '../shared/errors.ts'

/** A request to the client registry that cannot be done: shown to the operator or admin client. */
export class ClientRegistryError extends EdgeError {
  constructor (status: number, code: string, message: string) {
    super(code, message, { status, expose: true })
  }
}
