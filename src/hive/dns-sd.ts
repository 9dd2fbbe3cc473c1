import { networkInterfaces } from 'node:os'
import createMdns from 'multicast-dns'
import type { Logger } from '../shared/logger.ts'

/** The DNS-SD service type Edge Hive nodes announce, so standard tools (avahi-browse, dns-sd) list them. */
export const SERVICE_TYPE = '_edge-hive._tcp.local'
const TTL_S = 120

export interface ServiceRecord {
  nodeId: string
  /** The HTTPS port. */
  port: number
  txt: Record<string, string>
}

function ipv4Addresses (): string[] {
  return Object.values(networkInterfaces()).flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address)
}

/**
 * Announces this node as a DNS-SD service (`<node id>._edge-hive._tcp.local`, SRV to the HTTPS
 * port, TXT with the info document's key facts), answers queries for it, and withdraws it with a
 * goodbye (TTL 0, RFC 6762 §10.1) on stop. Only started with `--discovery`.
 */
export class DnsSdAdvertiser {
  readonly #record: ServiceRecord
  readonly #log: Logger
  #mdns?: ReturnType<typeof createMdns>

  constructor (record: ServiceRecord, logger: Logger) {
    this.#record = record
    this.#log = logger
  }

  #answers (ttl: number): Parameters<ReturnType<typeof createMdns>['respond']>[0] {
    const instance = `${this.#record.nodeId}.${SERVICE_TYPE}`
    const host = `${this.#record.nodeId}.local`
    return {
      answers: [{ name: SERVICE_TYPE, type: 'PTR', ttl, data: instance }],
      additionals: [
        { name: instance, type: 'SRV', ttl, data: { port: this.#record.port, target: host, priority: 0, weight: 0 } },
        { name: instance, type: 'TXT', ttl, data: Object.entries(this.#record.txt).map(([k, v]) => `${k}=${v}`) },
        ...ipv4Addresses().map((ip) => ({ name: host, type: 'A' as const, ttl, data: ip }))
      ]
    }
  }

  start (): void {
    const mdns = createMdns()
    this.#mdns = mdns
    mdns.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'dns-sd error'))
    mdns.on('query', (q) => {
      if (q.questions.some((x) => x.name === SERVICE_TYPE || x.name === `${this.#record.nodeId}.${SERVICE_TYPE}`)) mdns.respond(this.#answers(TTL_S))
    })
    // Announce once unasked, so browsers already listening see the node at once.
    mdns.respond(this.#answers(TTL_S))
  }

  async stop (): Promise<void> {
    const mdns = this.#mdns
    if (mdns === undefined) return
    this.#mdns = undefined
    await new Promise<void>((resolve) => { mdns.respond(this.#answers(0), () => resolve()) })
    await new Promise<void>((resolve) => { mdns.destroy(() => resolve()) })
  }
}
