// The machine a run measured on: figures from different machines are not comparable, ratios
// from the same run are.
import { arch, availableParallelism, cpus, release, totalmem, type as osType } from 'node:os'
import { readFileSync } from 'node:fs'

export interface Machine {
  cpu_model: string
  cores: number
  total_memory_bytes: number
  node_version: string
  os: string
}

function distro (): string | undefined {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]
  } catch {
    return undefined
  }
}

export function describeMachine (): Machine {
  const d = distro()
  return {
    cpu_model: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    total_memory_bytes: totalmem(),
    node_version: process.version,
    os: `${osType()} ${release()} ${arch()}${d === undefined ? '' : ` (${d})`}`
  }
}

export function machineLine (m: Machine): string {
  return `${m.cpu_model}, ${m.cores} cores, ${(m.total_memory_bytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node_version}, ${m.os}`
}

function cpuTimes (): { idle: number, total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  return { idle: f[3]! + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) }
}

/** How busy the machine's CPUs are over `ms`, in % of all cores (Linux /proc/stat). */
export async function cpuBusyPct (ms = 1000): Promise<number> {
  const a = cpuTimes()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const b = cpuTimes()
  const total = b.total - a.total
  return total <= 0 ? 0 : 100 * (1 - (b.idle - a.idle) / total)
}

/** CPU ticks the whole machine was busy, and those of this process and its reaped children. */
export function cpuTicks (): { machineBusy: number, own: number } {
  const t = cpuTimes()
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
  return { machineBusy: t.total - t.idle, own: f[11]! + f[12]! + f[13]! + f[14]! } // utime stime cutime cstime
}

/** Share of all cores that other processes used between two readings, in %. */
export function othersPct (a: ReturnType<typeof cpuTicks>, b: ReturnType<typeof cpuTicks>, seconds: number, cores: number): number {
  const others = (b.machineBusy - a.machineBusy) - (b.own - a.own)
  return Math.max(0, 100 * others / 100 / seconds / cores) // ticks are 1/100 s
}
