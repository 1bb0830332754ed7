// The offsets a worker may commit, and the one commit request it has in flight. The worker fills it
// only with offsets the target acknowledged.
//
// A commit never makes the member join its group again. The request goes straight to the group
// coordinator (OffsetCommit v8, or v6/v3 on older brokers: kafka/raw/offset-commit.ts, through the
// client's public connection pool) under the member id
// and generation the consumer holds at that moment. When the coordinator answers that the group
// moved on (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID) the
// commit fails, the offsets stay pending, and the member's heartbeat gets the same answer and
// rejoins: the rule of Kafka's Java consumer and librdkafka. (@platformatic/kafka's own
// Consumer#commit joins the group itself on those errors, which for a group leader starts a
// rebalance per heartbeat interval after a network cut.) What the worker does with pending offsets
// on a new assignment is its business: it drops those of partitions that moved, or all of them
// after a missed generation.
import type { Connection, Consumer } from '@platformatic/kafka'
import { KafkaMirrorError, ErrorCodes } from '../errors.ts'
import { heartbeatApi } from '../kafka/raw/heartbeat.ts'
import { offsetCommitApi } from '../kafka/raw/offset-commit.ts'
import { kafkaErrorName } from '../kafka/retriable.ts'

export interface CommittableOffset {
  topic: string
  partition: number
  /** The next offset to read: one past the last record the target acknowledged. */
  offset: bigint
  leaderEpoch: number
  /** Where the target holds this partition's records from the offset on (reconcile.ts); null: nothing said. */
  metadata?: string | null
}

export const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`

/** Answers that mean the group moved on without this membership: the heartbeat rejoins. */
const GROUP_MOVED_ON = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID'])

/** The coordinator refused the commit; `groupMovedOn` when the membership it was made under is over. */
export class CommitRefusedError extends KafkaMirrorError {
  readonly errorName: string
  readonly groupMovedOn: boolean

  constructor (errorName: string, detail: string) {
    const groupMovedOn = GROUP_MOVED_ON.has(errorName)
    super(ErrorCodes.CONNECTION, groupMovedOn
      ? `the group moved on while offsets were being committed (${errorName}); they stay pending and are committed once the member is back in the group`
      : `the group coordinator refused the offset commit: ${errorName}${detail}`, { retriable: !errorName.includes('AUTHORIZATION') })
    this.name = 'CommitRefusedError'
    this.errorName = errorName
    this.groupMovedOn = groupMovedOn
  }
}

export class OffsetCommitter {
  /** Acknowledged offsets not committed yet, keyed "topic:partition". */
  readonly pending = new Map<string, CommittableOffset>()
  #consumer: Consumer
  #timeoutMs: number
  #committing: Promise<void> | undefined
  /** The one request that calls made while another was out wait for. */
  #next: Promise<void> | undefined

  constructor (consumer: Consumer, timeoutMs = 30_000) {
    this.#consumer = consumer
    this.#timeoutMs = timeoutMs
  }

  /** A commit request is under way. */
  get busy (): boolean {
    return this.#committing !== undefined
  }

  set (offset: CommittableOffset): void {
    this.pending.set(partitionKey(offset.topic, offset.partition), offset)
  }

  /**
   * Commits the pending offsets and `extra`; concurrent calls share one request. An offset set
   * again while the request was out stays pending.
   */
  async commit (extra: CommittableOffset[] = []): Promise<void> {
    if (this.#committing !== undefined) {
      // Calls made while a request is out share one request after it: the periodic commit would
      // otherwise send one each per interval that passed (twenty after a 10 s network cut).
      if (extra.length > 0) await this.#committing.catch(() => {})
      else {
        const after = this.#committing
        this.#next ??= after.catch(() => {}).then(async () => {
          this.#next = undefined
          await this.commit()
        })
        await this.#next
        return
      }
    }
    const offsets = [...this.pending.values(), ...extra]
    if (offsets.length === 0) return
    const run = (async () => {
      await this.#send(offsets)
      for (const o of offsets) {
        const key = partitionKey(o.topic, o.partition)
        if (this.pending.get(key) === o) this.pending.delete(key)
      }
    })()
    this.#committing = run
    try {
      await run
    } finally {
      if (this.#committing === run) this.#committing = undefined
    }
  }

  async #send (offsets: CommittableOffset[]): Promise<void> {
    const consumer = this.#consumer
    const memberId = consumer.memberId
    if (memberId === null || memberId === '') throw new CommitRefusedError('UNKNOWN_MEMBER_ID', '')
    const generation = consumer.generationId
    const topics = new Map<string, { name: string, partitions: Array<{ partitionIndex: number, committedOffset: bigint, committedLeaderEpoch: number, committedMetadata: string | null }> }>()
    for (const o of offsets) {
      let t = topics.get(o.topic)
      if (t === undefined) topics.set(o.topic, t = { name: o.topic, partitions: [] })
      t.partitions.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, committedMetadata: o.metadata ?? null })
    }
    const connection = await coordinatorConnection(consumer)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        offsetCommitApi(connection).then(async api => await api.async(connection, consumer.groupId, generation, memberId, consumer.groupInstanceId, [...topics.values()])),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => { reject(new CommitRefusedError('REQUEST_TIMED_OUT', ` (no answer in ${this.#timeoutMs} ms)`)) }, this.#timeoutMs)
          timer.unref()
        })
      ])
    } catch (error) {
      if (error instanceof CommitRefusedError) throw error
      const name = kafkaErrorName(error)
      if (name === undefined) throw error
      throw new CommitRefusedError(name, '')
    } finally {
      clearTimeout(timer)
    }
  }
}

/** A connection to the consumer's group coordinator, from the client's public connection pool. */
async function coordinatorConnection (consumer: Consumer): Promise<Connection> {
  const coordinator = consumer.coordinatorId ?? await consumer.findGroupCoordinator()
  const broker = consumer.currentMetadata?.brokers.get(coordinator) ?? (await consumer.metadata({ topics: [] })).brokers.get(coordinator)
  if (broker === undefined) throw new CommitRefusedError('COORDINATOR_NOT_AVAILABLE', ` (broker ${coordinator} is not in the metadata)`)
  return await consumer.connections.get(broker)
}

/**
 * Whether the group started a rebalance that this member has not joined yet: one Heartbeat of its
 * own under the member id and generation it holds, answered REBALANCE_IN_PROGRESS. Any other
 * answer, or none, is false (the consumer's own heartbeats deal with those).
 */
export async function rebalanceStarted (consumer: Consumer): Promise<boolean> {
  const memberId = consumer.memberId
  if (memberId === null || memberId === '') return false
  try {
    const connection = await coordinatorConnection(consumer)
    const api = await heartbeatApi(connection)
    await api.async(connection, consumer.groupId, consumer.generationId, memberId, consumer.groupInstanceId)
    return false
  } catch (error) {
    return kafkaErrorName(error) === 'REBALANCE_IN_PROGRESS'
  }
}
