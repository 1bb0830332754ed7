// Counters of what the mirror copied, for the status line, --once progress and the summary.

export interface TopicProgress {
  topic: string
  planned: bigint
  copied: bigint
}

export interface MirrorSummary {
  records: number
  bytes: number
  failedRecords: number
  elapsedMs: number
  recordsPerSecond: number
  megabytesPerSecond: number
  topics: TopicProgress[]
}

export interface StatusLine {
  text: string
  fields: Record<string, string | number>
}

/** Where one source partition stands, from the last lag probe (src/metrics/lag.ts). */
export interface PartitionLag {
  topic: string
  partition: number
  /** The source's log end offset (ListOffsets latest). */
  sourceEndOffset: bigint | undefined
  /** The group's committed offset on the source. */
  committedOffset: bigint | undefined
  /** One past the last offset the target acknowledged (this process), else undefined. */
  position: bigint | undefined
  lagRecords: number | undefined
  /** Age of the oldest record not yet copied; 0 when lagRecords is 0. */
  lagSeconds: number | undefined
  /** Bytes of the source log not yet copied, from the record batches' positions; undefined when unknown. */
  lagBytes?: number
}

/** Counters of one source partition since start. */
export interface PartitionCounters {
  topic: string
  partition: number
  records: number
  bytes: number
  commits: number
  /** ms since the epoch; 0: never. */
  lastCommitAt: number
  committedOffset: bigint | undefined
}

const MB = 1024 * 1024

export class MirrorStats {
  records = 0
  bytes = 0
  failedRecords = 0
  readonly startedAt = Date.now()
  /** One past the last offset the target acknowledged, per source partition ("topic:partition"). */
  #positions = new Map<string, bigint>()
  /** What was copied and committed per source partition ("topic:partition"). */
  readonly partitions = new Map<string, PartitionCounters>()
  /** Failed fetch and produce attempts by operation and Kafka error name ("fetch NOT_LEADER_OR_FOLLOWER"). */
  readonly errors = new Map<string, number>()
  /** Failed attempts that were tried again, by operation. */
  readonly retries = { fetch: 0, send: 0 }
  /** Assignments the group handed this process's consumers (each join after a rebalance). */
  rebalances = 0
  /**
   * Partitions reconciled with the target on assignment (reconcile.ts): matched (records past the
   * committed offset found there: `recordsFound`, not copied again) or fallen back to the
   * committed offset because the target did not match the commit (`fallbacks`).
   */
  readonly reconciliation = { matched: 0, fallbacks: 0, recordsFound: 0 }
  /** The last lag probe: per partition, and when it ran (0: never). */
  lag: PartitionLag[] = []
  lagAt = 0
  /** Whether the last probes reached each cluster; undefined until the first. */
  connected: { source: boolean | undefined, target: boolean | undefined } = { source: undefined, target: undefined }
  /** (time, records, bytes) every second or so, for the rates of the last few seconds. */
  #samples: Array<{ at: number, records: number, bytes: number }> = []
  /** --once: where each partition starts and ends. */
  #plan = new Map<string, { topic: string, from: bigint, to: bigint }>()
  #lastRecords = 0
  #lastBytes = 0
  #lastAt = Date.now()

  planPartition (topic: string, key: string, from: bigint, to: bigint): void {
    this.#plan.set(key, { topic, from, to })
  }

  plannedStart (key: string): bigint | undefined {
    return this.#plan.get(key)?.from
  }

  position (key: string): bigint | undefined {
    return this.#positions.get(key)
  }

  /**
   * The target acknowledged `records` records of a source partition; everything before
   * `nextOffset`, when given, is on the target.
   */
  recordDelivered (topic: string, partition: number, records: number, bytes: number, nextOffset: bigint | undefined): void {
    this.records += records
    this.bytes += bytes
    const key = `${topic}:${partition}`
    const counters = this.#counters(topic, partition, key)
    counters.records += records
    counters.bytes += bytes
    if (nextOffset === undefined) return
    const at = this.#positions.get(key)
    if (at === undefined || nextOffset > at) this.#positions.set(key, nextOffset)
  }

  #counters (topic: string, partition: number, key = `${topic}:${partition}`): PartitionCounters {
    let c = this.partitions.get(key)
    if (c === undefined) this.partitions.set(key, c = { topic, partition, records: 0, bytes: 0, commits: 0, lastCommitAt: 0, committedOffset: undefined })
    return c
  }

  /** Offsets the group committed for these partitions just now. */
  recordCommits (offsets: Iterable<{ topic: string, partition: number, offset: bigint }>): void {
    const now = Date.now()
    for (const o of offsets) {
      const c = this.#counters(o.topic, o.partition)
      c.commits++
      c.lastCommitAt = now
      c.committedOffset = o.offset
    }
  }

  recordError (operation: 'fetch' | 'send', name: string, retried: boolean): void {
    const key = `${operation} ${name}`
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1)
    if (retried) this.retries[operation]++
  }

  /** Failed attempts of one operation, all error names together. */
  errorCount (operation: 'fetch' | 'send'): number {
    let n = 0
    for (const [key, count] of this.errors) if (key.startsWith(`${operation} `)) n += count
    return n
  }

  /** When records were last seen acknowledged (by sample()); the start until then. */
  progressAt = Date.now()

  /** Takes a (records, bytes) sample; keeps the last minute. */
  sample (now = Date.now()): void {
    const last = this.#samples.at(-1)
    if (this.records > (last?.records ?? 0)) this.progressAt = now
    this.#samples.push({ at: now, records: this.records, bytes: this.bytes })
    while (this.#samples.length > 2 && now - this.#samples[0].at > 60_000) this.#samples.shift()
  }

  /** Records and bytes per second over about the last `windowMs` (since start when younger). */
  rates (windowMs = 10_000, now = Date.now()): { recordsPerSecond: number, bytesPerSecond: number } {
    const from = this.#samples.find(s => now - s.at <= windowMs) ?? { at: this.startedAt, records: 0, bytes: 0 }
    const seconds = (now - from.at) / 1000
    if (seconds <= 0.05) return { recordsPerSecond: 0, bytesPerSecond: 0 }
    return { recordsPerSecond: (this.records - from.records) / seconds, bytesPerSecond: (this.bytes - from.bytes) / seconds }
  }

  /** Sum of the last probe's lag; undefined when any partition's is unknown or none was probed. */
  lagTotals (): { lagRecords: number | undefined, lagSeconds: number | undefined } {
    if (this.lagAt === 0) return { lagRecords: undefined, lagSeconds: undefined }
    let records: number | undefined = 0
    let seconds: number | undefined = 0
    for (const p of this.lag) {
      records = records === undefined || p.lagRecords === undefined ? undefined : records + p.lagRecords
      seconds = seconds === undefined || p.lagSeconds === undefined ? undefined : Math.max(seconds, p.lagSeconds)
    }
    return { lagRecords: records, lagSeconds: seconds }
  }

  recordFailed (count: number): void {
    this.failedRecords += count
  }

  /** Ranges of source records gone before they were copied (--on.data.loss continue goes on past them). */
  readonly gaps: Array<{ topic: string, partition: number, from: bigint, to: bigint }> = []

  recordGap (topic: string, partition: number, from: bigint, to: bigint): void {
    this.gaps.push({ topic, partition, from, to })
  }

  progress (): TopicProgress[] {
    const byTopic = new Map<string, TopicProgress>()
    for (const [key, p] of this.#plan) {
      const t = byTopic.get(p.topic) ?? { topic: p.topic, planned: 0n, copied: 0n }
      const span = p.to > p.from ? p.to - p.from : 0n
      const at = this.#positions.get(key) ?? p.from
      t.planned += span
      t.copied += at > p.from ? (at > p.to ? span : at - p.from) : 0n
      byTopic.set(p.topic, t)
    }
    return [...byTopic.values()].sort((a, b) => a.topic.localeCompare(b.topic))
  }

  /**
   * The periodic status line: each value once, as a field under a stable key (no key per topic,
   * none with / or %), so log collectors can index them.
   */
  statusLine (lag: bigint | undefined, lagSeconds?: number): StatusLine {
    const now = Date.now()
    const seconds = Math.max(0.001, (now - this.#lastAt) / 1000)
    const rate = (this.records - this.#lastRecords) / seconds
    const mbRate = (this.bytes - this.#lastBytes) / MB / seconds
    this.#lastRecords = this.records
    this.#lastBytes = this.bytes
    this.#lastAt = now
    const fields: Record<string, string | number> = { records: this.records, recordsPerSecond: Math.round(rate), megabytesPerSecond: Number(mbRate.toFixed(2)) }
    if (lag !== undefined) fields.lagRecords = Number(lag)
    if (lagSeconds !== undefined) fields.lagSeconds = Number(lagSeconds.toFixed(3))
    if (this.gaps.length > 0) fields.gaps = this.gaps.length
    const progress = this.progress()
    if (progress.length > 0) {
      const planned = progress.reduce((s, t) => s + t.planned, 0n)
      const copied = progress.reduce((s, t) => s + t.copied, 0n)
      fields.percent = planned === 0n ? 100 : Number((copied * 10000n) / planned) / 100
      fields.plannedRecords = Number(planned)
      const remaining = Number(planned - copied)
      if (rate > 0) fields.etaSeconds = Math.ceil(remaining / rate)
      // One field for every topic: "orders=50.0,payments=100.0" (percent copied).
      fields.topicsPercent = progress.map(t => `${t.topic}=${t.planned === 0n ? '100.0' : (Number((t.copied * 1000n) / t.planned) / 10).toFixed(1)}`).join(',')
    }
    return { text: 'status', fields }
  }

  summary (): MirrorSummary {
    const elapsedMs = Date.now() - this.startedAt
    const seconds = Math.max(0.001, elapsedMs / 1000)
    return {
      records: this.records,
      bytes: this.bytes,
      failedRecords: this.failedRecords,
      elapsedMs,
      recordsPerSecond: Math.round(this.records / seconds),
      megabytesPerSecond: Number((this.bytes / MB / seconds).toFixed(2)),
      topics: this.progress()
    }
  }
}
