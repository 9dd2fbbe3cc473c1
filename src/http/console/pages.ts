import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify'
import { esc } from '../pages/layout.ts'
import { isScope } from '../../auth/scopes.ts'
import type { ClientView } from '../../auth/index.ts'
import { PEER_ID_PATTERN } from '../../shared/peer-id.ts'
import type { ConsoleContext } from './routes.ts'
import { hivePicture, membersTable, invitationForm, invitationShown } from './views-hive.ts'
import {
  confirmForm, notice, nodeFacts, clientsTable, newClientForm, secretShown, grantsTable, minuteChart, activityFilter, activityTable, type ActivityEntry
} from './views.ts'

/** What the console does, audited as the operator's own acts. */
const ACTOR = 'operator'
/** Audit entries the activity page and the "last token" columns look through. */
const ACTIVITY_WINDOW = 1000
const ACTIVITY_SHOWN = 200
const PEER_ID = new RegExp(PEER_ID_PATTERN)
const CLIENT_ID = /^[\w.:/~%-]{1,200}$/
const GRANT_ID = /^[\w-]{1,128}$/

/** Fixed words for the notice after a change: the query names one, never carries text. */
const DONE: Record<string, string> = {
  removed: 'The member was removed. The removal spreads to every member, also those away now.',
  not_removed: 'That peer was not a member of this hive: nothing was removed.',
  revoked: 'Revoked: its tokens stop working at once.',
  grant_revoked: 'The approval was withdrawn: the app\'s tokens stop working at once.',
  grant_gone: 'That approval had ended already.',
  founded: 'This node founded a new hive. Invite nodes to join it.'
}

/** A query parameter as one string: absent, repeated or odd values count as empty. */
const str = (v: unknown, max: number): string => typeof v === 'string' ? v.slice(0, max) : ''

/** Whether the registry can give this client a new secret (only clients the operator registered with one). */
const hasSecret = (c: ClientView): boolean => c.registered_by === 'operator' && c.auth_method !== 'private_key_jwt'

const doneNotice = (q: Record<string, unknown>): string => {
  const done = str(q.done, 32)
  return Object.hasOwn(DONE, done) ? notice(DONE[done]!) : ''
}

/** When each client last got a token, from the newest audit entries. */
function lastTokens (entries: ActivityEntry[]): Map<string, Date> {
  const out = new Map<string, Date>()
  for (const e of entries) if (e.action === 'token.issued' && e.outcome === 'success' && !out.has(e.actor)) out.set(e.actor, e.at)
  return out
}

type Q = { Querystring: Record<string, unknown> }
type P<K extends string> = { Params: Record<K, string>, Body: URLSearchParams }

export function registerConsolePages (app: FastifyInstance, x: ConsoleContext, route: RouteShorthandOptions): void {
  const { c } = x
  const notFound = (reply: FastifyReply, csrf: string, what: string): FastifyReply =>
    x.html(reply, 404, { title: 'Not found', csrf, body: `${notice(what, 'problem')}<p><a href="/console/hive">Back to the console</a></p>` })

  app.get<Q>('/console/hive', route, async (req, reply) => {
    const s = await x.session(req, reply)
    if (s === undefined) return reply
    const hive = c.hive()
    const page = { title: 'Hive', section: 'hive' as const, csrf: s.csrf }
    if (hive === undefined) return x.html(reply, 200, { ...page, body: '<p>This node runs without its libp2p host (<code>--no-p2p</code>), so it has no hive.</p>' })
    if (hive.hiveId === undefined && hive.joining) {
      return x.html(reply, 200, {
        ...page,
        body: '<p id="live-state" role="status">This node is joining a hive with the invitation it was started with, ' +
          'and keeps trying until the member that invited it answers. Reload to see whether it joined.</p>'
      })
    }
    if (hive.hiveId === undefined) {
      return x.html(reply, 200, {
        title: 'Hive',
        section: 'hive',
        csrf: s.csrf,
        body: `<section class="card"><p>This node belongs to no hive yet. Found one here and invite other nodes, or join a hive
with an invitation from one of its members (<code>${esc(x.o.cli)} hive join -</code> on this machine).</p>
<form method="post" action="/console/hive/init"><input type="hidden" name="csrf" value="${esc(s.csrf)}"><button type="submit">Found a hive</button></form></section>`
      })
    }
    const members = hive.members()
    return x.html(reply, 200, {
      title: 'Hive',
      section: 'hive',
      csrf: s.csrf,
      body: `${doneNotice(req.query)}<p class="muted">Hive <code>${esc(hive.hiveId)}</code> · <span id="live-state" role="status">Live updates need JavaScript; reload to see changes.</span></p>
<section class="card" id="hive-picture" data-live>${hivePicture(members)}</section>
<section class="card" id="hive-members" data-live><h2>Members</h2>${membersTable(members)}</section>
<section class="card"><h2>Invite a node</h2>${invitationForm(s.csrf)}</section>`
    })
  })

  app.post<P<never>>('/console/hive/init', route, async (req, reply) => {
    const f = await x.form(req, reply)
    if (f === undefined) return reply
    const hive = c.hive()
    if (hive === undefined) return notFound(reply, f.session.csrf, 'This node has no libp2p host, so it has no hive.')
    if (hive.joining) {
      const why = 'This node is joining a hive with its invitation: founding another one would end that. ' +
        'Stop the node and start it without EDGE_HIVE_JOIN_TOKEN to found one.'
      return x.html(reply, 409, { title: 'Not done', section: 'hive', csrf: f.session.csrf, body: notice(why, 'problem') })
    }
    await hive.init()
    return await reply.redirect('/console/hive?done=founded', 303)
  })

  app.post<P<never>>('/console/hive/invite', route, async (req, reply) => {
    const f = await x.form(req, reply)
    if (f === undefined) return reply
    const hive = c.hive()
    if (hive === undefined) return notFound(reply, f.session.csrf, 'This node has no libp2p host, so it has no hive.')
    const hours = Number(f.form.get('hours') ?? 1)
    const uses = Number(f.form.get('uses') ?? 1)
    if (!Number.isInteger(hours) || hours < 1 || hours > 720 || !Number.isInteger(uses) || uses < 1 || uses > 1000) {
      const body = `${notice('An invitation is valid for 1 to 720 hours, for 1 to 1000 nodes.', 'problem')}<section class="card">${invitationForm(f.session.csrf)}</section>`
      return x.html(reply, 400, { title: 'Hive', section: 'hive', csrf: f.session.csrf, body })
    }
    const r = await hive.invite({ ttlMs: hours * 3_600_000, uses })
    const shown = invitationShown({ token: r.token, expiresAt: r.expires_at, uses: r.uses, cli: x.o.cli })
    return await x.show(reply, f.session, { title: 'Invitation made', section: 'hive', body: `${shown}<p><a href="/console/hive">Back to the hive</a></p>` })
  })

  const removeMember = '/console/hive/members/:peer_id/remove'
  app.get<P<'peer_id'>>(removeMember, route, async (req, reply) => {
    const s = await x.session(req, reply)
    if (s === undefined) return reply
    const member = PEER_ID.test(req.params.peer_id) ? c.hive()?.members().find((m) => m.peerId === req.params.peer_id && !m.self) : undefined
    if (member === undefined) return notFound(reply, s.csrf, 'There is no such member of this hive.')
    return x.html(reply, 200, {
      title: `Remove ${member.name}?`,
      section: 'hive',
      csrf: s.csrf,
      body: confirmForm({
        csrf: s.csrf,
        action: `/console/hive/members/${encodeURIComponent(member.peerId)}/remove`,
        question: `Remove ${member.name} (${member.nodeId ?? member.peerId}) from the hive?`,
        consequence: 'Every member stops trusting it and its tools leave the hive. It can come back only with a new invitation.',
        button: 'Remove the member',
        back: '/console/hive'
      })
    })
  })
  app.post<P<'peer_id'>>(removeMember, route, async (req, reply) => {
    const f = await x.form(req, reply)
    if (f === undefined) return reply
    const hive = c.hive()
    if (hive === undefined || !PEER_ID.test(req.params.peer_id)) return notFound(reply, f.session.csrf, 'There is no such member of this hive.')
    const r = await hive.remove(req.params.peer_id)
    return await reply.redirect(`/console/hive?done=${r.removed ? 'removed' : 'not_removed'}`, 303)
  })

  app.get('/console/shown', route, async (req, reply) => {
    const s = await x.session(req, reply)
    if (s === undefined) return reply
    const shown = s.shown !== undefined && Date.now() < s.shown.until ? s.shown.page : undefined
    s.shown = undefined
    if (shown === undefined) {
      const body = '<p>A secret or an invitation is shown once, right after it is made, and this one was shown already ' +
        '(or not fetched within a minute). Make a new one if it was not kept.</p><p><a href="/console/agents">Agents</a> · <a href="/console/hive">Hive</a></p>'
      return x.html(reply, 410, { title: 'Shown once', csrf: s.csrf, body })
    }
    return x.html(reply, 200, { ...shown, csrf: s.csrf })
  })

  app.get('/console/node', route, async (req, reply) => {
    const s = await x.session(req, reply)
    if (s === undefined) return reply
    const n = c.node()
    return x.html(reply, 200, { title: 'This node', section: 'node', csrf: s.csrf, body: nodeFacts(n.facts, n.settings) })
  })

  const agentsPage = async (reply: FastifyReply, csrf: string, status: number, top: string): Promise<FastifyReply> => {
    const [clients, recent] = await Promise.all([c.clients.list(), c.activity(ACTIVITY_WINDOW)])
    return x.html(reply, status, {
      title: 'Agents',
      section: 'agents',
      csrf,
      body: `${top}<section class="card" id="agents-table" data-live><h2>Clients</h2>${clientsTable(clients, lastTokens(recent))}
<p class="muted">Agents you registered, and apps that registered themselves. "Last token" comes from the newest ${ACTIVITY_WINDOW} activity entries.</p></section>
<section class="card"><h2>Add an agent</h2>${newClientForm(csrf)}</section>`
    })
  }
  app.get<Q>('/console/agents', route, async (req, reply) => {
    const s = await x.session(req, reply)
    if (s === undefined) return reply
    return await agentsPage(reply, s.csrf, 200, doneNotice(req.query))
  })
  app.post<P<never>>('/console/agents', route, async (req, reply) => {
    const f = await x.form(req, reply)
    if (f === undefined) return reply
    const name = (f.form.get('name') ?? '').trim()
    const scopes = f.form.getAll('scope')
    if (name === '' || name.length > 100 || scopes.length === 0 || !scopes.every(isScope)) {
      return await agentsPage(reply, f.session.csrf, 400, notice('An agent needs a name (up to 100 characters) and at least one scope.', 'problem'))
    }
    const r = await c.clients.add({ name, scopes }, ACTOR)
    const shown = secretShown({ client: r.client, secret: r.secret ?? '', tokenUrl: c.node().tokenUrl, rotated: false })
    return await x.show(reply, f.session, { title: 'Agent added', section: 'agents', body: `${shown}<p><a href="/console/agents">Back to the agents</a></p>` })
  })

  for (const act of ['rotate', 'revoke'] as const) {
    const path = `/console/agents/:id/${act}`
    app.get<P<'id'>>(path, route, async (req, reply) => {
      const s = await x.session(req, reply)
      if (s === undefined) return reply
      const client = CLIENT_ID.test(req.params.id) ? await c.clients.get(req.params.id).catch(() => undefined) : undefined
      if (client === undefined || client.status === 'revoked') return notFound(reply, s.csrf, 'There is no such active client.')
      if (act === 'rotate' && !hasSecret(client)) {
        const why = client.registered_by === 'itself'
          ? `${client.name} registered itself and holds no secret of this node's: revoke it instead, and it registers again.`
          : `${client.name} signs in with its own key (private_key_jwt), not a secret: give it a new key by registering it again.`
        return x.html(reply, 409, { title: 'No secret to rotate', section: 'agents', csrf: s.csrf, body: `${notice(why, 'problem')}<p><a href="/console/agents">Back to the agents</a></p>` })
      }
      const q = act === 'rotate'
        ? { question: `Give ${client.name} a new secret?`, consequence: 'The old secret stops working at once: the agent needs the new one, shown once on the next page.', button: 'Rotate the secret' }
        : { question: `Revoke ${client.name}?`, consequence: 'Its tokens stop working at once and it can get no new ones. This cannot be undone.', button: 'Revoke' }
      const action = `/console/agents/${encodeURIComponent(client.client_id)}/${act}`
      return x.html(reply, 200, { title: q.question, section: 'agents', csrf: s.csrf, body: confirmForm({ csrf: s.csrf, action, back: '/console/agents', ...q }) })
    })
    app.post<P<'id'>>(path, route, async (req, reply) => {
      const f = await x.form(req, reply)
      if (f === undefined) return reply
      if (!CLIENT_ID.test(req.params.id)) return notFound(reply, f.session.csrf, 'There is no such client.')
      if (act === 'revoke') {
        await c.clients.revoke(req.params.id, ACTOR)
        return await reply.redirect('/console/agents?done=revoked', 303)
      }
      const r = await c.clients.rotateSecret(req.params.id, ACTOR)
      const shown = secretShown({ client: r.client, secret: r.secret, tokenUrl: c.node().tokenUrl, rotated: true })
      return await x.show(reply, f.session, { title: 'New secret', section: 'agents', body: `${shown}<p><a href="/console/agents">Back to the agents</a></p>` })
    })
  }

  app.get<Q>('/console/apps', route, async (req, reply) => {
    const s = await x.session(req, reply)
    if (s === undefined) return reply
    const [grants, recent] = await Promise.all([c.grants(), c.activity(ACTIVITY_WINDOW)])
    const body = `${doneNotice(req.query)}<section class="card" id="apps-table" data-live><h2>Approvals</h2>${grantsTable(grants, lastTokens(recent))}
<p class="muted">Apps people approved on the sign-in pages, with what they may do.</p></section>`
    return x.html(reply, 200, { title: 'Apps', section: 'apps', csrf: s.csrf, body })
  })
  const revokeGrant = '/console/apps/:id/revoke'
  app.get<P<'id'>>(revokeGrant, route, async (req, reply) => {
    const s = await x.session(req, reply)
    if (s === undefined) return reply
    const grant = GRANT_ID.test(req.params.id) ? (await c.grants()).find((g) => g.grant_id === req.params.id) : undefined
    if (grant === undefined) return notFound(reply, s.csrf, 'There is no such approval.')
    const body = confirmForm({
      csrf: s.csrf,
      action: `/console/apps/${encodeURIComponent(grant.grant_id)}/revoke`,
      question: `Withdraw the approval of ${grant.client_name}?`,
      consequence: 'Its access and refresh tokens stop working at once; someone has to approve it again to use it.',
      button: 'Withdraw',
      back: '/console/apps'
    })
    return x.html(reply, 200, { title: `Withdraw ${grant.client_name}'s approval?`, section: 'apps', csrf: s.csrf, body })
  })
  app.post<P<'id'>>(revokeGrant, route, async (req, reply) => {
    const f = await x.form(req, reply)
    if (f === undefined) return reply
    const ok = GRANT_ID.test(req.params.id) && await c.revokeGrant(req.params.id, ACTOR)
    return await reply.redirect(`/console/apps?done=${ok ? 'grant_revoked' : 'grant_gone'}`, 303)
  })

  app.get<Q>('/console/activity', route, async (req: FastifyRequest<Q>, reply) => {
    const s = await x.session(req, reply)
    if (s === undefined) return reply
    const f = { kind: str(req.query.kind, 64), client: str(req.query.client, 200), peer: str(req.query.peer, 200) }
    const all = await c.activity(ACTIVITY_WINDOW)
    const kinds = [...new Set(all.map((e) => e.action))].sort()
    const shown = all.filter((e) => (f.kind === '' || e.action === f.kind) &&
      (f.client === '' || e.actor === f.client || e.target === f.client) &&
      (f.peer === '' || e.actor === f.peer || e.target === f.peer)).slice(0, ACTIVITY_SHOWN)
    return x.html(reply, 200, {
      title: 'Activity',
      section: 'activity',
      csrf: s.csrf,
      body: `<p class="muted"><span id="live-state" role="status">Live updates need JavaScript; reload to see changes.</span></p>
<section class="card" id="activity-chart" data-live><h2>Tool calls and refusals</h2>${minuteChart(c.perMinute())}</section>
<section class="card"><h2>Recent events</h2>${activityFilter(f, kinds)}<div id="activity-list" data-live>${activityTable(shown)}
<p class="muted">The newest ${ACTIVITY_SHOWN} that match, of the last ${ACTIVITY_WINDOW} entries.</p></div></section>`
    })
  })
}
