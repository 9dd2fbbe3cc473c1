import { homedir, hostname } from 'node:os'
import { join, resolve } from 'node:path'
import type { z } from 'zod'
import { boolean, duration, host, integer, list, path, text, url } from './values.ts'
import { logLevel, type LogLevel } from './log-level.ts'
import { HIVE_SETTINGS } from './settings-hive.ts'

/** The node's resolved configuration. Durations are in milliseconds, sizes in bytes. */
export interface Config {
  nodeName: string
  dataDir: string
  host: string
  port: number
  publicUrl: string
  mcpEnabled: boolean
  oauth2Issuer: string
  store: string
  storeNamespace: string
  storeDatabase: string
  storeUsername: string | undefined
  storePassword: string | undefined
  tlsCert: string | undefined
  tlsKey: string | undefined
  insecureHttp: boolean
  bodyLimit: number
  requestTimeout: number
  maxConnectionsPerAddress: number
  shutdownTimeout: number
  accessTokenTtl: number
  refreshTokenTtl: number
  registeredClientTtl: number
  tokenRateLimit: number
  apiRateLimit: number
  rateLimitWindow: number
  registrationRateLimit: number
  clientMetadataDocuments: boolean
  clientMetadataPrivate: boolean
  signInLockout: number
  signInGlobalFailures: number
  signInRateLimit: number
  consoleEnabled: boolean
  consoleIdle: number
  corsOrigins: string[]
  mcpSessionIdle: number
  mcpMaxSessions: number
  mcpMaxSessionsPerClient: number
  maxStreams: number
  maxStreamsPerClient: number
  auditRetention: number
  auditMaxEntries: number
  plugins: string[]
  p2pEnabled: boolean
  p2pListen: string[]
  bootstrap: string[]
  p2pMaxConnections: number
  p2pMaxConnectionsPerAddress: number
  p2pReachability: 'public' | 'private'
  p2pRelay: boolean
  p2pRelayReservations: number
  discovery: boolean
  peerOfflineAfter: number
  hiveDegree: number
  joinToken: string | undefined
  p2pJoinRateLimit: number
  p2pAuthRateLimit: number
  hiveScopes: string[]
  hiveForwardTimeout: number
  hiveForwardPerClient: number
  hiveForwardPerMember: number
  metricsEnabled: boolean
  metricsHost: string
  metricsPort: number
  logLevel: LogLevel
  otelEndpoint: string | undefined
}

export type SettingKey = keyof Config

/** How a setting is given on the command line of `serve`. */
export interface FlagSpec {
  /** commander's flag text, e.g. `--port <number>` or `--no-mcp`. */
  spec: string
  /** commander's attribute name for it. */
  attr: string
  /** The flag may be given more than once; the values form a list. */
  repeatable?: boolean
  /** What the flag does, where that is not the setting's description (a `--no-` flag turns something off). */
  help?: string
}

export interface Setting {
  key: SettingKey
  env: string
  flag?: FlagSpec
  description: string
  /** What is allowed, in words, for error messages and the configuration reference. */
  allowed: string
  /**
   * Made when a value is given: the table's 65 schemas took 40 ms to make on every start, and
   * most settings keep their default.
   */
  schema: () => z.ZodType
  /** The default, computed from the settings resolved before it (table order). Absent: optional. */
  default?: (c: Partial<Config>) => unknown
  /** Never printed, never given as a flag (a flag is visible in `ps`). */
  secret?: boolean
}

function isWildcard (h: string | undefined): boolean {
  return h === '0.0.0.0' || h === '::' || h === '[::]'
}

function urlHost (h: string): string {
  return h.includes(':') ? `[${h}]` : h
}

/**
 * Every setting the node knows, in resolution order (a default may use the ones above it).
 * docs/configuration.md is made from this table (`npm run docs`); a test fails when it is out of date.
 */
export const SETTINGS: readonly Setting[] = [
  {
    key: 'nodeName', env: 'EDGE_HIVE_NODE_NAME', flag: { spec: '--name <name>', attr: 'name' },
    description: 'Display name of the node (the node id never changes with it).',
    allowed: 'text of 1 to 64 characters without control characters',
    schema: () => text(64), default: () => hostname().slice(0, 64) || 'edge-hive'
  },
  {
    key: 'dataDir', env: 'EDGE_HIVE_DATA_DIR', flag: { spec: '--data-dir <dir>', attr: 'dataDir' },
    description: 'Directory for the key, certificate, lock file and embedded database (created 0700).',
    allowed: 'a directory path', schema: () => path().transform((p) => resolve(p.replace(/^~(?=$|\/)/, homedir()))),
    default: () => join(homedir(), '.edge-hive')
  },
  {
    key: 'host', env: 'EDGE_HIVE_HOST', flag: { spec: '--host <address>', attr: 'host' },
    description: 'Address the HTTPS server binds to (`0.0.0.0` for all interfaces).',
    allowed: 'an IP address or host name', schema: () => host(), default: () => '127.0.0.1'
  },
  {
    key: 'port', env: 'EDGE_HIVE_PORT', flag: { spec: '--port <number>', attr: 'port' },
    description: 'TCP port of the HTTPS server (0 picks a free port).',
    allowed: 'a whole number from 0 to 65535', schema: () => integer(0, 65535), default: () => 8080
  },
  {
    key: 'insecureHttp', env: 'EDGE_HIVE_INSECURE_HTTP', flag: { spec: '--insecure-http', attr: 'insecureHttp' },
    description: 'Serve plain HTTP, for running behind a TLS-terminating proxy only.',
    allowed: 'true or false', schema: () => boolean(), default: () => false
  },
  {
    key: 'publicUrl', env: 'EDGE_HIVE_PUBLIC_URL', flag: { spec: '--public-url <url>', attr: 'publicUrl' },
    description: 'Base URL clients use to reach the node.',
    allowed: 'an http or https URL without query or fragment', schema: () => url(['https:', 'http:']),
    default: (c) => {
      // A wildcard bind address is not something a client can dial: name the machine instead.
      const h = isWildcard(c.host) ? hostname() : c.host!
      return `${c.insecureHttp === true ? 'http' : 'https'}://${urlHost(h)}:${c.port}`
    }
  },
  {
    key: 'mcpEnabled', env: 'EDGE_HIVE_MCP_ENABLED', flag: { spec: '--no-mcp', attr: 'mcp', help: 'Do not serve the MCP endpoint (/mcp); the REST API and OAuth stay.' },
    description: 'Serve the MCP endpoint.',
    allowed: 'true or false', schema: () => boolean(), default: () => true
  },
  {
    key: 'oauth2Issuer', env: 'EDGE_HIVE_OAUTH2_ISSUER', flag: { spec: '--oauth2-issuer <url>', attr: 'oauth2Issuer' },
    description: 'OAuth 2.1 issuer identifier of the node.',
    allowed: 'an http or https URL without query or fragment', schema: () => url(['https:', 'http:']),
    default: (c) => c.publicUrl
  },
  {
    key: 'store', env: 'EDGE_HIVE_STORE', flag: { spec: '--store <url>', attr: 'store' },
    description: 'SurrealDB to keep state in: `surrealkv://<path>` (embedded), `mem://` (throw-away), `ws://` or `wss://` (a server).',
    allowed: 'a surrealkv://, mem://, ws:// or wss:// URL',
    schema: () => text(4096).refine((s) => /^(surrealkv:\/\/.+|mem:\/\/|wss?:\/\/[^\s]+)$/.test(s)),
    default: (c) => `surrealkv://${join(c.dataDir!, 'db')}`
  },
  {
    key: 'storeNamespace', env: 'EDGE_HIVE_STORE_NAMESPACE',
    description: 'SurrealDB namespace.', allowed: 'a name of letters, digits and _',
    schema: () => text(64).regex(/^\w+$/), default: () => 'edge_hive'
  },
  {
    key: 'storeDatabase', env: 'EDGE_HIVE_STORE_DATABASE',
    description: 'SurrealDB database.', allowed: 'a name of letters, digits and _',
    schema: () => text(64).regex(/^\w+$/), default: () => 'node'
  },
  {
    key: 'storeUsername', env: 'EDGE_HIVE_STORE_USERNAME',
    description: 'User for a SurrealDB server (ws:// or wss://).', allowed: 'text of 1 to 256 characters',
    schema: () => text(256)
  },
  {
    key: 'storePassword', env: 'EDGE_HIVE_STORE_PASSWORD', secret: true,
    description: 'Password for a SurrealDB server; environment or config file only.', allowed: 'text of 1 to 1024 characters',
    schema: () => text(1024)
  },
  {
    key: 'tlsCert', env: 'EDGE_HIVE_TLS_CERT', flag: { spec: '--tls-cert <file>', attr: 'tlsCert' },
    description: 'PEM certificate (chain) to serve instead of the self-signed one; needs --tls-key.',
    allowed: 'a file path', schema: () => path().transform((p) => resolve(p))
  },
  {
    key: 'tlsKey', env: 'EDGE_HIVE_TLS_KEY', flag: { spec: '--tls-key <file>', attr: 'tlsKey' },
    description: 'PEM private key for --tls-cert.',
    allowed: 'a file path', schema: () => path().transform((p) => resolve(p))
  },
  {
    key: 'bodyLimit', env: 'EDGE_HIVE_BODY_LIMIT', flag: { spec: '--body-limit <bytes>', attr: 'bodyLimit' },
    description: 'Largest request body accepted; larger ones get 413.',
    allowed: 'a whole number of bytes from 1024 to 104857600', schema: () => integer(1024, 100 * 1024 * 1024), default: () => 1024 * 1024
  },
  {
    key: 'requestTimeout', env: 'EDGE_HIVE_REQUEST_TIMEOUT', flag: { spec: '--request-timeout <duration>', attr: 'requestTimeout' },
    description: 'How long a client has to send a whole request, headers and body, over HTTP/1.1 or HTTP/2; a slower one gets 408 and its connection (or HTTP/2 stream) is closed. Answers, such as event streams, are not limited by it.',
    allowed: 'a duration from 1s to 10m, like 30s', schema: () => duration(1000, 600_000), default: () => 30_000
  },
  {
    key: 'maxConnectionsPerAddress', env: 'EDGE_HIVE_MAX_CONNECTIONS_PER_ADDRESS', flag: { spec: '--max-connections-per-address <number>', attr: 'maxConnectionsPerAddress' },
    description: 'HTTPS connections open at once from one source address (an IPv4 address or an IPv6 /64); more are closed at once. Raise it when many clients share one address (NAT, a proxy).',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 100
  },
  {
    key: 'shutdownTimeout', env: 'EDGE_HIVE_SHUTDOWN_TIMEOUT', flag: { spec: '--shutdown-timeout <duration>', attr: 'shutdownTimeout' },
    description: 'How long a stop waits for in-flight requests before closing them.',
    allowed: 'a duration from 100ms to 10m, like 10s', schema: () => duration(100, 600_000), default: () => 10_000
  },
  {
    key: 'accessTokenTtl', env: 'EDGE_HIVE_ACCESS_TOKEN_TTL', flag: { spec: '--access-token-ttl <duration>', attr: 'accessTokenTtl' },
    description: 'Lifetime of the access tokens the node issues.',
    allowed: 'a duration from 1m to 24h, like 1h', schema: () => duration(60_000, 86_400_000), default: () => 3_600_000
  },
  {
    key: 'refreshTokenTtl', env: 'EDGE_HIVE_REFRESH_TOKEN_TTL', flag: { spec: '--refresh-token-ttl <duration>', attr: 'refreshTokenTtl' },
    description: 'How long an app approved with offline_access keeps its refresh token (and its approval) without using it; each use rotates the token.',
    allowed: 'a duration from 1h to 365d, like 30d', schema: () => duration(3_600_000, 365 * 86_400_000), default: () => 30 * 86_400_000
  },
  {
    key: 'registeredClientTtl', env: 'EDGE_HIVE_REGISTERED_CLIENT_TTL', flag: { spec: '--registered-client-ttl <duration>', attr: 'registeredClientTtl' },
    description: 'An app that registered itself (RFC 7591) and gets no token for this long is forgotten.',
    allowed: 'a duration from 1h to 365d, like 30d', schema: () => duration(3_600_000, 365 * 86_400_000), default: () => 30 * 86_400_000
  },
  {
    key: 'tokenRateLimit', env: 'EDGE_HIVE_TOKEN_RATE_LIMIT', flag: { spec: '--token-rate-limit <per-minute>', attr: 'tokenRateLimit' },
    description: 'Requests to the token endpoint allowed per rate-limit window (a minute by default) per source address; the other OAuth endpoints and the sign-in pages get as many again, counted apart; and per client id, requests the authorization server accepted.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 100
  },
  {
    key: 'apiRateLimit', env: 'EDGE_HIVE_API_RATE_LIMIT', flag: { spec: '--api-rate-limit <per-minute>', attr: 'apiRateLimit' },
    description: 'API requests allowed per rate-limit window, per token subject (per source address without a token).',
    allowed: 'a whole number from 1 to 1000000', schema: () => integer(1, 1_000_000), default: () => 1200
  },
  {
    key: 'rateLimitWindow', env: 'EDGE_HIVE_RATE_LIMIT_WINDOW', flag: { spec: '--rate-limit-window <duration>', attr: 'rateLimitWindow' },
    description: 'The window the token and API rate limits count in.',
    allowed: 'a duration from 1s to 1h, like 1m', schema: () => duration(1000, 3_600_000), default: () => 60_000
  },
  {
    key: 'registrationRateLimit', env: 'EDGE_HIVE_REGISTRATION_RATE_LIMIT', flag: { spec: '--registration-rate-limit <per-10-minutes>', attr: 'registrationRateLimit' },
    description: 'Apps that may register themselves (RFC 7591, POST /oauth/register) per source address in 10 minutes.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 30
  },
  {
    key: 'clientMetadataDocuments', env: 'EDGE_HIVE_CLIENT_METADATA_DOCUMENTS',
    flag: {
      spec: '--no-client-metadata-documents', attr: 'clientMetadataDocuments',
      help: 'Do not accept apps identified by a Client ID Metadata Document (a client id that is an https URL); they must register themselves instead.'
    },
    description: 'Accept apps whose client id is the https URL of their Client ID Metadata Document (what MCP 2026-07-28 prefers to dynamic registration): the node fetches it (https only, from public addresses unless clientMetadataPrivate, at most 5 KiB in 2.5 s, no redirects), keeps it as long as it says (1 minute to 1 day), and the operator approves the app at consent as any other.',
    allowed: 'true or false', schema: () => boolean(), default: () => true
  },
  {
    key: 'clientMetadataPrivate', env: 'EDGE_HIVE_CLIENT_METADATA_PRIVATE', flag: { spec: '--client-metadata-private', attr: 'clientMetadataPrivate' },
    description: 'Also fetch Client ID Metadata Documents from private, loopback and link-local addresses (apps on your own network). Off by default: a client id must not make the node reach into its own network.',
    allowed: 'true or false', schema: () => boolean(), default: () => false
  },
  {
    key: 'signInLockout', env: 'EDGE_HIVE_SIGN_IN_LOCKOUT', flag: { spec: '--sign-in-lockout <duration>', attr: 'signInLockout' },
    description: 'How long the sign-in page locks an address (or a browser the operator signed in with) after 5 wrong passwords in a row; each further wrong one doubles it, up to 1 hour. Other addresses are not affected.',
    allowed: 'a duration from 1s to 1h, like 1m', schema: () => duration(1000, 3_600_000), default: () => 60_000
  },
  {
    key: 'signInGlobalFailures', env: 'EDGE_HIVE_SIGN_IN_GLOBAL_FAILURES', flag: { spec: '--sign-in-global-failures <number>', attr: 'signInGlobalFailures' },
    description: 'Wrong passwords on the sign-in page from all addresses together within 15 minutes that lock sign-in for browsers the operator has not signed in with, until the oldest is 15 minutes old. Browsers the operator signed in with are not locked by it; edge-hive operator set-password lifts it.',
    allowed: 'a whole number from 2 to 1000000', schema: () => integer(2, 1_000_000), default: () => 100
  },
  {
    key: 'signInRateLimit', env: 'EDGE_HIVE_SIGN_IN_RATE_LIMIT', flag: { spec: '--sign-in-rate-limit <per-minute>', attr: 'signInRateLimit' },
    description: 'Sign-in attempts (posts of the operator password) answered per minute from one source address, right or wrong; more get 429.',
    allowed: 'a whole number from 1 to 10000', schema: () => integer(1, 10_000), default: () => 20
  },
  {
    key: 'consoleEnabled', env: 'EDGE_HIVE_CONSOLE_ENABLED', flag: { spec: '--no-console', attr: 'console', help: 'Do not serve the operator\'s console (/console); the CLI and the API stay.' },
    description: 'Serve the operator\'s console at /console: the hive, this node, agents, apps and activity in a browser, behind the operator password.',
    allowed: 'true or false', schema: () => boolean(), default: () => true
  },
  {
    key: 'consoleIdle', env: 'EDGE_HIVE_CONSOLE_IDLE', flag: { spec: '--console-idle <duration>', attr: 'consoleIdle' },
    description: 'A console sign-in not used for this long ends; the next page asks for the password again. An open page\'s live updates do not count as use. Every sign-in also ends 12 hours after it began.',
    allowed: 'a duration from 1m to 12h, like 15m', schema: () => duration(60_000, 43_200_000), default: () => 900_000
  },
  {
    key: 'corsOrigins', env: 'EDGE_HIVE_CORS_ORIGINS', flag: { spec: '--cors-origin <origin>', attr: 'corsOrigin', repeatable: true },
    description: 'Browser origins allowed to call the API cross-origin (repeat the flag; comma-separated in the environment). None by default.',
    allowed: 'origins like https://app.example.com (scheme, host and optional port; no path, no *)',
    schema: () => list(url(['https:', 'http:']).refine((o) => new URL(o).pathname === '/' || new URL(o).pathname === ''), 20),
    default: () => []
  },
  {
    key: 'mcpSessionIdle', env: 'EDGE_HIVE_MCP_SESSION_IDLE', flag: { spec: '--mcp-session-idle <duration>', attr: 'mcpSessionIdle' },
    description: 'An MCP session (2025-11-25 era) unused this long is closed; later requests on it get 404.',
    allowed: 'a duration from 1s to 24h, like 30m', schema: () => duration(1000, 86_400_000), default: () => 1_800_000
  },
  {
    key: 'mcpMaxSessions', env: 'EDGE_HIVE_MCP_MAX_SESSIONS', flag: { spec: '--mcp-max-sessions <number>', attr: 'mcpMaxSessions' },
    description: 'MCP sessions open at once (on /mcp and the hive view together); more are refused with 503 until some close.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 1000
  },
  {
    key: 'mcpMaxSessionsPerClient', env: 'EDGE_HIVE_MCP_MAX_SESSIONS_PER_CLIENT', flag: { spec: '--mcp-max-sessions-per-client <number>', attr: 'mcpMaxSessionsPerClient' },
    description: 'MCP sessions one client may hold open at once. A tenth of mcpMaxSessions is kept for clients with mcp:admin, so no other client can take every session.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 20
  },
  {
    key: 'maxStreams', env: 'EDGE_HIVE_MAX_STREAMS', flag: { spec: '--max-streams <number>', attr: 'maxStreams' },
    description: 'Notification streams open at once, of each kind: the REST event stream, and MCP subscriptions/listen streams. A tenth is kept for clients with mcp:admin.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 200
  },
  {
    key: 'maxStreamsPerClient', env: 'EDGE_HIVE_MAX_STREAMS_PER_CLIENT', flag: { spec: '--max-streams-per-client <number>', attr: 'maxStreamsPerClient' },
    description: 'Notification streams of each kind one client may hold open at once.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 10
  },
  {
    key: 'auditRetention', env: 'EDGE_HIVE_AUDIT_RETENTION', flag: { spec: '--audit-retention <duration>', attr: 'auditRetention' },
    description: 'Audit log entries older than this are deleted (checked every 10 minutes).',
    allowed: 'a duration from 1h to 3650d, like 30d', schema: () => duration(3_600_000, 3650 * 86_400_000), default: () => 30 * 86_400_000
  },
  {
    key: 'auditMaxEntries', env: 'EDGE_HIVE_AUDIT_MAX_ENTRIES', flag: { spec: '--audit-max-entries <number>', attr: 'auditMaxEntries' },
    description: 'The audit log keeps at most this many entries; the oldest go first (checked every 10 minutes).',
    allowed: 'a whole number from 1000 to 10000000', schema: () => integer(1000, 10_000_000), default: () => 100_000
  },
  {
    key: 'plugins', env: 'EDGE_HIVE_PLUGINS', flag: { spec: '--plugin <module>', attr: 'plugin', repeatable: true },
    description: 'ES modules exporting register(hive) that add MCP tools, resources and prompts (repeat the flag; comma-separated in the environment).',
    allowed: 'module paths or package names', schema: () => list(text(1024), 50), default: () => []
  },
  ...HIVE_SETTINGS,
  {
    key: 'metricsEnabled', env: 'EDGE_HIVE_METRICS_ENABLED', flag: { spec: '--no-metrics', attr: 'metrics', help: 'Do not serve Prometheus metrics (GET /metrics, on a listener of its own).' },
    description: 'Serve Prometheus metrics at GET /metrics on a listener of its own.',
    allowed: 'true or false', schema: () => boolean(), default: () => true
  },
  {
    key: 'metricsHost', env: 'EDGE_HIVE_METRICS_HOST', flag: { spec: '--metrics-host <address>', attr: 'metricsHost' },
    description: 'Address the metrics listener binds to; loopback by default so metrics are never exposed by accident.',
    allowed: 'an IP address or host name', schema: () => host(), default: () => '127.0.0.1'
  },
  {
    key: 'metricsPort', env: 'EDGE_HIVE_METRICS_PORT', flag: { spec: '--metrics-port <number>', attr: 'metricsPort' },
    description: 'TCP port of the metrics listener (plain HTTP; 0 picks a free port).',
    allowed: 'a whole number from 0 to 65535', schema: () => integer(0, 65535), default: () => 9464
  },
  {
    key: 'logLevel', env: 'LOG_LEVEL', flag: { spec: '--log-level <level>', attr: 'logLevel' },
    description: 'Log level: trace, debug, info, warn, error, fatal or off; RUST_LOG syntax (`edge_hive=debug,info`) is accepted.',
    allowed: 'trace, debug, info, warn, error, fatal, off, or RUST_LOG-style directives', schema: () => logLevel(), default: () => 'info'
  },
  {
    key: 'otelEndpoint', env: 'EDGE_HIVE_OTEL_ENDPOINT', flag: { spec: '--otel-endpoint <url>', attr: 'otelEndpoint' },
    description: 'Send traces of MCP requests (OpenTelemetry, OTLP over HTTP) to this collector, e.g. http://127.0.0.1:4318; a call through the hive is one trace across both nodes. Unset: nothing is traced and the tracing code is not loaded.',
    allowed: 'an http or https URL', schema: () => url(['http:', 'https:'])
  }
]

/** The environment variable that names a config file; `--config` wins over it. */
export const CONFIG_FILE_ENV = 'EDGE_HIVE_CONFIG'
