// The copy loop: one member of the mirror's consumer group (one of --num.streams). It fetches its
// source partitions' record batches, plans them (plan.ts) and writes them to the target with an
// idempotent producer, in both partitionings; nothing else in kafka-mirror moves records.
//
// Invariants it keeps:
// - Fetch: batches come from the partition leaders (RawFetcher, Fetch v12, or v10/v5 from brokers
//   before Kafka 2.7), on connections of their own. A partition is fetched again only once its last
//   answer was planned, and an answer is
//   applied only if the partition is still this member's, under the same ownership, at the offset
//   it was fetched from: an answer that was under way during a rebalance is dropped, never applied
//   over a new position (franz-go's "consumer session" rule, kept per partition).
// - Plan: `--partitioning source` sends batches as they are where it can (plan.ts says when they
//   must be cut or encoded again; a batch larger than the target topic takes is cut to fit);
//   `--partitioning key` splits each fetch's records by key into one batch per target partition,
//   records copied as bytes.
// - Send: the RawProducer keeps each target partition's batches in order, up to
//   max.in.flight.requests.per.connection requests per broker, idempotent sequences making
//   resends harmless. Small batches (below 16 KiB) of a target partition still waiting when it
//   sends are merged into one of up to 256 KiB, whatever fetches or source partitions they came
//   from: the merged batch carries every unit, and its acknowledgement acknowledges each unit's
//   spans. With key partitioning the streams share one producer (TargetProducer), which hands
//   each worker the acknowledgements of its own units, and sends nothing until every stream's
//   first fetch answer was planned (at most 1 s after the first), so that each target partition's
//   first batch carries every stream's records. Fetching goes on while batches are in
//   flight, bounded by maxPendingBytes (per worker); once over half of it is pending, fetching
//   waits until half is free again, so answers stay large. Routed batches (key partitioning) are
//   up to 1 MiB, or the target topic's max.message.bytes where lower (256 KiB where unknown).
// - Commit: each fetch answer of a source partition is a span of source offsets [first, next)
//   whose records went out in one or more target batches (several with key partitioning). A span
//   is done when all its batches are acknowledged; the committable offset of a source partition is
//   the end of its longest prefix of done spans (as Kafka Connect's SubmittedRecords). A span's end
//   counts dropped records too (transaction markers, aborted transactions), so the commit moves
//   past them.
// - Rebalance: batches not yet sent for a partition this member lost are dropped (their records
//   are the new owner's, from the committed offset); batches in flight finish, but their
//   acknowledgement is not committed by this member. A member that missed a generation (paused past
//   its session, cut off) drops everything it held and starts its partitions over from the
//   committed offsets. Nothing is fetched while the group has not answered for a session timeout.
// - Write gate (no transactions to fence a zombie): nothing is written to the target while this
//   member rejoins its group (from a rebalance notice, a lost membership or its own JoinGroup until
//   the join completes or a heartbeat sent after it is answered), nor once the group last vouched
//   for it (the send time of the last answered heartbeat, or the join) nearly a session timeout
//   ago (margin: min(1 s, session/4)). The producer asks before each request and again just before
//   writing it; stopped requests go back to the queue unwritten, so the drop at the next join takes
//   them too. A member thawed after a freeze, or cut off, therefore writes nothing it held before
//   the group tells it what it still owns. Left: a request already written when the gate shuts
//   (another process that takes the partition may read the target before it lands; this process
//   waits for it, below).
// - Gaps: records gone from the source before they were copied, or offsets that went back, go to
//   the host, which stops the mirror or reports the gap; the position never moves past one silently.
// - Offsets of what was written: every acknowledged target batch is reported with its target base
//   offset and the source span it came from (host.written).
// - Reconcile (reconcile.ts says how and what it guarantees): each commit's metadata names, per
//   target partition, a target offset before which none of the partition's records past the
//   committed offset lie (kept by a TargetTrack per partition state from the acknowledgements).
//   A partition newly assigned at the group's committed offset (not at MM2's position, not at a
//   reset) gets no position until the target was read from there: it starts after the records
//   already on the target, skipping (key partitioning) later ones already there, also when it
//   starts at the committed offset itself, and commits that position at once. A target that does
//   not match the commit makes it start at the committed offset, reported (nothing skipped). The
//   target is read only once every request this process wrote to the topic before was answered
//   (a member cut off, or a partition moving between two of its streams: a request held up in the
//   network that landed after the read would be copied twice). An
//   assignment's partitions are reconciled together (every topic at once: a hand-over of many
//   partitions costs a few round trips, not a few per topic). An idle partition's commit is made
//   again with fresh target positions.
// - Exactly-once mode (exactly.once.support=enabled; transactions.ts says how): each owned source
//   partition writes through its own transactional producer (id `<prefix>-<topic>-<partition>`, all
//   on the worker's one connection pool), and key partitioning routes a fetch answer's partitions
//   one by one, so a target batch holds one source partition's records. What is committed when:
//   the records and the position record of a source partition go in one transaction, committed
//   (EndTxn) every transaction.interval.ms once all its batches were acknowledged; only then is the
//   group's offset set (a lower bound, for lag). On assignment the partition's transactional id is
//   taken first (fencing the last owner), then the committed position read; there is no reconcile.
//   On a rebalance an open transaction of a partition that moved is aborted (its new owner copies
//   its records again from the committed position); a member that missed a generation aborts them
//   all. A fenced member (another took the id) lets the partition go, logs it at warn and counts
//   PRODUCER_FENCED; a batch refused for good aborts the transaction and the partition starts again
//   from its committed position (the mirror stops after 3 such restarts in a row), unless the group
//   has not answered for a session timeout: then it waits for its next assignment, since taking the
//   id again could fence the partition's new owner.
import { Consumer, ProtocolError, protocolErrors, protocolErrorsCodesById, type GroupAssignment } from '@platformatic/kafka'
import type { ExactlyOnceSettings, SourceSettings, TargetSettings } from '../config/mirror-config.ts'
import { DataLossError, ErrorCodes, KafkaMirrorError, SendFailedError, describeCause } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { isFatalKafkaError } from '../kafka/retriable.ts'
import type { RawFetchPartition, RawFetchTopicRequest } from '../kafka/raw/fetch-v12.ts'
import { RawFetcher } from '../kafka/raw/raw-fetcher.ts'
import { UnsupportedBrokerError } from '../kafka/raw/versions.ts'
import { RawProducer, type ProduceUnit } from '../kafka/raw/raw-producer.ts'
import { decodeRecords, encodeRecordBatch, readRecordBatch, type DecodedRecord } from '../kafka/raw/record-batch.ts'
import type { Logger } from '../log.ts'
import { OffsetCommitter, partitionKey, rebalanceStarted, type CommittableOffset } from './offset-committer.ts'
import { Membership, ownedPartitions } from './membership.ts'
import { DEFAULT_MERGED_BATCH_BYTES, KeyRouter, planFetchedRecords, type PlannedUnit, type RecordRewrite, type RoutedBatch } from './plan.ts'
import { SpanQueue, type Span } from './spans.ts'
import { Reconciler, type Reconciled, type TargetTrack } from './reconcile.ts'
import { ensurePositionsTopic, readCommittedPositions, SourcePartitionTransactions, type SourcePartitionHost } from './transactions.ts'

export { partitionKey, type CommittableOffset }

export interface Delivery {
  /** The source topic and partition. */
  topic: string
  partition: number
  /** Records the target acknowledged in this step. */
  records: number
  /** Bytes of the record batches as sent (compressed ones compressed). */
  bytes: number
  /**
   * One past the last source offset now on the target (dropped markers included); undefined while
   * an earlier batch of the partition still waits for its acknowledgement.
   */
  nextOffset: bigint | undefined
  /** From enqueueing the first of these batches to their acknowledgement. */
  ms: number
}

/** One target batch the target acknowledged, and the source span its records came from. */
export interface WrittenBatch {
  /** The source topic. */
  topic: string
  /** The target topic the batch was written to (the source topic's name unless a replication policy renames it). */
  targetTopic: string
  sourcePartition: number
  /** The span of source offsets the batch's records are from: [sourceFirstOffset, sourceNextOffset). */
  sourceFirstOffset: bigint
  sourceNextOffset: bigint
  targetPartition: number
  /** The target offset of the batch's first record; -1 when the broker did not say (a resend it had). */
  targetBaseOffset: bigint
  records: number
  /** The target batch's maxTimestamp (its newest record's), and when its source records were fetched (ms). */
  maxTimestamp: number
  fetchedAt: number
}

/** What the worker needs from the Mirror that owns it. */
export interface WorkerHost {
  /** --once: the first offset of the partition not to copy; undefined: no end. */
  endOffset? (topic: string, partition: number): bigint | undefined
  /** Partitions of the target topic, for key partitioning. */
  targetPartitions (topic: string): number
  /**
   * The largest record batch the target topic takes, in bytes (its max.message.bytes less a
   * margin), by target topic name; undefined: not known, the 256 KiB default cap applies.
   */
  targetMaxBatchBytes? (topic: string): number | undefined
  /** True for a partition added to the topic while the mirror ran: without a committed offset it starts at the log start. */
  fromLogStart? (topic: string, partition: number): boolean
  /** Called in offset order for each source partition as the target acknowledges its batches. */
  delivered (delivery: Delivery): void
  /** Each acknowledged target batch, with its target offsets. */
  written? (batch: WrittenBatch): void
  /** abort.on.send.failure=false: records of a source partition the target refused, given up. */
  skipped? (topic: string, partition: number, records: number, error: Error): void
  onFatal (error: unknown): void
  /**
   * Records from `from` of a partition were not copied because they are gone from the source
   * (deleted up to `deletedTo`); the copy goes on at `resumeAt`. Throws to stop the mirror.
   */
  onDataLoss (topic: string, partition: number, from: bigint, deletedTo: bigint, resumeAt: bigint): void
  /** A newly assigned partition was reconciled with the target (reconcile.ts): where it starts, and why. */
  reconciled? (topic: string, partition: number, result: Pick<Reconciled, 'outcome' | 'found' | 'reason'>): void
  /** A partition's offsets went back from `from` to `to` (topic made again, log truncated). Throws to stop the mirror. */
  onOffsetsWentBack (topic: string, partition: number, from: bigint, to: bigint): void
  /** A failed fetch or produce attempt, by Kafka error name; `retried` when it is tried again. For metrics. */
  error? (operation: 'fetch' | 'send', name: string, retried: boolean): void
  /**
   * Positions kept outside the group (MirrorMaker 2's mm2-offsets topic), keyed partitionKey: the
   * next source offset to copy. Per partition the larger of this and the group's commit wins.
   */
  externalPositions? (partitions: Array<{ topic: string, partition: number }>): Promise<Map<string, bigint>>
  /**
   * Resolves once every request written so far to these target topics, by any producer of the
   * process, was answered (false: `abandon` said so first). Without it a worker waits for its own.
   */
  writesSettled? (targetTopics: Set<string>, abandon: () => boolean): Promise<boolean>
}

export interface WorkerLimits {
  /** Bytes of batches fetched but not acknowledged before fetching pauses. */
  maxPendingBytes: number
  /** Bytes of batches in one Produce request (max.request.size). */
  maxRequestBytes: number
}

export interface WorkerOptions {
  partitioning: 'key' | 'source'
  /** Compression bitmask (CompressionCodecs) the target batches must have, or 'keep' the source's. */
  compression: number | 'keep'
  /** Encode every batch again (--fast.path off). */
  forceReencode?: boolean
  /** abort.on.send.failure=false: give up batches the target refuses and go on. */
  skipRefused?: boolean
  /** The target producer shared by the mirror's streams; without one the worker has its own. */
  producer?: TargetProducer
  /** The target topic of a source topic; absent: the same name. */
  targetTopic?: (sourceTopic: string) => string
  /** Keeps, drops or changes each record (MirrorSettings.rewriteRecord; source partitioning only). */
  rewrite?: RecordRewrite
  /** Exactly-once mode: records and positions in target transactions (transactions.ts). */
  exactlyOnce?: ExactlyOnceSettings
}

export interface WorkerCounts {
  /** Batches sent as they were fetched. */
  raw: number
  /** Batches decoded and encoded again (cut, compacted, LogAppendTime, other codec, split by key). */
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
  /** Spans fetched and not yet acknowledged, in offset order. */
  spans: SpanQueue
  /** Made when the partition's offsets went back (topic made again, log truncated): it copies the new log from its start. */
  startedOver?: boolean
  /** Where its records are on the target, for the commit's metadata (reconcile.ts); undefined: none is written. */
  track?: TargetTrack
  /** Key partitioning, after reconciling: source offsets past the position already on the target, not to copy. */
  skip?: Set<bigint>
  /** The offset last given to the committer, and when: an idle partition's metadata is refreshed. */
  committed?: { offset: bigint, leaderEpoch: number, at: number }
  /** Exactly-once mode: the partition's transactions, and how far its acknowledged records reach. */
  txn?: SourcePartitionTransactions<UnitContext>
  settled?: { offset: bigint, leaderEpoch: number }
}

/** Exactly-once mode: restarts of a partition after refused batches, without a commit between, before the mirror stops. */
const MAX_TRANSACTION_RESTARTS = 3
/** The largest batch key partitioning routes to one target partition (capped by the topic's limit and the request size): large batches cost the target broker less CPU per byte. */
const ROUTED_BATCH_BYTES = 1 << 20

/** How old an idle partition's commit metadata may get before it is committed again with fresh target positions. */
const METADATA_REFRESH_MS = 10_000

/** Which source spans a target batch carries records of (several with key partitioning). */
interface UnitPart {
  /** The partition's state when the span was made: a span of an older ownership is not committed. */
  owner: PartitionState
  span: Span
  records: number
  bytes: number
}

/** What the target producer tells the worker whose units it carried. */
interface UnitOwner {
  acknowledged (topic: string, partition: number, units: Array<ProduceUnit<UnitContext>>): void
  failed (topic: string, partition: number, unit: ProduceUnit<UnitContext>, error: Error): void
  reset (topic: string, partition: number, cause: Error): void
}

interface UnitContext {
  /** The worker that enqueued the unit: a producer shared by the streams reports to each its own. */
  owner: UnitOwner
  parts: UnitPart[]
  records: number
  bytes: number
}

/**
 * A routed batch encoded again with the records of the parts not dropped: KeyRouter adds a fetch
 * answer's records partition after partition, so each part is one run of records, in part order.
 */
function withoutParts (batch: Buffer, parts: Array<{ records: number, drop: boolean }>): Buffer {
  const header = readRecordBatch(batch)
  const records = decodeRecords(header)
  const kept: DecodedRecord[] = []
  let at = 0
  for (const part of parts) {
    if (!part.drop) kept.push(...records.slice(at, at + part.records))
    at += part.records
  }
  return encodeRecordBatch(kept, { compression: header.compression })
}

/** Fetch errors after which the partition leader may have moved. */
const RETRIABLE_FETCH_ERRORS = new Set([3, 5, 6, 7, 13, 56, 74, 75, 100])
const ERROR_OFFSET_OUT_OF_RANGE = 1
/** Where a v2 record batch keeps its maxTimestamp (record-batch.ts). */
const MAX_TIMESTAMP_AT = 35

export class CopyWorker {
  readonly index: number
  readonly consumer: Consumer
  readonly counts: WorkerCounts = { raw: 0, reencoded: 0, merged: 0, skipped: 0 }
  #source: SourceSettings
  #host: WorkerHost
  #log: Logger
  #limits: WorkerLimits
  #options: WorkerOptions
  /** Per topic: the target partition the next keyless batch goes to. */
  #keyless = new Map<string, number>()
  #fetcher: RawFetcher
  #target: TargetProducer
  #producer: RawProducer<UnitContext>
  #owner: UnitOwner
  #partitions = new Map<string, PartitionState>()
  #offsets: OffsetCommitter
  #reconciler: Reconciler
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
  /**
   * When the group last vouched for this member: the send time of the last heartbeat it answered,
   * or the last join. Older than the session means maybe fenced.
   */
  #lastHeardFromGroup = 0
  /** When the heartbeat under way was sent. */
  #heartbeatSentAt = 0
  /** Since when this member has been rejoining (a rebalance, a lost membership); undefined: in the group. */
  #rebalancingSince: number | undefined
  #wakeTimer: NodeJS.Timeout | undefined
  #refreshing: Promise<void> | undefined
  #lastRefreshAt = 0
  #targetSettings: TargetSettings
  #positionsPartitions: Promise<number> | undefined
  /** Exactly-once mode: restarts per partition since its last commit. */
  #restarts = new Map<string, number>()

  constructor (index: number, source: SourceSettings, target: TargetSettings, host: WorkerHost, log: Logger, limits: WorkerLimits, options: WorkerOptions) {
    this.index = index
    this.#source = source
    this.#host = host
    this.#log = log.child({ stream: index })
    this.#limits = limits
    this.#options = options
    this.#targetSettings = target
    this.consumer = new Consumer({
      ...baseClientOptions(source, `${source.clientId}-${index}`),
      groupId: source.groupId,
      ...(source.groupInstanceId !== undefined ? { groupInstanceId: `${source.groupInstanceId}-${index}` } : {}),
      sessionTimeout: source.sessionTimeoutMs,
      heartbeatInterval: source.heartbeatIntervalMs,
      rebalanceTimeout: source.rebalanceTimeoutMs,
      autocommit: false,
      // roundrobin first (every kafka-mirror member prefers it, so kafka-mirror groups keep it), and
      // range, the first of the Java consumer's defaults: a group MirrorMaker 1 still holds (its
      // members alive, or killed and not yet timed out) takes this member in instead of refusing it
      // (INCONSISTENT_GROUP_PROTOCOL), so switching from MirrorMaker 1 needs no wait.
      protocols: [{ name: 'roundrobin', version: 1 }, { name: 'range', version: 1 }]
    })
    this.#offsets = new OffsetCommitter(this.consumer)
    this.#reconciler = new Reconciler(source, target, this.#log, options.partitioning, (topic, partition) => this.#target.ends.get(partitionKey(topic, partition)))
    this.#fetcher = new RawFetcher(baseClientOptions(source, `${source.clientId}-${index}-fetch`))
    this.#target = options.producer ?? new TargetProducer(target, `${target.clientId}-${index}`, limits, options, host)
    this.#target.use(this, () => this.#mayWrite())
    this.#producer = this.#target.producer
    this.#owner = {
      acknowledged: (topic, partition, units) => { this.#acknowledged(topic, partition, units) },
      failed: (topic, partition, unit, error) => {
        this.#failed = true
        const { owner, span } = unit.context.parts[0]
        if (!this.#closed) this.#host.onFatal(new SendFailedError(owner.topic, owner.partition, span.firstOffset, error, partition))
      },
      reset: (topic, partition, cause) => {
        this.#log.warn({ partition: partitionKey(topic, partition), cause: cause.message }, 'the target forgot this partition\'s producer state (idle longer than producer.id.expiration.ms?); writing on with a new producer id')
      }
    }
    // Before partitions move to another member, hand over what the target already has.
    const commitNow = (event: string, handOver: CommittableOffset[] = []): void => {
      this.#log.debug({ event, memberId: this.consumer.memberId }, 'group event')
      this.commit(handOver).catch(() => {})
    }
    this.consumer.on('consumer:group:rebalance', () => {
      this.#rejoining()
      commitNow('rebalance')
    })
    this.consumer.on('consumer:group:join', payload => {
      // What the target acknowledged of partitions that moved away is committed now, under the
      // new generation, so their new owner copies less again.
      const handOver = this.#assigned(payload.assignments ?? this.consumer.assignments ?? [])
      commitNow('join', handOver)
      this.#rebalancingSince = undefined
      this.#heardFromGroup(Date.now())
    })
    this.consumer.on('consumer:heartbeat:start', () => { this.#heartbeatSentAt = Date.now() })
    this.consumer.on('consumer:heartbeat:end', () => {
      // Answered without an error: no rebalance was under way when it was sent.
      if (this.#rebalancingSince !== undefined && this.#heartbeatSentAt > this.#rebalancingSince) this.#rebalancingSince = undefined
      this.#heardFromGroup(this.#heartbeatSentAt)
    })
    // A failed rejoin (the coordinator down, say) leaves the member outside the group: join again.
    this.consumer.on('error', (error: unknown) => { this.#onConsumerError(error) })
  }

  #heardFromGroup (at: number): void {
    if (at > this.#lastHeardFromGroup) this.#lastHeardFromGroup = at
    this.#pumpFetches()
    if (this.#mayWrite()) this.#producer.wake()
  }

  /** The group is rebalancing, or this member joins again: it writes nothing until it is back in. */
  #rejoining (): void {
    this.#rebalancingSince ??= Date.now()
  }

  /**
   * The write gate (without transactions, the only fence there is): nothing goes to the target
   * while this member rejoins its group, or once the group has not vouched for it for nearly a
   * session timeout. Either way its partitions may be another member's already, and that member
   * reads the target to know where to start (reconcile.ts): a batch written after that read
   * would land twice. Asked by the producer before each request and just before writing it.
   */
  #mayWrite (): boolean {
    if (this.#rebalancingSince !== undefined) return false
    const margin = Math.min(1000, this.#source.sessionTimeoutMs / 4)
    return Date.now() - this.#lastHeardFromGroup < this.#source.sessionTimeoutMs - margin
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
    this.#rejoining()
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
    // A partition whose offsets were already seen going back started over on the new log: starting
    // it over again would copy what it copied since a second time.
    const old = new Set([...this.#partitions.values()].filter(s => s.topic === topic && s.startedOver !== true))
    if (old.size === 0) return
    this.#dropUnsent(old)
    for (const s of old) this.#offsets.pending.delete(s.key)
    // New states: acknowledgements of the old topic's batches still in flight are not committed.
    const states = [...old].map(s => this.#newState(s.topic, s.partition))
    for (const s of states) this.#partitions.set(s.key, s)
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

  /**
   * Subscribes to more topics; the group rebalances to include them. `join` false: the caller
   * joins later (join()), so that every stream of a starting mirror sends its JoinGroup at once.
   */
  async addTopics (topics: string[], join = true): Promise<void> {
    this.#started ??= Promise.all([this.#fetcher.start(), this.#target.start()]).then(() => {})
    await this.#started
    await this.#producer.prepareTopics(topics.map(t => this.#targetTopic(t)))
    let changed = false
    for (const t of topics) if (this.consumer.topics.track(t)) changed = true
    if (join && (changed || this.consumer.memberId === null)) await this.join()
  }

  /** Joins the group (again) with the topics added so far. */
  async join (): Promise<void> {
    this.#rejoining()
    await this.consumer.joinGroup({})
  }

  /**
   * Joins again at once if the group started a rebalance this member has not joined (another
   * stream of this mirror sent its JoinGroup after this one's join completed), instead of at its
   * next heartbeat, up to heartbeat.interval.ms later. True when it joined again.
   */
  async joinIfRebalancing (): Promise<boolean> {
    if (this.#stopping || !(await rebalanceStarted(this.consumer))) return false
    await this.join()
    return true
  }

  /**
   * The source topics have more partitions than the group assigned: refresh what the consumer
   * knows of them and join again, so the group's leader assigns the new ones.
   */
  async partitionsAdded (topics: string[]): Promise<void> {
    await this.consumer.metadata({ topics: this.consumer.topics.current, forceUpdate: true })
    await this.#fetcher.refresh([...new Set([...[...this.#partitions.values()].map(s => s.topic), ...topics])])
    this.#rejoining()
    await this.consumer.joinGroup({})
  }

  // ---- Assignment ----

  /**
   * Applies a join's assignment. Returns the acknowledged offsets of partitions that moved to
   * another member, to commit at once: the records before them are on the target, so committing
   * them can lose nothing, whoever owns the partition now. A member that missed a generation
   * commits nothing it acknowledged before (it cannot know what happened meanwhile).
   */
  #assigned (assignments: GroupAssignment[]): CommittableOffset[] {
    const owned = ownedPartitions(assignments)
    // A member that missed a generation starts its partitions over from the committed offsets.
    const generation = this.consumer.generationId
    const continuous = this.#membership.joined(this.consumer.memberId, generation)
    const handOver: CommittableOffset[] = []
    for (const [key, offset] of [...this.#offsets.pending]) {
      if (continuous && owned.has(key)) continue
      this.#offsets.pending.delete(key)
      if (continuous) handOver.push(offset)
    }
    const lost = new Set<PartitionState>()
    for (const [key, state] of this.#partitions) {
      if (continuous && owned.has(key)) continue
      this.#partitions.delete(key)
      lost.add(state)
    }
    // Batches never sent are left to the partition's next owner, which fetches from the committed offset.
    const dropped = this.#dropUnsent(lost)
    if (!continuous) this.#log.warn({ generation, droppedRecords: dropped }, 'this member missed a generation of its group (paused or cut off): it dropped the records it held unsent and starts its partitions over from the committed offsets')
    else if (dropped > 0) this.#log.info({ generation, droppedRecords: dropped, revoked: [...lost].map(s => s.key).join(',') }, 'partitions moved to another member: their records not sent yet were dropped, for the new owner to copy')
    const added: PartitionState[] = []
    for (const a of assignments) {
      for (const partition of a.partitions) {
        const key = partitionKey(a.topic, partition)
        if (this.#partitions.has(key)) continue
        const state = this.#newState(a.topic, partition)
        this.#partitions.set(key, state)
        added.push(state)
      }
    }
    this.#log.debug({ owned: [...owned].join(','), added: added.map(s => s.key).join(',') }, 'assignment')
    if (added.length === 0) {
      this.#pumpFetches()
      return handOver
    }
    this.#assigning++
    this.#startingOffsets(added).then(() => {
      this.#assigning--
      this.#pumpFetches()
    }, error => {
      this.#assigning--
      if (!this.#stopping) this.#host.onFatal(error)
    })
    return handOver
  }

  #newState (topic: string, partition: number): PartitionState {
    return { topic, partition, key: partitionKey(topic, partition), position: undefined, partitionMaxBytes: this.#source.maxPartitionFetchBytes, retryAt: 0, done: false, spans: new SpanQueue() }
  }

  /** Forgets the batches not sent yet of these partition states, over every target partition; returns their records. */
  #dropUnsent (states: Set<PartitionState>): number {
    if (states.size === 0) return 0
    if (this.#options.exactlyOnce !== undefined) return this.#releaseTransactions(states)
    let records = this.#dropMixed(states)
    for (const unit of this.#producer.drop(u => u.context.parts.every(part => states.has(part.owner)))) {
      this.#pendingBytes -= unit.context.bytes
      records += unit.context.records
    }
    return records
  }

  /**
   * Key partitioning: a batch not sent yet with records of lost partitions and of kept ones is
   * encoded again without the lost ones (their new owner reconciles with the target now, and
   * would not see them if they landed later). The batches behind it on its target partition are
   * taken out and put back in order, so the partition's order holds. Returns the records dropped.
   */
  #dropMixed (states: Set<PartitionState>): number {
    if (this.#options.partitioning !== 'key') return 0
    const isLost = (part: UnitPart): boolean => states.has(part.owner)
    let dropped = 0
    for (const topic of new Set([...states].map(st => st.topic))) {
      for (let p = 0; p < this.#host.targetPartitions(topic); p++) {
        const units = this.#producer.unreported(topic, p)
        const first = units.findIndex(u => u.context.owner === this.#owner && u.context.parts.some(isLost) && !u.context.parts.every(isLost))
        if (first < 0) continue
        const behind = new Set(units.slice(first))
        for (const unit of this.#producer.drop(u => behind.has(u))) {
          const mine = unit.context.owner === this.#owner
          if (mine && unit.context.parts.every(isLost)) {
            this.#pendingBytes -= unit.context.bytes
            dropped += unit.context.records
            continue
          }
          if (mine && unit.context.parts.some(isLost) && unit.batch !== null) {
            const kept = withoutParts(unit.batch, unit.context.parts.map(part => ({ records: part.records, drop: isLost(part) })))
            const parts = unit.context.parts.filter(part => !isLost(part))
            const records = parts.reduce((n, part) => n + part.records, 0)
            dropped += unit.context.records - records
            this.#pendingBytes += kept.length - unit.context.bytes
            this.#producer.enqueue(topic, p, { batch: kept, context: { owner: this.#owner, parts, records, bytes: kept.length } })
            continue
          }
          this.#producer.enqueue(topic, p, unit)
        }
      }
    }
    return dropped
  }

  /** The committed offset of each new partition, or auto.offset.reset's where there is none. */
  async #startingOffsets (states: PartitionState[]): Promise<void> {
    const byTopic = new Map<string, number[]>()
    for (const s of states) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition])
    // Exactly-once mode: each partition's transactional id is taken (fencing its last owner) before
    // its committed position is read; that position replaces MM2's take-over (it is read from the
    // same topic for an mm2 flow).
    const transactional = this.#options.exactlyOnce !== undefined
    if (transactional) await this.#initTransactions(states)
    const committed = await this.consumer.listCommittedOffsets({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) })
    const external = transactional ? await readCommittedPositions(this.#targetSettings, this.#options.exactlyOnce!, this.#log) : await this.#host.externalPositions?.(states.map(s => ({ topic: s.topic, partition: s.partition })))
    const start = (s: PartitionState): bigint => { const c = committed.get(s.topic)?.[s.partition] ?? -1n; const e = external?.get(s.key) ?? -1n; return c > e ? c : e }
    let missing = states.filter(s => start(s) < 0n)
    // Partitions added while the mirror ran hold only records written since: copy them all.
    const added = missing.filter(s => this.#host.fromLogStart?.(s.topic, s.partition) === true)
    const logStarts = new Map<string, bigint>()
    if (added.length > 0) {
      const partitions: Record<string, number[]> = {}
      for (const s of added) partitions[s.topic] = [...(partitions[s.topic] ?? []), s.partition]
      const offsets = await this.consumer.listOffsets({ topics: Object.keys(partitions), partitions, timestamp: -2n })
      for (const s of added) logStarts.set(s.key, offsets.get(s.topic)?.[s.partition] ?? 0n)
      missing = missing.filter(s => !logStarts.has(s.key))
    }
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
    const positions = new Map<PartitionState, bigint>()
    for (const s of states) {
      // The larger of the group's commit and a position kept outside the group (MM2's).
      const c = start(s)
      positions.set(s, c >= 0n ? c : logStarts.get(s.key) ?? resets.get(s.topic)?.[s.partition] ?? 0n)
      this.#log.debug({ partition: s.key, position: String(positions.get(s)), committed: String(committed.get(s.topic)?.[s.partition] ?? -1n), external: String(external?.get(s.key) ?? 'none') }, 'starting position')
    }
    if (!transactional) {
      // The target is read only once every request this process wrote to these topics before was
      // answered: one written before a cut-off (and held up in the network) that landed after the
      // read would be copied a second time.
      const waitedFrom = Date.now()
      const targetTopics = new Set(states.map(s => this.#targetTopic(s.topic)))
      const abandon = (): boolean => this.#stopping
      const settled = await (this.#host.writesSettled?.(targetTopics, abandon) ?? this.writtenSettled(targetTopics, abandon))
      if (!settled) return
      const waited = Date.now() - waitedFrom
      if (waited >= 1000) this.#log.info({ ms: waited, topics: [...targetTopics].join(',') }, 'waited for the answers to requests written before, then read the target')
      await this.#reconcile(positions, committed)
      return
    }
    // No reconciling with transactions: the committed position is exact (records and position were
    // committed together), and records of aborted transactions on the target, which reconciling
    // would count as copied, are not there for a read_committed consumer.
    for (const [s, at] of positions) {
      if (this.#partitions.get(s.key) !== s) continue
      s.position = at
      s.settled = { offset: at, leaderEpoch: -1 }
    }
  }

  // ---- Exactly-once mode (transactions.ts) ----

  /** Takes each new partition's transactional id (InitProducerId), fencing its last owner. */
  async #initTransactions (states: PartitionState[]): Promise<void> {
    const settings = this.#options.exactlyOnce!
    this.#positionsPartitions ??= ensurePositionsTopic(this.#targetSettings, settings, this.#log)
    this.#positionsPartitions.catch(() => { this.#positionsPartitions = undefined })
    const positionsPartitions = await this.#positionsPartitions
    const t = this.#targetSettings
    await Promise.all(states.map(async s => {
      if (this.#partitions.get(s.key) !== s) return
      s.txn = new SourcePartitionTransactions<UnitContext>({
        base: this.#producer.client,
        target: t,
        settings,
        topic: s.topic,
        partition: s.partition,
        targetTopics: [this.#targetTopic(s.topic)],
        positionsPartitions,
        acks: t.acks,
        requestTimeoutMs: t.requestTimeoutMs,
        deliveryTimeoutMs: t.deliveryTimeoutMs,
        retryBackoffMs: t.retryBackoffMs,
        maxRequestBytes: this.#limits.maxRequestBytes,
        maxInFlightRequests: t.maxInFlight,
        topicMaxBatchBytes: topic => this.#host.targetMaxBatchBytes?.(topic)
      }, this.#transactionHost(s), this.#log)
      await s.txn.init()
    }))
  }

  #transactionHost (s: PartitionState): SourcePartitionHost<UnitContext> {
    return {
      acknowledged: (topic, partition, units) => { this.#acknowledged(topic, partition, units) },
      settled: () => s.settled?.offset,
      committed: nextOffset => {
        this.#restarts.delete(s.key)
        if (this.#partitions.get(s.key) !== s) return
        // After EndTxn: the group's offset is a lower bound of the position, for lag and tools.
        this.#offsets.set({ topic: s.topic, partition: s.partition, offset: nextOffset, leaderEpoch: s.settled?.offset === nextOffset ? s.settled.leaderEpoch : -1, metadata: null })
        s.committed = { offset: nextOffset, leaderEpoch: -1, at: Date.now() }
      },
      failed: (error, fenced) => { this.#transactionFailed(s, error, fenced) },
      sendError: error => { this.#host.error?.('send', error.errorName, error.retriable) }
    }
  }

  /**
   * Fenced: another member owns the partition now (this one was paused or cut off past its
   * session); it lets the partition go and goes on with the others. Refused: the transaction is
   * aborted and the partition starts again from its last committed position.
   */
  #transactionFailed (s: PartitionState, error: Error, fenced: boolean): void {
    if (this.#partitions.get(s.key) !== s || this.#stopping) {
      this.#dropUnsent(new Set([s]))
      return
    }
    this.#partitions.delete(s.key)
    this.#offsets.pending.delete(s.key)
    this.#dropUnsent(new Set([s]))
    if (fenced) {
      this.#host.error?.('send', 'PRODUCER_FENCED', false)
      this.#log.warn({ partition: s.key, err: describeCause(error) }, 'this member was fenced: another member took over the partition\'s transactional id (this one was paused or cut off past its session); it lets the partition go, and what it had not committed was aborted')
      return
    }
    // A member the group may have left behind (frozen, cut off) does not take the id again: that
    // would fence the partition's new owner. Its next assignment says whether it is still its own.
    if (this.#maybeFenced()) {
      this.#log.warn({ partition: s.key, err: describeCause(error) }, 'a transaction failed while the group had not answered for a session timeout: the partition waits for the next assignment')
      return
    }
    const restarts = (this.#restarts.get(s.key) ?? 0) + 1
    this.#restarts.set(s.key, restarts)
    if (restarts > MAX_TRANSACTION_RESTARTS) {
      this.#host.onFatal(new SendFailedError(s.topic, s.partition, s.settled?.offset ?? -1n, error))
      return
    }
    this.#log.warn({ partition: s.key, err: describeCause(error), restarts }, 'the target refused a batch of an open transaction: the transaction is aborted, and the partition starts again from its last committed position')
    const fresh = this.#newState(s.topic, s.partition)
    this.#partitions.set(s.key, fresh)
    this.#assigning++
    this.#startingOffsets([fresh]).then(() => {
      this.#assigning--
      this.#pumpFetches()
    }, error => {
      this.#assigning--
      if (!this.#stopping) this.#host.onFatal(error)
    })
  }

  /** Lets these partitions' transactions go (aborting what is open); returns the records not acknowledged. */
  #releaseTransactions (states: Set<PartitionState>): number {
    let records = 0
    for (const s of states) {
      const released = s.txn?.release()
      if (released === undefined) continue
      for (const unit of released.units) {
        this.#pendingBytes -= unit.context.bytes
        records += unit.context.records
      }
      released.done.catch(() => {})
    }
    return records
  }

  /** A batch to the target: through its source partition's transaction in exactly-once mode. */
  #send (state: PartitionState, topic: string, partition: number, unit: ProduceUnit<UnitContext>): void {
    if (this.#options.exactlyOnce === undefined) {
      this.#producer.enqueue(topic, partition, unit)
      return
    }
    // A partition let go while its fetch answer was planned: its records are its new owner's.
    if (state.txn?.enqueue(topic, partition, unit) !== true) this.#pendingBytes -= unit.context.bytes
  }

  /**
   * Reconciles the new partitions with the target (reconcile.ts): a partition that starts at the
   * group's committed offset starts after the records already on the target, and each gets the
   * track its commits' metadata comes from.
   */
  async #reconcile (positions: Map<PartitionState, bigint>, committed: Map<string, bigint[]>): Promise<void> {
    // Only a position that is the group's committed offset (not MM2's, not a reset) is reconciled.
    const fromGroup = (s: PartitionState, at: bigint): bigint | undefined => (committed.get(s.topic)?.[s.partition] ?? -1n) === at && at >= 0n ? at : undefined
    const results = await this.#reconciler.reconcile([...positions].map(([s, at]) => ({ topic: s.topic, partition: s.partition, committed: fromGroup(s, at), targetTopic: this.#targetTopic(s.topic), targetPartitions: this.#host.targetPartitions(s.topic) })))
    let commitNow = false
    for (const [s, at] of positions) {
      if (this.#partitions.get(s.key) !== s) continue
      const r = results.get(s.key)
      s.track = r?.track
      s.position = at
      // The starting position is committed at once with the target positions (below), so that even
      // a crash before the first interval's commit can be reconciled.
      s.committed = { offset: at, leaderEpoch: -1, at: 0 }
      commitNow ||= s.track !== undefined
      if (r === undefined) continue
      if (r.outcome !== 'none') this.#host.reconciled?.(s.topic, s.partition, r)
      // Key partitioning: records past the first missing one that are on the target already are
      // skipped, also when the copy resumes at the committed offset itself (its first record is
      // missing); clearing them there would copy every one of them again.
      s.skip = r.skip
      // Past the group's offset only when the target holds the records before it (matched), or the
      // group committed again meanwhile (the last owner's hand-over).
      if (r.position === undefined || r.position <= at) continue
      s.position = r.position
      // What was found is on the target: committed now, with where the rest will land.
      this.#offsets.set({ topic: s.topic, partition: s.partition, offset: r.position, leaderEpoch: -1, metadata: this.#metadata(s, r.position) })
      s.committed = { offset: r.position, leaderEpoch: -1, at: Date.now() }
    }
    if (commitNow) this.commit().catch(error => this.#log.debug({ err: describeCause(error) }, 'committing the starting positions failed; they are committed at the next interval'))
  }

  /**
   * An idle partition's last commit names target positions that grow older while other source
   * partitions write to the same target partitions: it is committed again with fresh ones, so a
   * new owner reads little of the target.
   */
  #refreshIdleMetadata (): void {
    const now = Date.now()
    for (const s of this.#partitions.values()) {
      const c = s.committed
      if (c === undefined || s.track === undefined || now - c.at < METADATA_REFRESH_MS || this.#offsets.pending.has(s.key)) continue
      this.#offsets.set({ topic: s.topic, partition: s.partition, offset: c.offset, leaderEpoch: c.leaderEpoch, metadata: this.#metadata(s, c.offset) })
      c.at = now
    }
  }

  #metadata (state: PartitionState, offset: bigint): string | null {
    return state.track?.metadata(offset, this.#options.partitioning === 'source', this.#log, state.key) ?? null
  }

  // ---- Fetching ----

  #pumpFetches (): void {
    if (this.#stopping || this.#closed || this.#held || this.#failed) return
    // Under backpressure, wait until half the budget is free: fetching into whatever little room
    // there is makes small answers, and key partitioning cuts each into one batch per target
    // partition (small batches cost the target broker CPU per byte).
    if (this.#pendingBytes > this.#limits.maxPendingBytes / 2) return
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
        this.#target.answered(this)
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
      // A leader too old for any Fetch version kafka-mirror has stays so: no retry helps.
      if (error instanceof UnsupportedBrokerError) return this.#host.onFatal(error)
      this.#host.error?.('fetch', 'NETWORK_ERROR', true)
      this.#log.debug({ leader, err: describeCause(error) }, 'fetch failed; trying again')
      this.#backOff(ordered)
      return
    }
    if (this.#stopping) return
    if (response.errorCode !== 0) {
      this.#host.error?.('fetch', protocolErrorsCodesById[response.errorCode] ?? `ERROR_${response.errorCode}`, true)
      this.#log.debug({ leader, errorCode: response.errorCode }, 'fetch refused; trying again')
      this.#backOff(ordered)
      return
    }
    // Key partitioning: the records of every partition of the answer are routed together, so each
    // target partition gets one batch per answer (up to the batch size), not one per source partition.
    const newRouting = (): { router: KeyRouter, spans: Map<Span, PartitionState> } => ({ router: new KeyRouter({ compression: this.#options.compression, forceReencode: this.#options.forceReencode, maxBatchBytes: Math.min(ROUTED_BATCH_BYTES, this.#limits.maxRequestBytes), topicMaxBytes: topic => this.#host.targetMaxBatchBytes?.(topic) ?? DEFAULT_MERGED_BATCH_BYTES }), spans: new Map<Span, PartitionState>() })
    let routing = this.#options.partitioning === 'key' ? newRouting() : undefined
    try {
      for (const t of response.responses) {
        for (const p of t.partitions) {
          const asked = requested.get(partitionKey(t.topic, p.partitionIndex))
          // A partition revoked, or moved by another response, while this fetch was out.
          if (asked === undefined || this.#partitions.get(asked.state.key) !== asked.state || asked.state.position !== asked.offset) continue
          await this.#fetched(asked.state, p, routing)
          // Exactly-once mode: a target batch holds one source partition's records (one producer id).
          if (routing !== undefined && this.#options.exactlyOnce !== undefined) {
            this.#enqueueRouted(routing.router.finish(), routing.spans)
            routing = newRouting()
          }
        }
      }
    } finally {
      if (routing !== undefined) this.#enqueueRouted(routing.router.finish(), routing.spans)
    }
  }

  /** Sends the batches routed from one fetch answer and seals its spans. */
  #enqueueRouted (routed: RoutedBatch[], spans: Map<Span, PartitionState>): void {
    for (const r of routed) {
      const bytes = r.batch.length
      const parts: UnitPart[] = r.parts.map(part => {
        const span = part.tag as Span
        const owner = spans.get(span)!
        owner.spans.addBatch(span)
        return { owner, span, records: part.records, bytes: Math.round(bytes * part.records / r.records) }
      })
      this.#pendingBytes += bytes
      // In exactly-once mode an answer's partitions are routed one by one: all parts are one partition's.
      this.#send(parts[0].owner, r.topic, r.partition, { batch: r.batch, context: { owner: this.#owner, parts, records: r.records, bytes } })
    }
    for (const [span, owner] of spans) {
      owner.spans.seal(span)
      this.#settle(owner)
    }
  }

  #backOff (states: PartitionState[]): void {
    const at = Date.now() + Math.min(1000, this.#source.retryBackoffMs * 4)
    for (const s of states) s.retryAt = at
    this.#refreshSourceMetadata()
  }

  async #fetched (state: PartitionState, p: RawFetchPartition, routing?: { router: KeyRouter, spans: Map<Span, PartitionState> }): Promise<void> {
    if (p.errorCode === ERROR_OFFSET_OUT_OF_RANGE) {
      await this.#outOfRange(state, p)
      return
    }
    if (p.errorCode !== 0) {
      // By name: an authorization error reaches the host as the client's own ProtocolError, which
      // the Mirror explains as an access error naming the missing ACL.
      const name = protocolErrorsCodesById[p.errorCode]
      const retriable = RETRIABLE_FETCH_ERRORS.has(p.errorCode) || (name !== undefined && protocolErrors[name]?.canRetry === true)
      this.#host.error?.('fetch', name ?? `ERROR_${p.errorCode}`, retriable)
      if (!retriable) {
        if (name !== undefined) throw new ProtocolError(name, `fetching ${state.key}`)
        throw new KafkaMirrorError(ErrorCodes.CONNECTION, `Fetching ${state.key} failed with Kafka error ${p.errorCode}`)
      }
      this.#backOff([state])
      return
    }
    const from = state.position!
    const now = Date.now()
    // Key partitioning: the span is opened before the records are routed (they name it), and
    // sealed once the answer's batches are made.
    const span = routing !== undefined ? state.spans.open(from, from, -1, 0, now, false) : undefined
    const targetPartitions = routing !== undefined ? this.#host.targetPartitions(state.topic) : 0
    let plan
    try {
      plan = planFetchedRecords(p.records, from, {
        endOffset: this.#host.endOffset?.(state.topic, state.partition),
        readCommitted: this.#source.readCommitted,
        abortedTransactions: p.abortedTransactions,
        compression: this.#options.compression,
        forceReencode: this.#options.forceReencode,
        rewrite: this.#options.rewrite,
        mergedBatchBytes: Math.min(DEFAULT_MERGED_BATCH_BYTES, this.#host.targetMaxBatchBytes?.(this.#targetTopic(state.topic)) ?? Infinity),
        maxBatchBytes: this.#host.targetMaxBatchBytes?.(this.#targetTopic(state.topic)),
        byKey: routing !== undefined ? { router: routing.router, tag: span, topic: this.#targetTopic(state.topic), partitions: targetPartitions, keylessPartition: () => this.#nextKeyless(state.topic, targetPartitions), skip: state.skip !== undefined ? offset => state.skip!.delete(offset) : undefined } : undefined
      })
    } catch (error) {
      // Records routed before the failure still name the span: it ends where it began.
      if (span !== undefined) routing!.spans.set(span, state)
      throw error
    }
    if (span !== undefined) {
      if (plan.nextOffset === from) state.spans.cancel(span)
      else {
        span.nextOffset = plan.nextOffset
        span.leaderEpoch = plan.leaderEpoch ?? -1
        routing!.spans.set(span, state)
      }
    }
    if (plan.units.length === 0 && plan.truncatedBatchBytes !== undefined && plan.nextOffset === from) {
      // One batch larger than max.partition.fetch.bytes: ask for all of it next time.
      state.partitionMaxBytes = Math.max(state.partitionMaxBytes, plan.truncatedBatchBytes)
    }
    this.counts.raw += plan.counts.raw
    this.counts.reencoded += plan.counts.reencoded
    this.counts.merged += plan.counts.merged
    this.counts.skipped += plan.counts.skipped
    for (const unit of plan.units) this.#enqueue(state, unit, now)
    state.position = plan.nextOffset
    state.done = plan.reachedEnd
    if (state.skip !== undefined && state.skip.size === 0) state.skip = undefined
  }

  /** Keyless records of one source batch go to one target partition; the next batch's to the next. */
  #nextKeyless (topic: string, partitions: number): number {
    const next = ((this.#keyless.get(topic) ?? Math.floor(Math.random() * partitions)) + 1) % partitions
    this.#keyless.set(topic, next)
    return next
  }

  /** --partitioning source: one unit of a plan is a span of its own, carried by one batch or none. */
  #enqueue (state: PartitionState, unit: PlannedUnit, now: number): void {
    const span = state.spans.open(unit.firstOffset, unit.nextOffset, unit.leaderEpoch, unit.batch === null ? 0 : 1, now)
    if (unit.batch === null) {
      // Nothing to send (markers, aborted records): done as soon as the spans before it are.
      this.#settle(state)
      return
    }
    const bytes = unit.batch.length
    this.#pendingBytes += bytes
    this.#send(state, this.#targetTopic(state.topic), unit.partition ?? state.partition, { batch: unit.batch, context: { owner: this.#owner, parts: [{ owner: state, span, records: unit.records, bytes }], records: unit.records, bytes } })
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
    if (resumeAt >= from) {
      state.position = resumeAt
      return
    }
    // The offsets start over: a new state, so that nothing of the old log still on its way is
    // committed over the new one, and its unsent batches are dropped.
    this.#dropUnsent(new Set([state]))
    this.#offsets.pending.delete(state.key)
    const fresh = this.#newState(state.topic, state.partition)
    fresh.position = resumeAt
    fresh.startedOver = true
    this.#partitions.set(state.key, fresh)
  }

  // ---- Acknowledgements ----

  /** The target topic of a source topic. */
  #targetTopic (sourceTopic: string): string {
    return this.#options.targetTopic?.(sourceTopic) ?? sourceTopic
  }

  /** `topic` and `partition`: the target's; each part's owner names its source partition. */
  #acknowledged (topic: string, partition: number, units: Array<ProduceUnit<UnitContext>>): void {
    const touched = new Map<PartitionState, { records: number, bytes: number, since: number }>()
    for (const unit of units) {
      this.#pendingBytes -= unit.context.bytes
      for (const { owner, span, records, bytes } of unit.context.parts) {
        let acked = touched.get(owner)
        if (acked === undefined) touched.set(owner, acked = { records: 0, bytes: 0, since: span.openedAt })
        if (unit.skipped !== undefined) {
          owner.spans.acknowledged(span, 0, 0)
          this.#host.skipped?.(owner.topic, owner.partition, records, unit.skipped)
          continue
        }
        owner.spans.acknowledged(span, records, bytes)
        owner.track?.written(partition, unit.baseOffset ?? -1n, unit.context.records, span.nextOffset)
        acked.records += records
        acked.bytes += bytes
        acked.since = Math.min(acked.since, span.openedAt)
        this.#host.written?.({ topic: owner.topic, targetTopic: topic, sourcePartition: owner.partition, sourceFirstOffset: span.firstOffset, sourceNextOffset: span.nextOffset, targetPartition: partition, targetBaseOffset: unit.baseOffset ?? -1n, records, maxTimestamp: unit.batch === null ? -1 : Number(unit.batch.readBigInt64BE(MAX_TIMESTAMP_AT)), fetchedAt: span.openedAt })
      }
    }
    for (const [state, acked] of touched) this.#settle(state, acked)
    this.#pumpFetches()
  }

  /**
   * Moves a partition's committable offset to the end of its longest prefix of done spans, and
   * tells the host what was acknowledged (`acked`) and how far the partition is on the target.
   */
  #settle (state: PartitionState, acked = { records: 0, bytes: 0, since: Date.now() }): void {
    const settled = state.spans.settle()
    if (settled !== undefined && state.txn !== undefined) {
      // Exactly-once mode: committed with the transaction (transactions.ts), not now.
      state.settled = { offset: settled.nextOffset, leaderEpoch: settled.leaderEpoch }
    } else if (settled !== undefined && this.#partitions.get(state.key) === state) {
      // An acknowledgement that arrives after the partition moved on is not ours to commit.
      this.#offsets.set({ topic: state.topic, partition: state.partition, offset: settled.nextOffset, leaderEpoch: settled.leaderEpoch, metadata: this.#metadata(state, settled.nextOffset) })
      state.committed = { offset: settled.nextOffset, leaderEpoch: settled.leaderEpoch, at: Date.now() }
    }
    if (settled === undefined && acked.records === 0) return
    this.#host.delivered({ topic: state.topic, partition: state.partition, records: acked.records, bytes: acked.bytes, nextOffset: settled?.nextOffset, ms: Date.now() - acked.since })
  }

  // ---- What the Mirror asks of its workers ----

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

  /** Bytes of record batches fetched and not yet acknowledged by the target. */
  get pendingBytes (): number {
    return this.#pendingBytes
  }

  /** True when no batch waits or is in flight and no assignment is being set up. */
  get idle (): boolean {
    return this.#unitsPending === 0 && this.#assigning === 0
  }

  /** Offsets the target has acknowledged but the group has not committed yet. */
  get committable (): Map<string, CommittableOffset> {
    return this.#offsets.pending
  }

  /** Commits acknowledged offsets; concurrent calls share one request. */
  async commit (extra: CommittableOffset[] = []): Promise<void> {
    if (this.#closed) return
    this.#refreshIdleMetadata()
    await this.#offsets.commit(extra)
  }

  /** Resolves once the requests this worker's producer wrote to these target topics so far were answered (RawProducer.writtenSettled). */
  async writtenSettled (targetTopics: Set<string>, abandon: () => boolean): Promise<boolean> {
    return await this.#producer.writtenSettled(topic => targetTopics.has(topic), abandon)
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
    for (;;) {
      while (this.#unitsPending > 0) {
        if (Date.now() > deadline) return false
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      // Exactly-once mode: what was acknowledged is committed now rather than at the interval.
      const open = [...this.#partitions.values()].filter(s => s.txn?.open === true)
      if (open.length === 0) return !this.#failed
      if (Date.now() > deadline) return false
      await Promise.allSettled(open.map(async s => await s.txn!.commit()))
    }
  }

  async close (): Promise<void> {
    this.#stopping = true
    this.#closed = true
    clearTimeout(this.#wakeTimer)
    await this.consumer.close(true).catch(error => this.#log.debug({ err: String(error) }, 'closing the consumer failed'))
    // Exactly-once mode: a transaction still open is aborted before the shared connections close.
    await Promise.allSettled([...this.#partitions.values()].map(async s => await s.txn?.release().done))
    await Promise.allSettled([this.#target.release(this), this.#fetcher.close(), this.#reconciler.close()])
  }

  /** This worker's units enqueued and not yet reported (a partition the target refused excepted). */
  get #unitsPending (): number {
    let pending = this.#producer.pendingWhere(u => u.context.owner === this.#owner)
    if (this.#options.exactlyOnce !== undefined) for (const s of this.#partitions.values()) pending += s.txn?.pending ?? 0
    return pending
  }
}

/** The longest the first round of a shared producer waits for the other streams' first answers. */
const FIRST_ROUND_HOLD_MS = 1000

/**
 * One idempotent producer for the target, shared by the streams of a mirror (one connection per
 * target broker). With key partitioning every stream writes to every target partition: with a
 * producer each, their batches for a partition reach the broker on two connections at once, and
 * the broker's acks=all answers then waited for seconds (W6: 33 s against 2.5 s with one
 * producer). Shared, a partition's batches of every stream are in one queue, merged while they
 * wait, and each acknowledgement goes to the worker whose units it carries.
 */
export class TargetProducer {
  readonly producer: RawProducer<UnitContext>
  /** Per target partition ("topic:partition"): the end of the last batch acknowledged with its offset (reconcile.ts). */
  readonly ends = new Map<string, bigint>()
  #users = 0
  /** Each worker's write gate: the producer writes while every user's is open. */
  #gates = new Map<unknown, () => boolean>()
  #started: Promise<void> | undefined
  #closing: Promise<void> | undefined
  /** Users whose first fetch answer is not planned yet, while the first round is held. */
  #firstRound: Set<unknown> | undefined
  #releaseFirstRound: (() => void) | undefined
  #firstRoundTimer: NodeJS.Timeout | undefined

  /**
   * `host.error` counts the target's refusals (retried or not) by Kafka error name, for the metrics.
   * `holdFirstRound` (shared by streams): nothing is sent until every user's first fetch answer was
   * planned, or FIRST_ROUND_HOLD_MS after the first one was. Each target partition then gets the
   * first records of every stream in one batch, one append: at the start every partition has only
   * one batch in flight (RawProducer), and a second batch of a fresh partition right behind the
   * first made the broker hold acks=all answers for seconds (W6: 200 fresh topics).
   */
  constructor (target: TargetSettings, clientId: string, limits: WorkerLimits, options: Pick<WorkerOptions, 'skipRefused'>, host: Pick<WorkerHost, 'error' | 'targetMaxBatchBytes'>, holdFirstRound = false) {
    this.producer = new RawProducer<UnitContext>({
      client: baseClientOptions(target, clientId),
      acks: target.acks,
      idempotent: target.idempotent,
      requestTimeoutMs: target.requestTimeoutMs,
      deliveryTimeoutMs: target.deliveryTimeoutMs,
      retryBackoffMs: target.retryBackoffMs,
      maxRequestBytes: limits.maxRequestBytes,
      maxInFlightRequests: target.maxInFlight,
      skipRefused: options.skipRefused,
      topicMaxBatchBytes: topic => host.targetMaxBatchBytes?.(topic),
      // One process's streams share it: a member that may be fenced holds every stream's writes
      // (its partitions' batches may be merged with the others'), which lasts a rebalance.
      mayWrite: () => {
        for (const gate of this.#gates.values()) if (!gate()) return false
        return true
      }
    }, {
      acknowledged: (topic, partition, units) => {
        for (let i = units.length - 1; i >= 0; i--) {
          const u = units[i]
          if (u.baseOffset === undefined || u.baseOffset < 0n || u.skipped !== undefined || !Number.isInteger(u.context.records)) continue
          const key = partitionKey(topic, partition)
          const end = u.baseOffset + BigInt(u.context.records)
          if (end > (this.ends.get(key) ?? -1n)) this.ends.set(key, end)
          break
        }
        // In enqueue order, each run of one worker's units to that worker.
        let from = 0
        for (let i = 1; i <= units.length; i++) {
          if (i < units.length && units[i].context.owner === units[from].context.owner) continue
          units[from].context.owner.acknowledged(topic, partition, from === 0 && i === units.length ? units : units.slice(from, i))
          from = i
        }
      },
      failed: (topic, partition, unit, error) => { unit.context.owner.failed(topic, partition, unit, error) },
      sendError: (_topic, _partition, error) => { host.error?.('send', error.errorName, error.retriable) },
      reset: (topic, partition, cause) => { this.#resetOwner(topic, partition, cause) }
    })
    if (holdFirstRound) {
      this.#firstRound = new Set()
      this.#releaseFirstRound = this.producer.hold()
    }
  }

  #resetOwner (topic: string, partition: number, cause: Error): void {
    const units = this.producer.unreported(topic, partition)
    units[0]?.context.owner.reset(topic, partition, cause)
  }

  /** A worker starts using it; `mayWrite` is its write gate. */
  use (user: unknown, mayWrite?: () => boolean): void {
    this.#users++
    if (mayWrite !== undefined) this.#gates.set(user, mayWrite)
    this.#firstRound?.add(user)
  }

  /** `user` planned a fetch answer (or gave up on one). */
  answered (user: unknown): void {
    const waiting = this.#firstRound
    if (waiting === undefined) return
    waiting.delete(user)
    if (waiting.size === 0) this.#endFirstRound()
    else this.#firstRoundTimer ??= setTimeout(() => { this.#endFirstRound() }, FIRST_ROUND_HOLD_MS)
  }

  #endFirstRound (): void {
    this.#firstRound = undefined
    clearTimeout(this.#firstRoundTimer)
    this.#releaseFirstRound?.()
    this.#releaseFirstRound = undefined
  }

  async start (): Promise<void> {
    this.#started ??= this.producer.start()
    await this.#started
  }

  /** A worker is done with it: closed once no worker uses it. */
  async release (user: unknown): Promise<void> {
    this.answered(user)
    if (this.#gates.delete(user)) this.producer.wake()
    if (--this.#users > 0) return
    this.#closing ??= this.producer.close()
    await this.#closing
  }
}
