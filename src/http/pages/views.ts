import { esc, page } from './layout.ts'
import { SCOPE_WORDS } from '../../auth/scopes.ts'

/** Plain-words versions of the OAuth errors a person can meet in these pages. */
const ERROR_WORDS: Record<string, string> = {
  invalid_request: 'The app sent a request this node cannot use.',
  invalid_client: 'This node does not know the app that sent you here, the app\'s registration has expired, or its description (the metadata document its client id names) could not be used.',
  invalid_client_metadata: 'The app describes itself in a way this node does not accept (its metadata document or registration).',
  invalid_redirect_uri: 'The app asked to return you to an address it did not register.',
  unauthorized_client: 'This app is not allowed to ask for access this way.',
  access_denied: 'Access was not given.',
  unsupported_response_type: 'The app asked for a kind of answer this node does not give.',
  invalid_scope: 'The app asked for permissions this node does not have.',
  invalid_target: 'The app asked for access to something other than this node.',
  server_error: 'Something went wrong on this node. Try again; if it keeps happening, look at the node\'s log.',
  temporarily_unavailable: 'This node is busy. Try again in a moment.',
  invalid_grant: 'This request has expired or was used already. Start again from the app.',
  login_required: 'You need to sign in first.',
  consent_required: 'The operator has to approve this app first.',
  interaction_required: 'The operator has to sign in and approve this app first.',
  session_not_found: 'This sign-in has expired or was finished already. Start again from the app.',
  expired_login: 'This sign-in took too long and has expired. Start again from the app.'
}

export interface ClientFacts {
  id: string
  name: string
  /** `registered by the operator` or `registered itself`, with when. */
  origin: string
  /** Where the person will be sent back to (the redirect URI's host), or how the app polls. */
  returnsTo: string
}

export function signInPage (nodeName: string, o: { action: string, csrf: string, client?: ClientFacts | undefined, problem?: string | undefined, unset?: boolean | undefined }): string {
  if (o.unset === true) {
    return page(nodeName, 'Sign-in is not set up', `<p>No operator password is set on this node, so nobody can approve apps here yet.</p>
<p>On the node's machine, run:</p><p><code>edge-hive operator set-password</code></p><p class="muted">Then start again from the app.</p>`)
  }
  return page(nodeName, 'Sign in to approve an app', `${o.client === undefined ? '' : `<p><strong>${esc(o.client.name)}</strong> wants access to this node.</p>`}
${o.problem === undefined ? '' : `<p class="problem" role="alert">${esc(o.problem)}</p>`}
<form method="post" action="${esc(o.action)}">
<input type="hidden" name="csrf" value="${esc(o.csrf)}">
<label>Operator password <input type="password" name="password" autocomplete="current-password" required autofocus maxlength="1024"></label>
<div class="actions"><button type="submit">Sign in</button></div>
</form>
<p class="muted">Only the node's operator can approve apps. If that is not you, close this page.</p>`)
}

export function consentPage (nodeName: string, o: { action: string, csrf: string, client: ClientFacts, scopes: string[] }): string {
  const rows = o.scopes.map((s) => `<label class="scope"><input type="checkbox" name="scope" value="${esc(s)}"${s === 'mcp:admin' ? '' : ' checked'}>` +
    `<span><code>${esc(s)}</code><br><span class="muted">${esc((SCOPE_WORDS as Record<string, string>)[s] ?? 'A permission this node does not describe.')}</span></span></label>`).join('\n')
  return page(nodeName, `Allow ${o.client.name}?`, `<p><strong>${esc(o.client.name)}</strong> asks for access to this node.</p>
<dl>
<dt>App</dt><dd>${esc(o.client.name)} <span class="muted">(${esc(o.client.id)})</span></dd>
<dt>Registered</dt><dd>${esc(o.client.origin)}</dd>
<dt>Returns to</dt><dd>${esc(o.client.returnsTo)}</dd>
</dl>
<form method="post" action="${esc(o.action)}">
<input type="hidden" name="csrf" value="${esc(o.csrf)}">
<fieldset><legend>It may (untick what you do not want to give)</legend>
${rows.length > 0 ? rows : '<p class="muted">No permissions: it will only learn that you approved it.</p>'}
</fieldset>
<div class="actions"><button type="submit" name="decision" value="approve">Allow</button><button type="submit" name="decision" value="deny" class="secondary">Deny</button></div>
</form>
<p class="muted">You can withdraw this later with <code>edge-hive grants revoke</code>.</p>`)
}

export function messagePage (nodeName: string, title: string, text: string, hint?: string): string {
  return page(nodeName, title, `<p>${esc(text)}</p>${hint === undefined ? '' : `<p class="muted">${esc(hint)}</p>`}`)
}

export function errorPage (nodeName: string, out: { error: string, error_description?: string | undefined }): string {
  const words = ERROR_WORDS[out.error] ?? 'This request could not be completed.'
  // The library's description is for developers; shown small, after the words for people.
  return page(nodeName, 'This did not work', `<p>${esc(words)}</p>
<p class="muted">Error <code>${esc(out.error)}</code>${out.error_description === undefined ? '' : `: ${esc(out.error_description.slice(0, 300))}`}</p>
<p class="muted">You can close this page and start again from the app.</p>`)
}

export function deviceInputPage (nodeName: string, form: string, problem: 'none' | 'wrong_code' | 'aborted' | 'error'): string {
  const message = {
    none: '<p>Enter the code that your device or command line shows.</p>',
    wrong_code: '<p class="problem" role="alert">That code is not right, or it has expired. Check it and try again.</p>',
    aborted: '<p class="problem" role="alert">The sign-in was cancelled.</p>',
    error: '<p class="problem" role="alert">Something went wrong with this code. Start again on the device.</p>'
  }[problem]
  // `form` is the library's own form (with its CSRF field); its code box carries an inline
  // script (blocked by our CSP), so it is replaced by ours: one box, sent once.
  const withInput = form
    .replace(/<input\b[^>]*\bname="user_code"[^>]*>(\s*<\/input>)?/, '')
    .replace('</form>', '<label>Code <input type="text" name="user_code" autocomplete="off" autocapitalize="characters" required autofocus maxlength="20" placeholder="XXXX-XXXX"></label></form>')
  return page(nodeName, 'Connect a device', `${message}\n${withInput}\n<div class="actions"><button type="submit" form="op.deviceInputForm">Continue</button></div>`)
}

export function deviceConfirmPage (nodeName: string, form: string, client: { name: string, id: string }, userCode: string): string {
  return page(nodeName, `Connect ${client.name}?`, `<p>Check that your device shows this code:</p>
<p><code class="user-code">${esc(userCode)}</code></p>
<p class="muted">${esc(client.name)} (${esc(client.id)}). If you did not start this, or the code differs, cancel.</p>
${form}
<div class="actions"><button type="submit" form="op.deviceConfirmForm">Continue</button>` +
    '<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">Cancel</button></div>')
}

export function deviceSuccessPage (nodeName: string, client: { name: string }): string {
  return messagePage(nodeName, 'Device connected', `${client.name} is connected to this node. You can close this page.`)
}

function duration (ms: number): string {
  if (ms < 60_000) {
    const s = Math.ceil(ms / 1000)
    return `${s} second${s === 1 ? '' : 's'}`
  }
  const m = Math.ceil(ms / 60_000)
  return `${m} minute${m === 1 ? '' : 's'}`
}

/** Why a sign-in is refused while locked, in words: the approval pages and the console say the same. */
export function lockMessage (lock: { scope: 'address' | 'browser' | 'global', retryAfterMs: number }): string {
  const span = duration(lock.retryAfterMs)
  if (lock.scope === 'global') {
    return `Too many wrong passwords from many places: sign-in is locked for ${span} for browsers that have not signed in here before. The operator can lift it with edge-hive operator set-password.`
  }
  return `Too many wrong passwords: sign-in ${lock.scope === 'browser' ? 'in this browser' : 'from your address'} is locked for ${span}.`
}
