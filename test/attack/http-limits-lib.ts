// What the two HTTP limits test files share (http-limits.test.ts: findings 4 and 5;
// http-limits-connections.test.ts: finding 10 and the limits beside it): requests from a given
// loopback address, and the small values they send. Not a test.
import { randomBytes } from 'node:crypto'
import { caOf, type TestNode } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'

export { caOf }
export const FORM = 'application/x-www-form-urlencoded'
export const fresh = (prefix: string): string => `${prefix}${randomBytes(8).toString('hex')}`
export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** One HTTPS/1.1 request from a given loopback address. */
export async function from (address: string, node: TestNode, path: string, options: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<Answer> {
  return await request1(`${node.url}${path}`, { ...options, ca: caOf(node), tls: { localAddress: address } })
}
