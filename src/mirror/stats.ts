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

const MB = 1024 * 1024

export class MirrorStats {
  records = 0
  bytes = 0
  failedRecords = 0
  readonly startedAt = Date.now()
  /** One past the last offset the target acknowledged, per source partition ("topic:partition"). */
  #positions = new Map<string, bigint>()
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
    if (nextOffset === undefined) return
    const key = `${topic}:${partition}`
    const at = this.#positions.get(key)
    if (at === undefined || nextOffset > at) this.#positions.set(key, nextOffset)
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

  statusLine (lag: bigint | undefined): StatusLine {
    const now = Date.now()
    const seconds = Math.max(0.001, (now - this.#lastAt) / 1000)
    const rate = (this.records - this.#lastRecords) / seconds
    const mbRate = (this.bytes - this.#lastBytes) / MB / seconds
    this.#lastRecords = this.records
    this.#lastBytes = this.bytes
    this.#lastAt = now
    const fields: Record<string, string | number> = { records: this.records, 'records/s': Math.round(rate), 'MB/s': Number(mbRate.toFixed(2)) }
    let text = `copied ${this.records} records, ${Math.round(rate)} records/s, ${mbRate.toFixed(2)} MB/s`
    if (lag !== undefined) {
      fields.lag = Number(lag)
      text += `, lag ${lag} records`
    }
    if (this.gaps.length > 0) {
      fields.gaps = this.gaps.length
      text += `, ${this.gaps.length} gap(s) of records lost at the source`
    }
    const progress = this.progress()
    if (progress.length > 0) {
      const planned = progress.reduce((s, t) => s + t.planned, 0n)
      const copied = progress.reduce((s, t) => s + t.copied, 0n)
      const percent = planned === 0n ? 100 : Number((copied * 10000n) / planned) / 100
      const remaining = Number(planned - copied)
      const eta = rate > 0 ? Math.ceil(remaining / rate) : undefined
      fields.percent = percent
      text += `, ${percent.toFixed(1)}% of ${planned} records${eta !== undefined ? `, ETA ${eta} s` : ''}`
      for (const t of progress) fields[`%${t.topic}`] = t.planned === 0n ? 100 : Number((t.copied * 1000n) / t.planned) / 10
    }
    return { text, fields }
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
