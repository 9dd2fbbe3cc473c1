import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/**
 * Test hosts on one machine: network namespaces joined by veth pairs to a bridge that lives in a
 * namespace of its own, attached to no real interface. Whatever the tests send (mDNS included)
 * stays inside. `destroy()` removes everything; namespaces left by a test process that died are
 * removed by the next one.
 */

const PREFIX = 'ehtest-'

function ip (...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable (): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespace tests need root (CI runs as root)'
  try {
    const probe = `${PREFIX}probe-${process.pid}`
    ip('netns', 'add', probe)
    ip('netns', 'del', probe)
    return undefined
  } catch (err) {
    return `cannot create network namespaces here (${(err as Error).message.split('\n')[0]})`
  }
}

function isAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Removes namespaces of earlier test processes that are gone. */
function sweepStale (): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? ''
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)
    if (m !== null && !isAlive(Number(m[1]))) {
      try { ip('netns', 'del', name) } catch { /* already gone */ }
    }
  }
}

export interface TestHost {
  ns: string
  ip: string
}

export class TestNetwork {
  readonly hosts: TestHost[]
  readonly #switch: string
  #destroyed = false

  private constructor (switchNs: string, hosts: TestHost[]) {
    this.#switch = switchNs
    this.hosts = hosts
  }

  static create (count: number): TestNetwork {
    sweepStale()
    const id = `${PREFIX}${process.pid}-${randomBytes(2).toString('hex')}`
    const sw = `${id}-sw`
    const subnet = `10.${200 + (process.pid % 50)}.${randomBytes(1)[0]! % 250}`
    const made: string[] = []
    try {
      ip('netns', 'add', sw); made.push(sw)
      ip('-n', sw, 'link', 'set', 'lo', 'up')
      ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
      ip('-n', sw, 'link', 'set', 'br0', 'up')
      const hosts: TestHost[] = []
      for (let i = 1; i <= count; i++) {
        const ns = `${id}-h${i}`
        ip('netns', 'add', ns); made.push(ns)
        // The pair is made inside the host's namespace and its far end moved to the switch:
        // nothing is created in the machine's own namespace.
        ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', sw)
        ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up')
        const addr = `${subnet}.${i}`
        ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
        ip('-n', ns, 'link', 'set', 'eth0', 'up')
        ip('-n', ns, 'link', 'set', 'lo', 'up')
        ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
        hosts.push({ ns, ip: addr })
      }
      return new TestNetwork(sw, hosts)
    } catch (err) {
      for (const ns of made) { try { ip('netns', 'del', ns) } catch { /* best effort */ } }
      throw err
    }
  }

  /** The command line that runs `argv` inside a host's namespace. */
  command (host: TestHost, argv: string[]): { cmd: string, args: string[] } {
    return { cmd: 'ip', args: ['netns', 'exec', host.ns, ...argv] }
  }

  /** Cuts or restores a host's link: a cut host goes silent, with no TCP close for its peers to see. */
  setLink (host: TestHost, up: boolean): void {
    ip('-n', host.ns, 'link', 'set', 'eth0', up ? 'up' : 'down')
    if (up) ip('-n', host.ns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0')
  }

  destroy (): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const ns of [...this.hosts.map((h) => h.ns), this.#switch]) {
      try { ip('netns', 'del', ns) } catch { /* already gone */ }
    }
  }
}
