// What /api/status, /healthz and /readyz answer, from a running Mirror (CONTRACTS.md: the shape of
// /api/status is fixed; the dashboard and `kafka-mirror status` read it).
import { HIDDEN, looksSecret, redactObject, redactSecrets } from '../config/secrets.ts'
import type { RecentProblems } from '../log.ts'
import type { Mirror, MirrorState } from '../mirror/mirror.ts'

export interface StatusPartition {
  topic: string
  partition: number
  records: number
  bytes: number
  sourceEndOffset: string | null
  committedOffset: string | null
  position: string | null
  lagRecords: number | null
  lagSeconds: number | null
}

export interface StatusDocument {
  version: string
  state: MirrorState
  startedAt: string
  now: string
  group: string
  partitioning: 'key' | 'source'
  source: { bootstrap: string, connected: boolean }
  target: { bootstrap: string, connected: boolean }
  totals: {
    records: number
    bytes: number
    recordsPerSecond: number
    bytesPerSecond: number
    lagRecords: number | null
    lagSeconds: number | null
    sendErrors: number
    fetchErrors: number
    rebalances: number
    gaps: number
  }
  partitions: StatusPartition[]
  errors: Array<{ at: string, level: 'warn' | 'error', message: string }>
  config: Record<string, string>
}

export interface StatusContext {
  version: string
  /** The effective settings for people: flags as "--name", file keys as "source key" / "target key". */
  config: Record<string, string>
  problems?: RecentProblems
}

/** Flags and both files' keys as /api/status shows them, secrets [hidden]. */
export function describeConfig (flags: Array<[string, string]>, properties: { consumer: Array<[string, string]>, producer: Array<[string, string]> }): Record<string, string> {
  const config: Record<string, string> = {}
  const put = (key: string, name: string, value: string): void => { config[key] = looksSecret(name) && value !== '' ? HIDDEN : redactSecrets(value) }
  for (const [name, value] of flags) put(`--${name}`, name, value)
  for (const [name, value] of properties.consumer) put(`source ${name}`, name, value)
  for (const [name, value] of properties.producer) put(`target ${name}`, name, value)
  return config
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits))

export function statusDocument (mirror: Mirror, context: StatusContext, now = Date.now()): StatusDocument {
  const stats = mirror.stats
  const rates = stats.rates(10_000, now)
  const lagByKey = new Map(stats.lag.map(l => [`${l.topic}:${l.partition}`, l]))
  const keys = new Set([...stats.partitions.keys(), ...lagByKey.keys()])
  const partitions: StatusPartition[] = []
  for (const key of keys) {
    const c = stats.partitions.get(key)
    const l = lagByKey.get(key)
    const i = key.lastIndexOf(':')
    const position = stats.position(key)
    partitions.push({
      topic: key.slice(0, i),
      partition: Number(key.slice(i + 1)),
      records: c?.records ?? 0,
      bytes: c?.bytes ?? 0,
      sourceEndOffset: l?.sourceEndOffset?.toString() ?? null,
      committedOffset: (l?.committedOffset ?? c?.committedOffset)?.toString() ?? null,
      position: position?.toString() ?? null,
      lagRecords: l?.lagRecords ?? null,
      lagSeconds: l?.lagSeconds === undefined ? null : round(l.lagSeconds)
    })
  }
  partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
  const lag = stats.lagTotals()
  const document: StatusDocument = {
    version: context.version,
    state: mirror.state,
    startedAt: new Date(stats.startedAt).toISOString(),
    now: new Date(now).toISOString(),
    group: mirror.settings.source.groupId,
    partitioning: mirror.settings.partitioning,
    source: { bootstrap: mirror.settings.source.bootstrapServers.join(','), connected: stats.connected.source === true },
    target: { bootstrap: mirror.settings.target.bootstrapServers.join(','), connected: stats.connected.target === true },
    totals: {
      records: stats.records,
      bytes: stats.bytes,
      recordsPerSecond: round(rates.recordsPerSecond, 1),
      bytesPerSecond: round(rates.bytesPerSecond, 1),
      lagRecords: lag.lagRecords ?? null,
      lagSeconds: lag.lagSeconds === undefined ? null : round(lag.lagSeconds),
      sendErrors: stats.errorCount('send'),
      fetchErrors: stats.errorCount('fetch'),
      rebalances: stats.rebalances,
      gaps: stats.gaps.length
    },
    partitions,
    errors: context.problems?.list() ?? [],
    config: context.config
  }
  // The last step before the wire: no secret passes, whatever a message quoted.
  return redactObject(document) as StatusDocument
}

/** /healthz: alive until a fatal error. */
export function health (mirror: Mirror): { ok: boolean, reason: string } {
  if (mirror.failure !== undefined) return { ok: false, reason: 'the mirror stopped on an error' }
  if (mirror.state === 'stopped') return { ok: false, reason: 'the mirror stopped' }
  return { ok: true, reason: 'ok' }
}

/**
 * /readyz: running, both clusters answered the last probe, and the copy moves (records were
 * acknowledged within `stallMs`) or has nothing to do (lag 0).
 */
export function readiness (mirror: Mirror, stallMs: number, now = Date.now()): { ready: boolean, reason: string } {
  const stats = mirror.stats
  if (mirror.state !== 'running') return { ready: false, reason: `the mirror is ${mirror.state}` }
  if (stats.connected.source !== true) return { ready: false, reason: `the source cluster does not answer (${mirror.settings.source.bootstrapServers.join(',')})` }
  if (stats.connected.target !== true) return { ready: false, reason: `the target cluster does not answer (${mirror.settings.target.bootstrapServers.join(',')})` }
  const { lagRecords } = stats.lagTotals()
  if (lagRecords === 0) return { ready: true, reason: 'ok: caught up' }
  if (now - stats.progressAt <= stallMs) return { ready: true, reason: 'ok: copying' }
  return { ready: false, reason: `no record copied for ${Math.round((now - stats.progressAt) / 1000)} s, lag ${lagRecords ?? 'unknown'} records` }
}
