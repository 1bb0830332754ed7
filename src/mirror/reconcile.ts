// Reconciliation (issue 15): when a member gets a source partition, the records the target already
// holds past the group's committed offset are not copied again, without transactions. The mirror
// is the only writer of its target partitions.
//
// Invariants:
// - The commit's metadata. With each offset c committed for source partition S, the commit's
//   metadata (encodeTargetPositions) names, for each target partition P that S writes to, a target
//   offset x_P such that every record of S at or after c this mirror wrote on P (since S was last
//   assigned) is at or after x_P. A TargetTrack per source partition state keeps what it needs:
//   per P, the target base offset of each acknowledged batch carrying S's records with the end of
//   its source span, and the end of the last one; at assignment, before anything is written, the
//   target's end offsets. x_P is the base of the first batch on P whose span ends after c; when
//   there is none, the end of the last batch the target producer got acknowledged on P (of any
//   source partition): the idempotent producer keeps a target partition's batches in order, and a
//   source partition's records go to it in source order, so a record not acknowledged yet lands
//   after it. Starting positions are committed at once with their x_P (a crash before the first
//   interval is reconciled too), and an idle partition's commit is made again every 10 s with
//   fresh ones, so the window a new owner reads stays about one commit interval long.
//   x_P is "tight" when, besides, no record of S before c is at or after x_P on P; it is not when a
//   batch was acknowledged without its base offset (a resend the broker already had), until the
//   next one with a known base.
// - Matching, on assignment (Reconciler.reconcile), from the committed offset c and {x_P}:
//   `--partitioning source` (P is S's number, one writer): the records from x_P to P's end must
//   equal, one by one, the records of S from c (control records and, with read_committed,
//   aborted ones skipped; compaction gaps are just offsets missing): the copy resumes after the
//   last one. Only a tight x_P is written for this partitioning.
//   `--partitioning key`: each record of S from c goes to partitionForKey(key) (a keyless one to
//   any P); it is on the target when an equal record (timestamp, key, value, headers, byte for
//   byte) stands on that P at or after x_P and after the record matched before it for S on that
//   P. Records of other source partitions are interleaved on P and skipped over. Per P, S's
//   records form a prefix: the first one missing on P closes P (every later record of S for P is
//   missing too). The copy resumes at the first missing record; records after it already on
//   their P are skipped, by source offset (PartitionState.skip, KeyRouter's skip).
// - What is guaranteed: a record is taken as copied only when an equal record (same timestamp,
//   key, value and headers, byte for byte) stands where its copy would be, so no record is lost
//   unless two source partitions hold equal records of the same key written in the same window
//   since the last commit (then one may be taken for the other). Sources partitioned by key, as
//   Kafka's producers do, never have that: a key lives in one source partition.
// - Fallback: when the target does not match the metadata (another writer's records, a target
//   topic made again (another topic id or partition count), x_P past the end or before the log
//   start, the time budget spent), the copy resumes at the committed offset and it is reported
//   (warn line, `reconciled` with outcome 'fallback'): duplicates, never a skipped record. A
//   foreign record is seen with `--partitioning source` always, with key partitioning when the
//   member reconciles every partition of the topic at once with tight bounds (one stream, a
//   full restart); otherwise foreign records are skipped over and nothing of them is taken.
// - The group's offset is read again with its metadata: when it is past the one the member read
//   (the last owner's hand-over commit landed meanwhile), that one is used.
// - Key partitioning, on a rebalance: a batch not sent yet that carries records of partitions
//   that moved away and of kept ones is encoded again without the moved ones (worker.ts
//   #dropMixed), so they cannot land after their new owner read the target.
// - Not reconciled: a position from outside the group (MirrorMaker 2's, trusted as it is), a
//   commit without metadata (first start, an older kafka-mirror), metadata that does not fit the
//   broker's offset.metadata.max.bytes (4096 by default: said once per partition in the log).
// - A zombie member (frozen past its session timeout, or cut off) writes nothing once its group
//   has not vouched for it for nearly a session, nor while it rejoins (the worker's write gate),
//   so what it held goes to no target after the new owner read it. A member that takes
//   partitions reads the target only once every request its own process wrote to the topic
//   before was answered (worker.ts, RawProducer.writtenSettled): a member cut off, whose requests
//   were held up in the network, does not copy again what they carry. Not reachable without
//   transactions: a request another process (a frozen member on another host, a killed one)
//   had already written, which the broker appends after the new owner read the target: those
//   records are copied twice. Nothing is lost.
// - Bounded: reading stops at the deadline (RECONCILE_DEADLINE_MS); the time taken is logged.
//   An assignment is reconciled at once, every topic together: one Metadata request and one
//   ListOffsets per broker for the target, one OffsetFetch for the group, then up to
//   READS_IN_FLIGHT partition reads in flight; a target partition holding nothing past x_P is not
//   read, nor, with key partitioning, the source when no target partition holds anything to match.
//   A failure falls back for its target topic only, or for all when a shared request fails.
import { Admin } from '@platformatic/kafka'
import type { SourceSettings, TargetSettings } from '../config/mirror-config.ts'
import { describeCause } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import type { AbortedTransaction } from '../kafka/raw/fetch-v12.ts'
import { RawFetcher } from '../kafka/raw/raw-fetcher.ts'
import { PartitionReader, dataBatches } from '../kafka/raw/partition-reader.ts'
import { RecordCursor, type RecordBatch } from '../kafka/raw/record-batch.ts'
import type { Logger } from '../log.ts'
import { partitionKey } from './offset-committer.ts'
import { partitionForKey } from './partitioner.ts'

/** The broker's default offset.metadata.max.bytes: longer metadata is not written. */
export const MAX_METADATA_BYTES = 4096
/** How long one assignment's reconciliation may read before it falls back to the committed offsets. */
export const RECONCILE_DEADLINE_MS = 30_000
const PREFIX = 'km1'

// ---- The commit's metadata ----

export interface TargetPositions {
  /** The start of the target topic's id: another id means the topic was made again. */
  topicId: string
  /** The target topic's partition count when committed. */
  partitions: number
  /** x_P per target partition P. */
  offsets: Map<number, { offset: bigint, tight: boolean }>
}

/** `km1;<topic id start>;<partitions>;<P>.<x>[~],...` (base 36; `~`: not tight). */
export function encodeTargetPositions (p: TargetPositions): string {
  const entries: string[] = []
  for (const [partition, { offset, tight }] of [...p.offsets].sort((a, b) => a[0] - b[0])) entries.push(`${partition.toString(36)}.${offset.toString(36)}${tight ? '' : '~'}`)
  return `${PREFIX};${p.topicId};${p.partitions.toString(36)};${entries.join(',')}`
}

/** undefined for metadata kafka-mirror did not write (or cannot read). */
export function decodeTargetPositions (metadata: string | null | undefined): TargetPositions | undefined {
  if (metadata === null || metadata === undefined) return undefined
  const parts = metadata.split(';')
  if (parts.length !== 4 || parts[0] !== PREFIX) return undefined
  const partitions = parseInt(parts[2], 36)
  if (!Number.isInteger(partitions) || partitions <= 0) return undefined
  const offsets = new Map<number, { offset: bigint, tight: boolean }>()
  if (parts[3] !== '') {
    for (const entry of parts[3].split(',')) {
      const m = /^([0-9a-z]+)\.([0-9a-z]+)(~?)$/.exec(entry)
      if (m === null) return undefined
      let offset = 0n
      for (const ch of m[2]) offset = offset * 36n + BigInt(parseInt(ch, 36))
      offsets.set(parseInt(m[1], 36), { offset, tight: m[3] === '' })
    }
  }
  return { topicId: parts[1], partitions, offsets }
}

/** The part of a topic id kept in the metadata. */
export const shortTopicId = (id: string | undefined): string => (id ?? '').replaceAll('-', '').slice(0, 12)

// ---- Where a source partition's records are on the target ----

interface Landing {
  /** One past the last source offset of the records it holds (of this source partition). */
  sourceNext: bigint
  /** A target offset at or before its first record. */
  targetBase: bigint
  tight: boolean
}

/** Per source partition state: what x_P to commit with each committable offset. */
export class TargetTrack {
  readonly topicId: string
  readonly partitions: number
  /** Per target partition: landings not yet behind the committed offset, in target order. */
  #landings = new Map<number, Landing[]>()
  #lastEnd = new Map<number, { offset: bigint, tight: boolean, producerEndAt?: bigint }>()
  #producerEnd: (partition: number) => bigint | undefined
  /** Target partitions this source partition writes to: every one (key), or its own (source). */
  #only: number | undefined
  #tooLong = false

  /**
   * `ends`: the target's end offsets before this member wrote anything for the partition.
   * `producerEnd`: the end of the last batch the target producer got acknowledged on a target
   * partition (any source partition's): a record not acknowledged yet lands after it.
   */
  constructor (topicId: string, partitions: number, ends: Map<number, bigint>, only?: number, producerEnd: (partition: number) => bigint | undefined = () => undefined) {
    this.topicId = topicId
    this.partitions = partitions
    this.#only = only
    this.#producerEnd = producerEnd
    for (const [p, end] of ends) if (only === undefined || p === only) this.#lastEnd.set(p, { offset: end, tight: true })
  }

  /** A record of this source partition found on the target (reconciliation), not to be written again. */
  found (partition: number, sourceOffset: bigint, targetOffset: bigint): void {
    this.#push(partition, { sourceNext: sourceOffset + 1n, targetBase: targetOffset, tight: true })
  }

  /** An acknowledged target batch with records of the source span ending at `sourceNext`; baseOffset -1 when unknown. */
  written (partition: number, baseOffset: bigint, records: number, sourceNext: bigint): void {
    const last = this.#lastEnd.get(partition)
    if (last === undefined) return
    if (baseOffset >= 0n) {
      this.#push(partition, { sourceNext, targetBase: baseOffset, tight: true })
      this.#lastEnd.set(partition, { offset: baseOffset + BigInt(records), tight: true })
    } else {
      this.#push(partition, { sourceNext, targetBase: last.offset, tight: false })
      this.#lastEnd.set(partition, { offset: last.offset, tight: false, producerEndAt: this.#producerEnd(partition) ?? -1n })
    }
  }

  #push (partition: number, landing: Landing): void {
    let list = this.#landings.get(partition)
    if (list === undefined) this.#landings.set(partition, list = [])
    list.push(landing)
  }

  /** x_P for committing `offset` (landings behind it are forgotten); only tight ones when `tightOnly`. */
  positions (offset: bigint, tightOnly: boolean): TargetPositions {
    const offsets = new Map<number, { offset: bigint, tight: boolean }>()
    for (const [p, last] of this.#lastEnd) {
      const list = this.#landings.get(p)
      let drop = 0
      while (list !== undefined && drop < list.length && list[drop].sourceNext <= offset) drop++
      if (drop > 0) list!.splice(0, drop)
      const head = list?.[0]
      let x = head !== undefined ? { offset: head.targetBase, tight: head.tight } : { offset: last.offset, tight: last.tight }
      // None of this partition's records past `offset` is acknowledged on P: they land after
      // everything the producer got acknowledged there, which keeps the window to read small.
      const end = head === undefined ? this.#producerEnd(p) : undefined
      if (end !== undefined && end > x.offset) x = { offset: end, tight: last.tight || end > (last.producerEndAt ?? -1n) }
      if (!tightOnly || x.tight) offsets.set(p, x)
    }
    return { topicId: this.topicId, partitions: this.partitions, offsets }
  }

  /** The commit's metadata for `offset`, or null (said once in the log) when it does not fit. */
  metadata (offset: bigint, tightOnly: boolean, log?: Logger, key?: string): string | null {
    const positions = this.positions(offset, tightOnly)
    if (positions.offsets.size === 0) return null
    const text = encodeTargetPositions(positions)
    if (Buffer.byteLength(text) <= MAX_METADATA_BYTES) return text
    if (!this.#tooLong) log?.warn({ partition: key, bytes: Buffer.byteLength(text), limit: MAX_METADATA_BYTES }, 'the target positions do not fit the offset commit\'s metadata: this partition is not reconciled on a restart (records copied but not committed may be copied again)')
    this.#tooLong = true
    return null
  }
}

// ---- Matching ----

/** A record as matching sees it: its timestamp and its key, value and headers as bytes. */
export interface RecordView {
  offset: bigint
  timestamp: number
  /** Null for a keyless record. */
  key: Buffer | null
  /** From the key length to the end of the headers, as the record batch has them. */
  tail: Buffer
}

const same = (a: RecordView, b: RecordView): boolean => a.timestamp === b.timestamp && a.tail.equals(b.tail)

export type MatchResult =
  | { kind: 'matched', resumeAt: bigint, found: Array<{ sourceOffset: bigint, partition: number, targetOffset: bigint }> }
  | { kind: 'mismatch', reason: string }

/**
 * `--partitioning source`: the target records from x_P must be the source records from the
 * committed offset, in order. Feed the source records as they are read; `done` says when to stop.
 */
export class SourceOrderMatcher {
  readonly #target: RecordView[]
  readonly #partition: number
  #matched: bigint[] = []
  #next: bigint
  #mismatch: string | undefined

  constructor (target: RecordView[], partition: number, committed: bigint) {
    this.#target = target
    this.#partition = partition
    this.#next = committed
  }

  get done (): boolean {
    return this.#mismatch !== undefined || this.#matched.length >= this.#target.length
  }

  feed (records: RecordView[]): void {
    for (const r of records) {
      if (this.done) return
      const t = this.#target[this.#matched.length]
      if (!same(t, r)) {
        this.#mismatch = `target offset ${t.offset} is not the source record at offset ${r.offset} (another writer, or a topic made again)`
        return
      }
      this.#matched.push(r.offset)
      this.#next = r.offset + 1n
    }
  }

  /** `sourceEnd`: the source was read to its end. */
  result (sourceEnd: boolean): MatchResult {
    if (this.#mismatch !== undefined) return { kind: 'mismatch', reason: this.#mismatch }
    const left = this.#target.length - this.#matched.length
    if (left > 0) return { kind: 'mismatch', reason: sourceEnd ? `the target holds ${left} records more than the source has past the committed offset (another writer?)` : 'the time to reconcile ran out' }
    return { kind: 'matched', resumeAt: this.#next, found: this.#matched.map((sourceOffset, i) => ({ sourceOffset, partition: this.#partition, targetOffset: this.#target[i].offset })) }
  }
}

/**
 * `--partitioning key`: each source record is looked for on its target partition after the one
 * matched before it (see the invariants). `targets` holds, per target partition, its records
 * from this source partition's x_P on.
 */
export class KeyOrderMatcher {
  readonly #targets: Map<number, RecordView[]>
  readonly #partitions: number
  #cursor = new Map<number, number>()
  #closed = new Set<number>()
  #firstMissing: bigint | undefined
  #next: bigint
  #found: Array<{ sourceOffset: bigint, partition: number, targetOffset: bigint }> = []
  #missesSinceFound = 0
  #stopped = false

  constructor (targets: Map<number, RecordView[]>, partitions: number, committed: bigint) {
    this.#targets = targets
    this.#partitions = partitions
    this.#next = committed
    for (const p of targets.keys()) this.#cursor.set(p, 0)
    for (let p = 0; p < partitions; p++) if (!targets.has(p)) this.#closed.add(p)
  }

  /** Target records after the cursors of partitions still open: what could still match. */
  get #left (): number {
    let left = 0
    for (const [p, list] of this.#targets) if (!this.#closed.has(p)) left += list.length - this.#cursor.get(p)!
    return left
  }

  /** True at once when the target holds nothing past x_P: the source is not read at all. */
  get done (): boolean {
    return this.#stopped || this.#closed.size === this.#partitions || this.#left === 0
  }

  feed (records: RecordView[]): void {
    for (const r of records) {
      if (this.done) return
      const left = this.#left
      // Nothing more can match; or more misses in a row than records left: the rest is copied
      // (a record still there is copied twice, none skipped).
      if (left === 0 || this.#missesSinceFound > Math.max(1000, left)) {
        this.#stopped = true
        return
      }
      const candidates = r.key === null ? [...this.#targets.keys()].filter(p => !this.#closed.has(p)) : [partitionForKey(r.key, this.#partitions)]
      let hit: { p: number, j: number } | undefined
      for (const p of candidates) {
        if (this.#closed.has(p)) continue
        const list = this.#targets.get(p)!
        for (let j = this.#cursor.get(p)!; j < list.length; j++) {
          if (same(list[j], r)) {
            if (hit === undefined || j - this.#cursor.get(p)! < hit.j - this.#cursor.get(hit.p)!) hit = { p, j }
            break
          }
        }
      }
      if (hit !== undefined) {
        this.#cursor.set(hit.p, hit.j + 1)
        this.#found.push({ sourceOffset: r.offset, partition: hit.p, targetOffset: this.#targets.get(hit.p)![hit.j].offset })
        this.#missesSinceFound = 0
      } else {
        this.#firstMissing ??= r.offset
        this.#missesSinceFound++
        // Per target partition a source partition's records are a prefix: none after this one is there.
        if (r.key !== null) this.#closed.add(candidates[0])
      }
      this.#next = r.offset + 1n
    }
  }

  result (): MatchResult {
    return { kind: 'matched', resumeAt: this.#firstMissing ?? this.#next, found: this.#found }
  }
}

/** A record batch's records as RecordViews: `from` on, control batches and aborted records left out. */
export function recordViews (records: Buffer | null, from: bigint, aborted: AbortedTransaction[] | null, readCommitted: boolean): { views: RecordView[], next: bigint, truncatedBytes: number } {
  const views: RecordView[] = []
  const { batches, next, truncatedBytes } = dataBatches(records, from, aborted, readCommitted)
  for (const batch of batches) batchViews(batch, from, undefined, views)
  return { views, next, truncatedBytes }
}

/** The records of one data batch in [from, to) as RecordViews, added to `views` (older formats have none). */
function batchViews (batch: RecordBatch, from: bigint, to: bigint | undefined, views: RecordView[]): void {
  if (batch.magic !== 2) return
  const cursor = new RecordCursor(batch)
  while (cursor.next()) {
    const offset = batch.baseOffset + BigInt(cursor.offsetDelta)
    if (offset < from || (to !== undefined && offset >= to)) continue
    views.push({ offset, timestamp: cursor.timestamp, key: cursor.keyLength < 0 ? null : cursor.data.subarray(cursor.keyStart, cursor.keyStart + cursor.keyLength), tail: cursor.data.subarray(cursor.tailStart, cursor.end) })
  }
}

// ---- Reconciling an assignment ----

export interface ReconcileRequest {
  topic: string
  partition: number
  /** The group's committed offset the copy would start at; undefined: not from the group (not reconciled). */
  committed: bigint | undefined
  targetTopic: string
  /** Target partitions (key partitioning). */
  targetPartitions: number
}

export interface Reconciled {
  /** Where the copy starts. */
  position: bigint | undefined
  /** Key partitioning: source offsets at or after `position` already on the target. */
  skip?: Set<bigint>
  /** Undefined when the target could not be read: commits carry no metadata. */
  track: TargetTrack | undefined
  outcome: 'none' | 'matched' | 'fallback'
  /** Records past the committed offset found on the target. */
  found: number
  reason?: string
}

interface Clients { sourceAdmin: Admin, targetAdmin: Admin, sourceFetcher: RawFetcher, targetFetcher: RawFetcher, sourceReader: PartitionReader, targetReader: PartitionReader }

/** A partition to match: its committed offset's x_P, and whether they are all tight. */
interface Plan { r: ReconcileRequest, x: Map<number, bigint>, tight: boolean }

/** One target topic's part of an assignment's reconciliation. */
interface TopicReconcile {
  targetTopic: string
  requests: ReconcileRequest[]
  plans: Plan[]
  count?: number
  /** The target's end offsets when the reconciliation began. */
  ends?: Map<number, bigint>
  /** Per target partition, its records from the lowest x_P of the plans to `ends`. */
  target?: Map<number, RecordView[]>
  /** Reading failed: the topic's partitions not matched yet start at their committed offsets. */
  error?: unknown
}

/** Partition reads (target or source) in flight at once during a reconciliation. */
export const READS_IN_FLIGHT = 16

/** Runs `each` on every item, at most `limit` at once. */
async function inParallel<T> (items: T[], limit: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await each(items[next++])
  }))
}

export class Reconciler {
  #source: SourceSettings
  #target: TargetSettings
  #log: Logger
  #partitioning: 'key' | 'source'
  #clients: Clients | undefined
  #closed = false
  #producerEnd: (topic: string, partition: number) => bigint | undefined
  readonly deadlineMs: number

  /** `producerEnd`: the target producer's last acknowledged end on a target partition (TargetTrack). */
  constructor (source: SourceSettings, target: TargetSettings, log: Logger, partitioning: 'key' | 'source', producerEnd: (topic: string, partition: number) => bigint | undefined = () => undefined, deadlineMs = RECONCILE_DEADLINE_MS) {
    this.#producerEnd = producerEnd
    this.#source = source
    this.#target = target
    this.#log = log
    this.#partitioning = partitioning
    this.deadlineMs = deadlineMs
  }

  #open (): Clients {
    if (this.#clients === undefined) {
      const id = `${this.#source.clientId}-reconcile`
      const sourceFetcher = new RawFetcher(baseClientOptions(this.#source, `${id}-fetch`))
      const targetFetcher = new RawFetcher(baseClientOptions(this.#target, `${this.#target.clientId}-reconcile-fetch`))
      const closed = (): boolean => this.#closed
      this.#clients = {
        sourceAdmin: new Admin(baseClientOptions(this.#source, id)),
        targetAdmin: new Admin(baseClientOptions(this.#target, `${this.#target.clientId}-reconcile`)),
        sourceFetcher,
        targetFetcher,
        sourceReader: new PartitionReader(sourceFetcher, { backoffMs: 200, closed }),
        targetReader: new PartitionReader(targetFetcher, { backoffMs: 200, closed })
      }
    }
    return this.#clients
  }

  async close (): Promise<void> {
    this.#closed = true
    const c = this.#clients
    if (c === undefined) return
    await Promise.allSettled([c.sourceAdmin.close(), c.targetAdmin.close(), c.sourceFetcher.close(), c.targetFetcher.close()])
  }

  /**
   * Where each partition's copy starts, and its TargetTrack. Never throws: a failure leaves the
   * committed offsets (and is reported).
   *
   * Every target topic of the assignment is reconciled at once, so a hand-over of many partitions
   * costs a few round trips, not a few per topic: one Metadata request, one ListOffsets per broker
   * (ends, log starts), one OffsetFetch for every partition, then the target partitions and the
   * source partitions read with up to READS_IN_FLIGHT reads in flight.
   */
  async reconcile (requests: ReconcileRequest[]): Promise<Map<string, Reconciled>> {
    const results = new Map<string, Reconciled>()
    for (const r of requests) results.set(partitionKey(r.topic, r.partition), { position: r.committed, track: undefined, outcome: 'none', found: 0 })
    if (requests.length === 0 || this.#closed) return results
    const started = Date.now()
    const deadline = started + this.deadlineMs
    const byTarget = new Map<string, ReconcileRequest[]>()
    for (const r of requests) {
      let group = byTarget.get(r.targetTopic)
      if (group === undefined) byTarget.set(r.targetTopic, group = [])
      group.push(r)
    }
    let topics: TopicReconcile[] = []
    try {
      topics = await this.#prepare(byTarget, results)
    } catch (error) {
      for (const [targetTopic, group] of byTarget) this.#failed({ targetTopic, requests: group }, error, results)
    }
    await this.#readTargets(topics, deadline)
    await this.#match(topics, results, deadline)
    for (const t of topics) if (t.error !== undefined) this.#failed(t, t.error, results)
    const summary = [...results.values()]
    this.#log.info({ partitions: requests.length, topics: byTarget.size, matched: summary.filter(r => r.outcome === 'matched').length, fallbacks: summary.filter(r => r.outcome === 'fallback').length, recordsFound: summary.reduce((n, r) => n + r.found, 0), ms: Date.now() - started }, 'reconciled the assigned partitions with the target')
    return results
  }

  /** Reading a target topic or its source failed: its partitions not matched yet start at their committed offsets. */
  #failed (t: Pick<TopicReconcile, 'targetTopic' | 'requests'>, error: unknown, results: Map<string, Reconciled>): void {
    for (const r of t.requests) {
      const res = results.get(partitionKey(r.topic, r.partition))!
      if (res.outcome === 'matched' || r.committed === undefined) continue
      res.position = r.committed
      res.skip = undefined
      res.outcome = 'fallback'
      res.reason = `reading the target or the source failed: ${describeCause(error)}`
    }
    this.#log.warn({ targetTopic: t.targetTopic, err: describeCause(error) }, 'reconciling with the target failed: copying from the committed offsets')
  }

  #fallback (r: ReconcileRequest, reason: string, results: Map<string, Reconciled>): void {
    const res = results.get(partitionKey(r.topic, r.partition))!
    res.outcome = 'fallback'
    res.reason = reason
    res.position = r.committed
    res.skip = undefined
    this.#log.warn({ partition: partitionKey(r.topic, r.partition), committed: String(r.committed), targetTopic: r.targetTopic, reason }, 'the target does not match what the commit says: copying from the committed offset (records already there may be copied again; none is skipped)')
  }

  /**
   * The target topics' ids, partition counts, ends and log starts, and the group's commits with
   * their metadata, each asked once for every topic; gives each partition its TargetTrack and
   * returns, per target topic, what is to be matched.
   */
  async #prepare (byTarget: Map<string, ReconcileRequest[]>, results: Map<string, Reconciled>): Promise<TopicReconcile[]> {
    const { sourceAdmin, targetAdmin } = this.#open()
    const metadata = await targetAdmin.metadata({ topics: [...byTarget.keys()], forceUpdate: true })
    const shapes = new Map<string, { topicId: string, count: number }>()
    for (const targetTopic of byTarget.keys()) {
      const t = metadata.topics.get(targetTopic)
      if (t === undefined) throw new Error(`the target topic ${targetTopic} is not in the target's metadata`)
      shapes.set(targetTopic, { topicId: shortTopicId(t.id), count: t.partitionsCount })
    }
    const [ends, starts] = await Promise.all([-1n, -2n].map(async timestamp => {
      const answer = await targetAdmin.listOffsets({ topics: [...shapes].map(([name, { count }]) => ({ name, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })) })) })
      const m = new Map<string, Map<number, bigint>>()
      for (const tt of answer) {
        let topic = m.get(tt.name)
        if (topic === undefined) m.set(tt.name, topic = new Map())
        for (const p of tt.partitions) topic.set(p.partitionIndex, BigInt(p.offset))
      }
      return m
    }))
    // Every partition gets a track from the target's ends now, before it writes anything.
    const bySource = this.#partitioning === 'source'
    for (const [targetTopic, group] of byTarget) {
      const { topicId, count } = shapes.get(targetTopic)!
      for (const r of group) results.get(partitionKey(r.topic, r.partition))!.track = new TargetTrack(topicId, count, ends.get(targetTopic)!, bySource ? r.partition : undefined, p => this.#producerEnd(targetTopic, p))
    }
    const toMatch = [...byTarget.values()].flat().filter(r => r.committed !== undefined)
    if (toMatch.length === 0) return []
    // The committed offsets again, with their metadata (the consumer's own list has no metadata).
    const wanted = new Map<string, number[]>()
    for (const r of toMatch) wanted.set(r.topic, [...(wanted.get(r.topic) ?? []), r.partition])
    const committed = new Map<string, { offset: bigint, metadata: string | null }>()
    for (const g of await sourceAdmin.listConsumerGroupOffsets({ groups: [{ groupId: this.#source.groupId, topics: [...wanted].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }] })) {
      for (const tt of g.topics) for (const p of tt.partitions) committed.set(partitionKey(tt.name, p.partitionIndex), { offset: p.committedOffset, metadata: p.metadata ?? null })
    }
    const topics: TopicReconcile[] = []
    for (const [targetTopic, group] of byTarget) {
      const { topicId, count } = shapes.get(targetTopic)!
      const t: TopicReconcile = { targetTopic, requests: group, count, ends: ends.get(targetTopic)!, plans: this.#plans(group, topicId, count, ends.get(targetTopic)!, starts.get(targetTopic)!, committed, results) }
      if (t.plans.length > 0) topics.push(t)
    }
    return topics
  }

  /** Each request's x_P, checked against the target as it is now; a request that does not fit falls back. */
  #plans (requests: ReconcileRequest[], topicId: string, count: number, ends: Map<number, bigint>, starts: Map<number, bigint>, committed: Map<string, { offset: bigint, metadata: string | null }>, results: Map<string, Reconciled>): Plan[] {
    const bySource = this.#partitioning === 'source'
    const plans: Plan[] = []
    for (const r of requests) {
      if (r.committed === undefined) continue
      const c = committed.get(partitionKey(r.topic, r.partition))
      if (c === undefined || c.offset < r.committed) continue
      if (c.offset > r.committed) {
        // Committed again since the member read its offsets: the partition's last owner handed it
        // over (its acknowledged records). Everything before it is on the target: start from there.
        r.committed = c.offset
        results.get(partitionKey(r.topic, r.partition))!.position = c.offset
      }
      const positions = decodeTargetPositions(c.metadata)
      if (positions === undefined) continue
      if (positions.topicId !== topicId) { this.#fallback(r, `the target topic's id changed (${positions.topicId} in the commit, ${topicId} now): it was made again`, results); continue }
      if (positions.partitions !== count) { this.#fallback(r, `the target topic had ${positions.partitions} partitions at the commit and has ${count} now`, results); continue }
      const x = new Map<number, bigint>()
      let problem: string | undefined
      let tight = true
      for (const p of bySource ? [r.partition] : Array.from({ length: count }, (_, p) => p)) {
        const at = positions.offsets.get(p)
        if (at === undefined) { problem = `the commit names no target position for partition ${p}`; break }
        if (at.offset > ends.get(p)!) { problem = `target partition ${p} ends at ${ends.get(p)}, before ${at.offset} where the commit says this partition's records start (records gone, or the topic made again)`; break }
        if (at.offset < starts.get(p)!) { problem = `target partition ${p} starts at ${starts.get(p)}, after ${at.offset} (records deleted)`; break }
        if (!at.tight) tight = false
        x.set(p, at.offset)
      }
      if (problem !== undefined) { this.#fallback(r, problem, results); continue }
      plans.push({ r, x, tight })
    }
    return plans
  }

  /**
   * Each target partition read once, from the lowest x_P of its topic's plans to its end (none
   * when the target holds nothing past them). A topic whose read fails is left with its error.
   */
  async #readTargets (topics: TopicReconcile[], deadline: number): Promise<void> {
    const { targetFetcher, targetReader } = this.#open()
    const reads: Array<{ t: TopicReconcile, p: number, from: bigint }> = []
    for (const t of topics) {
      t.target = new Map()
      const from = new Map<number, bigint>()
      for (const { x } of t.plans) for (const [p, o] of x) if (!from.has(p) || o < from.get(p)!) from.set(p, o)
      for (const [p, o] of from) {
        if (o >= t.ends!.get(p)!) t.target.set(p, [])
        else reads.push({ t, p, from: o })
      }
    }
    if (reads.length === 0) return
    try {
      await targetFetcher.refresh([...new Set(reads.map(read => read.t.targetTopic))])
    } catch (error) {
      for (const t of topics) t.error ??= error
      return
    }
    await inParallel(reads, READS_IN_FLIGHT, async ({ t, p, from }) => {
      if (t.error !== undefined) return
      try {
        t.target!.set(p, await this.#read(targetReader, t.targetTopic, p, from, t.ends!.get(p)!, false, deadline))
      } catch (error) {
        t.error ??= error
      }
    })
  }

  /** Matches each plan's source records with the target's; key partitioning then looks for another writer's records. */
  async #match (topics: TopicReconcile[], results: Map<string, Reconciled>, deadline: number): Promise<void> {
    const { sourceFetcher, sourceReader } = this.#open()
    const bySource = this.#partitioning === 'source'
    const live = topics.filter(t => t.error === undefined)
    const matchers = live.flatMap(t => t.plans.map(plan => {
      const slice = (p: number, x: bigint): RecordView[] => {
        const list = t.target!.get(p)!
        let i = 0
        while (i < list.length && list[i].offset < x) i++
        return list.slice(i)
      }
      const c = plan.r.committed!
      const matcher = bySource
        ? new SourceOrderMatcher(slice(plan.r.partition, plan.x.get(plan.r.partition)!), plan.r.partition, c)
        : new KeyOrderMatcher(new Map([...plan.x].map(([p, o]) => [p, slice(p, o)])), t.count!, c)
      return { t, plan, matcher }
    }))
    // The source is read only where the target holds something to match.
    const toRead = matchers.filter(m => !m.matcher.done)
    if (toRead.length > 0) {
      try {
        await sourceFetcher.refresh([...new Set(toRead.map(m => m.plan.r.topic))])
      } catch (error) {
        for (const m of toRead) m.t.error ??= error
      }
    }
    const claimed = new Map<TopicReconcile, Map<number, Set<bigint>>>()
    await inParallel(matchers, READS_IN_FLIGHT, async ({ t, plan: { r }, matcher }) => {
      if (t.error !== undefined) return
      let sourceEnd: boolean
      try {
        sourceEnd = await this.#feedSource(sourceReader, r.topic, r.partition, r.committed!, matcher, deadline)
      } catch (error) {
        t.error ??= error
        return
      }
      const result = matcher instanceof SourceOrderMatcher ? matcher.result(sourceEnd) : matcher.result()
      if (result.kind === 'mismatch') { this.#fallback(r, result.reason, results); return }
      const res = results.get(partitionKey(r.topic, r.partition))!
      res.outcome = 'matched'
      res.position = result.resumeAt
      res.found = result.found.length
      let byPartition = claimed.get(t)
      if (byPartition === undefined) claimed.set(t, byPartition = new Map())
      const skip = new Set<bigint>()
      for (const f of result.found) {
        let set = byPartition.get(f.partition)
        if (set === undefined) byPartition.set(f.partition, set = new Set())
        set.add(f.targetOffset)
        if (f.sourceOffset >= result.resumeAt) {
          skip.add(f.sourceOffset)
          res.track!.found(f.partition, f.sourceOffset, f.targetOffset)
        }
      }
      if (skip.size > 0) res.skip = skip
      if (result.found.length > 0) this.#log.info({ partition: partitionKey(r.topic, r.partition), committed: String(r.committed), resumeAt: String(result.resumeAt), found: result.found.length, skipped: skip.size }, 'records past the committed offset are already on the target: not copied again')
    })
    if (!bySource) await this.#foreignRecords(live.filter(t => t.error === undefined), claimed, results)
  }

  /**
   * Key partitioning, every partition of a topic here with tight bounds: a record past every x_P
   * that none of them claimed was written by someone else, and the topic's partitions fall back.
   */
  async #foreignRecords (topics: TopicReconcile[], claimed: Map<TopicReconcile, Map<number, Set<bigint>>>, results: Map<string, Reconciled>): Promise<void> {
    const candidates = topics.filter(t => t.plans.every(pl => pl.tight) && new Set(t.plans.map(pl => pl.r.topic)).size === 1)
    if (candidates.length === 0) return
    const { sourceAdmin } = this.#open()
    const sourceTopics = [...new Set(candidates.map(t => t.plans[0].r.topic))]
    let metadata: Awaited<ReturnType<Admin['metadata']>>
    try {
      metadata = await sourceAdmin.metadata({ topics: sourceTopics })
    } catch (error) {
      // Not known: no other writer is looked for (as when a member holds only some partitions).
      this.#log.debug({ err: describeCause(error) }, 'the source metadata for looking for another writer on the target failed')
      return
    }
    for (const t of candidates) {
      if (metadata.topics.get(t.plans[0].r.topic)?.partitionsCount !== new Set(t.plans.map(pl => pl.r.partition)).size) continue
      for (const [p, list] of t.target!) {
        let high = -1n
        for (const { x } of t.plans) if (x.get(p)! > high) high = x.get(p)!
        const foreign = list.find(v => v.offset >= high && claimed.get(t)?.get(p)?.has(v.offset) !== true)
        if (foreign !== undefined) {
          for (const { r } of t.plans) this.#fallback(r, `target partition ${p} holds at offset ${foreign.offset} a record of no source partition (another writer)`, results)
          break
        }
      }
    }
  }

  /** Feeds the source records from `from` to the matcher until it is done; true when the source's end was reached. */
  async #feedSource (reader: PartitionReader, topic: string, partition: number, from: bigint, matcher: { done: boolean, feed: (records: RecordView[]) => void }, deadline: number): Promise<boolean> {
    if (matcher.done) return true
    const read = await reader.read(topic, partition, from, { readCommitted: this.#source.readCommitted, deadline }, batch => {
      const views: RecordView[] = []
      batchViews(batch, from, undefined, views)
      matcher.feed(views)
      return !matcher.done
    })
    return read.next >= read.end
  }

  /** A target partition's records from `from` to `to`. */
  async #read (reader: PartitionReader, topic: string, partition: number, from: bigint, to: bigint, readCommitted: boolean, deadline: number): Promise<RecordView[]> {
    const views: RecordView[] = []
    const read = await reader.read(topic, partition, from, { readCommitted, deadline, to }, batch => { batchViews(batch, from, to, views) })
    if (read.timedOut) throw new Error(`reading ${topic}:${partition} of the target took longer than ${this.deadlineMs} ms`)
    if (read.next < read.end && read.highWatermark > read.next) throw new Error(`the target answered nothing for ${topic}:${partition} at ${read.next}, below its end ${to}`)
    return views
  }
}
