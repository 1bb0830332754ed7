// The fast path's stream: one member of the mirror's consumer group that copies its source
// partitions to the same partition numbers on the target as record batches, without decoding them.
// Same shape as StreamWorker (committable, commit, idle, fetchPositions, stopFetching, drain, close),
// so the Mirror runs either.
//
// - Group membership and offset commits go through @platformatic/kafka's Consumer (joinGroup and
//   its 'consumer:group:join' assignments); its message stream is never started, since it decodes.
// - Batches come from the partition leaders with Fetch v12 (RawFetcher), are planned per partition
//   (plan.ts: cut, re-encoded or dropped where needed) and go to the target with an idempotent
//   Produce v9 (RawProducer). The next fetch goes out as soon as a response is planned, while the
//   batches of the last one are still being written: fetch and produce overlap, bounded by
//   maxPendingBytes of batches not yet acknowledged.
// - A source offset becomes committable only when the target acknowledged the batch ending before
//   it and every batch before that (RawProducer reports acknowledgements in order).
// - As StreamWorker: nothing is fetched until the Mirror releases the worker (the group settled),
//   nor while the group has not answered for a session timeout (a paused member may have lost its
//   partitions); batches of partitions moved to another member are dropped unsent; records gone
//   from the source before they were copied, or offsets that went back, go to the host, which
//   stops the mirror or reports the gap, never skipping it silently.
import { Consumer, type GroupAssignment } from '@platformatic/kafka'
import type { SourceSettings, TargetSettings } from '../../config/mirror-config.ts'
import { DataLossError, ErrorCodes, KafkaMirrorError, SendFailedError, describeCause } from '../../errors.ts'
import { baseClientOptions } from '../../kafka/client-options.ts'
import { isFatalKafkaError } from '../../kafka/retriable.ts'
import type { RawFetchPartition, RawFetchTopicRequest } from '../../kafka/raw/fetch-v12.ts'
import { RawFetcher } from '../../kafka/raw/raw-fetcher.ts'
import { RawProducer, type ProduceUnit } from '../../kafka/raw/raw-producer.ts'
import type { Logger } from '../../log.ts'
import { OffsetCommitter, partitionKey, type CommittableOffset } from '../offset-committer.ts'
import { Membership, ownedPartitions } from '../membership.ts'
import { planFetchedRecords, type PlannedUnit } from './plan.ts'

export interface PassthroughDelivery {
  topic: string
  partition: number
  /** Records the target acknowledged in this step. */
  records: number
  /** Bytes of the record batches as sent (compressed ones compressed). */
  bytes: number
  /** One past the last source offset now on the target (dropped markers included). */
  nextOffset: bigint
  /** From enqueueing the first of these batches to their acknowledgement. */
  ms: number
}

/** What the worker needs from the Mirror that owns it (the last three as in StreamWorker's WorkerHost). */
export interface PassthroughHost {
  /** --once: the first offset of the partition not to copy; undefined: no end. */
  endOffset? (topic: string, partition: number): bigint | undefined
  /** Called in offset order for each partition as the target acknowledges its batches. */
  delivered (delivery: PassthroughDelivery): void
  onFatal (error: unknown): void
  /**
   * Records from `from` of a partition were not copied because they are gone from the source
   * (deleted up to `deletedTo`); the copy goes on at `resumeAt`. Throws to stop the mirror.
   */
  onDataLoss (topic: string, partition: number, from: bigint, deletedTo: bigint, resumeAt: bigint): void
  /** A partition's offsets went back from `from` to `to` (topic made again, log truncated). Throws to stop the mirror. */
  onOffsetsWentBack (topic: string, partition: number, from: bigint, to: bigint): void
}

export interface PassthroughLimits {
  /** Bytes of batches fetched but not acknowledged before fetching pauses. */
  maxPendingBytes: number
  /** Bytes of batches in one Produce request (max.request.size). */
  maxRequestBytes: number
}

export interface PassthroughOptions {
  /** Compression bitmask (CompressionCodecs) the target batches must have, or 'keep' the source's. */
  compression: number | 'keep'
}

export interface PassthroughCounts {
  /** Batches sent as they were fetched. */
  raw: number
  /** Batches decoded and encoded again (cut, compacted, LogAppendTime, other codec). */
  reencoded: number
  /** Small batches merged with their neighbours into bigger ones. */
  merged: number
  /** Batches dropped: transaction markers, aborted transactions, emptied by compaction. */
  skipped: number
}

interface PartitionState {
  topic: string
  partition: number
  key: string
  /** Next offset to fetch; undefined until the committed offset is known. */
  position: bigint | undefined
  partitionMaxBytes: number
  /** No fetch before this time (after an error). */
  retryAt: number
  /** --once: the end offset was reached. */
  done: boolean
}

interface UnitContext {
  topic: string
  partition: number
  records: number
  bytes: number
  firstOffset: bigint
  nextOffset: bigint
  leaderEpoch: number
  enqueuedAt: number
  /** The partition's state when the unit was made: a unit of an older ownership is not committed. */
  owner: PartitionState
}

/** Fetch errors after which the partition leader may have moved. */
const RETRIABLE_FETCH_ERRORS = new Set([3, 5, 6, 7, 13, 56, 74, 75, 100])
const ERROR_OFFSET_OUT_OF_RANGE = 1

export class PassthroughWorker {
  readonly index: number
  readonly consumer: Consumer
  readonly counts: PassthroughCounts = { raw: 0, reencoded: 0, merged: 0, skipped: 0 }
  #source: SourceSettings
  #host: PassthroughHost
  #log: Logger
  #limits: PassthroughLimits
  #options: PassthroughOptions
  #fetcher: RawFetcher
  #producer: RawProducer<UnitContext>
  #partitions = new Map<string, PartitionState>()
  #offsets: OffsetCommitter
  #membership = new Membership()
  #pendingBytes = 0
  #fetches = new Map<number, Promise<void>>()
  #assigning = 0
  #started: Promise<void> | undefined
  #stopping = false
  #closed = false
  /** Until the mirror releases it (the group settled), nothing is fetched. */
  #held = true
  /** A batch the target refused: nothing after it may become committable. */
  #failed = false
  /** When the group last answered a heartbeat or a join: older than the session means maybe fenced. */
  #lastHeardFromGroup = 0
  #wakeTimer: NodeJS.Timeout | undefined
  #refreshing: Promise<void> | undefined
  #lastRefreshAt = 0

  constructor (index: number, source: SourceSettings, target: TargetSettings, host: PassthroughHost, log: Logger, limits: PassthroughLimits, options: PassthroughOptions) {
    this.index = index
    this.#source = source
    this.#host = host
    this.#log = log.child({ stream: index, path: 'passthrough' })
    this.#limits = limits
    this.#options = options
    this.consumer = new Consumer({
      ...baseClientOptions(source, `${source.clientId}-${index}`),
      groupId: source.groupId,
      ...(source.groupInstanceId !== undefined ? { groupInstanceId: `${source.groupInstanceId}-${index}` } : {}),
      sessionTimeout: source.sessionTimeoutMs,
      heartbeatInterval: source.heartbeatIntervalMs,
      rebalanceTimeout: source.rebalanceTimeoutMs,
      autocommit: false
    })
    this.#offsets = new OffsetCommitter(this.consumer)
    this.#fetcher = new RawFetcher(baseClientOptions(source, `${source.clientId}-${index}-fetch`))
    this.#producer = new RawProducer<UnitContext>({
      client: baseClientOptions(target, `${target.clientId}-${index}`),
      acks: target.acks,
      idempotent: target.idempotent,
      requestTimeoutMs: target.requestTimeoutMs,
      deliveryTimeoutMs: target.deliveryTimeoutMs,
      retryBackoffMs: target.retryBackoffMs,
      maxRequestBytes: limits.maxRequestBytes
    }, {
      acknowledged: (topic, partition, units) => this.#acknowledged(topic, partition, units),
      failed: (topic, partition, unit, error) => {
        this.#failed = true
        if (!this.#closed) this.#host.onFatal(new SendFailedError(topic, partition, unit.context.firstOffset, error))
      },
      reset: (topic, partition, cause) => {
        this.#log.warn({ partition: partitionKey(topic, partition), cause: cause.message }, 'the target forgot this partition\'s producer state (idle longer than producer.id.expiration.ms?); writing on with a new producer id')
      }
    })
    // Before partitions move to another member, hand over what the target already has.
    const commitNow = (event: string) => (): void => {
      this.#log.debug({ event, memberId: this.consumer.memberId }, 'group event')
      this.commit().catch(() => {})
    }
    this.consumer.on('consumer:group:rebalance', commitNow('rebalance'))
    this.consumer.on('consumer:group:join', payload => {
      // Offsets of partitions that moved away are dropped first: they are the new owner's to commit.
      this.#assigned(payload.assignments ?? this.consumer.assignments ?? [])
      commitNow('join')()
      this.#heardFromGroup()
    })
    this.consumer.on('consumer:heartbeat:end', () => { this.#heardFromGroup() })
    // A failed rejoin (the coordinator down, say) leaves the member outside the group: join again.
    this.consumer.on('error', (error: unknown) => { this.#onConsumerError(error) })
  }

  #heardFromGroup (): void {
    this.#lastHeardFromGroup = Date.now()
    this.#pumpFetches()
  }

  /** Whether the group may have moved on without this member (it was paused, say). */
  #maybeFenced (): boolean {
    return Date.now() - this.#lastHeardFromGroup > this.#source.sessionTimeoutMs
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

  /** Partitions this member owns now. */
  get owned (): ReadonlySet<string> {
    return new Set(this.#partitions.keys())
  }

  /**
   * The topic was deleted and created again (the Mirror saw its id change and reported it): its
   * partitions start over at the new log's start, and batches of the old one not sent yet are dropped.
   */
  forgetTopic (topic: string): void {
    const states = [...this.#partitions.values()].filter(s => s.topic === topic)
    if (states.length === 0) return
    for (const s of states) {
      s.position = undefined
      s.done = false
      for (const unit of this.#producer.drop(s.topic, s.partition)) this.#pendingBytes -= unit.context.bytes
    }
    this.#assigning++
    this.consumer.listOffsets({ topics: [topic], partitions: { [topic]: states.map(s => s.partition) }, timestamp: -2n }).then(offsets => {
      for (const s of states) if (this.#partitions.get(s.key) === s && s.position === undefined) s.position = offsets.get(topic)?.[s.partition] ?? 0n
    }, error => {
      if (!this.#stopping) this.#host.onFatal(error)
    }).finally(() => {
      this.#assigning--
      this.#pumpFetches()
    })
  }

  /** Lets the worker fetch: the group settled. */
  release (): void {
    this.#held = false
    this.#pumpFetches()
  }

  /** Subscribes to more topics; the group rebalances to include them. */
  async addTopics (topics: string[]): Promise<void> {
    this.#started ??= Promise.all([this.#fetcher.start(), this.#producer.start()]).then(() => {})
    await this.#started
    await this.#producer.prepareTopics(topics)
    let changed = false
    for (const t of topics) if (this.consumer.topics.track(t)) changed = true
    if (changed || this.consumer.memberId === null) await this.consumer.joinGroup({})
  }

  // ---- Assignment ----

  #assigned (assignments: GroupAssignment[]): void {
    const owned = ownedPartitions(assignments)
    // A member that missed a generation starts its partitions over from the committed offsets.
    const generation = this.consumer.generationId
    const continuous = this.#membership.joined(this.consumer.memberId, generation)
    for (const key of [...this.#offsets.pending.keys()]) if (!continuous || !owned.has(key)) this.#offsets.pending.delete(key)
    if (!continuous) this.#log.warn({ generation }, 'this member missed a generation of its group (paused or cut off): starting its partitions over from the committed offsets')
    for (const [key, state] of this.#partitions) {
      if (continuous && owned.has(key)) continue
      this.#partitions.delete(key)
      // Batches never sent are left to the partition's next owner, which fetches from the committed offset.
      for (const unit of this.#producer.drop(state.topic, state.partition)) this.#pendingBytes -= unit.context.bytes
    }
    const added: PartitionState[] = []
    for (const a of assignments) {
      for (const partition of a.partitions) {
        const key = partitionKey(a.topic, partition)
        if (this.#partitions.has(key)) continue
        const state: PartitionState = { topic: a.topic, partition, key, position: undefined, partitionMaxBytes: this.#source.maxPartitionFetchBytes, retryAt: 0, done: false }
        this.#partitions.set(key, state)
        added.push(state)
      }
    }
    this.#log.debug({ owned: [...owned].join(','), added: added.map(s => s.key).join(',') }, 'assignment')
    if (added.length === 0) {
      this.#pumpFetches()
      return
    }
    this.#assigning++
    this.#startingOffsets(added).then(() => {
      this.#assigning--
      this.#pumpFetches()
    }, error => {
      this.#assigning--
      if (!this.#stopping) this.#host.onFatal(error)
    })
  }

  /** The committed offset of each new partition, or auto.offset.reset's where there is none. */
  async #startingOffsets (states: PartitionState[]): Promise<void> {
    const byTopic = new Map<string, number[]>()
    for (const s of states) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition])
    const committed = await this.consumer.listCommittedOffsets({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) })
    const missing = states.filter(s => (committed.get(s.topic)?.[s.partition] ?? -1n) < 0n)
    let resets = new Map<string, bigint[]>()
    if (missing.length > 0) {
      const reset = this.#source.autoOffsetReset
      if (reset === 'none') {
        throw new KafkaMirrorError(ErrorCodes.CONFIG, `No committed offset for ${missing.map(s => s.key).join(', ')} in group ${this.#source.groupId} and auto.offset.reset=none`)
      }
      const partitions: Record<string, number[]> = {}
      for (const s of missing) partitions[s.topic] = [...(partitions[s.topic] ?? []), s.partition]
      resets = await this.consumer.listOffsets({ topics: Object.keys(partitions), partitions, timestamp: reset === 'latest' ? -1n : -2n })
    }
    for (const s of states) {
      if (this.#partitions.get(s.key) !== s) continue
      const c = committed.get(s.topic)?.[s.partition] ?? -1n
      s.position = c >= 0n ? c : resets.get(s.topic)?.[s.partition] ?? 0n
      this.#log.debug({ partition: s.key, position: String(s.position), committed: String(c) }, 'starting position')
    }
  }

  // ---- Fetching ----

  #pumpFetches (): void {
    if (this.#stopping || this.#closed || this.#held || this.#failed) return
    if (this.#pendingBytes >= this.#limits.maxPendingBytes) return
    if (this.#maybeFenced()) {
      this.#log.debug('no word from the group for a session timeout: not fetching until it answers')
      return
    }
    const now = Date.now()
    const byLeader = new Map<number, PartitionState[]>()
    let wakeAt = Infinity
    let unknownLeader = false
    for (const s of this.#partitions.values()) {
      if (s.position === undefined || s.done) continue
      const end = this.#host.endOffset?.(s.topic, s.partition)
      if (end !== undefined && s.position >= end) {
        s.done = true
        continue
      }
      if (s.retryAt > now) {
        wakeAt = Math.min(wakeAt, s.retryAt)
        continue
      }
      const leader = this.#fetcher.leaderOf(s.topic, s.partition)
      if (leader === undefined) {
        unknownLeader = true
        continue
      }
      if (this.#fetches.has(leader)) continue
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), s])
    }
    if (unknownLeader) this.#refreshSourceMetadata()
    for (const [leader, states] of byLeader) {
      const fetch = this.#fetchFrom(leader, states).catch(error => {
        if (!this.#stopping) this.#host.onFatal(error)
      }).finally(() => {
        this.#fetches.delete(leader)
        this.#pumpFetches()
      })
      this.#fetches.set(leader, fetch)
    }
    if (wakeAt !== Infinity && this.#wakeTimer === undefined) {
      this.#wakeTimer = setTimeout(() => {
        this.#wakeTimer = undefined
        this.#pumpFetches()
      }, Math.max(1, wakeAt - now))
    }
  }

  #refreshSourceMetadata (): void {
    if (this.#refreshing !== undefined || this.#stopping) return
    const wait = this.#lastRefreshAt + this.#source.retryBackoffMs - Date.now()
    this.#refreshing = (async () => {
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
      this.#lastRefreshAt = Date.now()
      const topics = [...new Set([...this.#partitions.values()].map(s => s.topic))]
      await this.#fetcher.refresh(topics)
    })().catch(error => {
      this.#log.debug({ err: describeCause(error) }, 'source metadata refresh failed')
    }).finally(() => {
      this.#refreshing = undefined
      this.#pumpFetches()
    })
  }

  async #fetchFrom (leader: number, states: PartitionState[]): Promise<void> {
    // Rotate, so no partition is always last in line for the response's byte budget.
    const shift = Math.floor(Math.random() * states.length)
    const ordered = [...states.slice(shift), ...states.slice(0, shift)]
    const requested = new Map<string, { state: PartitionState, offset: bigint }>()
    const topics = new Map<string, RawFetchTopicRequest>()
    for (const s of ordered) {
      requested.set(s.key, { state: s, offset: s.position! })
      let t = topics.get(s.topic)
      if (t === undefined) {
        t = { topic: s.topic, partitions: [] }
        topics.set(s.topic, t)
      }
      t.partitions.push({ partition: s.partition, fetchOffset: s.position!, partitionMaxBytes: s.partitionMaxBytes })
    }
    const room = Math.max(1 << 20, this.#limits.maxPendingBytes - this.#pendingBytes)
    let response
    try {
      response = await this.#fetcher.fetch(leader, {
        maxWaitMs: this.#source.fetchMaxWaitMs,
        minBytes: this.#source.fetchMinBytes,
        maxBytes: Math.min(this.#source.fetchMaxBytes, room),
        isolationLevel: this.#source.readCommitted ? 1 : 0
      }, [...topics.values()])
    } catch (error) {
      if (this.#stopping) return
      this.#log.debug({ leader, err: describeCause(error) }, 'fetch failed; trying again')
      this.#backOff(ordered)
      return
    }
    if (this.#stopping) return
    if (response.errorCode !== 0) {
      this.#log.debug({ leader, errorCode: response.errorCode }, 'fetch refused; trying again')
      this.#backOff(ordered)
      return
    }
    for (const t of response.responses) {
      for (const p of t.partitions) {
        const asked = requested.get(partitionKey(t.topic, p.partitionIndex))
        // A partition revoked, or moved by another response, while this fetch was out.
        if (asked === undefined || this.#partitions.get(asked.state.key) !== asked.state || asked.state.position !== asked.offset) continue
        await this.#fetched(asked.state, p)
      }
    }
  }

  #backOff (states: PartitionState[]): void {
    const at = Date.now() + Math.min(1000, this.#source.retryBackoffMs * 4)
    for (const s of states) s.retryAt = at
    this.#refreshSourceMetadata()
  }

  async #fetched (state: PartitionState, p: RawFetchPartition): Promise<void> {
    if (p.errorCode === ERROR_OFFSET_OUT_OF_RANGE) {
      await this.#outOfRange(state, p)
      return
    }
    if (p.errorCode !== 0) {
      if (!RETRIABLE_FETCH_ERRORS.has(p.errorCode)) throw new KafkaMirrorError(ErrorCodes.CONNECTION, `Fetching ${state.key} failed with Kafka error ${p.errorCode}`)
      this.#backOff([state])
      return
    }
    const plan = planFetchedRecords(p.records, state.position!, {
      endOffset: this.#host.endOffset?.(state.topic, state.partition),
      readCommitted: this.#source.readCommitted,
      abortedTransactions: p.abortedTransactions,
      compression: this.#options.compression
    })
    if (plan.units.length === 0 && plan.truncatedBatchBytes !== undefined && plan.nextOffset === state.position) {
      // One batch larger than max.partition.fetch.bytes: ask for all of it next time.
      state.partitionMaxBytes = Math.max(state.partitionMaxBytes, plan.truncatedBatchBytes)
    }
    this.counts.raw += plan.counts.raw
    this.counts.reencoded += plan.counts.reencoded
    this.counts.merged += plan.counts.merged
    this.counts.skipped += plan.counts.skipped
    const now = Date.now()
    for (const unit of plan.units) this.#enqueue(state, unit, now)
    state.position = plan.nextOffset
    state.done = plan.reachedEnd
  }

  #enqueue (state: PartitionState, unit: PlannedUnit, now: number): void {
    const bytes = unit.batch?.length ?? 0
    this.#pendingBytes += bytes
    const context: UnitContext = { topic: state.topic, partition: state.partition, records: unit.records, bytes, firstOffset: unit.firstOffset, nextOffset: unit.nextOffset, leaderEpoch: unit.leaderEpoch, enqueuedAt: now, owner: state }
    this.#producer.enqueue(state.topic, state.partition, { batch: unit.batch, context })
  }

  /**
   * The fetch offset is not on the source. Below the log start: records were deleted before they
   * were copied. Past the end: the offsets went back (the topic made again, the log truncated).
   * Either goes to the host, which stops the mirror (it throws) or lets the copy go on where
   * auto.offset.reset says; the position never moves past a gap unreported.
   */
  async #outOfRange (state: PartitionState, _p: RawFetchPartition): Promise<void> {
    const from = state.position!
    const partitions = { [state.topic]: [state.partition] }
    const [starts, ends] = await Promise.all([
      this.consumer.listOffsets({ topics: [state.topic], partitions, timestamp: -2n }),
      this.consumer.listOffsets({ topics: [state.topic], partitions, timestamp: -1n })
    ])
    if (this.#partitions.get(state.key) !== state || state.position !== from) return
    const logStart = starts.get(state.topic)?.[state.partition] ?? 0n
    const end = ends.get(state.topic)?.[state.partition] ?? logStart
    const reset = this.#source.autoOffsetReset
    if (from >= logStart && from <= end) return // in range again (a leader caught up): fetch again
    if (reset === 'none') {
      throw from < logStart
        ? new DataLossError(state.topic, state.partition, from, logStart)
        : new DataLossError(state.topic, state.partition, from, from + 1n, `the offsets of ${state.key} went back from ${from} to ${end} and auto.offset.reset=none`)
    }
    const resumeAt = reset === 'latest' ? end : logStart
    if (from < logStart) this.#host.onDataLoss(state.topic, state.partition, from, logStart < resumeAt ? logStart : resumeAt, resumeAt)
    else this.#host.onOffsetsWentBack(state.topic, state.partition, from, resumeAt)
    this.#log.warn({ partition: state.key, from: String(from), to: String(resumeAt), 'auto.offset.reset': reset }, 'the fetch offset is not on the source; going on from the new position')
    state.position = resumeAt
  }

  // ---- Acknowledgements ----

  #acknowledged (topic: string, partition: number, units: Array<ProduceUnit<UnitContext>>): void {
    let records = 0
    let bytes = 0
    for (const u of units) {
      records += u.context.records
      bytes += u.context.bytes
    }
    this.#pendingBytes -= bytes
    const last = units[units.length - 1].context
    // An acknowledgement that arrives after the partition moved on is not ours to commit.
    if (this.#partitions.get(partitionKey(topic, partition)) === last.owner) this.#offsets.set({ topic, partition, offset: last.nextOffset, leaderEpoch: last.leaderEpoch })
    this.#host.delivered({ topic, partition, records, bytes, nextOffset: last.nextOffset, ms: Date.now() - units[0].context.enqueuedAt })
    this.#pumpFetches()
  }

  // ---- The StreamWorker interface ----

  /**
   * Where this worker's fetch position is, per owned partition, for --once completion checks.
   * Empty while batches wait or are in flight: a position only proves something once everything
   * fetched before it was acknowledged.
   */
  fetchPositions (): Map<string, bigint> {
    const positions = new Map<string, bigint>()
    if (!this.idle) return positions
    for (const [key, s] of this.#partitions) if (s.position !== undefined) positions.set(key, s.position)
    return positions
  }

  /** True when no batch waits or is in flight and no assignment is being set up. */
  get idle (): boolean {
    return this.#producer.pending === 0 && this.#assigning === 0
  }

  /** Offsets the target has acknowledged but the group has not committed yet. */
  get committable (): Map<string, CommittableOffset> {
    return this.#offsets.pending
  }

  /** Commits acknowledged offsets; concurrent calls share one request. */
  async commit (extra: CommittableOffset[] = []): Promise<void> {
    if (this.#closed) return
    await this.#offsets.commit(extra)
  }

  /** Stops fetching; what was fetched is still written. */
  async stopFetching (): Promise<void> {
    this.#stopping = true
    clearTimeout(this.#wakeTimer)
    await Promise.allSettled([...this.#fetches.values()])
  }

  /**
   * Waits until every fetched batch was acknowledged, or the deadline passes. After a refused
   * batch the other partitions still finish; false tells nothing past the failure was written.
   */
  async drain (deadline: number): Promise<boolean> {
    while (this.#producer.pending > 0) {
      if (Date.now() > deadline) return false
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    return !this.#failed
  }

  async close (): Promise<void> {
    this.#stopping = true
    this.#closed = true
    clearTimeout(this.#wakeTimer)
    await this.consumer.close(true).catch(error => this.#log.debug({ err: String(error) }, 'closing the consumer failed'))
    await Promise.allSettled([this.#producer.close(), this.#fetcher.close()])
  }
}
