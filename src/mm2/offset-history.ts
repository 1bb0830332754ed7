// Where each copied source record went on the target, per source partition, as runs: source
// offsets [upstream, upstreamEnd) went to the target partition of the same number from offset
// `downstream` on, `records` records in order. A run is `exact` when every source offset of it is a
// copied record (records == upstreamEnd - upstream): then source offset s is at target offset
// downstream + (s - upstream). A run that is not exact (transaction markers, aborted records or
// compaction gaps inside it) knows only its ends; an offset inside it is counted on the source
// when asked (a `RecordCounter`), or translated to the run's start (re-read, never skipped).
//
// Invariants:
// - Runs of a partition are sorted by upstream and do not overlap. A run that starts before the
//   end of the last one is a rewind (the same records copied again after a restart, or a source
//   topic whose offsets started over): runs from that offset on are dropped, the one it cuts is
//   cut, so translation follows the newest copy (no re-read of the duplicates).
// - Translating a committed offset c gives the target offset of the first copied record whose
//   source offset is >= c: the next record the group would read. Where the history cannot prove
//   it, a lower bound (the group re-reads, never skips) flagged not exact. Never past what the
//   target acknowledged: an offset past the last run is translated only when the mirror's position
//   shows nothing but dropped records (markers) lie between, else not yet.
// - Adjacent exact runs that continue each other on both sides are one run: a steady copy is one
//   run per partition, so the history grows only where the source→target offset difference changes.

export interface OffsetRun {
  upstream: bigint
  upstreamEnd: bigint
  /** -1n: the target did not say where the batch went (a resend it already had). */
  downstream: bigint
  records: bigint
}

export interface Translation {
  downstream: bigint
  /** False when the offset fell where only a lower bound is known (the group re-reads a few records). */
  exact: boolean
}

/** Counts the records the mirror copies from source offsets [from, to) of a partition; undefined when it cannot tell. */
export type RecordCounter = (topic: string, partition: number, from: bigint, to: bigint) => Promise<bigint | undefined>

export function isExact (run: OffsetRun): boolean {
  return run.downstream >= 0n && run.records === run.upstreamEnd - run.upstream
}

export interface RunChange {
  topic: string
  partition: number
  /** The run as it is now; undefined: the run that started at `upstream` is gone. */
  run: OffsetRun | undefined
  upstream: bigint
}

export class OffsetHistory {
  #runs = new Map<string, OffsetRun[]>()
  /** Runs changed since the last drain, keyed "topic:partition:upstream". */
  #changed = new Map<string, RunChange>()

  static key (topic: string, partition: number): string {
    return `${topic}:${partition}`
  }

  runs (topic: string, partition: number): readonly OffsetRun[] {
    return this.#runs.get(OffsetHistory.key(topic, partition)) ?? []
  }

  /** The partitions the history knows, as "topic:partition" keys split back. */
  partitions (): Array<{ topic: string, partition: number }> {
    return [...this.#runs.keys()].map(k => { const i = k.lastIndexOf(':'); return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)) } })
  }

  get size (): number {
    let n = 0
    for (const runs of this.#runs.values()) n += runs.length
    return n
  }

  /** A run read back from the history topic (at start): taken as it is, without reporting a change. */
  load (topic: string, partition: number, run: OffsetRun | undefined, upstream: bigint): void {
    const key = OffsetHistory.key(topic, partition)
    const runs = this.#runs.get(key) ?? []
    const i = runs.findIndex(r => r.upstream === upstream)
    if (i >= 0) runs.splice(i, 1)
    if (run !== undefined) {
      let at = runs.length
      while (at > 0 && runs[at - 1].upstream > run.upstream) at--
      runs.splice(at, 0, run)
    }
    if (runs.length > 0) this.#runs.set(key, runs)
    else this.#runs.delete(key)
  }

  /** One acknowledged target batch: source offsets [upstream, upstreamEnd) as `records` records from target offset `downstream`. */
  add (topic: string, partition: number, upstream: bigint, upstreamEnd: bigint, downstream: bigint, records: bigint): void {
    const key = OffsetHistory.key(topic, partition)
    let runs = this.#runs.get(key)
    if (runs === undefined) this.#runs.set(key, runs = [])
    const last = runs.at(-1)
    if (last !== undefined && upstream < last.upstreamEnd) this.#rewind(topic, partition, runs, upstream)
    const tail = runs.at(-1)
    const batch = { upstream, upstreamEnd, downstream, records }
    if (tail !== undefined && isExact(tail) && isExact(batch) && tail.upstreamEnd === upstream && tail.downstream + tail.records === downstream) {
      tail.upstreamEnd = upstreamEnd
      tail.records += records
      this.#note(topic, partition, tail)
      return
    }
    runs.push(batch)
    this.#note(topic, partition, batch)
  }

  #rewind (topic: string, partition: number, runs: OffsetRun[], upstream: bigint): void {
    while (runs.length > 0 && runs[runs.length - 1].upstream >= upstream) {
      const gone = runs.pop()!
      this.#changed.set(`${topic}:${partition}:${gone.upstream}`, { topic, partition, run: undefined, upstream: gone.upstream })
    }
    const cut = runs.at(-1)
    if (cut === undefined || cut.upstreamEnd <= upstream) return
    if (isExact(cut)) {
      cut.records = upstream - cut.upstream
      cut.upstreamEnd = upstream
      this.#note(topic, partition, cut)
    } else {
      runs.pop()
      this.#changed.set(`${topic}:${partition}:${cut.upstream}`, { topic, partition, run: undefined, upstream: cut.upstream })
    }
  }

  #note (topic: string, partition: number, run: OffsetRun): void {
    this.#changed.set(`${topic}:${partition}:${run.upstream}`, { topic, partition, run: { ...run }, upstream: run.upstream })
  }

  /** The runs changed (or gone) since the last call: what the history topic must be told. */
  drainChanges (): RunChange[] {
    const changes = [...this.#changed.values()]
    this.#changed.clear()
    return changes
  }

  /** Changes a failed write did not deliver: written at the next drain, unless a newer change of the same run came since. */
  requeue (changes: RunChange[]): void {
    for (const c of changes) {
      const key = `${c.topic}:${c.partition}:${c.upstream}`
      if (!this.#changed.has(key)) this.#changed.set(key, c)
    }
  }

  /** Runs that end at or before `logStart` describe records gone from the source: dropped (and reported as gone). */
  forgetBefore (topic: string, partition: number, logStart: bigint): number {
    const runs = this.#runs.get(OffsetHistory.key(topic, partition))
    if (runs === undefined) return 0
    let n = 0
    // The last run is kept whatever its age: it places the next record.
    while (runs.length > 1 && runs[0].upstreamEnd <= logStart) {
      const gone = runs.shift()!
      this.#changed.set(`${topic}:${partition}:${gone.upstream}`, { topic, partition, run: undefined, upstream: gone.upstream })
      n++
    }
    return n
  }

  /**
   * The target offset of the next record a group at source offset `committed` would read, or
   * undefined when it cannot be known yet (before the history starts, or past what was copied).
   * `copiedTo`: one past the last source offset the mirror accounted for (markers included).
   */
  async translate (topic: string, partition: number, committed: bigint, copiedTo?: bigint, count?: RecordCounter): Promise<Translation | undefined> {
    const runs = this.#runs.get(OffsetHistory.key(topic, partition))
    if (runs === undefined || runs.length === 0 || committed < runs[0].upstream) return undefined
    // The last run starting at or before `committed`.
    let lo = 0
    let hi = runs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (runs[mid].upstream <= committed) lo = mid
      else hi = mid - 1
    }
    const run = runs[lo]
    const next = runs[lo + 1]
    if (committed < run.upstreamEnd) {
      if (run.downstream < 0n) return this.#before(runs, lo)
      if (committed === run.upstream) return { downstream: run.downstream, exact: true }
      if (isExact(run)) return { downstream: run.downstream + (committed - run.upstream), exact: true }
      const counted = count === undefined ? undefined : await count(topic, partition, run.upstream, committed).catch(() => undefined)
      if (counted !== undefined && counted <= run.records) return { downstream: run.downstream + counted, exact: true }
      return { downstream: run.downstream, exact: false }
    }
    // Past this run: the next record copied is at the run's target end. Exact when the next run
    // starts there (nothing copied in between); else a lower bound, in case records between were
    // copied but their run never reached the history (a crash before it was written).
    if (run.downstream < 0n) return next === undefined ? undefined : this.#before(runs, lo + 1)
    const end = run.downstream + run.records
    if (next !== undefined) return { downstream: end, exact: next.downstream === end }
    if (committed === run.upstreamEnd) return { downstream: end, exact: true }
    if (copiedTo !== undefined && copiedTo >= committed) return { downstream: end, exact: false }
    return undefined
  }

  /** Where a run whose target offsets are unknown starts, at least: the end of the known run before it. */
  #before (runs: OffsetRun[], index: number): Translation | undefined {
    for (let i = index - 1; i >= 0; i--) {
      if (runs[i].downstream >= 0n) return { downstream: runs[i].downstream + runs[i].records, exact: false }
    }
    return undefined
  }
}
