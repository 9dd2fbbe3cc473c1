import { esc } from '../pages/layout.ts'
import { SCOPES, SCOPE_WORDS } from '../../auth/scopes.ts'
import type { ClientView, GrantView } from '../../auth/index.ts'
import type { MinuteCounts } from '../../shared/minute-tally.ts'
import { codes, cut, table, tr, when } from './layout.ts'

/** Rows listed at most: apps register themselves, so their number is not the operator's to choose. */
const LISTED = 500
const more = (all: number, shown: number, command: string): string =>
  all > shown ? `<p class="muted">${all - shown} more: <code>${esc(command)}</code> lists them all.</p>` : ''

/** An audit entry as the activity page lists it. */
export interface ActivityEntry { at: Date, actor: string, action: string, target?: string | undefined, source?: string | undefined, outcome: string, detail?: Record<string, unknown> | undefined }

export function signInForm (o: { csrf: string, problem?: string | undefined, unset: boolean, next: string }): string {
  if (o.unset) {
    return `<section class="card"><p>No operator password is set on this node, so nobody can sign in yet.</p>
<p>On the node's machine, run <code>edge-hive operator set-password</code>, then reload this page.</p></section>`
  }
  return `<section class="card">
${o.problem === undefined ? '' : `<p class="problem" role="alert">${esc(o.problem)}</p>`}
<form method="post" action="/console/sign-in">
<input type="hidden" name="csrf" value="${esc(o.csrf)}"><input type="hidden" name="next" value="${esc(o.next)}">
<label>Operator password <input type="password" name="password" autocomplete="current-password" required autofocus maxlength="1024"></label>
<button type="submit">Sign in</button>
</form>
<p class="muted">The password set with <code>edge-hive operator set-password</code>, the same as for approving apps.</p></section>`
}

/** A page that asks before doing something that cannot be undone; the form goes to the same path. */
export function confirmForm (o: { csrf: string, action: string, question: string, consequence: string, button: string, back: string }): string {
  return `<section class="card"><p><strong>${esc(o.question)}</strong></p><p>${esc(o.consequence)}</p>
<form method="post" action="${esc(o.action)}"><input type="hidden" name="csrf" value="${esc(o.csrf)}">
<button type="submit" class="danger">${esc(o.button)}</button> <a href="${esc(o.back)}">Cancel</a></form></section>`
}

export function notice (text: string, kind: 'done' | 'problem' = 'done'): string {
  return `<p class="${kind === 'problem' ? 'problem' : ''}" role="${kind === 'problem' ? 'alert' : 'status'}">${esc(text)}</p>`
}

export function nodeFacts (facts: Array<[string, string]>, settings: Array<[string, string]>): string {
  const dl = (rows: Array<[string, string]>): string => `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd><code>${esc(v)}</code></dd>`).join('')}</dl>`
  return `<div class="grid"><section class="card" id="node-facts" data-live><h2>Status</h2>${dl(facts)}</section>
<section class="card"><h2>Settings in effect</h2>
<p class="muted">Secrets are never shown. Change settings with flags, environment variables or the configuration file, then restart.</p>
${dl(settings)}</section></div>`
}

export function clientsTable (all: ClientView[], lastUse: Map<string, Date>): string {
  const clients = all.slice(0, LISTED)
  const rows = clients.map((c) => {
    const name = cut(c.name, 100)
    const at = `/console/agents/${encodeURIComponent(c.client_id)}`
    const rotate = c.registered_by === 'operator' && c.auth_method !== 'private_key_jwt'
      ? `<a href="${at}/rotate">Rotate secret<span class="sr"> of ${esc(name)}</span></a> · `
      : ''
    const actions = c.status === 'revoked' ? '' : `${rotate}<a href="${at}/revoke">Revoke<span class="sr"> ${esc(name)}</span></a>`
    return tr(` data-client="${esc(c.client_id)}"`, [
      esc(name), `<code>${esc(c.client_id)}</code>`, codes(c.scopes), c.registered_by === 'operator' ? 'the operator' : 'itself',
      when(c.created_at), when(lastUse.get(c.client_id)), [`status st-${c.status}`, c.status], actions
    ])
  })
  const head = ['Name', 'Client id', 'Scopes', 'Registered by', 'Created', 'Last token', 'Status', '']
  return table('Agents and apps registered on this node', head, rows, 'No clients yet.') + more(all.length, clients.length, 'edge-hive clients list')
}

export function newClientForm (csrf: string): string {
  const boxes = SCOPES.map((s) => `<label class="inline"><input type="checkbox" name="scope" value="${s}"${s === 'mcp:admin' ? '' : ' checked'}>` +
    ` <code>${s}</code> <span class="muted">${esc(SCOPE_WORDS[s])}</span></label>`).join('')
  return `<form method="post" action="/console/agents">
<input type="hidden" name="csrf" value="${esc(csrf)}">
<label>Name <input type="text" name="name" required maxlength="100" placeholder="build-agent"></label>
<fieldset><legend>Scopes</legend>${boxes}</fieldset>
<button type="submit">Add the agent</button>
</form>`
}

/** A client's secret, shown once, with what to do with it. */
export function secretShown (o: { client: ClientView, secret: string, tokenUrl: string, rotated: boolean }): string {
  return `<section class="card"><h2>${o.rotated ? 'New secret' : 'Agent added'}: ${esc(o.client.name)}</h2>
<p>The secret is shown once: copy it now and keep it where the agent reads it.${o.rotated ? ' The old secret no longer works.' : ''}</p>
<dl><dt>Client id</dt><dd><code id="client-id">${esc(o.client.client_id)}</code></dd><dt>Secret</dt><dd><code class="secret" id="client-secret">${esc(o.secret)}</code>
<button type="button" class="secondary" data-copy="client-secret" hidden>Copy the secret</button></dd>
<dt>Token endpoint</dt><dd><code>${esc(o.tokenUrl)}</code></dd><dt>Scopes</dt><dd>${o.client.scopes.map((s) => `<code>${esc(s)}</code>`).join(' ')}</dd></dl></section>`
}

export function grantsTable (all: GrantView[], lastUse: Map<string, Date>): string {
  const grants = all.slice(0, LISTED)
  const rows = grants.map((g) => {
    const name = esc(cut(g.client_name, 100))
    return tr(` data-grant="${esc(g.grant_id)}"`, [
      name, `<code>${esc(g.client_id)}</code>`, codes(g.scopes), when(g.created_at), when(lastUse.get(g.client_id)),
      `<a href="/console/apps/${encodeURIComponent(g.grant_id)}/revoke">Revoke<span class="sr"> ${name}</span></a>`
    ])
  })
  const head = ['App', 'Client id', 'Scopes', 'Approved', 'Last token', '']
  return table('Apps people approved', head, rows, 'No app holds an approval.') + more(all.length, grants.length, 'edge-hive grants list')
}

/** Tool calls and refused requests per minute, as bars: a small chart needs no library. */
export function minuteChart (minutes: MinuteCounts[]): string {
  const W = 600
  const H = 120
  const max = Math.max(1, ...minutes.map((m) => m.toolCalls + m.refused))
  const bw = W / minutes.length
  const bars = minutes.map((m, i) => {
    const hc = Math.round((m.toolCalls / max) * (H - 10))
    const hr = Math.round((m.refused / max) * (H - 10))
    const x = Math.round(i * bw + 1)
    const w = Math.max(1, Math.round(bw - 2))
    const title = `${when(new Date(m.minute)).slice(11, 16)} UTC: ${m.toolCalls} tool call${m.toolCalls === 1 ? '' : 's'}, ${m.refused} refused`
    return `<g><title>${esc(title)}</title><rect class="bar-calls" x="${x}" y="${H - hc}" width="${w}" height="${hc}"/>` +
      `<rect class="bar-refused" x="${x}" y="${H - hc - hr}" width="${w}" height="${hr}"/></g>`
  }).join('')
  const calls = minutes.reduce((a, m) => a + m.toolCalls, 0)
  const refused = minutes.reduce((a, m) => a + m.refused, 0)
  const title = `The last ${minutes.length} minutes: ${calls} tool calls, ${refused} refused requests; at most ${max} in a minute`
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title"><title id="chart-title">${title}</title>
<line class="axis" x1="0" y1="${H}" x2="${W}" y2="${H}"/>${bars}</svg>
<p class="legend muted"><span><span class="key k-calls"></span>tool calls a minute</span>
<span><span class="key k-refused"></span>refused requests (401, 403, 429)</span><span>most in a minute: ${max}</span></p>`
}

export function activityFilter (f: { kind: string, client: string, peer: string }, kinds: string[]): string {
  return `<form method="get" action="/console/activity" class="inline" role="search">
<label>Kind <select name="kind"><option value="">all</option>
${kinds.map((k) => `<option${k === f.kind ? ' selected' : ''}>${esc(k)}</option>`).join('')}</select></label>
<label>Client id <input type="text" name="client" value="${esc(f.client)}" maxlength="200"></label>
<label>Peer id <input type="text" name="peer" value="${esc(f.peer)}" maxlength="200"></label>
<button type="submit" class="secondary">Filter</button></form>`
}

export function activityTable (entries: ActivityEntry[]): string {
  const rows = entries.map((e) => tr('', [
    when(e.at), `<code>${esc(e.action)}</code>`, `<code>${esc(cut(e.actor, 200))}</code>`,
    e.target === undefined ? '—' : `<code>${esc(cut(e.target, 200))}</code>`,
    [`status st-${e.outcome === 'success' ? 'online' : 'untrusted'}`, esc(e.outcome)],
    `${e.source === undefined ? '' : esc(e.source)}${e.detail === undefined ? '' : ` <span class="muted">${esc(JSON.stringify(e.detail).slice(0, 200))}</span>`}`
  ]))
  return table('Recent activity, newest first', ['When', 'What', 'Who', 'On', 'Outcome', 'Details'], rows, 'Nothing matches.')
}
