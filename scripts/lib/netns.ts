import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/**
 * Hosts on one machine: network namespaces joined by veth pairs to a bridge that lives in a
 * namespace of its own, attached to no real interface. Whatever the hosts send (mDNS included)
 * stays inside; nothing is created in the machine's own namespace. `destroy()` removes
 * everything.
 *
 * Used by the hive tests (prefix `ehtest-`, names carry the test process's pid so that the next
 * test run removes what a dead one left) and by `npm run hive` (prefix `ehhive-`, names carry no
 * pid: the local hive outlives the process that made it and only `npm run hive -- down` removes it).
 */

/** Prefix of the namespaces the tests make: `ehtest-<pid>-<random>-sw|hN`. */
export const TEST_PREFIX = 'ehtest-'
/** Prefix of the namespaces `npm run hive -- up` makes: `ehhive-<random>-sw|hN`. */
export const HIVE_PREFIX = 'ehhive-'

function ip (...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Why network namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable (prefix: string = TEST_PREFIX): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs as root)'
  try {
    const probe = `${prefix}probe-${process.pid}`
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

/** The network namespaces that exist now (names only). */
export function listNamespaces (): string[] {
  return ip('netns', 'list').split('\n').map((line) => line.split(' ')[0] ?? '').filter((n) => n !== '')
}

/** Whether a network namespace of this name exists. */
export function namespaceExists (name: string): boolean {
  return listNamespaces().includes(name)
}

/** Deletes a namespace; false when it was not there. */
export function deleteNamespace (name: string): boolean {
  try { ip('netns', 'del', name); return true } catch { return false }
}

/**
 * Removes the namespaces of earlier test processes that are gone. Only the test prefix
 * (`ehtest-<pid>-`) is swept: the local hive's namespaces (`ehhive-`) have no owning process
 * once `up` returns, and are never touched here.
 */
export function sweepStaleTestNamespaces (): void {
  const pattern = new RegExp(`^${TEST_PREFIX}(\\d+)-`)
  for (const name of listNamespaces()) {
    const m = pattern.exec(name)
    if (m !== null && !isAlive(Number(m[1]))) deleteNamespace(name)
  }
}

export interface NetHost {
  ns: string
  ip: string
}

export interface NetworkOptions {
  /** Name prefix, e.g. TEST_PREFIX or HIVE_PREFIX. */
  prefix: string
  /** What follows the prefix in every name (default: 4 random hex digits). */
  tag?: string
  /** The first three octets of the hosts' /24 (default: a random 10.x.y). */
  subnet?: string
}

/** A switch namespace with bridge br0 and `count` host namespaces, each with eth0 on it. */
export class NetnsNetwork {
  readonly hosts: NetHost[]
  readonly switchNs: string
  /** Hosts behind a NAT router (see `behindNat`), removed with the rest. */
  readonly #natted: NetHost[] = []
  #destroyed = false

  constructor (switchNs: string, hosts: NetHost[]) {
    this.switchNs = switchNs
    this.hosts = hosts
  }

  static create (count: number, options: NetworkOptions): NetnsNetwork {
    if (!Number.isInteger(count) || count < 1 || count > 250) throw new RangeError(`host count ${count} is not from 1 to 250`)
    const id = `${options.prefix}${options.tag ?? randomBytes(2).toString('hex')}`
    const sw = `${id}-sw`
    const subnet = options.subnet ?? `10.${200 + (process.pid % 50)}.${randomBytes(1)[0]! % 250}`
    const made: string[] = []
    try {
      ip('netns', 'add', sw); made.push(sw)
      ip('-n', sw, 'link', 'set', 'lo', 'up')
      ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
      ip('-n', sw, 'link', 'set', 'br0', 'up')
      const hosts: NetHost[] = []
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
      return new NetnsNetwork(sw, hosts)
    } catch (err) {
      for (const ns of made) deleteNamespace(ns)
      throw err
    }
  }

  /** Every namespace of this network: the hosts (those behind NAT too), then the switch. */
  get namespaces (): string[] {
    return [...this.#natted.map((h) => h.ns), ...this.hosts.map((h) => h.ns), this.switchNs]
  }

  /**
   * A host behind `router`, one of this network's hosts, which masquerades its traffic
   * (nftables, as a home router does): the host reaches the bridge, nothing on the bridge can
   * reach it. `blocked`: bridge addresses the router drops the host's traffic to (an egress rule).
   * Needs `nft` (Debian's nftables).
   */
  behindNat (router: NetHost, blocked: string[] = []): NetHost {
    const i = this.#natted.length + 1
    const ns = router.ns.replace(/-h\d+$/, `-n${i}`)
    const inside = `192.168.${100 + i}`
    ip('netns', 'add', ns)
    const host = { ns, ip: `${inside}.2` }
    this.#natted.push(host)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `in${i}`, 'netns', router.ns)
    ip('-n', router.ns, 'addr', 'add', `${inside}.1/24`, 'dev', `in${i}`)
    ip('-n', router.ns, 'link', 'set', `in${i}`, 'up')
    ip('-n', ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0')
    ip('-n', ns, 'link', 'set', 'eth0', 'up')
    ip('-n', ns, 'route', 'add', 'default', 'via', `${inside}.1`)
    execFileSync('ip', ['netns', 'exec', router.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    const drops = blocked.map((a) => `    iifname "in${i}" ip daddr ${a} drop`).join('\n')
    const rules =
      `table ip nat${i} {\n  chain post {\n    type nat hook postrouting priority 100\n    oifname "eth0" ip saddr ${inside}.0/24 masquerade\n  }\n  chain egress {\n    type filter hook forward priority 0\n${drops}\n  }\n}\n`
    execFileSync('ip', ['netns', 'exec', router.ns, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'pipe', 'pipe'] })
    return host
  }

  /** The command line that runs `argv` inside a host's namespace. */
  command (host: NetHost, argv: string[]): { cmd: string, args: string[] } {
    return { cmd: 'ip', args: ['netns', 'exec', host.ns, ...argv] }
  }

  /** Cuts or restores a host's link: a cut host goes silent, with no TCP close for its peers to see. */
  setLink (host: NetHost, up: boolean): void {
    ip('-n', host.ns, 'link', 'set', 'eth0', up ? 'up' : 'down')
    if (up) ip('-n', host.ns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0')
  }

  destroy (): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const ns of this.namespaces) deleteNamespace(ns)
  }
}
