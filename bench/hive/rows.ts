// The hive benchmark's rows of the printed table, from what bench/hive.ts measured.
import { fmt, type Row } from '../lib/context.ts'
import type { HiveSizeData } from './size-data.ts'
import type { AtRest, Spread } from './at-rest.ts'

const pct = (x: number): string => `${x.toFixed(2)}%`
const inOut = (s: { in: Spread, out: Spread }, f: (x: number) => string, unit: string): { result: string, ratio: string } => ({
  result: `in ${f(s.in.mean)}, out ${f(s.out.mean)}${unit}`,
  ratio: `max in ${f(s.in.max)}, out ${f(s.out.max)}${unit}`
})

function atRestRows (s: HiveSizeData, r: AtRest): Row[] {
  const row = (what: string, x: { result: string, ratio: string }): Row => ({ section: 5, benchmark: `hive of ${s.nodes}: ${what}`, clients: s.nodes, ...x })
  const window = `over ${fmt.s(r.window_ms)}${r.after_formation ? '' : ' (hive NOT formed)'}${r.nodes < s.nodes ? `, ${r.nodes} of ${s.nodes} nodes` : ''}`
  return [
    row('resident memory per node at rest', { result: fmt.mib(r.rss_bytes.mean), ratio: `min ${fmt.mib(r.rss_bytes.min)}, max ${fmt.mib(r.rss_bytes.max)}` }),
    row('CPU per node at rest', { result: pct(r.cpu_pct.mean), ratio: `max ${pct(r.cpu_pct.max)} of a core, ${window}` }),
    row('p2p connections per node at rest', s.transport === 'quic'
      ? { result: 'n/a', ratio: 'counted from TCP sockets; these nodes connected over QUIC' }
      : {
          result: r.connections.mean.toFixed(1),
          ratio: `max ${r.connections.max}, at the end ${r.connections.at_end.mean.toFixed(1)} (max ${r.connections.at_end.max}); ` +
            `busiest node #${r.connections.busiest.node}${r.connections.busiest.node === 0 ? ' (the founder)' : ''} ` +
            `${r.connections.busiest.mean.toFixed(1)}; one per other node would be ${s.nodes - 1}; in ${r.connections.inbound_mean.toFixed(1)}, out ${r.connections.outbound_mean.toFixed(1)}`
        }),
    row('packets/s per node at rest', inOut(r.packets_per_s, fmt.rate, '')),
    row('bytes/s per node at rest', inOut(r.bytes_per_s, fmt.bytes, ''))
  ]
}

const timed = (ms: number | null, note: string | undefined, extra?: string): { result: string, ratio?: string } => {
  const ratio = [extra, note].filter((x) => x !== undefined).join('; ')
  return { result: ms === null ? 'n/a' : fmt.s(ms), ...(ratio === '' ? {} : { ratio }) }
}

/** Rows for each size measured, then one for each size skipped. */
export function hiveRows (sizes: HiveSizeData[], skipped: number[]): Row[] {
  const rows: Row[] = sizes.flatMap((s) => {
    const row = (what: string, x: { result: string, ratio?: string }): Row => ({ section: 5, benchmark: `hive of ${s.nodes}: ${what}`, clients: s.nodes, ...x })
    const restartReady = s.restart_ready_ms === null ? undefined : `its ready ${fmt.s(s.restart_ready_ms)} after its start`
    const command = s.removal_command_ms === null ? undefined : `\`hive remove\` took ${fmt.s(s.removal_command_ms)}`
    return [
      row('start to all online with capabilities', {
        result: s.formed_ms === null ? `> ${fmt.s(s.form_timeout_ms)}` : fmt.s(s.formed_ms),
        ratio: s.not_formed === undefined
          ? `nodes up after ${fmt.s(s.members_ready_ms)}`
          : `NOT FORMED: ${s.not_formed.nodes_seeing_all}/${s.nodes} see all; other views ${Object.entries(s.not_formed.pairs_by_state).map(([k, v]) => `${v} ${k}`).join(', ')}`
      }),
      ...(s.at_rest === null ? [row('at rest', { result: 'n/a', ratio: s.at_rest_note ?? '' })] : atRestRows(s, s.at_rest)),
      row('killed member offline on all', timed(s.offline_ms, s.offline_note)),
      row('restarted member online on all', timed(s.restart_online_ms, s.restart_note, restartReady)),
      row('removal reached all', timed(s.removal_ms, s.removal_note, command)),
      ...(s.exited === undefined ? [] : [row('nodes that exited by themselves', { result: String(s.exited.length), ratio: s.exited[0]!.stderr.split('\n').find((l) => /^\w*Error\b|Error:/.test(l))?.slice(0, 100) ?? `exit ${s.exited[0]!.code ?? s.exited[0]!.signal}` })])
    ]
  })
  for (const n of skipped) rows.push({ section: 5, benchmark: `hive of ${n}`, clients: n, result: 'skipped', ratio: 'the run\'s time budget was used up (run `npm run bench -- --only hive`)' })
  return rows
}
