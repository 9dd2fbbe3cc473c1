// What the hive benchmark records for one hive size: the JSON file's `results.hive.sizes[]`.
// Every time is a number, or null when it did not happen, with the reason in the `_note` beside it.
import type { AtRest } from './at-rest.ts'

export interface HiveSizeData {
  nodes: number
  /** What the nodes listened on and connected over (BENCH_HIVE_TRANSPORT): tcp, quic or both. */
  transport: string
  /** Founder start, hive init and invitation, before the clock starts. */
  setup_ms: number
  /** From spawning the members until each had logged `node ready` (slowest member). */
  members_ready_ms: number
  /** From spawning the members until every node lists every other online with capabilities; null: not within the time limit. */
  formed_ms: number | null
  form_timeout_ms: number
  /**
   * CPU time each member process had used when the monitor saw the hive formed (or formation
   * timed out): start-up and joining together, the work that decides how soon a fleet started at
   * once on a few cores forms. Mean and max over the members (the founder started earlier).
   */
  members_cpu_ms_at_formed: { mean: number, max: number } | null
  /** When not formed: how many nodes saw all others, and what the others saw instead (pairs by state). */
  not_formed?: { nodes_seeing_all: number, pairs_by_state: Record<string, number> }
  /** How often the monitor polled every node: the resolution of the times below and of formed_ms. */
  poll_interval_ms: number
  /** Each node at rest after formation; null: no node ran through the window. */
  at_rest: AtRest | null
  at_rest_note?: string
  /** From SIGKILL of a member until every other node lists it offline; null: not measured or not seen. */
  offline_ms: number | null
  offline_note?: string
  /** The killed member started again: from spawn to its `node ready`, and from there until every other node lists it online, a member, with an advert signed after the restart. */
  restart_ready_ms: number | null
  restart_online_ms: number | null
  restart_note?: string
  /** The founder's `hive remove` of another member: from the command's start until no other node lists it as a member; and how long the command took. */
  removal_ms: number | null
  removal_command_ms: number | null
  removal_note?: string
  /** The time limits of the three scenarios above. */
  timeouts_ms: { offline: number, restart_online: number, removal: number }
  /** Nodes that exited by themselves during the run, with the end of their stderr. */
  exited?: Array<{ peer_id: string, code: number | null, signal: string | null, stderr: string }>
}
