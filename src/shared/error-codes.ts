/**
 * Every error code Edge Hive gives, declared once (as fastify's `lib/errors.js` does): its HTTP
 * status, who sees it, what it means, and, where the words never change, the message. A code is
 * stable: programs branch on it; a retired code is never reused for something else.
 *
 * `client` codes reach callers of the node's HTTP API as `{"error": code, "message": ...}`;
 * `operator` codes are the CLI's and the node's own at start-up (an API caller gets a plain
 * `server_error` instead, and the details go to the log). docs/errors.md is made from this table
 * (`npm run docs`).
 */
export interface ErrorSpec {
  readonly status: number
  readonly audience: 'client' | 'operator'
  /** What it means and what to do: the reference's words. */
  readonly means: string
  /** The message, when it is always the same; without one, `means` is the message. */
  readonly message?: string
}

const client = (status: number, means: string, message?: string): ErrorSpec => ({ status, audience: 'client', means, ...(message === undefined ? {} : { message }) })
const operator = (means: string, status = 500): ErrorSpec => ({ status, audience: 'operator', means })

export const ERROR_CODES = {
  // Any route
  invalid_request: client(400, 'The request is malformed: a parameter, header or body does not have the form the route takes.'),
  malformed_json: client(400, 'The body is not valid JSON.', 'The request body is not valid JSON.'),
  unauthorized: client(401, 'The request carries no access token; the `WWW-Authenticate` challenge names where to get one (RFC 9728).'),
  invalid_token: client(401, 'No access token, or one that is malformed, expired, revoked or not for this node (RFC 6750). The body does not say which check failed.'),
  insufficient_scope: client(403, 'The token lacks the scope the request needs; the `WWW-Authenticate` header names it (RFC 6750).'),
  forbidden: client(403, 'The request is refused (an Origin that may not call, a Host that is not this node\'s, a member that refused).'),
  not_found: client(404, 'There is nothing at this path.'),
  method_not_allowed: client(405, 'The path exists, but not with this method; `Allow` lists those it has.'),
  request_timeout: client(408, 'The request was not received within `requestTimeout`.'),
  payload_too_large: client(413, 'The body is larger than the route accepts (`bodyLimit`).', 'The request body is larger than this node accepts.'),
  unsupported_media_type: client(415, 'The body\'s content type is not one the route takes.'),
  rate_limited: client(429, 'The caller is over a rate limit; try again after the seconds in `Retry-After`.'),
  server_error: client(500, 'Something failed on the node; the details are in its log.', 'The node could not complete the request.'),
  not_ready: client(503, 'The node is starting or stopping.'),
  // Clients and approvals (admin API)
  invalid_client_metadata: client(400, 'A client\'s name, agent fields or keys are not acceptable (RFC 7591).'),
  invalid_scope: client(400, 'A scope is unknown, or a client was given none.'),
  unknown_client: client(404, 'No client with this id is registered here.'),
  unknown_grant: client(404, 'No approval with this id is known here.'),
  too_many_clients: client(409, 'The node holds as many clients as it may; revoke some first.'),
  self_registered: client(409, 'The client registered itself and keeps its own secret: it cannot be rotated, only revoked.'),
  client_revoked: client(409, 'The client is revoked; add a new one.'),
  no_secret: client(409, 'The client authenticates with its keys (`private_key_jwt`), so it has no secret to rotate.'),
  password: client(400, 'The operator password is too short or too long.'),
  // Tools and resources (REST routes)
  invalid_arguments: client(400, 'A tool\'s arguments do not match its input schema.'),
  invalid_resource: client(400, 'The resource URI cannot be read.'),
  hive_policy: client(403, 'A member\'s policy (its `hiveScopes`) does not grant callers from the hive the scope this needs.'),
  unknown_tool: client(404, 'There is no tool of this name (or none the caller may see).'),
  unknown_resource: client(404, 'There is no resource at this URI.'),
  too_many_streams: client(429, 'The caller holds as many notification streams as it may (429), or the node holds as many as it may from everyone (503).'),
  // The hive
  p2p_disabled: client(409, 'The node runs without its libp2p host (`--no-p2p`), so it has no hive.', 'This node runs without its libp2p host (--no-p2p), so it has no hive.'),
  p2p_starting: client(503, 'The node\'s hive is still starting; try again shortly.', 'The hive is not running yet; try again shortly.'),
  not_a_member: client(409, 'The node is in no hive; found one (`hive init`) or join one first.',
    'This node is not a member of a hive; run `edge-hive hive init` or `edge-hive hive join <token>` first.'),
  already_a_member: client(409, 'The node is already in a hive.'),
  invalid_invitation: client(400, 'The invitation is malformed, expired, used up, withdrawn or not signed by a member.'),
  invalid_record: client(400, 'A membership record is malformed or not signed by the peer it names.'),
  invalid_uses: client(400, 'An invitation\'s number of uses is not a whole number from 1 to 1,000.'),
  invalid_ttl: client(400, 'An invitation\'s lifetime is not between 1 second and 30 days.'),
  inviter_unreachable: client(502, 'Joining: the member that made the invitation could not be reached.'),
  inviter_busy: client(503, 'Joining: the member that made the invitation is over its rate limit; try again later.'),
  invalid_credential: client(502, 'Joining: the inviting member answered with a credential that does not verify.'),
  remove_self: client(400, 'A node cannot remove itself; remove it from another member.'),
  remove_not_allowed: client(403, 'The removal rule does not let this node remove that member.'),
  unknown_peer: client(404, 'No peer with this id is known to the node.'),
  // Calling members through this node
  unknown_node: client(404, 'No member of the hive has this node id.', 'No node with that id is known here.'),
  ambiguous_node: client(409, 'More than one member claims this node id; call it by its peer id.'),
  too_many_forwarded: client(429, 'The caller, or the member, has as many requests open through the hive as it may.'),
  member_offline: client(503, 'The member has not been heard from lately.'),
  member_unreachable: client(503, 'The member could not be reached now, or ended the request without an answer.'),
  member_timeout: client(504, 'The member did not answer in time (`hiveForwardTimeout`).'),
  member_broke_protocol: client(502, 'The member answered with something this node cannot read.'),
  member_refused: client(502, 'The member refused the request for a reason this node does not know.'),
  member_not_member: client(403, 'The member does not take this node for a member of its hive.'),
  member_forbidden: client(403, 'The member refused the request under its policy (`hiveScopes`).'),
  member_busy: client(429, 'The member has as many requests open from this node, or this caller, as it may.'),
  member_too_large: client(413, 'The request is larger than the member accepts.'),
  member_token_expired: client(401, 'The caller\'s token expired while the member was reached.'),
  member_stopping: client(503, 'The member is stopping.'),
  protocol_violation: client(400, 'A member broke a hive protocol (a message too large, malformed or too slow); counted against its trust.'),
  // Start-up and the CLI
  config_invalid: operator('A setting (flag, environment variable or config file) has a value that cannot be used; every one is listed.', 400),
  no_node: operator('The data directory given holds no node (it has no identity key).', 400),
  unknown_command: operator('There is no such command; `--help` lists them.', 400),
  peer_id: operator('The text given is not a peer id.', 400),
  peer_address: operator('A peer address does not end in `/p2p/<peer id>`.', 400),
  ttl: operator('`--ttl` is not a duration from 1 s to 30 days.', 400),
  uses: operator('`--uses` is not a whole number from 1 to 1,000.', 400),
  jwks_file: operator('The `--jwks-file` cannot be read.', 400),
  app: operator('`connect` does not know this app.', 400),
  app_config: operator('The app\'s configuration file is not a JSON object; fix or move it.', 400),
  node_url: operator('`login` was given something that is not an http(s) URL.', 400),
  ca_file: operator('The `--ca-file` cannot be read.', 400),
  password_mismatch: operator('The password was typed differently twice; nothing changed.', 400),
  address_in_use: operator('A port the node would listen on is used by another program.', 400),
  listen_denied: operator('The node may not listen on this port (below 1024 needs privileges).', 400),
  address_not_available: operator('The machine has no such address to listen on.', 400),
  listen: operator('The node cannot listen on an address for another reason (the message gives it).'),
  data_dir: operator('The data directory cannot be made, is not a directory, or is not writable by this user.'),
  data_dir_locked: operator('Another node uses this data directory.'),
  identity: operator('The node\'s identity key cannot be read or is not Ed25519.'),
  signing_key: operator('The token signing key cannot be read.'),
  tls: operator('The TLS certificate or key cannot be read, do not match, or the certificate expired.'),
  issuer: operator('The OAuth issuer has a path; it must be an origin.'),
  store_open: operator('The store cannot be opened, or was written by a newer Edge Hive.'),
  plugin: operator('A plugin cannot be loaded, or its `register` failed.'),
  not_running: operator('No running node holds this data directory.'),
  node_unreachable: operator('The node named in the data directory\'s lock file does not answer.'),
  node_refused: operator('The running node refused what the CLI asked (its message says why).'),
  unreachable: operator('`login` cannot reach the node.'),
  not_logged_in: operator('The CLI holds no sign-in to this node; run `login`.'),
  token_expired: operator('The CLI\'s sign-in to this node expired and could not be renewed; run `login` again.'),
  no_device_flow: operator('The node does not offer the device flow with registration (is it an Edge Hive node?).'),
  registration: operator('The node refused to register the CLI as an app.'),
  device: operator('The node refused the device sign-in.'),
  denied: operator('The operator did not approve the sign-in.'),
  device_expired: operator('The sign-in code expired before it was approved.')
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERROR_CODES

/** The JSON body of an error answer; the message defaults to the catalogue's. */
export function errorBody (code: ErrorCode, message?: string): { error: ErrorCode, message: string } {
  const spec: ErrorSpec = ERROR_CODES[code]
  return { error: code, message: message ?? spec.message ?? spec.means }
}

/** The reference of every code, as docs/errors.md holds it. */
export function errorReference (): string {
  const rows = (audience: ErrorSpec['audience']): string => Object.entries(ERROR_CODES as Record<string, ErrorSpec>)
    .filter(([, s]) => s.audience === audience)
    .map(([code, s]) => `| \`${code}\` |${audience === 'client' ? ` ${s.status} |` : ''} ${s.means} |`).join('\n')
  return [
    '# Error codes',
    '',
    '<!-- Made by `npm run docs` from src/shared/error-codes.ts; edit that file, not this one. -->',
    '',
    'Every error an Edge Hive node answers over HTTP is JSON: `{"error": "<code>", "message": "<for people>"}`.',
    'The code is stable, so programs can branch on it; the message is for people and may change. OAuth',
    'endpoints answer with OAuth\'s own codes (`invalid_client`, `invalid_grant`, ...: RFC 6749 §5.2,',
    'RFC 8628 §3.5) and the MCP endpoints with JSON-RPC errors inside the protocol.',
    '',
    '## Answers of the HTTP API',
    '',
    '| code | status | means |',
    '|---|---:|---|',
    rows('client'),
    '',
    '## The command line and start-up',
    '',
    'The CLI prints these as `edge-hive: <message>` and exits 2 for a mistake in what was asked',
    '(a flag, an argument, a busy port) and 1 otherwise.',
    '',
    '| code | means |',
    '|---|---|',
    rows('operator'),
    ''
  ].join('\n')
}
