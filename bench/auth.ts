// 4. Auth costs: access tokens issued per second by the node's token endpoint (client
// credentials), and JWT verifications per second inside the node's resource-server code
// (AccessTokenVerifier.verify, as the Bearer guard calls it on every request) against plain
// `jose` jwtVerify of the same token with the same public key.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { importJWK, jwtVerify, type JWK } from 'jose'
import { AccessTokenVerifier } from '../src/auth/token-verifier.ts'
import { RevocationList } from '../src/auth/revocation-list.ts'
import type { RevocationRepository } from '../src/store/index.ts'
import { BenchNode, Cleanup, TOKEN_FORM, UNTHROTTLED, basicAuth, loopbackArgs, operatorClient, operatorToken } from './lib/node.ts'
import { load, type LoadResult } from './lib/load.ts'
import { fmt, type Benchmark, type Row } from './lib/context.ts'

export interface VerifyRate {
  per_second: number
  us_per_verify: number
  count: number
}

export interface AuthData {
  token_endpoint: LoadResult[]
  verify_node_first_use: VerifyRate
  verify_node: VerifyRate
  verify_jose: VerifyRate
  node_cached_over_jose: number
  node_over_jose: number
}

/**
 * Verification rates of several verifiers, each called back to back, one at a time, in
 * alternating slices of ~50 ms (so that a change in the machine's load hits them alike).
 */
async function rates (fns: Array<() => Promise<unknown>>, warmupMs: number, totalMs: number): Promise<VerifyRate[]> {
  const slice = async (fn: () => Promise<unknown>, ms: number): Promise<{ count: number, elapsed: number }> => {
    let count = 0
    const t0 = performance.now()
    const end = t0 + ms
    while (performance.now() < end) {
      for (let i = 0; i < 20; i++) await fn()
      count += 20
    }
    return { count, elapsed: performance.now() - t0 }
  }
  for (const fn of fns) await slice(fn, warmupMs)
  const sums = fns.map(() => ({ count: 0, elapsed: 0 }))
  const rounds = Math.max(1, Math.round(totalMs / fns.length / 50))
  for (let r = 0; r < rounds; r++) {
    for (const [k, fn] of fns.entries()) {
      const x = await slice(fn, 50)
      sums[k]!.count += x.count
      sums[k]!.elapsed += x.elapsed
    }
  }
  return sums.map((x) => ({ per_second: 1000 * x.count / x.elapsed, us_per_verify: 1000 * x.elapsed / x.count, count: x.count }))
}

export const auth: Benchmark = {
  name: 'auth',
  section: 4,
  title: 'token endpoint and JWT verification',
  async run (ctx) {
    const cleanup = new Cleanup()
    try {
      const dataDir = cleanup.tempDir()
      const nodeFlags = ctx.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${ctx.cpuProfDir}`]
      const node = await BenchNode.start({ dataDir, args: loopbackArgs(UNTHROTTLED), nodeFlags })
      // A graceful stop, so that --cpu-prof writes its profile.
      cleanup.add(async () => await node.stop())
      const op = operatorClient(dataDir)

      const tokenRows: LoadResult[] = []
      for (const c of ctx.quick ? [10] : [1, 10]) {
        const r = await load({
          url: `${node.url}/oauth/token`, method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(op.client_id, op.client_secret) },
          body: TOKEN_FORM, connections: c, ...ctx.timing, serverPid: node.pid,
          verify: (b) => b.includes('"access_token"')
        })
        ctx.log(`  token endpoint c=${String(c).padEnd(3)} ${r.rps.toFixed(0).padStart(6)} tokens/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}`)
        tokenRows.push(r)
      }

      // The node's own verifier, built as the node builds it, with its public key and audience.
      const token = await operatorToken(node.url, dataDir)
      const { d: _d, ...publicJwk } = JSON.parse(readFileSync(join(dataDir, 'oauth', 'signing-key.json'), 'utf8')) as JWK
      const noStore = { listActive: async () => [], add: async () => undefined } as unknown as RevocationRepository
      const verifier = new AccessTokenVerifier({ revocations: new RevocationList(noStore), isClientRevoked: () => false },
        { publicJwk, issuer: node.ready.url, audience: node.ready.mcp_url })
      const checked = await verifier.verify(token)
      if (!checked.ok) throw new Error('the node\'s verifier refused a fresh token: the benchmark would measure the failure path')
      const key = await importJWK(publicJwk, 'EdDSA')
      await jwtVerify(token, key)

      // The node remembers tokens it verified (until exp): `verify` of the same token measures that
      // cache, which is what an agent sending its token for an hour meets; `verifySignature` is the
      // full check a token gets the first time, compared with plain jose.
      const [verifyFirst, verifyNode, verifyJose] = await rates([
        async () => await verifier.verifySignature(token),
        async () => await verifier.verify(token),
        async () => await jwtVerify(token, key)
      ], 300, ctx.quick ? 2000 : 4000) as [VerifyRate, VerifyRate, VerifyRate]
      const ratio = verifyFirst.per_second / verifyJose.per_second
      const cachedRatio = verifyNode.per_second / verifyJose.per_second
      ctx.log(`  verify: node first use ${verifyFirst.per_second.toFixed(0)}/s, node seen before ${verifyNode.per_second.toFixed(0)}/s, jose ${verifyJose.per_second.toFixed(0)}/s`)

      const rows: Row[] = [
        ...tokenRows.map((r) => ({
          section: 4, benchmark: 'token endpoint, client credentials', clients: r.connections,
          result: `${fmt.rate(r.rps)} tokens/s`, p50: r.p50, p99: r.p99, errors: r.errors, cpuUs: r.serverCpuUsPerReq
        })),
        { section: 4, benchmark: 'JWT verify, node, first use of a token', clients: 1, result: `${fmt.rate(verifyFirst.per_second)} /s`, ratio: `node/jose ${ratio.toFixed(2)}` },
        {
          section: 4, benchmark: 'JWT verify, node, a token seen before', clients: 1, result: `${fmt.rate(verifyNode.per_second)} /s`,
          ratio: `node/jose ${cachedRatio.toFixed(0)} (cached until exp; revocation still checked)`
        },
        { section: 4, benchmark: 'JWT verify, plain jose jwtVerify', clients: 1, result: `${fmt.rate(verifyJose.per_second)} /s` }
      ]
      const data: AuthData = {
        token_endpoint: tokenRows, verify_node_first_use: verifyFirst, verify_node: verifyNode, verify_jose: verifyJose,
        node_over_jose: ratio, node_cached_over_jose: cachedRatio
      }
      return { rows, data }
    } finally {
      await cleanup.run()
    }
  }
}
