// One consumer of the mirror's group (one of --num.streams): it fetches its share of the source
// partitions and hands batches to the shared producer, one send at a time, so records of a source
// partition reach the target in order. A source offset becomes committable only when the send
// holding it, and so every record before it, was acknowledged by the target.
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka'
import type { Logger } from '../log.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import type { SourceSettings } from '../config/mirror-config.ts'

export interface CommittableOffset {
  topic: string
  partition: number
  /** The next offset to read: one past the last record the target acknowledged. */
  offset: bigint
  leaderEpoch: number
}

export interface WorkerBatch {
  messages: Message[]
  bytes: number
}

/** What the worker needs from the Mirror that owns it. */
export interface WorkerHost {
  /** Sends the batch to the target; resolves when every record is acknowledged. */
  send (batch: WorkerBatch): Promise<void>
  /** Called for each message fetched; false drops it (beyond a --once end offset). */
  accept (message: Message): boolean
  onFatal (error: unknown): void
}

export const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`

export function recordBytes (message: Message): number {
  let bytes = (message.key?.length ?? 0) + (message.value?.length ?? 0)
  for (const [k, v] of message.headerEntries) bytes += (k?.length ?? 0) + (v?.length ?? 0)
  return bytes
}

export class StreamWorker {
  readonly index: number
  readonly consumer: Consumer
  #host: WorkerHost
  #source: SourceSettings
  #log: Logger
  #streams: MessagesStream<Buffer, Buffer, Buffer, Buffer>[] = []
  #pending: Message[] = []
  #pendingBytes = 0
  #maxPendingBytes: number
  #maxBatchBytes: number
  #sending: Promise<void> | undefined
  #paused = false
  #stopping = false
  #committable = new Map<string, CommittableOffset>()
  /** One past the last offset taken from each partition: a record below it was taken already. */
  #nextOffset = new Map<string, bigint>()
  #committing: Promise<void> | undefined

  constructor (index: number, source: SourceSettings, host: WorkerHost, log: Logger, limits: { maxPendingBytes: number, maxBatchBytes: number }) {
    this.index = index
    this.#source = source
    this.#host = host
    this.#log = log.child({ stream: index })
    this.#maxPendingBytes = limits.maxPendingBytes
    this.#maxBatchBytes = limits.maxBatchBytes
    this.consumer = new Consumer({
      ...baseClientOptions(source, `${source.clientId}-${index}`),
      groupId: source.groupId,
      ...(source.groupInstanceId !== undefined ? { groupInstanceId: `${source.groupInstanceId}-${index}` } : {}),
      sessionTimeout: source.sessionTimeoutMs,
      heartbeatInterval: source.heartbeatIntervalMs,
      rebalanceTimeout: source.rebalanceTimeoutMs,
      autocommit: false,
      minBytes: source.fetchMinBytes,
      maxBytes: source.fetchMaxBytes,
      maxBytesPerPartition: source.maxPartitionFetchBytes,
      maxWaitTime: source.fetchMaxWaitMs,
      isolationLevel: source.readCommitted ? 1 : 0
    })
    // Before partitions move to another member, hand over what the target already has.
    const commitNow = (event: string) => (): void => {
      this.#log.debug({ event, memberId: this.consumer.memberId }, 'group event')
      this.commit().catch(() => {})
    }
    this.consumer.on('consumer:group:rebalance', commitNow('rebalance'))
    this.consumer.on('consumer:group:join', commitNow('join'))
  }

  /** Subscribes to more topics; the group rebalances to include them. */
  async addTopics (topics: string[]): Promise<void> {
    const stream = await this.consumer.consume({
      topics,
      mode: 'committed',
      fallbackMode: this.#source.autoOffsetReset === 'none' ? 'fail' : this.#source.autoOffsetReset,
      autocommit: false
    })
    stream.on('data', (message: Message) => this.#onMessage(message))
    stream.on('error', (error: Error) => {
      if (!this.#stopping) this.#host.onFatal(error)
    })
    this.#streams.push(stream)
  }

  #onMessage (message: Message): void {
    if (this.#stopping) return
    // The client can deliver a range twice (a group join while a fetch is in flight refetches
    // from the same offset); a record this worker already took is never sent again.
    const key = partitionKey(message.topic, message.partition)
    const next = this.#nextOffset.get(key)
    if (next !== undefined && message.offset < next) return
    this.#nextOffset.set(key, message.offset + 1n)
    if (!this.#host.accept(message)) return
    this.#pending.push(message)
    this.#pendingBytes += recordBytes(message)
    if (this.#pendingBytes >= this.#maxPendingBytes && !this.#paused) {
      this.#paused = true
      for (const s of this.#streams) s.pause()
    }
    this.#pump()
  }

  #pump (): void {
    if (this.#sending !== undefined || this.#pending.length === 0) return
    const messages: Message[] = []
    let bytes = 0
    while (this.#pending.length > 0 && (messages.length === 0 || bytes + recordBytes(this.#pending[0]) <= this.#maxBatchBytes)) {
      const m = this.#pending.shift()!
      bytes += recordBytes(m)
      messages.push(m)
    }
    this.#pendingBytes -= bytes
    if (this.#paused && this.#pendingBytes < this.#maxPendingBytes / 2) {
      this.#paused = false
      for (const s of this.#streams) s.resume()
    }
    this.#sending = this.#host.send({ messages, bytes }).then(() => {
      for (const m of messages) {
        this.#committable.set(partitionKey(m.topic, m.partition), { topic: m.topic, partition: m.partition, offset: m.offset + 1n, leaderEpoch: m.leaderEpoch })
      }
      this.#sending = undefined
      this.#pump()
    }, error => {
      // Nothing of this batch is committable; the mirror decides whether to stop.
      this.#sending = undefined
      this.#host.onFatal(error)
    })
  }

  /**
   * Where this worker's fetch position is, per partition, for --once completion checks. Empty
   * while fetched records still wait in a stream's buffer or in this worker: a position only
   * proves something once everything fetched before it was sent.
   */
  fetchPositions (): Map<string, bigint> {
    const positions = new Map<string, bigint>()
    if (!this.idle || this.#streams.some(s => s.readableLength > 0)) return positions
    // Only partitions this member owns now: a stream keeps the position of a partition it lost
    // in a rebalance, while its new owner may still be copying it.
    const owned = new Set<string>()
    for (const a of this.consumer.assignments ?? []) for (const p of a.partitions) owned.add(partitionKey(a.topic, p))
    for (const s of this.#streams) for (const [k, v] of s.offsetsToFetch) if (owned.has(k)) positions.set(k, v)
    return positions
  }

  /** True when nothing fetched is waiting or in flight. */
  get idle (): boolean {
    return this.#sending === undefined && this.#pending.length === 0
  }

  /** Offsets the target has acknowledged but the group has not committed yet. */
  get committable (): Map<string, CommittableOffset> {
    return this.#committable
  }

  /** Commits acknowledged offsets; concurrent calls share one request. */
  async commit (extra: CommittableOffset[] = []): Promise<void> {
    if (this.#committing !== undefined) await this.#committing.catch(() => {})
    const offsets = [...this.#committable.values(), ...extra]
    if (offsets.length === 0) return
    const run = (async () => {
      await this.consumer.commit({ offsets })
      for (const o of offsets) {
        const key = partitionKey(o.topic, o.partition)
        if (this.#committable.get(key) === o) this.#committable.delete(key)
      }
    })()
    this.#committing = run
    try {
      await run
    } finally {
      if (this.#committing === run) this.#committing = undefined
    }
  }

  /** Stops fetching; what was fetched is still sent unless `drain` is false. */
  async stopFetching (): Promise<void> {
    this.#stopping = true
    await Promise.all(this.#streams.map(async s => await s.close().catch(() => {})))
  }

  /** Waits until every fetched record was sent, or the deadline passes. */
  async drain (deadline: number): Promise<boolean> {
    while (!this.idle) {
      if (Date.now() > deadline) return false
      if (this.#sending !== undefined) await Promise.race([this.#sending, new Promise(resolve => setTimeout(resolve, 100))])
      else this.#pump()
    }
    return true
  }

  async close (): Promise<void> {
    this.#stopping = true
    await this.consumer.close(true).catch(error => this.#log.debug({ err: String(error) }, 'closing the consumer failed'))
  }
}
