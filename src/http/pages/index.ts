import { PAGE_CSP } from './layout.ts'
import { deviceInputPage, deviceConfirmPage, deviceSuccessPage, errorPage } from './views.ts'

export { PAGE_CSP, esc, page } from './layout.ts'
export { signInPage, consentPage, errorPage, messagePage, type ClientFacts } from './views.ts'

/** The pages the authorization server itself renders (device flow, errors), with this node's name on them. */
export function authorizationPages (nodeName: string): {
  deviceInput: (form: string, problem: 'none' | 'wrong_code' | 'aborted' | 'error') => string
  deviceConfirm: (form: string, client: { name: string, id: string }, userCode: string) => string
  deviceSuccess: (client: { name: string }) => string
  error: (out: { error: string, error_description?: string | undefined }) => string
  csp: string
} {
  return {
    deviceInput: (form, problem) => deviceInputPage(nodeName, form, problem),
    deviceConfirm: (form, client, userCode) => deviceConfirmPage(nodeName, form, client, userCode),
    deviceSuccess: (client) => deviceSuccessPage(nodeName, client),
    error: (out) => errorPage(nodeName, out),
    csp: PAGE_CSP
  }
}
