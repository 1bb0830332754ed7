// One consumer of the mirror's group (one of --num.streams): it fetches its share of the source
// partitions and hands batches to the shared producer, one send at a time, so records of a source
// partition reach the target in order. A source offset becomes committable only when the send
// holding it, and so every record before it, was acknowledged by the target.
//
// What it guards against:
// - a send fails: nothing after it is sent or committed (the mirror stops, or skips by choice);
// - a rebalance: records of partitions this member lost are dropped unsent, so the new owner,
//   which starts from the committed offset, is the only one to copy them;
// - a pause longer than the session timeout (a zombie): nothing is sent until the member has
//   heard from the group again, by which time its lost partitions are dropped;
// - a source broker going away: the fetch stream is made again after a pause, from the committed
//   offsets, and what this worker took already is not taken twice;
// - records gone from the source before they were copied: reported, never skipped silently.
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka'
import type { Logger } from '../log.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { isFatalKafkaError } from '../kafka/retriable.ts'
import type { SourceSettings } from '../config/mirror-config.ts'
import { DataLossError, describeCause } from '../errors.ts'
import { OffsetCommitter, partitionKey, type CommittableOffset } from './offset-committer.ts'
import { Fifo } from './fifo.ts'
import { Membership, ownedPartitions } from './membership.ts'

export type { CommittableOffset }
export { partitionKey }

export interface WorkerBatch {
  messages: Message[]
  bytes: number
}

/** A partition's earliest and next offsets on the source, from ListOffsets. */
export interface PartitionBounds {
  logStart: bigint
  end: bigint
}

/** What the worker needs from the Mirror that owns it. */
export interface WorkerHost {
  /** Sends the batch to the target; resolves when every record is acknowledged. */
  send (batch: WorkerBatch): Promise<void>
  /** Called for each message fetched; false drops it (beyond a --once end offset). */
  accept (message: Message): boolean
  onFatal (error: unknown): void
  /** Source offsets (earliest, end) of partitions, keyed "topic:partition". */
  bounds (partitions: Array<{ topic: string, partition: number }>): Promise<Map<string, PartitionBounds>>
  /**
   * Records from `from` of a partition were not copied because they are gone from the source
   * (deleted up to `deletedTo`); the copy goes on at `resumeAt`. Throws to stop the mirror.
   */
  onDataLoss (topic: string, partition: number, from: bigint, deletedTo: bigint, resumeAt: bigint): void
  /** Called before a fetch stream is made again: the mirror checks whether topics were made again. */
  beforeRefetch (topics: string[]): Promise<void>
  /** A partition's offsets went back from `from` to `to` (topic made again, log truncated). Throws to stop the mirror. */
  onOffsetsWentBack (topic: string, partition: number, from: bigint, to: bigint): void
}

/**
 * What a fetched record costs in memory beyond its bytes: the message object, its Buffers, headers
 * Map, bigints and the client's bound commit function (about 750 B, measured in a heap snapshot).
 * Counted against buffer.memory so that 100 B records do not buffer eight times what it allows.
 */
const RECORD_OVERHEAD_BYTES = 768

export function recordBytes (message: Message): number {
  let bytes = (message.key?.length ?? 0) + (message.value?.length ?? 0)
  for (const [k, v] of message.headerEntries) bytes += (k?.length ?? 0) + (v?.length ?? 0)
  return bytes
}

/** What a buffered record counts against buffer.memory. */
const bufferedBytes = (message: Message): number => recordBytes(message) + RECORD_OVERHEAD_BYTES

/** What the client's stream asks of Consumer.listCommittedOffsets. */
interface CommittedOffsetsRequest {
  topics: Array<{ topic: string, partitions: number[] }>
}

/** The parts of a Consumer.fetch call and its answer that #guardStaleFetchAnswers reads. */
interface FetchCall {
  connectionPool?: unknown
  topics: Array<{ topicId: string, partitions: Array<{ partition: number, fetchOffset: bigint }> }>
}
interface FetchAnswer {
  responses: Array<{ topicId: string, partitions: Array<{ partitionIndex: number, records?: unknown[] | null }> }>
}

interface FetchStream {
  topics: string[]
  stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>
}

export class StreamWorker {
  readonly index: number
  readonly consumer: Consumer
  #host: WorkerHost
  #source: SourceSettings
  #log: Logger
  #streams: FetchStream[] = []
  #pending = new Fifo<Message>()
  #pendingBytes = 0
  #maxPendingBytes: number
  #maxBatchBytes: number
  #sending: Promise<void> | undefined
  #paused = false
  #stopping = false
  /** Until the mirror releases it (the group settled), fetched records wait here unsent. */
  #held = true
  /** A send failed: nothing more is sent, so nothing past the failure becomes committable. */
  #failed = false
  /** Partitions this member owns in the group's current generation, from its last join. */
  #owned = new Set<string>()
  /** When the group last answered a heartbeat or a join: older than the session means fenced. */
  #lastHeardFromGroup = 0
  #offsets: OffsetCommitter
  /** One past the last offset taken from each partition: a record below it was taken already. */
  #nextOffset = new Map<string, bigint>()
  #retryDelayMs = 1000
  /** Partitions whose offsets may not be committed: a jump is being checked, or records were lost. */
  #blocked = new Set<string>()
  #checks = new Set<Promise<void>>()
  #membership = new Membership()
  /** Goes up when this member missed a generation: older acknowledgements are not committed. */
  #membershipEpoch = 0
  /** Partitions being read again from the committed offset: their records wait for that. */
  #refetching = new Set<string>()
  /** Records are held because the group has not answered for a session timeout (logged once). */
  #holdingForGroup = false
  /** First offsets seen past the committed offset, per partition, and how often read again. */
  #suspects = new Map<string, { offset: bigint, count: number }>()
  /** Per owned partition, the offset the group had committed when this member got it. */
  #startOffsets = new Map<string, bigint>()

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
    this.#offsets = new OffsetCommitter(this.consumer)
    this.#guardCommittedOffsets()
    this.#guardStaleFetchAnswers()
    // Before partitions move to another member, hand over what the target already has. Not when
    // the news came from this worker's own commit (it failed on the rebalance): trying again at
    // once would fail the same way until the member has joined again.
    this.consumer.on('consumer:group:rebalance', () => {
      this.#log.debug({ memberId: this.consumer.memberId }, 'group rebalance')
      if (!this.#offsets.busy) this.commit().catch(() => {})
    })
    this.consumer.on('consumer:group:join', () => { this.#onJoin() })
    this.consumer.on('consumer:heartbeat:end', () => { this.#heardFromGroup() })
    // A failed rejoin (the coordinator down, say) leaves the member outside the group: join again.
    this.consumer.on('error', (error: unknown) => { this.#onConsumerError(error) })
  }

  /**
   * Where a fetch stream starts a partition the group never committed. After a join the client's
   * stream reads the group's committed offsets, and for a partition without one it keeps the
   * position it had reached itself (@platformatic/kafka 2.12, MessagesStream #assignOffsets), and
   * reports that position as where the group left off. This worker drops what it had fetched when
   * it missed a generation, so that position is past records nobody copied: seen as records lost
   * after a network cut early in a copy, before the first commit of some partitions. So the
   * stream's read of the committed offsets is answered here with the offset auto.offset.reset
   * names (the log start for earliest, the end for latest) where the group has none, as a new
   * member would start; with auto.offset.reset none the client's own answer stays.
   */
  #guardCommittedOffsets (): void {
    const fallback = this.#source.autoOffsetReset
    if (fallback === 'none') return
    const consumer = this.consumer as unknown as { listCommittedOffsets: (options: CommittedOffsetsRequest, callback?: (error: Error | null, offsets?: Map<string, bigint[]>) => void) => unknown }
    const original = consumer.listCommittedOffsets.bind(this.consumer) as (options: CommittedOffsetsRequest) => Promise<Map<string, bigint[]>>
    const answer = async (options: CommittedOffsetsRequest): Promise<Map<string, bigint[]>> => {
      const committed = await original(options)
      const missing = new Map<string, number[]>()
      for (const { topic, partitions } of options.topics) {
        const offsets = committed.get(topic)
        for (const partition of partitions) {
          const offset = offsets?.[partition]
          if (offset === undefined || offset < 0n) missing.set(topic, [...(missing.get(topic) ?? []), partition])
        }
      }
      if (missing.size === 0) return committed
      const starts = await this.consumer.listOffsets({ topics: [...missing.keys()], partitions: Object.fromEntries(missing), timestamp: fallback === 'latest' ? -1n : -2n })
      for (const [topic, partitions] of missing) {
        let offsets = committed.get(topic)
        if (offsets === undefined) committed.set(topic, offsets = [])
        for (const partition of partitions) {
          const offset = starts.get(topic)?.[partition]
          if (offset === undefined || offset < 0n) throw new Error(`no ${fallback} offset for ${topic}-${partition}`)
          offsets[partition] = offset
        }
      }
      this.#log.debug({ partitions: [...missing].map(([t, ps]) => ps.map(p => `${t}-${p}`).join(',')).join(','), from: fallback }, 'the group has no committed offset for partitions: reading them from auto.offset.reset')
      return committed
    }
    consumer.listCommittedOffsets = (options, callback) => {
      const result = answer(options)
      if (callback === undefined) return result
      result.then(offsets => { callback(null, offsets) }, (error: Error) => { callback(error) })
      return undefined
    }
  }

  /**
   * Drops fetch answers that are stale: a fetch asked for a partition from one offset, and before
   * its answer came the stream's position for the partition was moved (a join or a read again from
   * the committed offsets). The client applies such an answer anyway, which moves the position
   * past records nobody copied (@platformatic/kafka 2.12, MessagesStream #fetch/#pushRecords); a
   * dropped answer leaves the position where it was put, and the stream fetches from it next.
   */
  #guardStaleFetchAnswers (): void {
    const consumer = this.consumer as unknown as { fetch: (options: FetchCall, callback?: (error: Error | null, response?: FetchAnswer) => void) => unknown }
    const original = consumer.fetch.bind(this.consumer)
    consumer.fetch = (options, callback) => {
      const stream = this.#streams.find(s => s.stream.connections === options.connectionPool)?.stream
      if (callback === undefined || stream === undefined) return original(options, callback)
      const asked = new Map<string, bigint>()
      for (const t of options.topics) for (const p of t.partitions) asked.set(`${t.topicId}:${p.partition}`, p.fetchOffset)
      return original(options, (error, response) => {
        if (error === null && response !== undefined) this.#dropStale(stream, asked, response)
        callback(error, response)
      })
    }
  }

  #dropStale (stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>, asked: Map<string, bigint>, response: FetchAnswer): void {
    const names = new Map<string, string>()
    for (const [name, t] of this.consumer.currentMetadata?.topics ?? new Map()) names.set(t.id, name)
    for (const t of response.responses) {
      const name = names.get(t.topicId)
      if (name === undefined) continue
      for (const p of t.partitions) {
        if (p.records === undefined || p.records === null || p.records.length === 0) continue
        const from = asked.get(`${t.topicId}:${p.partitionIndex}`)
        const now = stream.offsetsToFetch.get(partitionKey(name, p.partitionIndex))
        if (from === undefined || now === from) continue
        this.#log.debug({ topic: name, partition: p.partitionIndex, askedFrom: String(from), positionNow: String(now) }, 'dropped a stale fetch answer: the position moved while it was under way')
        p.records = undefined
      }
    }
  }

  /** Subscribes to more topics; the group rebalances to include them. */
  async addTopics (topics: string[]): Promise<void> {
    await this.#consume(topics)
  }

  async #consume (topics: string[]): Promise<void> {
    const stream = await this.consumer.consume({
      topics,
      mode: 'committed',
      // An out-of-range offset makes the client jump (to the earliest or latest offset); the
      // worker sees the jump in the offsets it receives and finds out whether records are gone.
      fallbackMode: this.#source.autoOffsetReset === 'none' ? 'fail' : this.#source.autoOffsetReset,
      autocommit: false
    })
    const entry = { topics, stream }
    stream.on('offsets', () => { this.#onOffsets(stream) })
    stream.on('data', (message: Message) => this.#onMessage(message, stream))
    stream.on('error', (error: Error) => { this.#onStreamError(entry, error) })
    this.#streams.push(entry)
  }

  #heardFromGroup (): void {
    this.#lastHeardFromGroup = Date.now()
    this.#pump()
  }

  /**
   * A new generation: drop what belongs to partitions now owned by others. A member that missed a
   * generation (it was paused past its session, or lost its member id) cannot know who owned its
   * partitions meanwhile, so it drops everything it held: the stream reads again from the
   * committed offsets, which the other owner moved on.
   */
  #onJoin (): void {
    const owned = ownedPartitions(this.consumer.assignments ?? [])
    const generation = this.consumer.generationId
    const continuous = this.#membership.joined(this.consumer.memberId, generation)
    const held = new Set([...this.#owned, ...this.#nextOffset.keys(), ...this.#offsets.pending.keys()])
    const lost = [...held].filter(k => !continuous || !owned.has(k))
    this.#owned = owned
    if (!continuous) this.#membershipEpoch++
    this.#startOffsets.clear()
    this.#refetching.clear()
    this.#suspects.clear()
    if (lost.length > 0) {
      const lostSet = new Set(lost)
      const before = this.#pending.length
      const keep = this.#pending.retain(m => !lostSet.has(partitionKey(m.topic, m.partition)))
      const dropped = before - keep.length
      this.#pendingBytes = keep.reduce((sum, m) => sum + bufferedBytes(m), 0)
      // Dropped records free the buffer as sent ones do: a paused stream must fetch again.
      this.#resumeIfDrained()
      for (const k of lost) {
        this.#nextOffset.delete(k)
        // What the target acknowledged of a partition that just moved is committed at once (below),
        // so its new owner copies less again; a member that missed a generation holds only stale
        // offsets, which would move the group back.
        if (!continuous) this.#offsets.pending.delete(k)
      }
      const log = continuous ? this.#log.debug.bind(this.#log) : this.#log.warn.bind(this.#log)
      log({ lost: lost.length, droppedRecords: dropped, generation }, continuous ? 'partitions moved to another member' : 'this member missed a generation of its group (paused or cut off): dropping what it had fetched; the group\'s committed offsets say where to go on')
    }
    this.#log.debug({ memberId: this.consumer.memberId, generation, owned: owned.size }, 'joined the group')
    if (continuous && lost.length > 0) {
      this.commit().catch(() => {}).finally(() => {
        // Tried once: later they would only move the new owner's progress back.
        for (const k of lost) if (!this.#owned.has(k)) this.#offsets.pending.delete(k)
      })
    }
    this.#heardFromGroup()
  }

  /**
   * The topic was deleted and created again: its offsets start over, so what this worker took
   * from the old one says nothing about the new one.
   */
  forgetTopic (topic: string): void {
    for (const map of [this.#nextOffset, this.#startOffsets]) {
      for (const key of [...map.keys()]) if (key.startsWith(`${topic}:`) && key.lastIndexOf(':') === topic.length) map.delete(key)
    }
  }

  /** Partitions this member owns now. */
  get owned (): ReadonlySet<string> {
    return this.#owned
  }

  /** Lets fetched records go to the target: the group settled. */
  release (): void {
    this.#held = false
    this.#pump()
  }

  #onMessage (message: Message, stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): void {
    if (this.#stopping) return
    const key = partitionKey(message.topic, message.partition)
    // A stream can still hand over records of a partition this member lost in a rebalance.
    if (!this.#owned.has(key) || this.#refetching.has(key)) return
    // The client can deliver a range twice (after a join it fetches again from the committed
    // offset); a record this worker already took is never sent again.
    const start = this.#startOffsets.get(key)
    const taken = this.#nextOffset.get(key)
    // Nothing taken yet and the stream has not said where the group left off: this answer is
    // from a fetch made before the assignment; the read from the committed offset follows.
    if (start === undefined && taken === undefined) return
    if (start !== undefined && message.offset < start) {
      // Below where the group left off: not a second delivery (those start at the committed
      // offset) but offsets that went back. The old records from `start` on were never copied.
      try {
        this.#host.onOffsetsWentBack(message.topic, message.partition, start, message.offset)
      } catch (error) {
        this.#blocked.add(key)
        this.#host.onFatal(error)
        return
      }
      this.#startOffsets.set(key, message.offset)
    } else if (taken !== undefined && message.offset < taken) {
      return
    } else {
      const expected = taken ?? start
      if (expected !== undefined && message.offset > expected) {
        // The first record after an assignment should be at the committed offset. A later one is
        // a hole (a transaction marker, compaction, deleted records) or a stale fetch answer; a
        // second read from the committed offset tells them apart: a hole comes back the same.
        const tries = this.#suspects.get(key)
        if (taken === undefined && (tries === undefined || (tries.offset !== message.offset && tries.count < 3)) && this.#refetch(stream, key)) {
          this.#suspects.set(key, { offset: message.offset, count: (tries?.count ?? 0) + 1 })
          this.#log.debug({ topic: message.topic, partition: message.partition, expected: String(expected), got: String(message.offset) }, 'first record after an assignment is past the committed offset; reading again from it')
          return
        }
        // Transaction markers and compaction leave holes; so does a jump past deleted records.
        this.#checkJump(message.topic, message.partition, expected, message.offset)
      }
      this.#suspects.delete(key)
      if (taken === undefined) this.#log.debug({ topic: message.topic, partition: message.partition, offset: String(message.offset), start: String(start) }, 'first record of the partition since the join')
    }
    this.#nextOffset.set(key, message.offset + 1n)
    if (!this.#host.accept(message)) return
    this.#pending.push(message)
    this.#pendingBytes += bufferedBytes(message)
    if (this.#pendingBytes >= this.#maxPendingBytes && !this.#paused) {
      this.#paused = true
      for (const s of this.#streams) s.stream.pause()
    }
    this.#pump()
  }

  /** Whether the group may have moved on without this member (it was paused, say). */
  #maybeFenced (): boolean {
    return Date.now() - this.#lastHeardFromGroup > this.#source.sessionTimeoutMs
  }

  #pump (): void {
    if (this.#sending !== undefined || this.#pending.length === 0 || this.#held || this.#failed || this.#stopping) return
    if (this.#maybeFenced()) {
      if (!this.#holdingForGroup) this.#log.warn('no word from the consumer group for a session timeout: holding fetched records until it answers')
      this.#holdingForGroup = true
      return
    }
    this.#holdingForGroup = false
    this.#sendNext()
  }

  /** Fetching was paused for a full buffer: go on once it drained to half (records were sent or dropped). */
  #resumeIfDrained (): void {
    if (this.#paused && this.#pendingBytes < this.#maxPendingBytes / 2) {
      this.#paused = false
      for (const s of this.#streams) s.stream.resume()
    }
  }

  #sendNext (): void {
    const messages: Message[] = []
    let bytes = 0
    while (this.#pending.length > 0) {
      const size = recordBytes(this.#pending.peek()!)
      if (messages.length > 0 && bytes + size > this.#maxBatchBytes) break
      messages.push(this.#pending.shift()!)
      bytes += size
    }
    this.#pendingBytes -= bytes + messages.length * RECORD_OVERHEAD_BYTES
    this.#resumeIfDrained()
    const epoch = this.#membershipEpoch
    this.#sending = this.#host.send({ messages, bytes }).then(() => {
      for (const m of messages) {
        const key = partitionKey(m.topic, m.partition)
        // An acknowledgement that arrives after the partition moved on is not ours to commit.
        if (epoch !== this.#membershipEpoch || !this.#owned.has(key)) continue
        this.#offsets.set({ topic: m.topic, partition: m.partition, offset: m.offset + 1n, leaderEpoch: m.leaderEpoch })
      }
      this.#sending = undefined
      this.#pump()
    }, error => {
      // Nothing of this batch is committable, and nothing after it is sent.
      this.#failed = true
      this.#sending = undefined
      this.#host.onFatal(error)
    })
  }

  /**
   * The first offsets a stream announces after a join are where the group left off (the
   * committed offsets); later ones come from the client jumping after an out-of-range error, so
   * only the first count: a jump from them shows in the records that follow.
   */
  #onOffsets (stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): void {
    for (const [key, offset] of stream.offsetsCommitted) {
      if (!this.#owned.has(key) || offset < 0n) continue
      if (this.#refetching.delete(key) || !this.#startOffsets.has(key)) this.#startOffsets.set(key, offset)
    }
  }

  /**
   * Makes the stream read its partitions again from the committed offsets. The client applies a
   * fetch answer that was under way during a join over the position the join gave it, so a
   * partition can resume past records nobody copied; reading again from the committed offset
   * puts it right (what this worker already holds is not taken twice).
   */
  #refetch (stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>, key: string): boolean {
    const refresh = Object.getOwnPropertySymbols(Object.getPrototypeOf(stream)).find(s => s.description === 'plt.kafka.messagesStream.refreshOffsetsAndFetch')
    if (refresh === undefined) return false
    this.#refetching.add(key)
    ;(stream as unknown as Record<symbol, () => void>)[refresh]()
    return true
  }

  /**
   * The records of a partition jumped from `expected` to `got`. If the source's earliest offset is
   * now past `expected`, records were deleted before they were copied: until that is settled the
   * partition's offsets are not committed, and a loss keeps them from moving past it.
   */
  #checkJump (topic: string, partition: number, expected: bigint, got: bigint): void {
    const key = partitionKey(topic, partition)
    this.#blocked.add(key)
    const check = this.#host.bounds([{ topic, partition }]).then(bounds => {
      const logStart = bounds.get(key)?.logStart ?? 0n
      if (logStart > expected) {
        // Never commit past the hole unless the user chose to go on.
        this.#host.onDataLoss(topic, partition, expected, logStart < got ? logStart : got, got)
      }
      this.#blocked.delete(key)
    }).catch(error => {
      if (error instanceof DataLossError) this.#host.onFatal(error)
      else {
        this.#log.warn({ topic, partition, err: describeCause(error) }, 'could not check a jump in source offsets; its offsets stay uncommitted until the next check')
        this.#blocked.delete(key)
        this.#checkJump(topic, partition, expected, got)
      }
    }).finally(() => { this.#checks.delete(check) })
    this.#checks.add(check)
  }

  #onConsumerError (error: unknown): void {
    if (this.#stopping) return
    if (isFatalKafkaError(error)) {
      this.#host.onFatal(error)
      return
    }
    this.#log.warn({ err: describeCause(error) }, 'the consumer lost its group membership; joining again')
    const retry = (): void => {
      if (this.#stopping) return
      this.consumer.joinGroup({}).catch((again: unknown) => {
        if (isFatalKafkaError(again)) this.#host.onFatal(again)
        else setTimeout(retry, 2000).unref()
      })
    }
    setTimeout(retry, 1000).unref()
  }

  #onStreamError (entry: FetchStream, error: unknown): void {
    if (this.#stopping) return
    if (isFatalKafkaError(error)) {
      this.#host.onFatal(error)
      return
    }
    this.#streams = this.#streams.filter(s => s !== entry)
    this.#recover(entry.topics, error).catch(fatal => { this.#host.onFatal(fatal) })
  }

  /**
   * Makes the fetch stream for `topics` again after a pause; a new stream reads from the committed
   * offsets. Tries until it works (a topic being deleted and made again, a broker coming back) or
   * the error is one that retrying cannot fix.
   */
  async #recover (topics: string[], error: unknown): Promise<void> {
    let cause = error
    while (!this.#stopping) {
      if (isFatalKafkaError(cause)) throw cause
      this.#log.warn({ topics: topics.join(','), err: describeCause(cause), retryInMs: this.#retryDelayMs }, 'fetching from the source failed; trying again')
      await new Promise(resolve => setTimeout(resolve, this.#retryDelayMs).unref())
      this.#retryDelayMs = Math.min(10_000, this.#retryDelayMs * 2)
      if (this.#stopping) return
      try {
        // Wait for what is in flight, so the committed offsets say exactly what the target has.
        while (this.#sending !== undefined) await this.#sending.catch(() => {})
        await this.commit().catch(() => {})
        await this.#host.beforeRefetch(topics)
        if (this.#stopping) return
        // The client caches topic ids: a topic deleted and created again would be fetched by its
        // old id ("does not host this topic ID") until the cache ages out, minutes later.
        await this.consumer.metadata({ topics, forceUpdate: true })
        await this.#consume(topics)
        this.#retryDelayMs = 1000
        return
      } catch (again) {
        cause = again
      }
    }
  }

  /**
   * Where this worker's fetch position is, per partition, for --once completion checks. Empty
   * while fetched records still wait in a stream's buffer or in this worker: a position only
   * proves something once everything fetched before it was sent.
   */
  fetchPositions (): Map<string, bigint> {
    const positions = new Map<string, bigint>()
    if (!this.idle || this.#streams.some(s => s.stream.readableLength > 0)) return positions
    // Only partitions this member owns now: a stream keeps the position of a partition it lost
    // in a rebalance, while its new owner may still be copying it.
    for (const s of this.#streams) for (const [k, v] of s.stream.offsetsToFetch) if (this.#owned.has(k)) positions.set(k, v)
    return positions
  }

  /** True when nothing fetched is waiting or in flight. */
  get idle (): boolean {
    return this.#sending === undefined && this.#pending.length === 0
  }

  /** Offsets the target has acknowledged but the group has not committed yet. */
  get committable (): Map<string, CommittableOffset> {
    return this.#offsets.pending
  }

  /** Commits acknowledged offsets, except where a jump in offsets is unsettled or records were lost. */
  async commit (extra: CommittableOffset[] = []): Promise<void> {
    if (this.#checks.size > 0) await Promise.allSettled([...this.#checks])
    await this.#offsets.commit(extra, key => this.#blocked.has(key))
  }

  /** Stops fetching; what was fetched is still sent by drain(). */
  async stopFetching (): Promise<void> {
    this.#stopping = true
    await Promise.all(this.#streams.map(async s => await s.stream.close().catch(() => {})))
  }

  /**
   * Sends what was fetched and waits for it, or until the deadline. After a failed send it only
   * waits for the send in flight: nothing after a failure may become committable.
   */
  async drain (deadline: number): Promise<boolean> {
    while (this.#sending !== undefined || (!this.#failed && this.#pending.length > 0)) {
      if (Date.now() > deadline) return false
      if (this.#sending !== undefined) await Promise.race([this.#sending.catch(() => {}), new Promise(resolve => setTimeout(resolve, 100))])
      else if (this.#held || this.#maybeFenced()) return false
      else this.#sendNext()
    }
    return !this.#failed
  }

  async close (): Promise<void> {
    this.#stopping = true
    await this.consumer.close(true).catch(error => this.#log.debug({ err: String(error) }, 'closing the consumer failed'))
  }
}
