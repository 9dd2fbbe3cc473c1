import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { NetnsNetwork, TEST_PREFIX, netnsUnavailable as unavailable, sweepStaleTestNamespaces, type NetHost } from '../../scripts/lib/netns.ts'

/**
 * Test hosts on one machine, from `scripts/lib/netns.ts` (shared with `npm run hive`): network
 * namespaces `ehtest-<pid>-<random>-hN` joined by veth pairs to a bridge in a namespace of its
 * own, attached to no real interface. `destroy()` removes everything; namespaces left by a test
 * process that died are removed by the next one (only `ehtest-` ones: never the local hive's).
 */

export type TestHost = NetHost
export type TestNetwork = NetnsNetwork

export const TestNetwork = {
  create (count: number): TestNetwork {
    sweepStaleTestNamespaces()
    return NetnsNetwork.create(count, { prefix: TEST_PREFIX, tag: `${process.pid}-${randomBytes(2).toString('hex')}` })
  }
}

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable (): string | undefined {
  return unavailable(TEST_PREFIX)
}

/** Why a NAT cannot be put in front of a test host here (it is an nftables masquerade), or undefined when it can. */
export function natUnavailable (): string | undefined {
  const why = netnsUnavailable()
  if (why !== undefined) return why
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' })
    return undefined
  } catch {
    return 'nftables\' nft is not installed (Debian: apt-get install nftables; CI installs it)'
  }
}
