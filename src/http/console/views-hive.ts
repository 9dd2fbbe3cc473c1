import { esc } from '../pages/layout.ts'
import { cut, table, tr, when } from './layout.ts'

/** A member as the console shows it: this node, or another member as its advert describes it. */
export interface ConsoleMember {
  peerId: string
  nodeId?: string | undefined
  name: string
  self: boolean
  status: 'self' | 'online' | 'offline' | 'untrusted'
  trust: number
  /** CPU and memory use in %, from the member's last advert. */
  load?: { cpu: number, memory: number } | undefined
  version?: string | undefined
  lastSeen?: string | undefined
  tools: string[]
  /** This node holds a live connection to it now. */
  connected: boolean
}

/** Members drawn in the picture at most. */
const DRAWN = 48
/** Members listed at most: the page stays small whatever a rogue member invites. */
const LISTED = 500
const STATUS_WORDS = { self: 'this node', online: 'online', offline: 'offline', untrusted: 'not proven a member' } as const

/**
 * The hive as a picture, drawn here so the page needs no script to show it: this node in the
 * middle, the other members on a circle around it, a line for each live connection of this
 * node (a node sees its own connections only), colour by status, size by CPU load.
 */
export function hivePicture (members: ConsoleMember[]): string {
  const self = members.find((m) => m.self)
  const others = members.filter((m) => !m.self).slice(0, DRAWN)
  const W = 640
  const H = 420
  const cx = W / 2
  const cy = H / 2
  const R = others.length <= 1 ? 120 : 160
  const radius = (m: ConsoleMember): number => 10 + Math.min(100, Math.max(0, m.load?.cpu ?? 0)) / 10
  const at = others.map((m, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, others.length)
    return { m, x: Math.round(cx + R * Math.cos(angle)), y: Math.round(cy + R * Math.sin(angle)) }
  })
  const edges = at.filter((p) => p.m.connected).map((p) => `<line class="edge" x1="${cx}" y1="${cy}" x2="${p.x}" y2="${p.y}"/>`).join('')
  const dot = (m: ConsoleMember, x: number, y: number): string => {
    const load = m.load === undefined ? '' : `, CPU ${m.load.cpu.toFixed(0)}%`
    const label = `${cut(m.name, 100)}: ${STATUS_WORDS[m.status]}${load}${m.connected ? ', connected to this node' : ''}`
    const r = radius(m)
    return `<g data-peer="${esc(m.peerId)}" data-status="${m.status}"><title>${esc(label)}</title>` +
      `<circle class="node n-${m.status}" cx="${x}" cy="${y}" r="${r}"/>` +
      `<text x="${x}" y="${y + r + 13}" text-anchor="middle">${esc(cut(m.name, 18))}</text></g>`
  }
  const counts = { online: 0, offline: 0, untrusted: 0 }
  for (const m of members) if (m.status !== 'self') counts[m.status]++
  const summary = `${members.length} member${members.length === 1 ? '' : 's'}: ${counts.online} online, ${counts.offline} offline` +
    `${counts.untrusted > 0 ? `, ${counts.untrusted} not proven` : ''}; this node is connected to ${at.filter((p) => p.m.connected).length}`
  const more = members.length - 1 - others.length
  return `<svg class="hive" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="hive-picture-title"><title id="hive-picture-title">${esc(summary)}</title>
${edges}${at.map((p) => dot(p.m, p.x, p.y)).join('')}${self === undefined ? '' : dot(self, cx, cy)}</svg>
<p class="legend muted"><span><span class="key k-self"></span>this node</span><span><span class="key k-online"></span>online</span>
<span><span class="key k-offline"></span>offline</span><span><span class="key k-untrusted"></span>not proven</span>
<span>lines: this node's live connections; size: CPU load</span>${more > 0 ? `<span>${more} more in the table</span>` : ''}</p>`
}

export function membersTable (all: ConsoleMember[]): string {
  const members = all.slice(0, LISTED)
  const rows = members.map((m) => {
    const name = esc(cut(m.name, 100))
    const tools = m.tools.length === 0
      ? '—'
      : m.tools.slice(0, 20).map((t) => `<code>${esc(cut(t, 64))}</code>`).join(', ') + (m.tools.length > 20 ? ` and ${m.tools.length - 20} more` : '')
    return tr(` data-peer="${esc(m.peerId)}"`, [
      name, `<code>${esc(m.nodeId ?? '—')}</code>`, [`status st-${m.status}`, STATUS_WORDS[m.status]], m.trust.toFixed(2),
      m.load === undefined ? '—' : `CPU ${m.load.cpu.toFixed(0)}%, memory ${m.load.memory.toFixed(0)}%`,
      esc(m.version ?? '—'), m.self ? 'now' : when(m.lastSeen), tools,
      m.self ? '' : `<a href="/console/hive/members/${encodeURIComponent(m.peerId)}/remove">Remove<span class="sr"> ${name}</span></a>`
    ])
  })
  const more = all.length - members.length
  const head = ['Name', 'Node id', 'Status', 'Trust', 'Load', 'Version', 'Last seen', 'Tools offered', '']
  return table('Members of the hive', head, rows, 'No members yet.') +
    (more > 0 ? `<p class="muted">${more} more: <code>edge-hive hive members</code> lists them all.</p>` : '')
}

export function invitationForm (csrf: string): string {
  return `<form method="post" action="/console/hive/invite" class="inline">
<input type="hidden" name="csrf" value="${esc(csrf)}">
<label>Valid for (hours) <input type="number" name="hours" value="1" min="1" max="720" required></label>
<label>Nodes that may use it <input type="number" name="uses" value="1" min="1" max="1000" required></label>
<button type="submit">Make an invitation</button>
</form>`
}

/** The invitation, shown once, with the commands that use it on the new node. */
export function invitationShown (o: { token: string, expiresAt: string, uses: number, cli: string }): string {
  // The invitation names this node's addresses: the new node needs nothing else to find it.
  return `<section class="card"><h2>Invitation</h2>
<p>This is shown once: copy it now. It is valid until ${esc(when(o.expiresAt))} for ${o.uses} node${o.uses === 1 ? '' : 's'}. Treat it as a password: whoever holds it can join.</p>
<code class="secret" id="invitation">${esc(o.token)}</code>
<button type="button" class="secondary" data-copy="invitation" hidden>Copy the invitation</button>
<p>On the new node, once it runs: <code>${esc(o.cli)} hive join -</code>, then paste the invitation (it stays out of the shell's history).</p>
<p>Or at the new node's first start, with the invitation in its environment:</p>
<pre id="join-command">${esc(`EDGE_HIVE_JOIN_TOKEN='${o.token}' ${o.cli} serve`)}</pre>
<button type="button" class="secondary" data-copy="join-command" hidden>Copy the command</button>
</section>`
}
