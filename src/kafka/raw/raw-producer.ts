// An idempotent producer of record batches that are already encoded. It owns the target-side
// producer state: one producer id from InitProducerId, one sequence per partition.
//
// How it keeps order and never writes a batch twice:
// - Batches of a partition are sent in the order they were enqueued, one per request (Kafka takes
//   exactly one batch per partition in a Produce request), at most 5 in flight per partition (the
//   broker remembers the last 5 batches of a producer to recognise a resend), over one connection
//   per broker, which the broker serves in order.
// - Only one is in flight until a batch of the partition's producer id is appended there (at the
//   start, and after each new producer id): a broker that holds no state for a producer id on a
//   partition appends its batch whatever the sequence (Kafka 2.5+, KIP-360), so a second batch in
//   flight would be appended even when the first is refused, ahead of it (its units split back or
//   resent afterwards). Once the broker has the id's state, a batch out of sequence is refused.
// - A batch gets its sequence when first sent and keeps it: a resend after a timeout or a leader
//   change carries the same producer id and sequence, so the broker drops it as a duplicate
//   (DUPLICATE_SEQUENCE_NUMBER, or success with the original offset) if it had appended it.
// - After a retriable failure the partition stops sending, waits until every request of it in
//   flight has settled (later batches fail OUT_OF_ORDER_SEQUENCE_NUMBER, expected then), and sends
//   every batch not acknowledged again, in sequence order.
// - Batches of a partition that wait behind batches in flight are merged when first sent: the
//   consecutive small ones (below 16 KiB) never sent, up to the merged batch size, become one
//   record batch, records renumbered from offset delta 0, with one base sequence covering all their
//   records. Kafka appends a batch per partition per request, and that append is what a broker
//   pays most for when batches are small (Java's RecordAccumulator keeps filling the batch that
//   waits for the same reason).
//   A merged batch is one entry from then on: sent, resent, acknowledged or refused as a whole, and
//   its acknowledgement reports every unit it carries, in their order. The target refusing it as
//   too large splits it back into its units, which keep its sequence range between them.
// - While held (hold()), nothing is sent; what was enqueued meanwhile is merged as above when the
//   hold ends, so a user can gather several sources' batches for a partition into one append.
// - Acknowledgements are reported in enqueue order: a batch is reported only once it and all before
//   it are acknowledged. Units without a batch (nothing to send) are reported in that order too.
// - A failure that a retry cannot fix (the target refused the batch), or retriable failures that
//   last longer than the delivery timeout, stop the partition and are reported; nothing after the
//   failed batch is ever reported as acknowledged.
// - When the target lost the partition's producer state (UNKNOWN_PRODUCER_ID, or an out-of-order
//   sequence with no failure before it: the state expires after producer.id.expiration.ms of
//   silence), the partition takes a new producer id and numbers its unacknowledged batches from 0
//   again, as Kafka's own producer resets its sequences.
// - With skipRefused (abort.on.send.failure=false), a batch that fails for good is reported as
//   acknowledged with its error in `skipped`, and the partition goes on under a new producer id (the
//   broker never appended the batch, so its sequence is a hole the old id cannot get past).
// - Transactional (exactly-once mode, src/mirror/transactions.ts): the producer id and epoch come
//   from the caller's InitProducerId for its transactional id and are never replaced (a new id
//   would leave the transaction), so a lost producer state or a fenced epoch stops the partition
//   and is reported failed; batches carry the transactional bit and the Produce request the id.
//   Many such producers share one connection pool (`base`), one per source partition.
// - A write gate (`mayWrite`): the caller may shut it (a group member that may have been left
//   behind by its group). It is asked before each request is built and again just before the
//   request is written on its connection; a request stopped there is never written: its batches go
//   back to the queue, keeping their sequences, and drop() can still take them (the batches of a
//   partition never written form a tail, numbered again from the first one's sequence). Only a
//   request already written when the gate shuts can still land; wake() sends again once it opens.
import { Base, protocolErrors, protocolErrorsCodesById, type BaseOptions, type ClusterMetadata } from '@platformatic/kafka'
import type * as produceV9 from './produce-v9.ts'
import { INIT_PRODUCER_ID, PRODUCE } from './producer-versions.ts'
import { checkApis, knownVersionFor, versionFor } from './versions.ts'
import { Attributes, incrementSequence, mergeRecordBatches, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, readRecordBatch, rewriteProducerFields } from './record-batch.ts'

export interface RawProducerOptions {
  client: BaseOptions
  /** An existing client whose connections to use (several producers, one pool); it is not closed with the producer. */
  base?: Base
  /** Exactly-once mode: the transactional id and the producer id and epoch its InitProducerId gave. */
  transactional?: { id: string, producerId: bigint, producerEpoch: number }
  /** -1 (all) or 1; 0 gets no response and is refused. */
  acks: number
  idempotent: boolean
  requestTimeoutMs: number
  /** How long a batch may keep failing with retriable errors before it is reported failed. */
  deliveryTimeoutMs: number
  retryBackoffMs: number
  /** Bytes of batches in one Produce request; one batch larger than this still goes alone. */
  maxRequestBytes: number
  /** Produce requests in flight per broker. Default 5. */
  maxInFlightRequests?: number
  /** Report a batch that fails for good as skipped and go on, instead of stopping its partition. */
  skipRefused?: boolean
  /**
   * Batches of a partition waiting to be sent are merged into one of up to this many bytes (never
   * more than maxRequestBytes); 0 turns merging off. Default 256 KiB.
   */
  mergedBatchBytes?: number
  /** The largest batch a topic takes (its max.message.bytes less a margin); merges stay below it. */
  topicMaxBatchBytes?: (topic: string) => number | undefined
  /** Asked before each Produce request is built and again before it is written; false: send nothing now (call wake() when it turns true). */
  mayWrite?: () => boolean
}

export interface ProduceUnit<T> {
  /** One v2 record batch, changed in place when sent; null: nothing to send, only reported in order. */
  batch: Buffer | null
  context: T
  /** Set when acknowledged: the target offset of the batch's first record (-1 when the broker did not say). */
  baseOffset?: bigint
  /** Set when the batch was given up with skipRefused: why. */
  skipped?: Error
}

export interface RawProducerListener<T> {
  /** Units of one partition the target acknowledged, in enqueue order. */
  acknowledged (topic: string, partition: number, units: Array<ProduceUnit<T>>): void
  /** A unit the target will not take; the partition sends nothing more. */
  failed (topic: string, partition: number, unit: ProduceUnit<T>, error: Error): void
  /** The partition took a new producer id after the target lost the state of the old one. */
  reset? (topic: string, partition: number, cause: Error): void
  /** Every failed attempt, retried or not (for metrics). */
  sendError? (topic: string, partition: number, error: ProduceError): void
}

/** The target refused a batch, with Kafka's error code and name. */
export class ProduceError extends Error {
  errorCode: number
  errorName: string
  retriable: boolean

  constructor (topic: string, partition: number, errorCode: number, detail?: string | null, options?: { cause?: unknown }) {
    const errorName = errorCode < 0 ? 'NETWORK_ERROR' : protocolErrorsCodesById[errorCode] ?? `ERROR_${errorCode}`
    super(`${topic}-${partition}: ${errorName}${detail !== undefined && detail !== null && detail !== '' ? ` (${detail})` : ''}`, options)
    this.name = 'ProduceError'
    this.errorCode = errorCode
    this.errorName = errorName
    this.retriable = errorCode < 0 || (protocolErrors[errorName]?.canRetry ?? false)
  }
}

const ERROR_DUPLICATE_SEQUENCE = 46
const ERROR_OUT_OF_ORDER_SEQUENCE = 45
const ERROR_UNKNOWN_PRODUCER_ID = 59
/** Producer id resets of one partition in a row, without an acknowledgement between them. */
const MAX_RESETS = 3
/** Errors after which the partition leader may have moved. */
const STALE_METADATA = new Set([3, 5, 6, 74, 75, 100])
const MAX_IN_FLIGHT_PER_PARTITION = 5
const ERROR_MESSAGE_TOO_LARGE = 10
const ERROR_RECORD_LIST_TOO_LARGE = 18
export const DEFAULT_MERGED_BATCH_BYTES = 256 << 10
/**
 * Only batches smaller than this are merged: a big batch saves little by sharing an append, costs
 * a copy (and, compressed, decompressing and compressing), and is the one a topic's
 * max.message.bytes refuses.
 */
const MERGE_BELOW_BYTES = 16 << 10
/** How often writtenSettled looks again. */
const SETTLE_POLL_MS = 20
/** Batches whose records cannot be copied into a producer's batch as they are. */
const NOT_MERGEABLE = Attributes.LOG_APPEND_TIME | Attributes.CONTROL | Attributes.DELETE_HORIZON

type EntryState = 'queued' | 'inflight' | 'acked' | 'failed'

interface Entry<T> {
  /** One unit, or several merged into `batch`, in enqueue order. */
  units: Array<ProduceUnit<T>>
  /** What goes to the target: the unit's own batch, or the merged one; null: nothing to send. */
  batch: Buffer | null
  /** Records of each unit, for the units' target offsets (merged entries only). */
  records: number[] | undefined
  state: EntryState
  sequence: number | undefined
  /** Split from a merged batch the target refused as too large: never merged again. */
  alone: boolean
  /** Handed to a connection at least once: the target may have it, whatever the answer. */
  written: boolean
}

interface PartitionQueue<T> {
  topic: string
  partition: number
  key: string
  entries: Array<Entry<T>>
  /** Index of the first entry not yet reported acknowledged. */
  head: number
  /** Where the search for the next batch to send starts. */
  cursor: number
  nextSequence: number
  inflight: number
  retrying: boolean
  /** Take a new producer id before the next send (the broker lost this one's state). */
  resetting: boolean
  resets: number
  /** Units enqueued and not yet reported. */
  unreported: number
  /** The target refused a merged batch as too large: this partition's batches go as they are. */
  noMerge: boolean
  /** A batch of the current producer id was appended: the leader checks its sequences from now on. */
  appended: boolean
  /** This partition's producer id and epoch once it had to take its own. */
  producerId: bigint | undefined
  producerEpoch: number
  retryTimer: NodeJS.Timeout | undefined
  attempts: number
  failingSince: number | undefined
  lastError: Error | undefined
  stopped: boolean
}

interface Lane {
  inflight: number
  rotation: number
}

interface Sent<T> {
  queue: PartitionQueue<T>
  entry: Entry<T>
}

export class RawProducer<T> {
  readonly client: Base
  #options: RawProducerOptions
  #listener: RawProducerListener<T>
  #producerId = NO_PRODUCER_ID
  #producerEpoch = NO_PRODUCER_EPOCH
  #started = false
  #closed = false
  #queues = new Map<string, PartitionQueue<T>>()
  #lanes = new Map<number, Lane>()
  #metadata: ClusterMetadata | undefined
  #refreshing: Promise<void> | undefined
  #refreshTimer: NodeJS.Timeout | undefined
  #lastRefreshAt = 0
  #pumpScheduled = false
  #holds = 0
  #maxInFlight: number
  #mergeCap: number
  #ownsClient: boolean
  /** Batches merged into others when first sent; batches sent (merged ones once). */
  readonly counts = { merged: 0, sent: 0 }

  constructor (options: RawProducerOptions, listener: RawProducerListener<T>) {
    if (options.acks === 0) throw new Error('the raw producer needs acks=1 or acks=all')
    this.#options = options
    this.#listener = listener
    this.#maxInFlight = options.maxInFlightRequests ?? 5
    this.#mergeCap = Math.min(options.mergedBatchBytes ?? DEFAULT_MERGED_BATCH_BYTES, options.maxRequestBytes)
    this.#ownsClient = options.base === undefined
    this.client = options.base ?? new Base(options.client)
  }

  get producerId (): bigint {
    return this.#producerId
  }

  get producerEpoch (): number {
    return this.#producerEpoch
  }

  /** Checks the bootstrap broker takes a Produce version kafka-mirror has and, when idempotent, takes a producer id. */
  async start (): Promise<void> {
    const transactional = this.#options.transactional
    checkApis(await this.client.listApis(), this.#options.idempotent && transactional === undefined ? [PRODUCE, INIT_PRODUCER_ID] : [PRODUCE], 'the target broker')
    if (transactional !== undefined) {
      this.#producerId = transactional.producerId
      this.#producerEpoch = transactional.producerEpoch
    } else if (this.#options.idempotent) {
      const { producerId, producerEpoch } = await this.#initProducerId()
      this.#producerId = producerId
      this.#producerEpoch = producerEpoch
    }
    this.#started = true
    this.#pump()
  }

  async #initProducerId (): Promise<{ producerId: bigint, producerEpoch: number }> {
    let lastError: unknown
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const metadata = await this.client.metadata({ topics: [] })
        const brokers = [...metadata.brokers.values()]
        const connection = await this.client.connections.get(brokers[attempt % brokers.length])
        // No transactional id: a new id each time.
        const { api } = await versionFor(connection, INIT_PRODUCER_ID, 'the target broker')
        return await api.async(connection, null, this.#options.requestTimeoutMs)
      } catch (error) {
        lastError = error
        await new Promise(resolve => setTimeout(resolve, Math.min(1000, this.#options.retryBackoffMs * 2 ** attempt)))
      }
    }
    throw new Error(`InitProducerId failed on the target: ${(lastError as Error)?.message}`, { cause: lastError })
  }

  #queue (topic: string, partition: number): PartitionQueue<T> {
    const key = `${topic}:${partition}`
    let queue = this.#queues.get(key)
    if (queue === undefined) {
      queue = {
        topic, partition, key, entries: [], head: 0, cursor: 0, nextSequence: 0, inflight: 0, retrying: false,
        resetting: false, resets: 0, unreported: 0, noMerge: false, appended: false, producerId: undefined, producerEpoch: NO_PRODUCER_EPOCH, retryTimer: undefined, attempts: 0, failingSince: undefined, lastError: undefined, stopped: false
      }
      this.#queues.set(key, queue)
    }
    return queue
  }

  enqueue (topic: string, partition: number, unit: ProduceUnit<T>): void {
    if (this.#closed) throw new Error('the raw producer is closed')
    const queue = this.#queue(topic, partition)
    queue.entries.push(single(unit))
    queue.unreported++
    if (unit.batch === null) queueMicrotask(() => this.#reportAcknowledged(queue))
    else this.#schedulePump()
  }

  /**
   * Forgets the units never sent for which `which` is true, over every partition (their source
   * partition moved to another consumer); returns them. Units sent already stay: they are retried
   * until acknowledged. The others keep their order.
   */
  drop (which: (unit: ProduceUnit<T>) => boolean): Array<ProduceUnit<T>> {
    const dropped: Array<ProduceUnit<T>> = []
    for (const queue of this.#queues.values()) {
      const before = dropped.length
      // Entries are written in order: the ones never written are a tail. Some may have their
      // sequences already (a request the write gate stopped): the tail is numbered again from the
      // first of them, since the target has seen none of these sequences.
      let first = queue.entries.length
      while (first > queue.head && !queue.entries[first - 1].written && queue.entries[first - 1].state === 'queued') first--
      if (first === queue.entries.length) continue
      const kept: Array<Entry<T>> = []
      let changed = false
      for (let i = first; i < queue.entries.length; i++) {
        const entry = queue.entries[i]
        if (!entry.units.some(which)) {
          kept.push(entry)
          continue
        }
        changed = true
        // A merged entry (numbered again after a new producer id) loses only the dropped units.
        for (const unit of entry.units) {
          if (which(unit)) dropped.push(unit)
          else kept.push(single(unit))
        }
      }
      if (!changed) continue
      queue.unreported -= dropped.length - before
      const numbered = queue.entries.slice(first).find(e => e.sequence !== undefined)
      if (numbered !== undefined && this.#options.idempotent) queue.nextSequence = numbered.sequence!
      for (const entry of kept) entry.sequence = undefined
      queue.entries.length = first
      queue.entries.push(...kept)
      queue.cursor = Math.min(queue.cursor, first)
    }
    return dropped
  }

  /**
   * Resolves once every batch of the topics `which` picks that was handed to a connection by now
   * is acknowledged, was refused for good, or is no longer queued (its partition stopped, a batch
   * split): after that no request written so far can still append those records. A request held
   * up in the network (a partition between the mirror and the target) may land long after its
   * connection was given up; its retry is answered only once the target has the batch, once.
   * Ends early, with false, when `abandon` says so or the producer closes.
   */
  async writtenSettled (which: (topic: string) => boolean, abandon: () => boolean = () => false): Promise<boolean> {
    let waiting: Array<{ queue: PartitionQueue<T>, entry: Entry<T> }> = []
    for (const queue of this.#queues.values()) {
      if (queue.stopped || !which(queue.topic)) continue
      for (let i = queue.head; i < queue.entries.length; i++) {
        const entry = queue.entries[i]
        if (entry.written && entry.state !== 'acked') waiting.push({ queue, entry })
      }
    }
    for (;;) {
      waiting = waiting.filter(({ queue, entry }) => !queue.stopped && entry.state !== 'acked' && queue.entries.indexOf(entry, queue.head) >= 0)
      if (waiting.length === 0) return true
      if (this.#closed || abandon()) return false
      await new Promise(resolve => setTimeout(resolve, SETTLE_POLL_MS))
    }
  }

  /** Units enqueued and not yet reported, over every partition. */
  get pending (): number {
    let n = 0
    for (const q of this.#queues.values()) if (!q.stopped) n += q.unreported
    return n
  }

  /** Units enqueued and not yet reported for which `which` is true, over every partition still sending. */
  pendingWhere (which: (unit: ProduceUnit<T>) => boolean): number {
    let n = 0
    for (const q of this.#queues.values()) {
      if (q.stopped || q.unreported === 0) continue
      for (let i = q.head; i < q.entries.length; i++) for (const unit of q.entries[i].units) if (which(unit)) n++
    }
    return n
  }

  /** The units of a partition not yet reported, in enqueue order. */
  unreported (topic: string, partition: number): Array<ProduceUnit<T>> {
    const q = this.#queues.get(`${topic}:${partition}`)
    return q === undefined ? [] : q.entries.slice(q.head).flatMap(e => e.units)
  }

  /**
   * Sends nothing until the returned function is called (once): batches enqueued meanwhile by
   * several sources for one partition are then merged into one batch, one append.
   */
  hold (): () => void {
    this.#holds++
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.#holds === 0) this.#schedulePump()
    }
  }

  /** One pump after a burst of enqueues: the batches of one fetch share requests. */
  #schedulePump (): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    queueMicrotask(() => {
      this.#pumpScheduled = false
      this.#pump()
    })
  }

  #nextToSend (queue: PartitionQueue<T>): Entry<T> | undefined {
    while (queue.cursor < queue.entries.length && queue.entries[queue.cursor].state !== 'queued') queue.cursor++
    return queue.entries[queue.cursor]
  }

  /** The write gate opened again: send what waits. */
  wake (): void {
    this.#schedulePump()
  }

  #mayWrite (): boolean {
    return this.#options.mayWrite?.() ?? true
  }

  #pump (): void {
    if (!this.#started || this.#closed || this.#holds > 0 || !this.#mayWrite()) return
    const perPartition = this.#options.idempotent ? MAX_IN_FLIGHT_PER_PARTITION : 1
    const byLeader = new Map<number, Array<PartitionQueue<T>>>()
    let unknownLeader = false
    for (const queue of this.#queues.values()) {
      if (queue.stopped || queue.retrying || queue.inflight >= inFlightLimit(queue, perPartition) || this.#nextToSend(queue) === undefined) continue
      const leader = this.#metadata?.topics.get(queue.topic)?.partitions[queue.partition]?.leader ?? -1
      if (leader < 0 || this.#metadata?.brokers.get(leader) === undefined) {
        unknownLeader = true
        continue
      }
      const list = byLeader.get(leader)
      if (list === undefined) byLeader.set(leader, [queue])
      else list.push(queue)
    }
    if (unknownLeader) this.#refreshMetadata()
    for (const [leader, queues] of byLeader) {
      let lane = this.#lanes.get(leader)
      if (lane === undefined) {
        lane = { inflight: 0, rotation: 0 }
        this.#lanes.set(leader, lane)
      }
      // The gate is asked again per request: a request it stopped at writing goes back to the queue.
      while (lane.inflight < this.#maxInFlight && this.#mayWrite()) {
        const sent: Array<Sent<T>> = []
        let bytes = 0
        for (let i = 0; i < queues.length; i++) {
          const queue = queues[(lane.rotation + i) % queues.length]
          if (queue.inflight >= inFlightLimit(queue, perPartition)) continue
          let entry = this.#nextToSend(queue)
          if (entry === undefined) continue
          if (entry.sequence === undefined) entry = this.#mergeBehind(queue)
          const size = entry.batch!.length
          if (bytes > 0 && bytes + size > this.#options.maxRequestBytes) continue
          this.#prepare(queue, entry)
          entry.state = 'inflight'
          queue.inflight++
          sent.push({ queue, entry })
          bytes += size
        }
        lane.rotation++
        if (sent.length === 0) break
        this.#send(leader, lane, sent)
      }
    }
  }

  /**
   * Merges the batches never sent that follow the next one to send into it, while they fit the
   * merged batch size and can be merged (same compression, records copied as they are); returns
   * the entry to send.
   */
  #mergeBehind (queue: PartitionQueue<T>): Entry<T> {
    const entries = queue.entries
    const at = queue.cursor
    const first = entries[at]
    if (this.#mergeCap <= 0 || queue.noMerge || first.alone) return first
    const codec = mergeableCodec(first.batch!)
    if (codec < 0) return first
    const limit = this.#options.topicMaxBatchBytes?.(queue.topic)
    const cap = limit !== undefined && limit < this.#mergeCap ? limit : this.#mergeCap
    let bytes = first.batch!.length
    let end = at + 1
    while (end < entries.length) {
      const next = entries[end]
      if (next.state !== 'queued' || next.sequence !== undefined || next.alone) break
      if (bytes + next.batch!.length > cap || mergeableCodec(next.batch!) !== codec) break
      bytes += next.batch!.length
      end++
    }
    if (end === at + 1) return first
    const parts = entries.slice(at, end)
    const units = parts.flatMap(e => e.units)
    const batches = parts.map(e => readRecordBatch(e.batch!))
    const records = parts.flatMap((e, i) => e.records ?? [batches[i].recordCount])
    const merged: Entry<T> = { units, batch: mergeRecordBatches(batches, codec), records, state: 'queued', sequence: undefined, alone: false, written: false }
    entries.splice(at, end - at, merged)
    this.counts.merged += end - at
    return merged
  }

  /**
   * The target refused a merged batch as too large: its units go as they are, in its place, each
   * numbered within the merged batch's sequence range so that the batches after it stay in order.
   */
  #split (queue: PartitionQueue<T>, entry: Entry<T>): void {
    const at = queue.entries.indexOf(entry, queue.head)
    const parts = entry.units.map(single)
    let sequence = entry.sequence!
    const producerId = queue.producerId ?? this.#producerId
    const producerEpoch = queue.producerId !== undefined ? queue.producerEpoch : this.#producerEpoch
    for (const part of parts) {
      part.state = 'failed'
      part.alone = true
      if (!this.#options.idempotent) {
        part.sequence = NO_SEQUENCE
        rewriteProducerFields(part.batch!, { producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH, baseSequence: NO_SEQUENCE })
        continue
      }
      part.sequence = sequence
      rewriteProducerFields(part.batch!, { producerId, producerEpoch, baseSequence: sequence, transactional: this.#options.transactional !== undefined })
      sequence = incrementSequence(sequence, readRecordBatch(part.batch!).lastOffsetDelta + 1)
    }
    queue.entries.splice(at, 1, ...parts)
    queue.noMerge = true
  }

  /** The first send gives a batch its sequence; resends keep it. */
  #prepare (queue: PartitionQueue<T>, entry: Entry<T>): void {
    if (entry.sequence !== undefined) return
    this.counts.sent++
    const batch = entry.batch!
    if (this.#options.idempotent) {
      entry.sequence = queue.nextSequence
      queue.nextSequence = incrementSequence(queue.nextSequence, readRecordBatch(batch).lastOffsetDelta + 1)
      rewriteProducerFields(batch, {
        producerId: queue.producerId ?? this.#producerId,
        producerEpoch: queue.producerId !== undefined ? queue.producerEpoch : this.#producerEpoch,
        baseSequence: entry.sequence,
        transactional: this.#options.transactional !== undefined
      })
    } else {
      entry.sequence = NO_SEQUENCE
      rewriteProducerFields(batch, { producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH, baseSequence: NO_SEQUENCE })
    }
  }

  #send (leader: number, lane: Lane, sent: Array<Sent<T>>): void {
    lane.inflight++
    const topics = new Map<string, produceV9.RawProduceTopic>()
    for (const { queue, entry } of sent) {
      let topic = topics.get(queue.topic)
      if (topic === undefined) {
        topic = { topic: queue.topic, partitions: [] }
        topics.set(queue.topic, topic)
      }
      topic.partitions.push({ partition: queue.partition, batch: entry.batch! })
    }
    const broker = this.#metadata!.brokers.get(leader)!
    const timeout = Math.max(1000, this.#options.requestTimeoutMs - 1000)
    this.client.connections.get(broker, (error, connection) => {
      if (error !== null && error !== undefined) {
        this.#settle(lane, sent, error)
        return
      }
      const send = (produce: typeof produceV9.api): void => {
        if (!this.#mayWrite() || this.#closed) {
          this.#unsend(lane, sent)
          return
        }
        for (const { entry } of sent) entry.written = true
        produce(connection!, this.#options.acks, timeout, [...topics.values()], this.#options.transactional?.id ?? null, (error, response) => {
          this.#settle(lane, sent, error ?? undefined, response)
        })
      }
      // The version is asked once per connection; later sends stay synchronous.
      const known = knownVersionFor(connection!, PRODUCE)
      if (known !== undefined) send(known.api)
      else versionFor(connection!, PRODUCE, `target broker ${leader}`).then(v => { send(v.api) }, error => { this.#settle(lane, sent, error as Error) })
    })
  }

  /** A request the write gate stopped before it was written: its batches wait again, in order. */
  #unsend (lane: Lane, sent: Array<Sent<T>>): void {
    lane.inflight--
    for (const { queue, entry } of sent) {
      queue.inflight--
      entry.state = 'queued'
      const at = queue.entries.indexOf(entry, queue.head)
      if (at >= 0 && at < queue.cursor) queue.cursor = at
    }
    // Pumped again by wake() when the gate opens (or at once, if it opened meanwhile).
    if (this.#mayWrite()) this.#schedulePump()
  }

  #settle (lane: Lane, sent: Array<Sent<T>>, error: Error | undefined, response?: produceV9.RawProduceResponse): void {
    lane.inflight--
    const now = Date.now()
    const touched = new Set<PartitionQueue<T>>()
    let staleMetadata = false
    for (const { queue, entry } of sent) {
      queue.inflight--
      touched.add(queue)
      let failure: ProduceError | undefined
      let answer: produceV9.RawProducePartitionResponse | undefined
      if (error !== undefined) {
        failure = new ProduceError(queue.topic, queue.partition, -1, error.message, { cause: error })
      } else {
        answer = response?.responses.find(r => r.topic === queue.topic)?.partitions.find(p => p.index === queue.partition)
        const code = answer?.errorCode ?? 3
        if (code !== 0 && code !== ERROR_DUPLICATE_SEQUENCE) {
          failure = new ProduceError(queue.topic, queue.partition, code, answer?.errorMessage ?? answer?.recordErrors[0]?.message)
        }
      }
      if (failure === undefined) {
        entry.state = 'acked'
        queue.appended = true
        let baseOffset = answer?.baseOffset ?? -1n
        for (let i = 0; i < entry.units.length; i++) {
          entry.units[i].baseOffset = baseOffset
          if (baseOffset >= 0n && entry.records !== undefined) baseOffset += BigInt(entry.records[i])
        }
        continue
      }
      entry.state = 'failed'
      this.#listener.sendError?.(queue.topic, queue.partition, failure)
      if (queue.stopped) continue
      if (entry.units.length > 1 && (failure.errorCode === ERROR_MESSAGE_TOO_LARGE || failure.errorCode === ERROR_RECORD_LIST_TOO_LARGE)) {
        // Not appended, and not the units' fault: they go again one by one.
        this.#split(queue, entry)
        queue.retrying = true
        queue.failingSince ??= now
        queue.lastError = failure
        continue
      }
      // A transactional producer cannot take a new id: its partition stops and the transaction is aborted.
      const lostState = this.#options.idempotent && this.#options.transactional === undefined && (failure.errorCode === ERROR_UNKNOWN_PRODUCER_ID || (failure.errorCode === ERROR_OUT_OF_ORDER_SEQUENCE && !queue.retrying))
      if (lostState && queue.resets < MAX_RESETS) {
        queue.retrying = true
        queue.resetting = true
        queue.lastError = failure
        continue
      }
      // Out of order after an earlier failure of the same partition: that batch is missing, not this one.
      const retriable = failure.retriable || (failure.errorCode === ERROR_OUT_OF_ORDER_SEQUENCE && queue.retrying)
      if (retriable && (queue.failingSince === undefined || now - queue.failingSince < this.#options.deliveryTimeoutMs)) {
        queue.retrying = true
        queue.failingSince ??= now
        if (failure.errorCode !== ERROR_OUT_OF_ORDER_SEQUENCE || queue.lastError === undefined) queue.lastError = failure
        if (failure.errorCode < 0 || STALE_METADATA.has(failure.errorCode)) staleMetadata = true
      } else {
        const given = retriable ? new Error(`${queue.lastError?.message ?? failure.message}: still failing after ${this.#options.deliveryTimeoutMs} ms (delivery.timeout.ms)`, { cause: queue.lastError ?? failure }) : failure
        if (this.#options.skipRefused === true) {
          entry.state = 'acked'
          for (const unit of entry.units) unit.skipped = given
          queue.failingSince = undefined
          // The broker keeps waiting for this batch's sequence: go on under a new producer id.
          if (this.#options.idempotent) {
            queue.retrying = true
            queue.resetting = true
            queue.lastError = given
          }
          continue
        }
        this.#stop(queue, entry, given)
      }
    }
    if (staleMetadata) this.#refreshMetadata()
    for (const queue of touched) {
      this.#reportAcknowledged(queue)
      if (queue.retrying && queue.inflight === 0 && !queue.stopped) this.#scheduleRetry(queue)
    }
    this.#pump()
  }

  #stop (queue: PartitionQueue<T>, entry: Entry<T>, error: Error): void {
    queue.stopped = true
    clearTimeout(queue.retryTimer)
    this.#listener.failed(queue.topic, queue.partition, entry.units[0], error)
  }

  #scheduleRetry (queue: PartitionQueue<T>): void {
    if (queue.retryTimer !== undefined || this.#closed) return
    const delay = Math.min(1000, this.#options.retryBackoffMs * 2 ** queue.attempts++)
    queue.retryTimer = setTimeout(() => {
      const resend = (): void => {
        queue.retryTimer = undefined
        if (this.#closed || queue.stopped) return
        for (let i = queue.head; i < queue.entries.length; i++) if (queue.entries[i].state === 'failed') queue.entries[i].state = 'queued'
        queue.cursor = queue.head
        queue.retrying = false
        this.#pump()
      }
      const reset = async (): Promise<void> => {
        const { producerId, producerEpoch } = await this.#initProducerId()
        queue.producerId = producerId
        queue.producerEpoch = producerEpoch
        queue.nextSequence = 0
        queue.appended = false
        queue.resets++
        queue.resetting = false
        // Numbered again from 0 under the new id; batches acknowledged already stay as they are.
        for (let i = queue.head; i < queue.entries.length; i++) {
          const entry = queue.entries[i]
          if (entry.state !== 'acked') {
            entry.state = 'queued'
            entry.sequence = undefined
          }
        }
        this.#listener.reset?.(queue.topic, queue.partition, queue.lastError!)
      }
      if (queue.resetting) {
        reset().then(resend, error => {
          queue.retryTimer = undefined
          const first = queue.entries.slice(queue.head).find(e => e.state !== 'acked')
          if (first !== undefined) this.#stop(queue, first, new Error(`the target lost the producer state of ${queue.key} and a new producer id could not be taken: ${(error as Error).message}`, { cause: error }))
        })
        return
      }
      const refreshing = this.#refreshing
      if (refreshing !== undefined) refreshing.then(resend, resend)
      else resend()
    }, delay)
  }

  #reportAcknowledged (queue: PartitionQueue<T>): void {
    if (queue.stopped) return
    const done: Array<ProduceUnit<T>> = []
    const reported: Array<Entry<T>> = []
    while (queue.head < queue.entries.length && queue.entries[queue.head].state === 'acked') {
      const entry = queue.entries[queue.head++]
      reported.push(entry)
      done.push(...entry.units)
    }
    if (done.length === 0) return
    queue.unreported -= done.length
    if (!queue.retrying) {
      queue.failingSince = undefined
      queue.attempts = 0
      queue.resets = 0
      queue.lastError = undefined
    }
    // Keep the array short: drop what was reported once it is most of it.
    if (queue.head > 256 && queue.head * 2 > queue.entries.length) {
      queue.entries.splice(0, queue.head)
      queue.cursor = Math.max(0, queue.cursor - queue.head)
      queue.head = 0
    }
    this.#listener.acknowledged(queue.topic, queue.partition, done)
    // Reported entries stay in the array until it is compacted (above): their batches go now, or
    // a partition would keep up to 256 acknowledged batches (64 MiB of 256 KiB ones) alive.
    for (const entry of reported) {
      entry.batch = null
      for (const unit of entry.units) unit.batch = null
    }
  }

  #refreshMetadata (): void {
    if (this.#refreshing !== undefined || this.#refreshTimer !== undefined || this.#closed) return
    // At most one metadata request per retry.backoff.ms while a leader stays unknown.
    const wait = this.#lastRefreshAt + this.#options.retryBackoffMs - Date.now()
    if (wait > 0) {
      this.#refreshTimer = setTimeout(() => {
        this.#refreshTimer = undefined
        this.#refreshMetadata()
      }, wait)
      return
    }
    this.#lastRefreshAt = Date.now()
    const topics = [...new Set([...this.#queues.values()].map(q => q.topic))]
    this.#refreshing = this.client.metadata({ topics, forceUpdate: true }).then(metadata => {
      this.#metadata = metadata
    }, () => {
      // Tried again at the next pump or retry.
    }).finally(() => {
      this.#refreshing = undefined
      setImmediate(() => this.#pump())
    })
  }

  /** Learns the leaders of these topics' partitions before the first batches go. */
  async prepareTopics (topics: string[]): Promise<void> {
    const known = this.#metadata === undefined ? [] : [...this.#metadata.topics.keys()]
    this.#metadata = await this.client.metadata({ topics: [...new Set([...known, ...topics, ...[...this.#queues.values()].map(q => q.topic)])], forceUpdate: true })
    this.#pump()
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const q of this.#queues.values()) clearTimeout(q.retryTimer)
    clearTimeout(this.#refreshTimer)
    if (this.#ownsClient) await this.client.close().catch(() => {})
  }
}


/** In flight for a partition: one until the leader holds its producer id's state (see the top). */
function inFlightLimit (queue: { appended: boolean }, perPartition: number): number {
  return queue.appended ? perPartition : 1
}

function single<T> (unit: ProduceUnit<T>): Entry<T> {
  return { units: [unit], batch: unit.batch, records: undefined, state: unit.batch === null ? 'acked' : 'queued', sequence: undefined, alone: false, written: false }
}

/**
 * The compression of a batch whose records can go into a merged batch as they are; -1 when it
 * cannot be merged (LogAppendTime, a control batch, compaction's gaps or delete horizon), or is
 * too big to be worth it.
 */
function mergeableCodec (batch: Buffer): number {
  const attributes = batch.readInt16BE(21)
  if (batch.readInt8(16) !== 2 || (attributes & NOT_MERGEABLE) !== 0) return -1
  if (batch.readInt32BE(57) !== batch.readInt32BE(23) + 1) return -1
  if (batch.length >= MERGE_BELOW_BYTES) return -1
  return attributes & Attributes.COMPRESSION_MASK
}
