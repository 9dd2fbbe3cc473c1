// The comparison servers (bench/servers/*.ts) as child processes, and their certificate.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanEnv, execFileP, type Cleanup } from './node.ts'
import { diesWithParent } from '../../scripts/lib/node-process.ts'

export interface ChildServer {
  child: ChildProcess
  pid: number
  port: number
  stop (): Promise<void>
}

/** A self-signed ECDSA P-256 certificate for 127.0.0.1, the kind the node makes for itself. */
export async function selfSignedCert (dir: string): Promise<{ cert: string, key: string }> {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  await execFileP('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha256', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert])
  return { cert, key }
}

/** Starts `bench/servers/<name>.ts` with Node 22 and waits for its {"port":N} line. */
export async function startServer (name: string, args: string[], cleanup: Cleanup, nodeFlags: string[] = []): Promise<ChildServer> {
  const file = fileURLToPath(new URL(`../servers/${name}.ts`, import.meta.url))
  const { cmd, args: argv } = diesWithParent([process.execPath, ...nodeFlags, file, ...args])
  const child = spawn(cmd, argv, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
  cleanup.add(stop)
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${name} did not start; stderr: ${stderr}`)), 20_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /\{"port":(\d+)\}/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(Number(m[1])) }
    })
    child.once('close', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}); stderr: ${stderr}`)) })
  })
  return { child, pid: child.pid!, port, stop }
}
