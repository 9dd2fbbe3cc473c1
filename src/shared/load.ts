import { cpus, freemem, totalmem } from 'node:os'

/** Machine load in percent (0-100), as advertised in the info document and capability records. */
export interface Load {
  cpu: number
  memory: number
}

function cpuTimes (): { idle: number, total: number } {
  let idle = 0
  let total = 0
  for (const c of cpus()) {
    idle += c.times.idle
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq
  }
  return { idle, total }
}

const round1 = (n: number): number => Math.round(Math.min(100, Math.max(0, n)) * 10) / 10

/**
 * Measures CPU use over the time between two readings (at least `minWindowMs`), rather than
 * the load average, which counts processes waiting on I/O and is not a percentage.
 */
export class LoadMeter {
  #last = cpuTimes()
  #lastAt = Date.now()
  #cpu = 0
  #memory = 0
  readonly #minWindowMs: number

  constructor (minWindowMs = 1000) {
    this.#minWindowMs = minWindowMs
    const mem = totalmem()
    this.#memory = round1(100 * (mem - freemem()) / mem)
  }

  read (): Load {
    const now = Date.now()
    if (now - this.#lastAt >= this.#minWindowMs) {
      const t = cpuTimes()
      const total = t.total - this.#last.total
      if (total > 0) this.#cpu = round1(100 * (1 - (t.idle - this.#last.idle) / total))
      const mem = totalmem()
      this.#memory = round1(100 * (mem - freemem()) / mem)
      this.#last = t
      this.#lastAt = now
    }
    // Both are read at most once a window: get_status and adverts ask far more often.
    return { cpu: this.#cpu, memory: this.#memory }
  }
}
