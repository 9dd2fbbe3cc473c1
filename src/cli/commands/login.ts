import { hostname, homedir } from 'node:os'
import { join } from 'node:path'
import { readFileSync, existsSync, mkdirSync } from 'node:fs'
import type { Command } from 'commander'
import { writeFileAtomic } from '../../config/index.ts'
import { EdgeError, UsageError, StartupError, messageOf } from '../../shared/errors.ts'
import { pinnedRequest } from '../pinned-request.ts'
import { cliName } from '../../shared/cli-name.ts'

const TIMEOUT_MS = 15_000
/** At most this long waiting for the operator to approve (the node's device codes last 10 minutes). */
const MAX_WAIT_MS = 15 * 60_000
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

/** What `login` keeps per node, in the credentials file (mode 0600). */
interface Credential {
  client_id: string
  token_endpoint: string
  access_token: string
  refresh_token?: string | undefined
  expires_at: number
  scope: string
  fingerprint?: string | undefined
  ca_file?: string | undefined
}

export function credentialsFile (env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config')
  return join(base, 'edge-hive', 'credentials.json')
}

function readCredentials (): Record<string, Credential> {
  const file = credentialsFile()
  if (!existsSync(file)) return {}
  try { return JSON.parse(readFileSync(file, 'utf8')) as Record<string, Credential> } catch { return {} }
}

function saveCredential (node: string, c: Credential): void {
  const file = credentialsFile()
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 })
  writeFileAtomic(file, JSON.stringify({ ...readCredentials(), [node]: c }, null, 2) + '\n', 0o600)
}

function nodeOrigin (text: string): string {
  let u: URL
  try { u = new URL(text) } catch { throw new UsageError('node_url', `${text} is not a URL; give the node's address, like https://192.168.1.20:8080`) }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError('node_url', `${text} is not an http(s) URL`)
  return u.origin
}

interface Trust { fingerprint?: string | undefined, ca?: string | undefined, caFile?: string | undefined }

function trustFrom (opts: { fingerprint?: string, caFile?: string }): Trust {
  if (opts.caFile !== undefined) {
    try { return { ca: readFileSync(opts.caFile, 'utf8'), caFile: opts.caFile } } catch (err) { throw new UsageError('ca_file', `cannot read --ca-file ${opts.caFile}: ${messageOf(err)}`) }
  }
  return { fingerprint: opts.fingerprint?.toUpperCase() }
}

async function call (method: string, url: string, trust: Trust, body: { json?: unknown, form?: URLSearchParams } = {}): Promise<{ status: number, json: Record<string, unknown> }> {
  let res
  try {
    res = await pinnedRequest(method, url, { fingerprint: trust.fingerprint, ca: trust.ca, requirePin: false, timeoutMs: TIMEOUT_MS, ...body })
  } catch (err) {
    const m = messageOf(err)
    const hint = /self[- ]signed|unable to verify|certificate/i.test(m) ? ' (a node with its own certificate: pass --fingerprint <its tls sha-256> or --ca-file <its cert.pem>)' : ''
    throw new StartupError('unreachable', `cannot reach ${new URL(url).origin}: ${m}${hint}`)
  }
  let json: Record<string, unknown> = {}
  try { json = JSON.parse(res.body) as Record<string, unknown> } catch { /* not JSON: reported by the caller */ }
  return { status: res.status, json }
}

/** A token for `node`, refreshed with the stored refresh token when it is about to expire. */
async function currentToken (node: string): Promise<string> {
  const c = readCredentials()[node]
  if (c === undefined) throw new StartupError('not_logged_in', `not logged in to ${node}; run ${cliName()} login ${node}`)
  if (c.expires_at - Date.now() > 60_000) return c.access_token
  if (c.refresh_token === undefined) throw new StartupError('token_expired', `the token for ${node} has expired; run ${cliName()} login ${node} again`)
  const trust: Trust = c.ca_file !== undefined ? trustFrom({ caFile: c.ca_file }) : { fingerprint: c.fingerprint }
  const r = await call('POST', c.token_endpoint, trust, { form: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.refresh_token, client_id: c.client_id }) })
  if (r.status !== 200 || typeof r.json.access_token !== 'string') {
    throw new StartupError('token_expired', `the node refused to renew the token (${String(r.json.error ?? r.status)}); run ${cliName()} login ${node} again`)
  }
  saveCredential(node, {
    ...c,
    access_token: r.json.access_token,
    refresh_token: typeof r.json.refresh_token === 'string' ? r.json.refresh_token : c.refresh_token,
    expires_at: Date.now() + Number(r.json.expires_in ?? 0) * 1000
  })
  return r.json.access_token
}

export function registerLogin (program: Command): void {
  const login = program.command('login')
    .description('sign this computer in to a node with the device flow: the node\'s operator approves it in a browser; the token is kept for `edge-hive token`')
    .argument('<node-url>', 'the node\'s address, like https://192.168.1.20:8080')
    .option('--fingerprint <sha256>', 'trust the node\'s certificate by its SHA-256 fingerprint (its banner\'s tls sha-256)')
    .option('--ca-file <pem>', 'trust the node\'s certificate (or its CA) from this PEM file')
    .option('--scope <scopes>', 'scopes to ask for, space-separated', 'mcp:read mcp:call offline_access')
  login.action(async () => {
    const node = nodeOrigin(login.args[0]!)
    const opts = login.opts<{ fingerprint?: string, caFile?: string, scope: string }>()
    const trust = trustFrom(opts)
    const meta = await call('GET', `${node}/.well-known/oauth-authorization-server`, trust)
    const deviceEndpoint = meta.json.device_authorization_endpoint
    const registrationEndpoint = meta.json.registration_endpoint
    const tokenEndpoint = meta.json.token_endpoint
    if (typeof deviceEndpoint !== 'string' || typeof registrationEndpoint !== 'string' || typeof tokenEndpoint !== 'string') {
      throw new StartupError('no_device_flow', `${node} does not offer the device flow with dynamic registration (is it an Edge Hive node?)`)
    }
    const reg = await call('POST', registrationEndpoint, trust, {
      json: { client_name: `edge-hive CLI (${hostname()})`, grant_types: [DEVICE_GRANT, 'refresh_token'], response_types: [], token_endpoint_auth_method: 'none' }
    })
    if (reg.status !== 201 || typeof reg.json.client_id !== 'string') {
      throw new EdgeError('registration', `the node refused to register this CLI: ${String(reg.json.error_description ?? reg.json.error ?? reg.status)}`)
    }
    const clientId = reg.json.client_id
    const start = await call('POST', deviceEndpoint, trust, { form: new URLSearchParams({ client_id: clientId, scope: opts.scope, resource: `${node}/mcp` }) })
    if (start.status !== 200 || typeof start.json.device_code !== 'string') {
      throw new EdgeError('device', `the node refused the sign-in: ${String(start.json.error_description ?? start.json.error ?? start.status)}`)
    }
    const { device_code: deviceCode, user_code: userCode, verification_uri: uri } = start.json as { device_code: string, user_code: string, verification_uri: string }
    process.stderr.write(`To sign in, open ${uri}\nand enter the code ${userCode}\n(the node's operator signs in there and approves). Waiting...\n`)
    let interval = Math.max(1, Number(start.json.interval ?? 5)) * 1000
    const deadline = Date.now() + Math.min(MAX_WAIT_MS, Number(start.json.expires_in ?? 600) * 1000)
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, interval))
      const r = await call('POST', tokenEndpoint, trust, { form: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId }) })
      if (r.status === 200 && typeof r.json.access_token === 'string') {
        saveCredential(node, {
          client_id: clientId, token_endpoint: tokenEndpoint, access_token: r.json.access_token,
          refresh_token: typeof r.json.refresh_token === 'string' ? r.json.refresh_token : undefined,
          expires_at: Date.now() + Number(r.json.expires_in ?? 0) * 1000, scope: String(r.json.scope ?? ''),
          fingerprint: trust.fingerprint, ca_file: trust.caFile
        })
        process.stdout.write(`logged in to ${node} with scopes ${String(r.json.scope ?? '')}; the token is in ${credentialsFile()} (use ${cliName()} token ${node})\n`)
        return
      }
      const error = String(r.json.error ?? '')
      if (error === 'authorization_pending') continue
      if (error === 'slow_down') { interval += 5000; continue }
      if (error === 'access_denied') throw new EdgeError('denied', 'the node\'s operator did not approve this sign-in')
      if (error === 'expired_token') break
      throw new EdgeError('device', `the node refused the sign-in: ${String(r.json.error_description ?? error)}`)
    }
    throw new EdgeError('device_expired', `the code expired before it was approved; run ${cliName()} login again`)
  })

  const token = program.command('token')
    .description('print a valid access token for a node you logged in to (renewed with the refresh token when needed), for scripts: curl -H "Authorization: Bearer $(edge-hive token URL)"')
    .argument('<node-url>')
  token.action(async () => {
    process.stdout.write(await currentToken(nodeOrigin(token.args[0]!)) + '\n')
  })
}
