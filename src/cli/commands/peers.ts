import type { Command } from 'commander'
import { UsageError } from '../../shared/errors.ts'
import { addSettingFlags } from '../config-flags.ts'
import { callNode } from '../admin-api.ts'
import { runningNode } from '../running-node.ts'
import { requirePeerId } from '../../shared/peer-id.ts'
import type { PeerView } from '../../shared/peer-view.ts'

const access = async (cmd: Command): Promise<Awaited<ReturnType<typeof runningNode>>> => await runningNode(cmd, 'peers are known only to a running node')

/** The peer table as a person reads it: one line a peer. */
export function printPeers (peers: PeerView[], json: boolean): void {
  if (json) { process.stdout.write(JSON.stringify({ peers }) + '\n'); return }
  process.stdout.write(peers.length === 0
    ? 'no peers\n'
    : peers.map((p) => `${p.peer_id}  ${(p.node_id ?? '-').padEnd(28)}  ${p.status.padEnd(9)}  trust ${p.trust.toFixed(2)}  ${p.addresses.join(' ')}`).join('\n') + '\n')
}

/** A peer id, or a multiaddr ending in /p2p/<peer id> to dial at that address. */
function target (text: string): { peerId: string, addrs: string[] } {
  if (!text.startsWith('/')) {
    requirePeerId(text)
    return { peerId: text, addrs: [] }
  }
  const m = /\/p2p\/([1-9A-HJ-NP-Za-km-z]+)$/.exec(text)
  if (m === null) throw new UsageError('peer_address', `${text} does not end in /p2p/<peer id>`)
  return { peerId: m[1]!, addrs: [text] }
}

export function registerPeers (program: Command): void {
  const peers = program.command('peers').description('the hive peers a running node knows')
  const list = peers.command('list').description('list the peers with status and trust').option('--json', 'print JSON')
  addSettingFlags(list, ['dataDir'])
  list.action(async () => {
    const { peers: all } = await callNode<{ peers: PeerView[] }>(await access(list), 'GET', '/discovery/peers')
    printPeers(all, list.opts().json === true)
  })

  const connect = peers.command('connect').description('connect to a peer by id (known addresses or the DHT) or by multiaddr')
    .argument('<peer>', 'a peer id, or a multiaddr ending in /p2p/<peer id>').option('--json', 'print JSON')
  addSettingFlags(connect, ['dataDir'])
  connect.action(async () => {
    const { peerId, addrs } = target(connect.args[0]!)
    const r = await callNode<{ peer_id: string, addresses: string[] }>(await access(connect), 'POST', `/discovery/connect/${peerId}`, addrs.length > 0 ? { addrs } : {})
    process.stdout.write(connect.opts().json === true ? JSON.stringify(r) + '\n' : `connected to ${r.peer_id} at ${r.addresses.join(' ')}\n`)
  })
}
