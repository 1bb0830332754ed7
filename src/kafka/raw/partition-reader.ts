// One partition read from an offset to an end, for every reader that is not the copy loop: MM2's
// internal topics read back at start and the source records a committed offset counts
// (mm2/internal-topics.ts), MM2's offsets topic at a take-over (mm2/mm2-offsets.ts), the source and
// target records a new owner compares (mirror/reconcile.ts).
//
// - A retriable Kafka error (the leader moved or is not known yet, a timeout, a broker's storage)
//   or a lost connection is asked again, after fresh metadata and a growing backoff, until the
//   read's deadline; any other Kafka error ends the read with a PartitionReadError naming it.
// - With read_committed the batches of aborted transactions are left out (ReadCommittedFilter, the
//   copy loop's rule); control batches never reach the caller.
// - A batch larger than the fetch size is fetched again with twice the size.
import type { AbortedTransaction, RawFetchPartition, RawFetchResponse, RawFetchTopicRequest } from './fetch-v12.ts'
import type { RawFetchOptions } from './raw-fetcher.ts'
import { ReadCommittedFilter } from './read-committed.ts'
import { readRecordBatches, type RecordBatch } from './record-batch.ts'

/** What the reader needs of a RawFetcher (a fake one in unit tests). */
export interface PartitionFetcher {
  leaderOf: (topic: string, partition: number) => number | undefined
  refresh: (topics: string[]) => Promise<void>
  fetch: (leader: number, options: RawFetchOptions, topics: RawFetchTopicRequest[]) => Promise<RawFetchResponse>
}

/**
 * Kafka errors after which the same fetch is asked again: UNKNOWN_TOPIC_OR_PARTITION (3),
 * LEADER_NOT_AVAILABLE (5), NOT_LEADER_OR_FOLLOWER (6), REQUEST_TIMED_OUT (7), NETWORK_EXCEPTION (13),
 * KAFKA_STORAGE_ERROR (56), FENCED_LEADER_EPOCH (74), UNKNOWN_LEADER_EPOCH (75), UNKNOWN_TOPIC_ID (100).
 */
export const RETRIABLE_FETCH_ERRORS: ReadonlySet<number> = new Set([3, 5, 6, 7, 13, 56, 74, 75, 100])
export const OFFSET_OUT_OF_RANGE = 1

/** A read that cannot go on: a Kafka error that is not retriable (`errorCode`), or the deadline passed. */
export class PartitionReadError extends Error {
  readonly errorCode: number | undefined
  constructor (message: string, errorCode?: number, options?: ErrorOptions) {
    super(message, options)
    this.name = 'PartitionReadError'
    this.errorCode = errorCode
  }
}

export interface FetchAtOptions {
  readCommitted: boolean
  /** Date.now() after which a failed fetch is not asked again. */
  deadline: number
  /** Default 1 MiB. */
  maxBytes?: number
  /** How long the broker may wait for records; default 0 (answer at once). */
  maxWaitMs?: number
}

export interface ReadOptions extends FetchAtOptions {
  /** The first offset not read; default: the partition's end at the first answer (its last stable offset with read_committed, else its high watermark). */
  to?: bigint
  /** `from` below the log start (retention, a compacted log's cleaner) reads from the log start; otherwise OFFSET_OUT_OF_RANGE ends the read. */
  fromLogStart?: boolean
}

export interface ReadResult {
  /** One past the last offset read (dropped batches included). */
  next: bigint
  /** The end the read went to: `to`, or the partition's end at the first answer. */
  end: bigint
  /** The partition's high watermark in the last answer. */
  highWatermark: bigint
  /** The visitor asked to stop. */
  stopped: boolean
  /** The deadline passed before the end (each fetch answered). */
  timedOut: boolean
}

/**
 * Gets the data batches of a read, in offset order, with the offsets wanted: from the read's start
 * (the log start when it began below it) to its end. Returns false to stop the read.
 */
export type BatchVisitor = (batch: RecordBatch, wanted: { from: bigint, to: bigint }) => boolean | void

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

export class PartitionReader {
  readonly #fetcher: PartitionFetcher
  readonly #backoffMs: number
  readonly #maxBackoffMs: number
  readonly #closed: () => boolean

  /** `closed`: checked before each retry; true ends the read (its owner is closing). */
  constructor (fetcher: PartitionFetcher, options: { backoffMs?: number, maxBackoffMs?: number, closed?: () => boolean } = {}) {
    this.#fetcher = fetcher
    this.#backoffMs = options.backoffMs ?? 100
    this.#maxBackoffMs = options.maxBackoffMs ?? 1000
    this.#closed = options.closed ?? (() => false)
  }

  /**
   * One Fetch of `topic`-`partition` at `offset` from its leader, asked again after retriable
   * errors until the deadline. OFFSET_OUT_OF_RANGE is answered (errorCode 1, with the log start):
   * what it means is the caller's to say.
   */
  async fetch (topic: string, partition: number, offset: bigint, options: FetchAtOptions): Promise<RawFetchPartition> {
    const maxBytes = options.maxBytes ?? 1 << 20
    let backoff = this.#backoffMs
    for (let attempt = 0; ; attempt++) {
      let leader = this.#fetcher.leaderOf(topic, partition)
      let cause: unknown
      try {
        if (leader === undefined) {
          await this.#fetcher.refresh([topic])
          leader = this.#fetcher.leaderOf(topic, partition)
        }
        if (leader === undefined) {
          cause = new Error('no leader is known')
        } else {
          const response = await this.#fetcher.fetch(leader, { maxWaitMs: options.maxWaitMs ?? 0, minBytes: 1, maxBytes, isolationLevel: options.readCommitted ? 1 : 0 },
            [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: maxBytes }] }])
          const p = response.responses.find(t => t.topic === topic)?.partitions.find(x => x.partitionIndex === partition) ?? response.responses[0]?.partitions[0]
          const code = response.errorCode !== 0 ? response.errorCode : p === undefined ? -1 : p.errorCode
          if (p !== undefined && (code === 0 || code === OFFSET_OUT_OF_RANGE)) return p
          if (!RETRIABLE_FETCH_ERRORS.has(code)) throw new PartitionReadError(`fetching ${topic}-${partition} at offset ${offset} failed with Kafka error ${code}`, code)
          cause = new Error(`Kafka error ${code}`)
        }
      } catch (error) {
        if (error instanceof PartitionReadError) throw error
        cause = error
      }
      if (Date.now() + backoff > options.deadline || this.#closed()) {
        throw new PartitionReadError(`fetching ${topic}-${partition} at offset ${offset} failed ${attempt + 1} times: ${cause instanceof Error ? cause.message : String(cause)}`, undefined, { cause })
      }
      await sleep(backoff)
      backoff = Math.min(backoff * 2, this.#maxBackoffMs)
      // The leader may have moved: ask for it again
      await this.#fetcher.refresh([topic]).catch(() => {})
    }
  }

  /**
   * Reads `from` up to the end in offset order, handing `visit` each data batch: never a control
   * batch, never one of an aborted transaction with read_committed, never one that ends before
   * `from`. The first batch may start before `from` and the last one reach past the end: the
   * caller takes the records it wants. `visit` returning false stops the read.
   * The result's `next` below `end` means the read stopped early: the visitor asked, the deadline
   * passed, or the partition answered nothing more (it ends before `to` when `highWatermark` <= `next`).
   */
  async read (topic: string, partition: number, from: bigint, options: ReadOptions, visit: BatchVisitor): Promise<ReadResult> {
    let start = from
    let next = from
    let end = options.to
    let maxBytes = options.maxBytes ?? 1 << 20
    let highWatermark = -1n
    while (end === undefined || next < end) {
      const p = await this.fetch(topic, partition, next, { ...options, maxBytes })
      highWatermark = p.highWatermark
      if (p.errorCode === OFFSET_OUT_OF_RANGE) {
        if (options.fromLogStart === true && p.logStartOffset > next) { start = next = p.logStartOffset; continue }
        throw new PartitionReadError(`fetching ${topic}-${partition} at offset ${next}: out of range (the log starts at ${p.logStartOffset} and ends at ${p.highWatermark})`, OFFSET_OUT_OF_RANGE)
      }
      end ??= options.readCommitted ? p.lastStableOffset : p.highWatermark
      if (next >= end) break
      const answer = dataBatches(p.records, next, p.abortedTransactions, options.readCommitted)
      if (answer.next === next) {
        if (answer.truncatedBytes > 0) { maxBytes *= 2; continue }
        break
      }
      for (const batch of answer.batches) {
        if (visit(batch, { from: start, to: end }) === false) return { next: batch.lastOffset + 1n, end, highWatermark, stopped: true, timedOut: false }
        if (batch.lastOffset + 1n >= end) return { next: batch.lastOffset + 1n, end, highWatermark, stopped: false, timedOut: false }
      }
      next = answer.next
      if (next < end && Date.now() > options.deadline) return { next, end, highWatermark, stopped: false, timedOut: true }
    }
    return { next, end: end ?? next, highWatermark, stopped: false, timedOut: false }
  }
}

/**
 * The data batches of one Fetch answer's records from `from` on, in offset order: control batches,
 * empty ones and (read_committed) those of aborted transactions left out. `next` is one past the
 * last batch, dropped ones included; `truncatedBytes` the part of a batch cut at the size limit.
 */
export function dataBatches (records: Buffer | null, from: bigint, aborted: AbortedTransaction[] | null, readCommitted: boolean): { batches: RecordBatch[], next: bigint, truncatedBytes: number } {
  const kept: RecordBatch[] = []
  let next = from
  if (records === null || records.length === 0) return { batches: kept, next, truncatedBytes: 0 }
  const { batches, truncatedBytes } = readRecordBatches(records)
  const filter = new ReadCommittedFilter(aborted, readCommitted)
  for (const batch of batches) {
    if (batch.lastOffset < next) continue
    next = batch.lastOffset + 1n
    if (filter.aborted(batch) || batch.control || batch.recordCount === 0) continue
    kept.push(batch)
  }
  return { batches: kept, next, truncatedBytes }
}
