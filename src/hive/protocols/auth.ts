import { randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { JsonFrames, ProtocolViolation } from './framing.ts'

/**
 * `/edge-hive/auth/3.0.0`: mutual challenge-response, run by the dialling side on every new
 * connection (our own protocol; described in docs/hive.md, "How nodes prove membership").
 *
 *   dialer  -> { challenge }                                   32 random bytes, base64url
 *   answer  <- { challenge }  | { refused }                    refused: over the rate limit
 *   dialer  -> { proof, credential }                           proof of the answerer's challenge
 *   answer  <- { accepted: false }
 *            | { accepted: true, proof, credential }           proof of the dialer's challenge
 *   dialer  -> { accepted }                                    only after accepted: true
 *
 * The dialer proves itself first, and the answerer sends its own credential (the membership
 * chain, which names the hive and its founder) only to a dialer it has just accepted as a member
 * of its hive: a stranger that connects learns nothing about the hive. Version 1.0.0 had the
 * answerer send its chain in its first reply, to anyone; 2.0.0 is the same exchange, spoken by nodes
 * whose hive sent adverts to every member directly instead of by gossip. Neither is spoken any
 * more: a node of this version answers a 2.0.0 challenge with `{ refused }` saying so (LEGACY_AUTH_PROTOCOLS),
 * and nodes of different versions do not trust each other (upgrade every member).
 *
 * A proof is { ts, sig }: an Ed25519 signature by the prover's peer key over
 * "edge-hive/auth/3.0.0\n<challenge>\n<prover peer id>\n<verifier peer id>\n<ts>". Binding both
 * peer ids stops an answer being relayed to another peer; the fresh challenge and the replay
 * memory stop it being used twice; `ts` more than MAX_CLOCK_SKEW_MS away from now is stale.
 * `credential` is the prover's membership chain (or null), checked by the caller.
 */
export const AUTH_PROTOCOL = '/edge-hive/auth/3.0.0'
/** Versions answered only to say why not (see above). */
export const LEGACY_AUTH_PROTOCOLS = ['/edge-hive/auth/2.0.0']
/** What a node of an older version is told when it challenges this one. */
export const UPGRADE_REFUSAL = 'version: this member speaks /edge-hive/auth/3.0.0 (the hive gossips adverts since Edge Hive 0.2); upgrade this node'
export const MAX_CLOCK_SKEW_MS = 30_000
const CHALLENGE_BYTES = 32

export interface Proof { ts: number, sig: string }

export interface AuthParty {
  key: PrivateKey
  self: string
  remote: string
  /** This node's membership chain, or undefined when it belongs to no hive. */
  credential (): string[] | undefined
  replay: ReplayGuard
}

/** What one side concluded about the other. `proof` false means a bad or replayed answer: a failed challenge. */
export interface AuthVerdict { proof: boolean, credential: unknown }

/** Remembers accepted signatures until they would be stale anyway, so none is accepted twice. */
export class ReplayGuard {
  readonly #seen = new Map<string, number>()
  readonly #max: number

  constructor (max = 10_000) {
    this.#max = max
  }

  /** True the first time a signature is seen within the freshness window. */
  firstUse (sig: string, now = Date.now()): boolean {
    for (const [s, until] of this.#seen) {
      if (until > now && this.#seen.size < this.#max) break
      this.#seen.delete(s)
    }
    if (this.#seen.has(sig)) return false
    this.#seen.set(sig, now + 2 * MAX_CLOCK_SKEW_MS)
    return true
  }
}

function proofBytes (challenge: string, prover: string, verifier: string, ts: number): Uint8Array {
  return new TextEncoder().encode(`edge-hive/auth/3.0.0\n${challenge}\n${prover}\n${verifier}\n${ts}`)
}

export async function prove (p: AuthParty, challenge: string, ts = Date.now()): Promise<Proof> {
  const sig = await p.key.sign(proofBytes(challenge, p.self, p.remote, ts))
  return { ts, sig: Buffer.from(sig).toString('base64url') }
}

async function checkProof (p: AuthParty, challenge: string, proof: unknown): Promise<boolean> {
  if (proof === null || typeof proof !== 'object') return false
  const { ts, sig } = proof as Record<string, unknown>
  if (typeof ts !== 'number' || typeof sig !== 'string' || sig.length > 200) return false
  if (Math.abs(Date.now() - ts) > MAX_CLOCK_SKEW_MS) return false
  let ok = false
  try {
    ok = await peerIdFromString(p.remote).publicKey!.verify(proofBytes(challenge, p.remote, p.self, ts), Buffer.from(sig, 'base64url'))
  } catch {
    return false
  }
  return ok && p.replay.firstUse(sig)
}

function newChallenge (): string {
  return randomBytes(CHALLENGE_BYTES).toString('base64url')
}

function challengeOf (m: Record<string, unknown>): string {
  const c = m.challenge
  if (typeof c !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(c)) throw new ProtocolViolation('the challenge is not 32 bytes of base64url')
  return c
}

/** What the dialler learnt: whether the answerer accepted it, or refused to answer at all (rate limit). */
export interface AuthOutcome { accepted: boolean, refused?: string | undefined }

/**
 * The dialler's side. `judge` is called only when the answerer accepted us (it then shows its own
 * proof and credential) and must record the verdict before it returns: the answerer may push hive
 * messages as soon as it reads ours.
 */
export async function initiateAuth (f: JsonFrames, p: AuthParty, judge: (v: AuthVerdict) => Promise<boolean>): Promise<AuthOutcome> {
  const mine = newChallenge()
  await f.write({ challenge: mine })
  const hello = await f.read()
  if (typeof hello.refused === 'string') {
    await f.close()
    return { accepted: false, refused: hello.refused.slice(0, 200) }
  }
  const theirs = challengeOf(hello)
  await f.write({ proof: await prove(p, theirs), credential: p.credential() ?? null })
  const answer = await f.read()
  if (answer.accepted !== true) {
    await f.close()
    return { accepted: false }
  }
  const trusted = await judge({ proof: await checkProof(p, mine, answer.proof), credential: answer.credential ?? null })
  await f.write({ accepted: trusted })
  await f.close()
  return { accepted: true }
}

/**
 * The answering side. `judge` returns whether the dialler is accepted as a member; only then is
 * this node's proof and credential sent. Resolves with whether the dialler accepted us in turn.
 */
export async function answerAuth (f: JsonFrames, p: AuthParty, judge: (v: AuthVerdict) => Promise<boolean>): Promise<{ accepted: boolean, trusted: boolean }> {
  const hello = await f.read()
  const theirs = challengeOf(hello)
  const mine = newChallenge()
  await f.write({ challenge: mine })
  const reply = await f.read()
  const trusted = await judge({ proof: await checkProof(p, mine, reply.proof), credential: reply.credential ?? null })
  if (!trusted) {
    await f.write({ accepted: false })
    await f.close()
    return { accepted: false, trusted }
  }
  await f.write({ accepted: true, proof: await prove(p, theirs), credential: p.credential() ?? null })
  const back = await f.read()
  await f.close()
  return { accepted: back.accepted === true, trusted }
}

/** Refuses a challenge without answering it (the dialler is over the rate limit). */
export async function refuseAuth (f: JsonFrames, reason: string): Promise<void> {
  await f.write({ refused: reason })
  await f.close()
}
