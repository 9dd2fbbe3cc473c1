import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { parseDuration } from '../../config/index.ts'
import { UsageError } from '../../shared/errors.ts'
import { addSettingFlags } from '../config-flags.ts'
import { callNode } from '../admin-api.ts'
import { runningNode } from '../running-node.ts'
import { printPeers } from './peers.ts'
import { cliName } from '../../shared/cli-name.ts'
import { requirePeerId } from '../../shared/peer-id.ts'

/** A join dials the inviting member and waits for its answer: longer than a plain admin call. */
const JOIN_TIMEOUT_MS = 40_000

interface MemberView { peer_id: string, node_id?: string, self: boolean, status: string, trust: number, last_seen?: string }

const write = (text: string): void => { process.stdout.write(text + '\n') }

function command (parent: Command, name: string, description: string): Command {
  const cmd = parent.command(name).description(description).option('--json', 'print JSON')
  addSettingFlags(cmd, ['dataDir'])
  return cmd
}

export function registerHive (program: Command): void {
  const hive = program.command('hive').description('membership of a hive: found one, invite nodes, join, list and remove members')
  const access = async (cmd: Command): Promise<Awaited<ReturnType<typeof runningNode>>> => await runningNode(cmd, `start it with \`${cliName()} serve\` first`)

  const init = command(hive, 'init', 'make this node the first member of a new hive')
  init.action(async () => {
    const r = await callNode<{ hive_id: string }>(await access(init), 'POST', '/hive/init')
    write(init.opts().json === true ? JSON.stringify(r) : `founded hive ${r.hive_id}\ninvite other nodes with: ${cliName()} hive invite`)
  })

  const invite = command(hive, 'invite', 'print an invitation token for one new node (a secret: pass it on privately)')
    .option('--ttl <duration>', 'how long the invitation is valid, like 30m or 1h (at most 30d)', '1h')
    .option('--uses <number>', 'how many nodes may join with it (1 to 1000)', '1')
  invite.action(async () => {
    const o = invite.opts<{ ttl: string, uses: string, json?: boolean }>()
    const ttlMs = parseDuration(o.ttl)
    if (ttlMs === undefined || ttlMs < 1000 || ttlMs > 30 * 86_400_000) throw new UsageError('ttl', `--ttl ${o.ttl} is not a duration from 1s to 30d (like 30m, 1h, 7d)`)
    const uses = Number(o.uses)
    if (!Number.isInteger(uses) || uses < 1 || uses > 1000) throw new UsageError('uses', `--uses ${o.uses} is not a whole number from 1 to 1000`)
    const r = await callNode<{ token: string, expires_at: string, uses: number }>(await access(invite), 'POST', '/hive/invitations', { ttl_seconds: Math.ceil(ttlMs / 1000), uses })
    if (o.json === true) { write(JSON.stringify(r)); return }
    write(r.token)
    process.stderr.write(`valid until ${r.expires_at} for ${r.uses} node(s); on the new node: ${cliName()} hive join <token>, or EDGE_HIVE_JOIN_TOKEN at its first start\n`)
  })

  const join = command(hive, 'join', 'join a hive with an invitation token (`-` reads it from standard input)').argument('<token>', 'the invitation, or - to read it from stdin')
  join.action(async () => {
    const arg = join.args[0]!
    const token = (arg === '-' ? readFileSync(0, 'utf8') : arg).trim()
    const r = await callNode<{ hive_id: string, inviter: string }>(await access(join), 'POST', '/hive/join', { token }, JOIN_TIMEOUT_MS)
    write(join.opts().json === true ? JSON.stringify(r) : `joined hive ${r.hive_id} (invited by ${r.inviter})`)
  })

  const members = command(hive, 'members', 'list the hive\'s members this node knows')
  members.action(async () => {
    const r = await callNode<{ hive_id: string | null, members: MemberView[], removed: string[] }>(await access(members), 'GET', '/hive/members')
    if (members.opts().json === true) { write(JSON.stringify(r)); return }
    if (r.hive_id === null) { write('not a member of a hive'); return }
    write(`hive ${r.hive_id}`)
    for (const m of r.members) write(`${m.peer_id}  ${(m.node_id ?? '-').padEnd(28)}  ${m.status.padEnd(9)}  trust ${m.trust.toFixed(2)}${m.self ? '  (this node)' : ''}`)
    if (r.removed.length > 0) write(`removed: ${r.removed.join(' ')}`)
  })

  const remove = command(hive, 'remove', 'remove a member (the founder may remove anyone else; a member, those it invited and theirs); the removal spreads to the other members')
    .argument('<peer_id>', 'the member\'s peer id')
  remove.action(async () => {
    const peerId = remove.args[0]!
    requirePeerId(peerId)
    const r = await callNode<{ peer_id: string, removed: boolean }>(await access(remove), 'DELETE', `/hive/members/${encodeURIComponent(peerId)}`)
    write(remove.opts().json === true ? JSON.stringify(r) : r.removed ? `removed ${r.peer_id}` : `${r.peer_id} was removed already`)
  })
}

export function registerDiscovery (program: Command): void {
  const discovery = program.command('discovery').description('announce this node to the hive and list the peers found')
  const access = async (cmd: Command): Promise<Awaited<ReturnType<typeof runningNode>>> => await runningNode(cmd, 'discovery runs in a running node')

  const announce = command(discovery, 'announce', 'sign a fresh capability advert and send it to the members and the DHT now')
  announce.action(async () => {
    const r = await callNode<{ advert: { node_id: string, peer_id: string, seq: number } }>(await access(announce), 'GET', '/discovery/announce')
    write(announce.opts().json === true ? JSON.stringify(r) : `announced ${r.advert.node_id} (${r.advert.peer_id}), advert seq ${r.advert.seq}`)
  })

  const peers = command(discovery, 'peers', 'list the peers found by mDNS, the DHT and bootstrap, with status and trust')
  peers.action(async () => {
    const r = await callNode<{ peers: Parameters<typeof printPeers>[0] }>(await access(peers), 'GET', '/discovery/peers')
    printPeers(r.peers, peers.opts().json === true)
  })
}
