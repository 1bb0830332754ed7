// What the copy loop does with the record batches fetched from one source partition: which go to
// the target as they are, which must be decoded and encoded again, which are dropped, and where the
// partition's fetch position and committable offset move. Pure, so every rule is unit-tested.
//
// Invariants:
// - A record before the fetch offset is never sent again: the first batch may start before it (the
//   broker returns whole batches), and is then cut to the records at and after it.
// - With an end offset (--once), no record at or after it is sent; the position stops at it.
// - Control batches (transaction markers) are never sent. With read_committed, the batches of
//   aborted transactions are skipped whole: a transaction's records are always in batches of their
//   own, from its producer, between the transaction's first offset and its abort marker (Kafka's
//   Java consumer filters the same way).
// - A batch goes as it is only when the target can take it as a producer's: records at offset deltas
//   0..n-1 (compaction leaves gaps), CreateTime (LogAppendTime means every record takes the batch's
//   max timestamp, which only re-encoding can write), no delete horizon, the wanted compression,
//   and no larger than the target topic takes (options.maxBatchBytes). A batch too large for the
//   target is cut into batches that fit, each a unit of its own: a span from its first record's
//   source offset to the next one's, so the commit moves one cut batch at a time.
// - nextOffset of a unit is one past the last source offset it accounts for, dropped batches
//   included: committable once the unit and every unit before it are acknowledged.
// - With key partitioning (options.byKey) the records are routed by the murmur2 of their keys into
//   one open batch per target partition (KeyRouter), each record's key, value and headers copied as
//   bytes (no object per record). One router serves every source partition of a fetch answer, so a
//   target partition gets one batch per answer, not one per source partition: Kafka appends a
//   batch per partition per request, and that append, not the bytes, is what costs a broker most
//   with small batches. A source batch whose records all go to one partition that has nothing
//   open, and that could go as it is, still goes as it is. Records keep their source order within
//   each target partition. Each routed batch says which plans (tags) its records came from, so the
//   caller knows when a fetch's end offset is committable: once every batch holding its records
//   was acknowledged (the plan is `grouped`).
import type { AbortedTransaction } from '../kafka/raw/fetch-v12.ts'
import { ReadCommittedFilter } from '../kafka/raw/read-committed.ts'
import { BatchBuilder, RECORD_BATCH_OVERHEAD, RecordCursor, decodeRecords, encodeRecordBatch, mergeRecordBatches, readRecordBatch, readRecordBatches, type DecodedRecord, type RecordBatch } from '../kafka/raw/record-batch.ts'
import { partitionForKey } from './partitioner.ts'

export type ReencodeReason = 'before-fetch-offset' | 'after-end-offset' | 'compacted' | 'log-append-time' | 'delete-horizon' | 'compression' | 'merged' | 'split-by-key' | 'forced' | 'rewritten' | 'too-large'

/**
 * Keeps (possibly with other headers) or drops (undefined) each record; MirrorMaker 2 flows use it
 * to keep records out of a cycle. Every batch is then decoded and encoded again, and a dropped
 * record counts as copied, as a transaction marker does.
 */
export type RecordRewrite = (record: DecodedRecord) => DecodedRecord | undefined

export interface PlannedUnit {
  /** The batch to produce (a view into the fetched bytes, or encoded again); null: nothing to send. */
  batch: Buffer | null
  records: number
  /** The first source offset this unit accounts for. */
  firstOffset: bigint
  /** One past the last source offset this unit accounts for. */
  nextOffset: bigint
  /** The source partition leader epoch of the last batch, for the offset commit. */
  leaderEpoch: number
  /** The target partition (key partitioning); undefined: the source partition's number. */
  partition?: number
  reencoded?: ReencodeReason
}

export interface PartitionPlan {
  units: PlannedUnit[]
  /** Where the next fetch of this partition starts. */
  nextOffset: bigint
  /** An end offset was given and the position reached it: nothing more to fetch. */
  reachedEnd: boolean
  /** Bytes of a last batch cut at the fetch size limit (fetched again next time). */
  truncatedBytes: number
  /** The total length of that cut batch, when its header arrived: the size a fetch must allow. */
  truncatedBatchBytes?: number
  /**
   * Source batches: sent as they are; decoded and encoded again; merged with their neighbours
   * (small batches); dropped.
   */
  counts: { raw: number, reencoded: number, merged: number, skipped: number }
  /** Key partitioning: the units are one span, from the fetch offset to nextOffset, committed together. */
  grouped: boolean
  /** Key partitioning: the source partition leader epoch of the last batch, for the offset commit. */
  leaderEpoch?: number
}

export interface KeyPartitioning {
  /**
   * Collects the routed records; share one over several plans (a fetch answer) to merge their
   * records per target partition, then call finish(). Without one, the plan gets its own and its
   * units are the routed batches.
   */
  router?: KeyRouter
  /** Names this plan in the routed batches' parts. */
  tag?: unknown
  /** The target topic. Default "". */
  topic?: string
  /** Partitions of the target topic. */
  partitions: number
  /**
   * Where the keyless records of the next source batch go: one partition a batch, moving on with
   * each batch, as Kafka's producer spreads keyless records since 2.4 (KIP-480).
   */
  keylessPartition: () => number
  /** Uncompressed bytes at which a target batch is closed and the next begun (without a router). Default 256 KiB. */
  maxBatchBytes?: number
  /** Source records already on the target (reconcile.ts): true leaves the record at this offset out. */
  skip?: (offset: bigint) => boolean
}

export interface PlanOptions {
  /** --once: the first offset not to copy. */
  endOffset?: bigint
  readCommitted: boolean
  abortedTransactions: AbortedTransaction[] | null
  /** Compression bitmask the target batches must have; 'keep' leaves every batch's own. */
  compression: number | 'keep'
  /**
   * Consecutive batches smaller than this many bytes (compressed ones: also of at most
   * MERGE_COMPRESSED_MAX_RECORDS records) are merged into batches of up to mergedBatchBytes:
   * Kafka takes one batch per partition per Produce request, so a run of tiny batches would cost
   * one request each. 0 turns merging off. Default 16 KiB.
   */
  mergeBelowBytes?: number
  /** Default 256 KiB. */
  mergedBatchBytes?: number
  /**
   * The largest batch the target topic takes (its max.message.bytes less a margin); a batch that
   * would be larger is cut into several (source partitioning). Undefined: no limit.
   */
  maxBatchBytes?: number
  /** Split records by key into target partitions (--partitioning key); absent: keep partitions. */
  byKey?: KeyPartitioning
  /** Encode every batch again, none as it is (--fast.path off). */
  forceReencode?: boolean
  /** Keeps, drops or changes each record (source partitioning only). */
  rewrite?: RecordRewrite
}

export const DEFAULT_MERGE_BELOW_BYTES = 16 << 10
export const DEFAULT_MERGED_BATCH_BYTES = 256 << 10
/** Compressed batches with more records than this are never merged. */
export const MERGE_COMPRESSED_MAX_RECORDS = 16

export class UnsupportedRecordFormatError extends Error {
  constructor (offset: bigint, magic: number) {
    super(`the source batch at offset ${offset} has message format v${magic}; kafka-mirror copies v2 (Kafka 0.11+) batches only`)
    this.name = 'UnsupportedRecordFormatError'
  }
}

function reencodeReason (batch: RecordBatch, from: bigint, end: bigint | undefined, compression: number | 'keep', force = false, rewrite = false): ReencodeReason | undefined {
  if (rewrite) return 'rewritten'
  if (force) return 'forced'
  if (batch.baseOffset < from) return 'before-fetch-offset'
  if (end !== undefined && batch.lastOffset >= end) return 'after-end-offset'
  if (batch.recordCount !== batch.lastOffsetDelta + 1) return 'compacted'
  if (batch.logAppendTime) return 'log-append-time'
  if (batch.deleteHorizon) return 'delete-horizon'
  if (compression !== 'keep' && batch.compression !== compression) return 'compression'
  return undefined
}

export function planFetchedRecords (records: Buffer | null, fetchOffset: bigint, options: PlanOptions): PartitionPlan {
  const plan: PartitionPlan = { units: [], nextOffset: fetchOffset, reachedEnd: false, truncatedBytes: 0, counts: { raw: 0, reencoded: 0, merged: 0, skipped: 0 }, grouped: options.byKey !== undefined }
  const end = options.endOffset
  if (end !== undefined && fetchOffset >= end) {
    plan.reachedEnd = true
    return plan
  }
  if (records === null || records.length === 0) return plan
  const { batches, truncatedBytes } = readRecordBatches(records)
  plan.truncatedBytes = truncatedBytes
  if (truncatedBytes >= 12) plan.truncatedBatchBytes = 12 + records.readInt32BE(records.length - truncatedBytes + 8)

  const filter = new ReadCommittedFilter(options.abortedTransactions, options.readCommitted)
  let position = fetchOffset
  const byKey = options.byKey
  if (byKey !== undefined && options.rewrite !== undefined) throw new Error('a record rewrite needs source partitioning')
  const router = byKey === undefined ? undefined : byKey.router ?? new KeyRouter({ compression: options.compression, forceReencode: options.forceReencode === true, maxBatchBytes: byKey.maxBatchBytes })

  /** A dropped batch moves the position; the previous unit of this fetch can carry it. */
  const skip = (batch: RecordBatch, next: bigint): void => {
    plan.counts.skipped++
    if (router !== undefined) return
    const last = plan.units.at(-1)
    if (last !== undefined) {
      last.nextOffset = next
      last.leaderEpoch = batch.partitionLeaderEpoch
    } else {
      plan.units.push({ batch: null, records: 0, firstOffset: position, nextOffset: next, leaderEpoch: batch.partitionLeaderEpoch })
    }
  }

  for (const batch of batches) {
    if (batch.magic !== 2) throw new UnsupportedRecordFormatError(batch.baseOffset, batch.magic)
    if (batch.lastOffset < position) continue
    if (end !== undefined && batch.baseOffset >= end) {
      plan.reachedEnd = true
      break
    }
    const next = end !== undefined && batch.lastOffset + 1n > end ? end : batch.lastOffset + 1n
    if (filter.aborted(batch) || batch.control || batch.recordCount === 0) {
      skip(batch, next)
      position = next
      continue
    }
    const reason = reencodeReason(batch, position, end, options.compression, options.forceReencode, options.rewrite !== undefined)
    if (router !== undefined) {
      const routed = router.route(byKey!.topic ?? '', byKey!.partitions, byKey!.keylessPartition, batch, position, end, reason, byKey!.tag, byKey!.skip)
      if (routed === 'raw') plan.counts.raw++
      else if (routed === 'copied') plan.counts.reencoded++
    } else if (reason === undefined && (options.maxBatchBytes === undefined || batch.bytes.length <= options.maxBatchBytes)) {
      plan.units.push({ batch: batch.bytes, records: batch.recordCount, firstOffset: position, nextOffset: next, leaderEpoch: batch.partitionLeaderEpoch })
      plan.counts.raw++
    } else {
      const compression = options.compression === 'keep' ? batch.compression : options.compression
      let pieces: Array<{ batch: Buffer, records: number, firstOffset: bigint }>
      if (options.rewrite === undefined) {
        // Records copied as bytes, as key partitioning copies them: no object per record.
        pieces = copyToFit(batch, position, end, compression, options.maxBatchBytes)
      } else {
        const kept = decodeRecords(batch).filter(r => r.offset >= position && (end === undefined || r.offset < end)).map(options.rewrite).filter(r => r !== undefined)
        pieces = kept.length === 0 ? [] : encodeToFit(kept, compression, options.maxBatchBytes)
      }
      if (pieces.length === 0) {
        skip(batch, next)
      } else {
        for (let i = 0; i < pieces.length; i++) {
          const piece = pieces[i]
          plan.units.push({
            batch: piece.batch,
            records: piece.records,
            firstOffset: i === 0 ? position : piece.firstOffset,
            nextOffset: i === pieces.length - 1 ? next : pieces[i + 1].firstOffset,
            leaderEpoch: batch.partitionLeaderEpoch,
            reencoded: reason ?? 'too-large'
          })
        }
        plan.counts.reencoded++
      }
    }
    position = next
    if (end !== undefined && position >= end) {
      plan.reachedEnd = true
      break
    }
  }
  plan.nextOffset = position
  if (router !== undefined) {
    plan.leaderEpoch = batches.length > 0 ? batches[batches.length - 1].partitionLeaderEpoch : -1
    // A router of its own: the plan's units are its batches, one span from the fetch offset on.
    if (byKey!.router === undefined) {
      for (const u of router.finish()) {
        plan.units.push({ batch: u.batch, records: u.records, firstOffset: fetchOffset, nextOffset: position, leaderEpoch: plan.leaderEpoch, partition: u.partition, reencoded: u.raw ? undefined : 'split-by-key' })
      }
    }
    return plan
  }
  mergeSmallBatches(plan, options)
  return plan
}

/**
 * `records` as one batch, or as several of at most `maxBytes` each when one would be larger (a
 * record larger than that alone goes in a batch of its own, which the target then refuses and the
 * mirror reports). Each piece names the source offset of its first record.
 */
function encodeToFit (records: DecodedRecord[], compression: number, maxBytes: number | undefined): Array<{ batch: Buffer, records: number, firstOffset: bigint }> {
  const whole = encodeRecordBatch(records, { compression, baseOffset: records[0].offset })
  if (maxBytes === undefined || whole.length <= maxBytes || records.length === 1) return [{ batch: whole, records: records.length, firstOffset: records[0].offset }]
  // Cut where the uncompressed sizes say, then halve any piece a codec's framing still took over.
  const pieces: Array<{ batch: Buffer, records: number, firstOffset: bigint }> = []
  let start = 0
  let bytes = RECORD_BATCH_OVERHEAD
  const flush = (until: number): void => {
    if (until > start) pieces.push(...encodeToFit(records.slice(start, until), compression, maxBytes))
    start = until
    bytes = RECORD_BATCH_OVERHEAD
  }
  for (let i = 0; i < records.length; i++) {
    const size = recordUpperBound(records[i])
    if (i > start && bytes + size > maxBytes) flush(i)
    bytes += size
  }
  if (start === 0) {
    // Every record fit uncompressed, the compressed batch did not: halve.
    const half = records.length >> 1
    return [...encodeToFit(records.slice(0, half), compression, maxBytes), ...encodeToFit(records.slice(half), compression, maxBytes)]
  }
  flush(records.length)
  return pieces
}

/**
 * The records of `batch` at or after `from` and before `end`, copied as bytes (key, value and
 * headers as they are, timestamps kept, offset deltas renumbered) into one batch in `compression`,
 * or several of at most `maxBytes` each when one would be larger (as encodeToFit). Each piece
 * names the source offset of its first record; none when no record is in range.
 */
function copyToFit (batch: RecordBatch, from: bigint, end: bigint | undefined, compression: number, maxBytes: number | undefined): Array<{ batch: Buffer, records: number, firstOffset: bigint }> {
  const cursor = new RecordCursor(batch)
  const fromDelta = from > batch.baseOffset ? Number(from - batch.baseOffset) : 0
  const endDelta = end === undefined ? Infinity : Number(end - batch.baseOffset)
  const starts: number[] = []
  const ends: number[] = []
  const timestamps: number[] = []
  const attributes: number[] = []
  const deltas: number[] = []
  while (cursor.next()) {
    if (cursor.offsetDelta < fromDelta || cursor.offsetDelta >= endDelta) continue
    starts.push(cursor.tailStart)
    ends.push(cursor.end)
    timestamps.push(cursor.timestamp)
    attributes.push(cursor.attributes)
    deltas.push(cursor.offsetDelta)
  }
  const pieces: Array<{ batch: Buffer, records: number, firstOffset: bigint }> = []
  const build = (first: number, last: number): void => {
    const builder = new BatchBuilder()
    for (let i = first; i < last; i++) builder.add(cursor.data, starts[i], ends[i], timestamps[i], attributes[i])
    const built = builder.build(compression)
    // Every record fit uncompressed, the compressed batch did not (a codec's framing): halve.
    if (maxBytes !== undefined && built.length > maxBytes && last - first > 1) {
      const half = first + ((last - first) >> 1)
      build(first, half)
      build(half, last)
      return
    }
    pieces.push({ batch: built, records: last - first, firstOffset: batch.baseOffset + BigInt(deltas[first]) })
  }
  // Cut where the uncompressed sizes say (BatchBuilder counts a record as its bytes plus 21).
  let first = 0
  let bytes = RECORD_BATCH_OVERHEAD
  for (let i = 0; i < starts.length; i++) {
    const size = 21 + ends[i] - starts[i]
    if (maxBytes !== undefined && i > first && bytes + size > maxBytes) {
      build(first, i)
      first = i
      bytes = RECORD_BATCH_OVERHEAD
    }
    bytes += size
  }
  if (starts.length > first) build(first, starts.length)
  return pieces
}

/** Bytes a record takes in an uncompressed batch, at most (varints at their longest). */
function recordUpperBound (r: DecodedRecord): number {
  let size = 5 + 1 + 10 + 5 + 5 + (r.key?.length ?? 0) + 5 + (r.value?.length ?? 0) + 5
  for (const [name, value] of r.headers) size += 10 + name.length + (value?.length ?? 0)
  return size
}

/** A batch KeyRouter made for one target partition, with the plans (tags) its records came from. */
export interface RoutedBatch {
  topic: string
  partition: number
  batch: Buffer
  records: number
  /** Records per tag, in the order the tags first put records in. */
  parts: Array<{ tag: unknown, records: number }>
  /** The fetched bytes of one source batch, sent as they are. */
  raw: boolean
}

interface OpenBatch {
  builder: BatchBuilder
  codec: number
  parts: Array<{ tag: unknown, records: number }>
}

/**
 * Routes records by key into one open batch per target partition, closing a batch when it reaches
 * maxBatchBytes and all of them at finish(). Batches come out in the order they are closed, which
 * keeps each target partition's records in the order they were routed.
 */
export class KeyRouter {
  #compression: number | 'keep'
  #force: boolean
  #maxBytes: number
  #open = new Map<string, Array<OpenBatch | undefined>>()
  #closed: RoutedBatch[] = []

  #topicMaxBytes: ((topic: string) => number | undefined) | undefined

  /**
   * `topicMaxBytes`: the largest batch a target topic takes (its max.message.bytes less the
   * batch's own overhead), when below maxBatchBytes: a batch is closed before a record would take
   * it past that.
   */
  constructor (options: { compression: number | 'keep', forceReencode?: boolean, maxBatchBytes?: number, topicMaxBytes?: (topic: string) => number | undefined }) {
    this.#compression = options.compression
    this.#force = options.forceReencode === true
    this.#maxBytes = options.maxBatchBytes ?? DEFAULT_MERGED_BATCH_BYTES
    this.#topicMaxBytes = options.topicMaxBytes
  }

  /**
   * Routes the records of `batch` at or after `from` and before `end` to `topic`'s partitions.
   * 'raw': the batch goes as it is; 'copied': its records were copied into open batches; 'none':
   * no record was in range.
   */
  route (topic: string, partitions: number, keylessPartition: () => number, batch: RecordBatch, from: bigint, end: bigint | undefined, reason: ReencodeReason | undefined, tag: unknown, skip?: (offset: bigint) => boolean): 'raw' | 'copied' | 'none' {
    let open = this.#open.get(topic)
    if (open === undefined || open.length !== partitions) {
      if (open !== undefined) for (let p = 0; p < open.length; p++) this.#close(topic, open, p)
      open = new Array<OpenBatch | undefined>(partitions)
      this.#open.set(topic, open)
    }
    const cursor = new RecordCursor(batch)
    const fromDelta = from > batch.baseOffset ? Number(from - batch.baseOffset) : 0
    const endDelta = end === undefined ? Infinity : Number(end - batch.baseOffset)
    const codec = this.#compression === 'keep' ? batch.compression : this.#compression
    const limit = this.#topicMaxBytes?.(topic)
    const maxBytes = limit !== undefined && limit < this.#maxBytes ? limit : this.#maxBytes
    let keyless = -1
    let only = -1
    let spread = false
    let closedAny = false
    let onlyWasEmpty = false
    let kept = 0
    while (cursor.next()) {
      if (cursor.offsetDelta < fromDelta || cursor.offsetDelta >= endDelta) continue
      if (skip !== undefined && skip(batch.baseOffset + BigInt(cursor.offsetDelta))) continue
      let p: number
      if (cursor.keyLength < 0) {
        if (keyless < 0) keyless = keylessPartition()
        p = keyless
      } else {
        p = partitionForKey(cursor.data, partitions, cursor.keyStart, cursor.keyLength)
      }
      let o = open[p]
      // A batch the target topic would refuse as too large is closed before this record joins it
      // (BatchBuilder counts a record as its bytes plus 21 for its length, delta and timestamp varints).
      if (o !== undefined && o.builder.count > 0 && o.builder.bytes + 21 + (cursor.end - cursor.tailStart) > maxBytes) {
        this.#close(topic, open, p)
        closedAny = true
        o = undefined
      }
      if (o === undefined) o = open[p] = { builder: new BatchBuilder(), codec, parts: [] }
      if (only === -1) {
        only = p
        onlyWasEmpty = o.builder.count === 0
      } else if (p !== only) spread = true
      o.builder.add(cursor.data, cursor.tailStart, cursor.end, cursor.timestamp, cursor.attributes)
      const last = o.parts[o.parts.length - 1]
      if (last !== undefined && last.tag === tag) last.records++
      else o.parts.push({ tag, records: 1 })
      kept++
      if (o.builder.bytes >= maxBytes) {
        this.#close(topic, open, p)
        closedAny = true
      }
    }
    if (kept === 0) return 'none'
    // Every record to one partition that had nothing open, and the batch fit to go as it is:
    // send the fetched bytes (still compressed) instead of the copy.
    if (reason === undefined && !spread && !closedAny && onlyWasEmpty && kept === batch.recordCount && !this.#force) {
      open[only] = undefined
      this.#closed.push({ topic, partition: only, batch: batch.bytes, records: kept, parts: [{ tag, records: kept }], raw: true })
      return 'raw'
    }
    return 'copied'
  }

  #close (topic: string, open: Array<OpenBatch | undefined>, partition: number): void {
    const o = open[partition]
    open[partition] = undefined
    if (o === undefined || o.builder.count === 0) return
    this.#closed.push({ topic, partition, batch: o.builder.build(o.codec), records: o.builder.count, parts: o.parts, raw: false })
  }

  /** Closes every open batch; returns all batches made since the last finish(), in order. */
  finish (): RoutedBatch[] {
    for (const [topic, open] of this.#open) for (let p = 0; p < open.length; p++) this.#close(topic, open, p)
    this.#open.clear()
    return this.#closed.splice(0)
  }
}

/** Replaces runs of small units sent as they are by merged ones. */
function mergeSmallBatches (plan: PartitionPlan, options: PlanOptions): void {
  const below = options.mergeBelowBytes ?? DEFAULT_MERGE_BELOW_BYTES
  const cap = options.mergedBatchBytes ?? DEFAULT_MERGED_BATCH_BYTES
  if (below <= 0 || plan.units.length < 2) return
  // A compressed batch is merged only when it holds few records: decompressing and compressing
  // many records costs more than the request it saves.
  const small = (u: PlannedUnit): boolean => u.batch !== null && u.reencoded === undefined && u.batch.length < below &&
    ((u.batch.readInt16BE(21) & 0x07) === 0 || u.records <= MERGE_COMPRESSED_MAX_RECORDS)
  const units: PlannedUnit[] = []
  let run: PlannedUnit[] = []
  let runBytes = 0
  let runCodec = -1
  const flush = (): void => {
    if (run.length === 1) units.push(run[0])
    if (run.length > 1) {
      const batches = run.map(u => readRecordBatch(u.batch!))
      const last = run[run.length - 1]
      units.push({
        batch: mergeRecordBatches(batches, options.compression === 'keep' ? runCodec : options.compression),
        records: run.reduce((n, u) => n + u.records, 0),
        firstOffset: run[0].firstOffset,
        nextOffset: last.nextOffset,
        leaderEpoch: last.leaderEpoch,
        reencoded: 'merged'
      })
      plan.counts.raw -= run.length
      plan.counts.merged += run.length
    }
    run = []
    runBytes = 0
  }
  for (const u of plan.units) {
    if (!small(u)) {
      flush()
      units.push(u)
      continue
    }
    const codec = u.batch!.readInt16BE(21) & 0x07
    if (run.length > 0 && (runBytes + u.batch!.length > cap || (options.compression === 'keep' && codec !== runCodec))) flush()
    run.push(u)
    runBytes += u.batch!.length
    runCodec = codec
  }
  flush()
  plan.units = units
}
