import { randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { JsonFrames, ProtocolViolation } from './framing.ts'

/**
 * `/edge-hive/auth/1.0.0`: mutual challenge-response, run by the dialling side on every new
 * connection (our own protocol; described in the README, "How nodes prove membership").
 *
 *   dialer  -> { challenge }                                   32 random bytes, base64url
 *   answer  <- { challenge, proof, credential }                proof of the dialer's challenge
 *   dialer  -> { proof, credential }                           proof of the answerer's challenge
 *   answer  <- { accepted }                                    whether the answerer trusts the dialer
 *
 * A proof is { ts, sig }: an Ed25519 signature by the prover's peer key over
 * "edge-hive/auth/1.0.0\n<challenge>\n<prover peer id>\n<verifier peer id>\n<ts>". Binding both
 * peer ids stops an answer being relayed to another peer; the fresh challenge and the replay
 * memory stop it being used twice; `ts` more than MAX_CLOCK_SKEW_MS away from now is stale.
 * `credential` is the prover's membership chain (or null), checked by the caller.
 */
export const AUTH_PROTOCOL = '/edge-hive/auth/1.0.0'
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
  return new TextEncoder().encode(`edge-hive/auth/1.0.0\n${challenge}\n${prover}\n${verifier}\n${ts}`)
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

/**
 * The dialler's side. `judge` records the verdict about the answerer and must do so before it
 * returns: the answerer may push hive messages as soon as it has accepted us.
 */
export async function initiateAuth (f: JsonFrames, p: AuthParty, judge: (v: AuthVerdict) => Promise<void>): Promise<{ accepted: boolean }> {
  const mine = newChallenge()
  await f.write({ challenge: mine })
  const answer = await f.read()
  const theirs = challengeOf(answer)
  await judge({ proof: await checkProof(p, mine, answer.proof), credential: answer.credential ?? null })
  await f.write({ proof: await prove(p, theirs), credential: p.credential() ?? null })
  const result = await f.read()
  await f.close()
  return { accepted: result.accepted === true }
}

/** The answering side. `judge` returns whether the dialler is accepted as a member. */
export async function answerAuth (f: JsonFrames, p: AuthParty, judge: (v: AuthVerdict) => Promise<boolean>): Promise<void> {
  const hello = await f.read()
  const theirs = challengeOf(hello)
  const mine = newChallenge()
  await f.write({ challenge: mine, proof: await prove(p, theirs), credential: p.credential() ?? null })
  const reply = await f.read()
  const accepted = await judge({ proof: await checkProof(p, mine, reply.proof), credential: reply.credential ?? null })
  await f.write({ accepted })
  await f.close()
}
