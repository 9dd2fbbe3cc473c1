import { existsSync, readFileSync, chmodSync, statSync } from 'node:fs'
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto'
import { StartupError, messageOf } from '../shared/errors.ts'
import { writeFileAtomic } from '../shared/files.ts'

/** The certificate the HTTPS server presents. */
export interface TlsMaterial {
  cert: string
  key: string
  /** SHA-256 of the DER certificate as `AB:CD:...`, what `openssl x509 -fingerprint -sha256` prints. */
  fingerprint: string
  selfSigned: boolean
  /** True when this start made a new self-signed certificate. */
  created: boolean
}

const VALIDITY_DAYS = 825 // the longest validity clients still accept for a leaf certificate
const RENEW_BEFORE_MS = 30 * 86_400_000

/**
 * The certificate library, loaded when a certificate is made (a first start, a renewal): a
 * restart only reads the kept one, with Node's own X509Certificate (measured: the library and
 * its dependencies were about 80 ms of a restart's CPU).
 */
async function x509Library (): Promise<typeof import('@peculiar/x509')> {
  // @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
  await import('reflect-metadata')
  const x509 = await import('@peculiar/x509')
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])
  return x509
}

function pemOf (label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`
}

function isIp (name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(':')
}

async function makeSelfSigned (names: string[]): Promise<{ cert: string, key: string }> {
  const x509 = await x509Library()
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${names.find((n) => !isIp(n) && n !== 'localhost') ?? 'edge-hive'}`,
    notBefore: new Date(now - 60_000), // tolerate a little clock skew on the client
    notAfter: new Date(now + VALIDITY_DAYS * 86_400_000),
    signingAlgorithm: alg,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIp(n) ? 'ip' as const : 'dns' as const, value: n })))
    ]
  })
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)
  return { cert: cert.toString('pem') + '\n', key: pemOf('PRIVATE KEY', pkcs8) }
}

/** Why a kept self-signed certificate must be made anew, or undefined when it still serves. */
function staleReason (cert: X509Certificate, names: string[]): string | undefined {
  if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_MS) return 'it expires soon'
  const sans = cert.subjectAltName ?? ''
  const missing = names.filter((n) => !sans.includes(isIp(n) ? `IP Address:${n}` : `DNS:${n}`))
  // IPv6 SANs print expanded (0:0:0:0:0:0:0:1), so compare those through the checker instead.
  const reallyMissing = missing.filter((n) => (isIp(n) ? cert.checkIP(n) : cert.checkHost(n)) === undefined)
  return reallyMissing.length > 0 ? `it does not name ${reallyMissing.join(', ')}` : undefined
}

/**
 * Loads the node's self-signed certificate, or makes one (ECDSA P-256) on first start, or
 * when the kept one no longer names every host or nears its end. Kept across restarts so
 * that clients which pinned its fingerprint keep trusting it.
 */
export async function loadOrCreateSelfSigned (certFile: string, keyFile: string, names: string[]): Promise<TlsMaterial & { renewedBecause?: string }> {
  let renewedBecause: string | undefined
  if (existsSync(certFile) && existsSync(keyFile)) {
    try {
      const cert = readFileSync(certFile, 'utf8')
      const key = readFileSync(keyFile, 'utf8')
      const parsed = new X509Certificate(cert)
      if (!parsed.checkPrivateKey(createPrivateKey(key))) throw new Error('key does not match certificate')
      if ((statSync(keyFile).mode & 0o077) !== 0) chmodSync(keyFile, 0o600)
      renewedBecause = staleReason(parsed, names)
      if (renewedBecause === undefined) {
        return { cert, key, fingerprint: parsed.fingerprint256, selfSigned: true, created: false }
      }
    } catch (err) {
      renewedBecause = `the kept one cannot be used (${messageOf(err)})`
    }
  }
  const made = await makeSelfSigned(names)
  writeFileAtomic(keyFile, made.key, 0o600)
  writeFileAtomic(certFile, made.cert, 0o644)
  const fingerprint = new X509Certificate(made.cert).fingerprint256
  return { ...made, fingerprint, selfSigned: true, created: true, ...(renewedBecause === undefined ? {} : { renewedBecause }) }
}

/** Loads an operator's certificate and key (`--tls-cert`, `--tls-key`) and checks they belong together. */
export function loadProvidedCertificate (certFile: string, keyFile: string): TlsMaterial {
  let cert: string
  let key: string
  try {
    cert = readFileSync(certFile, 'utf8')
    key = readFileSync(keyFile, 'utf8')
  } catch (err) {
    throw new StartupError('tls', `cannot read TLS certificate or key: ${messageOf(err)}`, { cause: err })
  }
  let parsed: X509Certificate
  try {
    parsed = new X509Certificate(cert)
    if (!parsed.checkPrivateKey(createPrivateKey(key))) {
      throw new StartupError('tls', `TLS key ${keyFile} does not belong to certificate ${certFile}`)
    }
  } catch (err) {
    if (err instanceof StartupError) throw err
    throw new StartupError('tls', `TLS certificate ${certFile} or key ${keyFile} is not valid PEM: ${messageOf(err)}`, { cause: err })
  }
  if (Date.parse(parsed.validTo) < Date.now()) {
    throw new StartupError('tls', `TLS certificate ${certFile} expired on ${parsed.validTo}`)
  }
  return { cert, key, fingerprint: parsed.fingerprint256, selfSigned: false, created: false }
}
