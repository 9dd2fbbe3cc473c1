export { loadOrCreateIdentity, type NodeIdentity } from './keys.ts'
export { nodeIdFromPublicKey, NODE_ID_PATTERN } from './node-id.ts'
export { loadOrCreateSelfSigned, loadProvidedCertificate, type TlsMaterial } from './tls.ts'
