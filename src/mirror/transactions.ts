// Exactly-once mode (exactly.once.support=enabled; MM2's exactly.once.source.support): the records
// of a source partition and the source position they reach are written in one transaction on the
// target, so a read_committed consumer of the target sees each record once across crashes,
// rebalances and frozen members. The worker (worker.ts) hands each owned source partition's
// batches to its SourcePartitionTransactions instead of the shared producer; nothing of this file
// runs otherwise.
//
// How it keeps its promise:
// - One transactional id per source partition, `<prefix>-<topic>-<partition>`: the id follows the
//   partition through the group, so its new owner's InitProducerId aborts the old owner's open
//   transaction and bumps the epoch; the old owner (a zombie) is fenced at its next Produce,
//   AddPartitionsToTxn or EndTxn and lets the partition go. One RawProducer per source partition
//   (its own producer id, epoch and sequences), all of a worker's on one connection pool.
// - A target partition joins the transaction (AddPartitionsToTxn, the new ones of a moment in one
//   request) before the first batch goes to it; batches wait for that, in order.
// - The transaction closes transactionIntervalMs after its first batch: later batches wait for the
//   next one, every batch of it must be acknowledged, then one record goes to the positions topic
//   (Connect's offsets format, as MM2's MirrorSourceTask writes it: value {"offset": the last source
//   offset copied}) and EndTxn(commit) makes records and position visible at once. Only then is the
//   source group's offset committed (a lower bound for lag and kafka-consumer-groups, not atomic).
// - A new owner reads the position only after its InitProducerId (no older holder can commit
//   after it) and once every open transaction on the positions topic has ended (its last stable
//   offset reached the high watermark taken then): what it reads is the last committed position.
// - A batch the target refuses for good aborts the transaction; the partition starts again from
//   its last committed position (worker.ts makes it new).
import type { Base } from '@platformatic/kafka'
import type { ExactlyOnceSettings } from '../config/mirror-config.ts'
import { Admin, FetchIsolationLevels } from '@platformatic/kafka'
import { createTopic, waitForLeaders, brokerCount } from '../admin/topics.ts'
import { describeCause } from '../errors.ts'
import { baseClientOptions, type ClusterConnection } from '../kafka/client-options.ts'
import { RawProducer, type ProduceError, type ProduceUnit } from '../kafka/raw/raw-producer.ts'
import { encodeRecordBatch } from '../kafka/raw/record-batch.ts'
import { isFencedCode, TransactionCoordinator, TransactionError } from '../kafka/raw/transaction-coordinator.ts'
import type { Logger } from '../log.ts'
import { readMm2Positions } from '../mm2/mm2-offsets.ts'
import { partitionKey } from './offset-committer.ts'
import { partitionForKey } from './partitioner.ts'

/** Connect's default offset.storage.partitions: the positions topic gets as many when kafka-mirror creates it. */
const POSITIONS_PARTITIONS = 25

/** The transactional id of a source partition. */
export function transactionalId (prefix: string, topic: string, partition: number): string {
  return `${prefix}-${topic}-${partition}`
}

/** Connect's key of a source partition, as MirrorUtils.wrapPartition and Connect's JsonConverter write it (the HashMap's field order). */
export function positionKey (settings: Pick<ExactlyOnceSettings, 'connector' | 'sourceAlias'>, topic: string, partition: number): Buffer {
  return Buffer.from(JSON.stringify([settings.connector, { cluster: settings.sourceAlias, partition, topic }]))
}

/** The positions topic on the target, created compacted when missing; returns its partition count. */
export async function ensurePositionsTopic (target: ClusterConnection, settings: ExactlyOnceSettings, log: Logger): Promise<number> {
  const admin = new Admin(baseClientOptions(target, `${target.clientId}-positions`))
  try {
    const replicationFactor = Math.min(3, await brokerCount(admin))
    const created = await createTopic(admin, { name: settings.positionsTopic, partitions: POSITIONS_PARTITIONS, replicationFactor, configs: { 'cleanup.policy': 'compact' } })
    await waitForLeaders(admin, [settings.positionsTopic], 30_000)
    if (created) log.info({ topic: settings.positionsTopic, partitions: POSITIONS_PARTITIONS, replicationFactor }, 'created the positions topic of exactly-once mode on the target')
    const metadata = await admin.metadata({ topics: [settings.positionsTopic], forceUpdate: true })
    return metadata.topics.get(settings.positionsTopic)?.partitionsCount ?? POSITIONS_PARTITIONS
  } finally {
    await admin.close().catch(() => {})
  }
}

/**
 * The committed positions (next source offset to copy, by partitionKey), read after the caller
 * fenced every older holder of the partitions' transactional ids: first every transaction open
 * on the positions topic at this moment ends (its last stable offset reaches the high watermark
 * taken now: a transaction lasts one interval, or is aborted at transaction.timeout.ms), then it
 * is read read_committed (mm2-offsets.ts).
 */
export async function readCommittedPositions (target: ClusterConnection, settings: ExactlyOnceSettings, log: Logger): Promise<Map<string, bigint>> {
  const admin = new Admin(baseClientOptions(target, `${target.clientId}-positions`))
  try {
    const metadata = await admin.metadata({ topics: [settings.positionsTopic], forceUpdate: true })
    const count = metadata.topics.get(settings.positionsTopic)?.partitionsCount ?? 0
    const request = [{ name: settings.positionsTopic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }]
    const ends = async (isolationLevel: typeof FetchIsolationLevels.READ_COMMITTED | typeof FetchIsolationLevels.READ_UNCOMMITTED): Promise<Map<number, bigint>> => {
      const answer = await admin.listOffsets({ topics: request, isolationLevel })
      return new Map((answer[0]?.partitions ?? []).map(p => [p.partitionIndex, p.offset]))
    }
    const highWatermarks = await ends(FetchIsolationLevels.READ_UNCOMMITTED)
    const deadline = Date.now() + settings.transactionTimeoutMs + 30_000
    for (;;) {
      const stable = await ends(FetchIsolationLevels.READ_COMMITTED)
      const open = [...highWatermarks].filter(([p, h]) => (stable.get(p) ?? -1n) < h).map(([p]) => p)
      if (open.length === 0) break
      if (Date.now() > deadline) throw new Error(`transactions on ${settings.positionsTopic} partitions ${open.join(',')} stayed open past transaction.timeout.ms`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  } finally {
    await admin.close().catch(() => {})
  }
  const read = await readMm2Positions(target, { topic: settings.positionsTopic, sourceAlias: settings.sourceAlias, connector: name => name === settings.connector, logger: log })
  return read.positions
}

/** Marks the position record among a producer's units. */
const POSITION = Symbol('position')
type Position = typeof POSITION

export interface SourcePartitionHost<T> {
  /** Units of this source partition the target acknowledged (the position record left out). */
  acknowledged (topic: string, partition: number, units: Array<ProduceUnit<T>>): void
  /** One past the last source offset whose records were all acknowledged; undefined: none yet. */
  settled (): bigint | undefined
  /** The transaction committed: records up to `nextOffset` (excluded) are on the target for good. */
  committed (nextOffset: bigint): void
  /** The partition cannot go on in this transaction (fenced, or a batch refused for good). */
  failed (error: Error, fenced: boolean): void
  /** Every failed produce attempt, for the metrics. */
  sendError? (error: ProduceError): void
}

export interface SourcePartitionOptions {
  base: Base
  target: ClusterConnection
  settings: ExactlyOnceSettings
  topic: string
  partition: number
  /** Target topics its batches go to. */
  targetTopics: string[]
  positionsPartitions: number
  acks: number
  requestTimeoutMs: number
  deliveryTimeoutMs: number
  retryBackoffMs: number
  maxRequestBytes: number
  maxInFlightRequests: number
  topicMaxBatchBytes?: (topic: string) => number | undefined
}

interface Waiting<T> { topic: string, partition: number, unit: ProduceUnit<T> }

/** The transactions of one owned source partition: see the top of the file. */
export class SourcePartitionTransactions<T> {
  readonly transactionalId: string
  #options: SourcePartitionOptions
  #host: SourcePartitionHost<T>
  #log: Logger
  #coordinator: TransactionCoordinator
  #producer: RawProducer<T | Position> | undefined
  #producerId = -1n
  #producerEpoch = -1
  /** Target partitions ("topic:partition") in the open transaction. */
  #added = new Set<string>()
  /** Units waiting for their target partition to join the transaction, in order. */
  #waiting: Array<Waiting<T>> = []
  #adding: Promise<void> | undefined
  /** Units fetched while the transaction closes: the next transaction's. */
  #next: Array<Waiting<T>> = []
  #open = false
  #closing: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  #lastCommitted: bigint | undefined
  #done = false
  #changed: (() => void) | undefined

  constructor (options: SourcePartitionOptions, host: SourcePartitionHost<T>, log: Logger) {
    this.#options = options
    this.#host = host
    this.transactionalId = transactionalId(options.settings.transactionalIdPrefix, options.topic, options.partition)
    this.#log = log.child({ transactionalId: this.transactionalId })
    this.#coordinator = new TransactionCoordinator(options.base, this.transactionalId, {
      requestTimeoutMs: options.requestTimeoutMs,
      retryBackoffMs: options.retryBackoffMs,
      transactionTimeoutMs: options.settings.transactionTimeoutMs,
      operationTimeoutMs: Math.max(options.deliveryTimeoutMs, options.settings.transactionTimeoutMs)
    })
  }

  /**
   * InitProducerId: from now on no older holder of the id can commit; its open transaction is
   * aborted. Then the producer is ready; positions are read after this (readCommittedPositions).
   */
  async init (): Promise<void> {
    const { producerId, producerEpoch } = await this.#coordinator.initProducerId()
    if (this.#done) return
    this.#producerId = producerId
    this.#producerEpoch = producerEpoch
    const o = this.#options
    const producer = new RawProducer<T | Position>({
      client: baseClientOptions(o.target),
      base: o.base,
      transactional: { id: this.transactionalId, producerId, producerEpoch },
      acks: o.acks,
      idempotent: true,
      requestTimeoutMs: o.requestTimeoutMs,
      deliveryTimeoutMs: o.deliveryTimeoutMs,
      retryBackoffMs: o.retryBackoffMs,
      maxRequestBytes: o.maxRequestBytes,
      maxInFlightRequests: o.maxInFlightRequests,
      topicMaxBatchBytes: o.topicMaxBatchBytes
    }, {
      acknowledged: (topic, partition, units) => {
        if (this.#done) return
        const records = units.filter((u): u is ProduceUnit<T> => u.context !== POSITION)
        if (records.length > 0) this.#host.acknowledged(topic, partition, records)
        this.#notify()
      },
      failed: (_topic, _partition, _unit, error) => { this.#fail(error, isFencedCode((error as ProduceError).errorCode ?? 0)) },
      sendError: (_topic, _partition, error) => { if (!this.#done) this.#host.sendError?.(error) }
    })
    await producer.start()
    await producer.prepareTopics([...o.targetTopics, o.settings.positionsTopic])
    this.#producer = producer
    this.#log.debug({ producerId: String(producerId), producerEpoch }, 'took the transactional id')
  }

  /** Units handed over and not yet acknowledged, or waiting. */
  get pending (): number {
    if (this.#done) return 0
    return this.#waiting.length + this.#next.length + (this.#producer?.pendingWhere(u => u.context !== POSITION) ?? 0)
  }

  /** Whether a transaction is open, closing, or waiting to open. */
  get open (): boolean {
    return !this.#done && (this.#open || this.#closing !== undefined || this.#next.length > 0)
  }

  /** Whether it was let go (released): it takes nothing more. */
  get released (): boolean {
    return this.#done
  }

  /** A batch of this source partition for a target partition: in the open transaction, or the next. False: released, not taken. */
  enqueue (topic: string, partition: number, unit: ProduceUnit<T>): boolean {
    if (this.#done) return false
    if (this.#closing !== undefined) {
      this.#next.push({ topic, partition, unit })
      return true
    }
    if (!this.#open) {
      this.#open = true
      this.#timer = setTimeout(() => { this.commit().catch(() => {}) }, this.#options.settings.transactionIntervalMs)
    }
    if (this.#added.has(partitionKey(topic, partition))) {
      this.#producer!.enqueue(topic, partition, unit as ProduceUnit<T | Position>)
      return true
    }
    this.#waiting.push({ topic, partition, unit })
    this.#addWaiting()
    return true
  }

  /** Target partitions new to the transaction join it together, then their batches go, in order. */
  #addWaiting (): void {
    if (this.#adding !== undefined) return
    this.#adding = (async () => {
      // The batches of one fetch answer are enqueued together: one request for all their partitions.
      await Promise.resolve()
      while (this.#waiting.some(w => !this.#added.has(partitionKey(w.topic, w.partition)))) {
        await this.#addPartitions(this.#waiting.map(w => ({ topic: w.topic, partition: w.partition })))
        if (this.#done) return
        const still: Array<Waiting<T>> = []
        for (const w of this.#waiting) {
          if (this.#added.has(partitionKey(w.topic, w.partition))) this.#producer!.enqueue(w.topic, w.partition, w.unit as ProduceUnit<T | Position>)
          else still.push(w)
        }
        this.#waiting = still
      }
    })().catch(error => { this.#fail(error as Error, error instanceof TransactionError && error.fenced) }).finally(() => {
      this.#adding = undefined
      this.#notify()
    })
  }

  async #addPartitions (partitions: Array<{ topic: string, partition: number }>): Promise<void> {
    const byTopic = new Map<string, Set<number>>()
    for (const { topic, partition } of partitions) {
      if (this.#added.has(partitionKey(topic, partition))) continue
      let set = byTopic.get(topic)
      if (set === undefined) byTopic.set(topic, set = new Set())
      set.add(partition)
    }
    if (byTopic.size === 0) return
    await this.#coordinator.addPartitions(this.#producerId, this.#producerEpoch, [...byTopic].map(([name, set]) => ({ name, partitions: [...set] })))
    for (const [topic, set] of byTopic) for (const p of set) this.#added.add(partitionKey(topic, p))
  }

  #notify (): void {
    const changed = this.#changed
    this.#changed = undefined
    changed?.()
  }

  async #until (done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.#done) throw new Error(`the transaction of ${this.transactionalId} was given up`)
      await new Promise<void>(resolve => {
        this.#changed = resolve
        // Acknowledgements notify; the timer only bounds a missed one.
        setTimeout(resolve, 50)
      })
    }
  }

  /**
   * Closes the open transaction: its batches acknowledged, the position record written, then
   * EndTxn(commit). Concurrent calls share it; without an open transaction it does nothing.
   */
  async commit (): Promise<void> {
    if (this.#closing !== undefined) return await this.#closing
    if (!this.#open || this.#done) return
    clearTimeout(this.#timer)
    this.#closing = this.#commit().catch((error: unknown) => {
      this.#fail(error as Error, error instanceof TransactionError && error.fenced)
      throw error
    }).finally(() => {
      this.#closing = undefined
      // What was fetched meanwhile starts the next transaction, ahead of anything enqueued later
      // (synchronously here, so nothing can come between).
      const next = this.#next
      this.#next = []
      for (const w of next) this.enqueue(w.topic, w.partition, w.unit)
    })
    await this.#closing
  }

  async #commit (): Promise<void> {
    const producer = this.#producer!
    await this.#until(() => this.#adding === undefined && this.#waiting.length === 0 && producer.pending === 0)
    const settled = this.#host.settled()
    const o = this.#options
    if (settled !== undefined && settled > 0n && (this.#lastCommitted === undefined || settled > this.#lastCommitted)) {
      const key = positionKey(o.settings, o.topic, o.partition)
      const value = Buffer.from(`{"offset":${settled - 1n}}`)
      const positionsPartition = partitionForKey(key, o.positionsPartitions)
      await this.#addPartitions([{ topic: o.settings.positionsTopic, partition: positionsPartition }])
      const batch = encodeRecordBatch([{ offset: 0n, timestamp: BigInt(Date.now()), attributes: 0, key, value, headers: [] }])
      producer.enqueue(o.settings.positionsTopic, positionsPartition, { batch, context: POSITION })
      await this.#until(() => producer.pending === 0)
    }
    await this.#coordinator.endTxn(this.#producerId, this.#producerEpoch, true)
    this.#added.clear()
    this.#open = false
    if (settled !== undefined && (this.#lastCommitted === undefined || settled > this.#lastCommitted)) {
      this.#lastCommitted = settled
      this.#host.committed(settled)
    }
  }

  #fail (error: Error, fenced: boolean): void {
    if (this.#done) return
    this.#host.failed(error, fenced)
  }

  /**
   * Lets the partition go (revoked, fenced, failed, or the mirror stopping): the open transaction
   * is aborted (best effort: the next owner's InitProducerId aborts it anyway), the producer
   * closed. Returns the units never acknowledged, for the caller's accounting.
   */
  release (): { units: Array<ProduceUnit<T>>, done: Promise<void> } {
    if (this.#done) return { units: [], done: Promise.resolve() }
    clearTimeout(this.#timer)
    const producer = this.#producer
    const units: Array<ProduceUnit<T>> = [...this.#waiting, ...this.#next].map(w => w.unit)
    if (producer !== undefined) {
      for (const key of this.#added) {
        const at = key.lastIndexOf(':')
        for (const u of producer.unreported(key.slice(0, at), Number(key.slice(at + 1)))) if (u.context !== POSITION) units.push(u as ProduceUnit<T>)
      }
    }
    this.#done = true
    this.#waiting = []
    this.#next = []
    this.#notify()
    const wasOpen = this.#open
    this.#open = false
    const done = (async () => {
      if (wasOpen && producer !== undefined) {
        await this.#coordinator.endTxn(this.#producerId, this.#producerEpoch, false).catch((error: unknown) => {
          if (error instanceof TransactionError && error.fenced) this.#log.warn({ partition: partitionKey(this.#options.topic, this.#options.partition) }, 'this member was fenced: another member took the partition\'s transactional id, and aborted what this one had not committed')
          else this.#log.debug({ err: describeCause(error) }, 'aborting the open transaction failed; the next owner\'s InitProducerId aborts it')
        })
      }
      await producer?.close()
    })()
    return { units, done }
  }
}
