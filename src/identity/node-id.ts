import { createHash } from 'node:crypto'

// 64 words each, so one byte modulo 64 picks without bias. Never reorder or edit these
// lists: a node's id is derived from them and must stay the same across versions.
const ADJECTIVES = [
  'amber', 'bold', 'brave', 'bright', 'calm', 'clever', 'cosmic', 'crisp',
  'daring', 'eager', 'early', 'fair', 'fancy', 'fast', 'fierce', 'fond',
  'gentle', 'glad', 'golden', 'grand', 'happy', 'hardy', 'humble', 'jolly',
  'keen', 'kind', 'lively', 'lucky', 'merry', 'mighty', 'misty', 'noble',
  'odd', 'patient', 'plucky', 'polite', 'proud', 'quick', 'quiet', 'rapid',
  'ready', 'royal', 'rustic', 'shy', 'silent', 'silver', 'sleek', 'smart',
  'snowy', 'solar', 'sunny', 'swift', 'tidy', 'tiny', 'tough', 'true',
  'vivid', 'warm', 'wise', 'witty', 'young', 'zany', 'zen', 'zesty'
] as const

const ANIMALS = [
  'ant', 'badger', 'bat', 'bear', 'beaver', 'bee', 'bison', 'boar',
  'camel', 'cat', 'cobra', 'crab', 'crane', 'crow', 'deer', 'dingo',
  'dolphin', 'dove', 'duck', 'eagle', 'eel', 'elk', 'falcon', 'ferret',
  'finch', 'fox', 'frog', 'gecko', 'goat', 'goose', 'hare', 'hawk',
  'heron', 'horse', 'ibex', 'koala', 'lemur', 'lion', 'llama', 'lynx',
  'marten', 'mole', 'moose', 'moth', 'newt', 'otter', 'owl', 'panda',
  'puma', 'quail', 'raven', 'robin', 'seal', 'shark', 'sloth', 'snail',
  'swan', 'tiger', 'toad', 'trout', 'viper', 'wasp', 'wolf', 'yak'
] as const

/** The shape of every node id: `adjective-animal-6hex`. */
export const NODE_ID_PATTERN = /^[a-z]+-[a-z]+-[0-9a-f]{6}$/

/**
 * Derives the node id (`swift-fox-0dd9b9`) from the node's public key: short enough to read
 * out loud, stable for as long as the key is kept, and different for different keys with
 * 2^36 possibilities (collisions inside one hive are not a security boundary: the peer id is).
 */
export function nodeIdFromPublicKey (publicKey: Uint8Array): string {
  const h = createHash('sha256').update('edge-hive node id\0').update(publicKey).digest()
  return `${ADJECTIVES[h[0]! % 64]}-${ANIMALS[h[1]! % 64]}-${h.subarray(2, 5).toString('hex')}`
}
