// Runs on a host of its own in the benchmark's namespace network, reaches every node over the
// bridge, and watches their peer tables through the REST route of list_peers (each node with
// its own operator client's token, its certificate pinned). Commands come as JSON lines on
// stdin; answers go as JSON lines on stdout, with Date.now() of the observation.
//   {"cmd":"watch","expect":"online","nodes":[{"peer_id","url","data_dir"}],"interval_ms":250,"timeout_ms":120000}
//     -> {"event":"online","at":ms} once every node lists every other online, a member, with its capabilities
//   {"cmd":"watch","expect":"online","target":"<peer id>","min_seq":ms,"nodes":[...the others],...}
//     -> {"event":"online","at":ms} once every node lists the target online, a member, with an advert
//        whose seq is at least min_seq (an advert's seq is the time it was signed: a fresh one)
//   {"cmd":"watch","expect":"offline","target":"<peer id>","nodes":[...the others],...}
//     -> {"event":"offline","at":ms} once every node lists the target offline
//   {"cmd":"watch","expect":"removed","target":"<peer id>","nodes":[...the others],...}
//     -> {"event":"removed","at":ms} once no node lists the target as a member (`member: false`, or not listed)
//   {"event":"timeout","at":ms,"detail":{"pending":[peer ids],"views":{peer id: {other peer id: "online:member:advert"|...}}}}
//     when the time runs out first
import { readFileSync, existsSync } from 'node:fs'
import { Agent, request } from 'node:https'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

interface Target { peer_id: string, url: string, data_dir: string }
interface Command { cmd: 'watch', expect: 'online' | 'offline' | 'removed', nodes: Target[], target?: string, min_seq?: number, interval_ms: number, timeout_ms: number }
interface Peer { peer_id: string, status: string, member: boolean, capabilities?: { seq?: number, capabilities?: { mcp?: unknown } } }

const send = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

interface Conn { agent: Agent, token?: string }
const conns = new Map<string, Conn>()

function post (c: Conn, url: string, headers: Record<string, string>, body: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: c.agent, timeout: 5000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(body)
  })
}

/** A keep-alive connection and a token for a node, once it has made its certificate and client. */
async function connect (t: Target): Promise<Conn | undefined> {
  let c = conns.get(t.url)
  if (c?.token !== undefined) return c
  const certFile = join(t.data_dir, 'tls', 'cert.pem')
  const clientFile = join(t.data_dir, 'operator-client.json')
  if (!existsSync(certFile) || !existsSync(clientFile)) return undefined
  if (c === undefined) {
    c = { agent: new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(certFile), checkServerIdentity: () => undefined }) }
    conns.set(t.url, c)
  }
  const op = JSON.parse(readFileSync(clientFile, 'utf8')) as { client_id: string, client_secret: string }
  const basic = Buffer.from(`${encodeURIComponent(op.client_id)}:${encodeURIComponent(op.client_secret)}`).toString('base64')
  const res = await post(c, `${t.url}/oauth/token`, { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` }, 'grant_type=client_credentials')
  if (res.status !== 200) return undefined
  c.token = (JSON.parse(res.body) as { access_token: string }).access_token
  return c
}

async function peersOf (t: Target): Promise<Peer[] | undefined> {
  try {
    const c = await connect(t)
    if (c === undefined) return undefined
    const res = await post(c, `${t.url}/mcp/tools/call`, { authorization: `Bearer ${c.token!}`, 'content-type': 'application/json' }, '{"name":"list_peers"}')
    // A node restarted since the token was issued may refuse it: get a new one next round.
    if (res.status === 401) c.token = undefined
    if (res.status !== 200) return undefined
    return (JSON.parse(res.body) as { structuredContent: { peers: Peer[] } }).structuredContent.peers
  } catch {
    // Not listening yet, or its process was restarted: a fresh connection and token next round.
    conns.get(t.url)?.agent.destroy()
    conns.delete(t.url)
    return undefined
  }
}

const hasAdvert = (p: Peer | undefined, minSeq = 0): boolean => p?.capabilities?.capabilities?.mcp !== undefined && (p.capabilities.seq ?? 0) >= minSeq
const onlineMember = (p: Peer | undefined, minSeq?: number): boolean => p?.status === 'online' && p.member && hasAdvert(p, minSeq)

async function watch (c: Command): Promise<void> {
  const deadline = Date.now() + c.timeout_ms
  const pending = new Set(c.nodes.map((n) => n.peer_id))
  const target = (peers: Peer[]): Peer | undefined => peers.find((p) => p.peer_id === c.target)
  const ok = (self: Target, peers: Peer[]): boolean => {
    switch (c.expect) {
      case 'online': return c.target === undefined
        ? c.nodes.every((o) => o.peer_id === self.peer_id || onlineMember(peers.find((p) => p.peer_id === o.peer_id)))
        : onlineMember(target(peers), c.min_seq)
      case 'offline': return target(peers)?.status === 'offline'
      case 'removed': return target(peers)?.member !== true
    }
  }
  let rounds = 0
  /** What each node saw last of the others: for a timeout's report. */
  const last = new Map<string, Record<string, string>>()
  const describe = (p: Peer | undefined): string => {
    if (p === undefined) return 'unknown'
    const advert = p.capabilities?.capabilities?.mcp === undefined ? '' : hasAdvert(p, c.min_seq) ? ':advert' : ':old-advert'
    return `${p.status}${p.member ? ':member' : ''}${advert}`
  }
  while (pending.size > 0) {
    // At least one round, however short the time given.
    if (rounds > 0 && Date.now() > deadline) {
      send({ event: 'timeout', at: Date.now(), detail: { expect: c.expect, pending: [...pending], of: c.nodes.length, views: Object.fromEntries(last) } })
      return
    }
    const started = Date.now()
    rounds++
    await Promise.all(c.nodes.filter((n) => pending.has(n.peer_id)).map(async (n) => {
      const peers = await peersOf(n)
      if (peers === undefined) return
      const view = c.target === undefined
        ? Object.fromEntries(c.nodes.filter((o) => o.peer_id !== n.peer_id).map((o) => [o.peer_id, describe(peers.find((p) => p.peer_id === o.peer_id))]))
        : { [c.target]: describe(target(peers)) }
      last.set(n.peer_id, view)
      if (ok(n, peers)) pending.delete(n.peer_id)
    }))
    if (pending.size === 0) { send({ event: c.expect, at: Date.now(), rounds }); return }
    if (rounds % 10 === 0) send({ event: 'progress', done: c.nodes.length - pending.size, of: c.nodes.length })
    await sleep(Math.max(0, c.interval_ms - (Date.now() - started)))
  }
  send({ event: c.expect, at: Date.now(), rounds })
}

const lines = createInterface({ input: process.stdin })
let queue = Promise.resolve()
lines.on('line', (line) => {
  queue = queue.then(async () => { await watch(JSON.parse(line) as Command) }).catch((err: Error) => { send({ event: 'error', message: err.message }) })
})
lines.on('close', () => { void queue.then(() => process.exit(0)) })
send({ event: 'started' })
