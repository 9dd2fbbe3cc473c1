import { existsSync, readFileSync, statSync, chmodSync } from 'node:fs'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey, PrivateKey } from '@libp2p/interface'
import type { PeerId } from '@libp2p/interface'
import { StartupError, messageOf } from '../shared/errors.ts'
import { writeFileAtomic } from '../shared/files.ts'
import { nodeIdFromPublicKey } from './node-id.ts'

/** Who this node is: one Ed25519 key, seen as a libp2p peer id and as a readable node id. */
export interface NodeIdentity {
  privateKey: Ed25519PrivateKey
  peerId: PeerId
  nodeId: string
  /** True when the key was made by this start. */
  created: boolean
}

function fromKey (privateKey: PrivateKey, created: boolean, file: string): NodeIdentity {
  if (privateKey.type !== 'Ed25519') {
    throw new StartupError('identity', `identity key ${file} is a ${privateKey.type} key; Edge Hive nodes use Ed25519`)
  }
  return {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    nodeId: nodeIdFromPublicKey(privateKey.publicKey.raw),
    created
  }
}

/**
 * Loads the node's identity key, or makes one on first start. The file holds the key in
 * libp2p's protobuf format, so the same file is the libp2p peer identity; it is written
 * atomically with mode 0600.
 */
export async function loadOrCreateIdentity (file: string): Promise<NodeIdentity> {
  if (existsSync(file)) {
    let key: PrivateKey
    try {
      if (statSync(file).size > 4096) throw new Error('file too large')
      key = privateKeyFromProtobuf(readFileSync(file))
    } catch (err) {
      throw new StartupError('identity', `identity key ${file} cannot be read (${messageOf(err)}); restore it from a backup, or move it away to make a new identity`, { cause: err })
    }
    // A key readable by others is no longer only ours; close the file again.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
    return fromKey(key, false, file)
  }
  const key = await generateKeyPair('Ed25519')
  writeFileAtomic(file, privateKeyToProtobuf(key), 0o600)
  return fromKey(key, true, file)
}
