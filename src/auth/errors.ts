import { EdgeError } from '../shared/errors.ts'

/** A request to the client registry that cannot be done: shown to the operator or admin client. */
export class ClientRegistryError extends EdgeError {}
