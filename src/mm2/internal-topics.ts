// MM2's internal topics on one cluster: created as MirrorMaker 2 creates them (compacted, one
// partition, the replication factor its key names), read back whole at start, and the source
// partitions counted where an offset history run cannot place a record by itself.
import { Producer, type Admin } from '@platformatic/kafka'
import type { ClusterConnection } from '../kafka/client-options.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { ErrorCodes, KafkaMirrorError, describeCause } from '../errors.ts'
import { createTopic, waitForLeaders } from '../admin/topics.ts'
import { RawFetcher } from '../kafka/raw/raw-fetcher.ts'
import { PartitionReadError, PartitionReader } from '../kafka/raw/partition-reader.ts'
import { decodeRecords, type DecodedRecord } from '../kafka/raw/record-batch.ts'
import { planFetchedRecords } from '../mirror/plan.ts'

/**
 * MirrorUtils.createSinglePartitionCompactedTopic: an existing topic is used as it is. `key` names
 * the replication-factor key an operator changes when the cluster has fewer brokers.
 */
export async function ensureCompactedTopic (admin: Admin, cluster: string, topic: string, replicationFactor: number, key: string): Promise<boolean> {
  let created
  try {
    created = await createTopic(admin, { name: topic, partitions: 1, replicationFactor, configs: { 'cleanup.policy': 'compact' } })
  } catch (error) {
    throw new KafkaMirrorError(ErrorCodes.TOPIC, `Cannot create ${topic} on the ${cluster} cluster with replication factor ${replicationFactor} (${key}): ${describeCause(error)}. Set ${key} to at most the number of brokers, or create the topic (compacted, 1 partition) yourself`, { cause: error })
  }
  await waitForLeaders(admin, [topic], 30_000)
  return created
}

/** How long reading one partition back may take, retries included. */
const READ_DEADLINE_MS = 30_000

/** Every record of a partition from its log start to its high watermark, in offset order. */
export async function readPartition (connection: ClusterConnection, topic: string, partition = 0, clientId = `${connection.clientId}-mm2-read`): Promise<DecodedRecord[]> {
  const fetcher = new RawFetcher(baseClientOptions(connection, clientId))
  const records: DecodedRecord[] = []
  try {
    await fetcher.start()
    const read = await new PartitionReader(fetcher, { backoffMs: 200 }).read(topic, partition, 0n, { readCommitted: false, deadline: Date.now() + READ_DEADLINE_MS, maxBytes: 8 << 20, maxWaitMs: 100, fromLogStart: true }, (batch, wanted) => {
      for (const r of decodeRecords(batch)) if (r.offset >= wanted.from && r.offset < wanted.to) records.push(r)
    })
    if (read.next < read.end) throw new KafkaMirrorError(ErrorCodes.CONNECTION, `Reading ${topic}-${partition} stopped at offset ${read.next}, before its end ${read.end}`, { retriable: true })
  } catch (error) {
    if (error instanceof PartitionReadError) throw new KafkaMirrorError(ErrorCodes.CONNECTION, `Reading ${topic}-${partition} failed: ${error.message}`, { retriable: true, cause: error })
    throw error
  } finally {
    await fetcher.close()
  }
  return records
}

/** The engine's per-record rewrite (mm2-config's RecordRewrite): keeps, changes or drops (undefined) a record. */
export type RecordRewriteLike = (record: DecodedRecord) => DecodedRecord | undefined

/**
 * Counts the records the mirror copies from source offsets [from, to) of a partition by reading
 * them again and planning them exactly as the copy loop does (markers, aborted transactions with
 * read_committed, compaction gaps): how a committed offset inside a run with gaps is placed
 * record-exactly. Only such runs need it, and only when a group's offset falls inside one.
 */
export class SourceRecordCounter {
  #fetcher: RawFetcher
  #reader: PartitionReader
  #readCommitted: boolean
  #started: Promise<void> | undefined

  #rewrite: RecordRewriteLike | undefined
  #counted = new Map<string, bigint>()

  /** `rewrite`: the Mirror's record rewrite (MirrorSettings.rewriteRecord, mm2-config), whose dropped records are not copied. */
  constructor (source: ClusterConnection & { readCommitted: boolean }, rewrite?: RecordRewriteLike) {
    this.#fetcher = new RawFetcher(baseClientOptions(source, `${source.clientId}-mm2-count`))
    this.#reader = new PartitionReader(this.#fetcher, { backoffMs: 200 })
    this.#readCommitted = source.readCommitted
    this.#rewrite = rewrite
  }

  readonly count = async (topic: string, partition: number, from: bigint, to: bigint): Promise<bigint | undefined> => {
    // Counted once: what was copied does not change, while the source may be compacted later.
    const key = `${topic}\u0000${partition}\u0000${from}\u0000${to}`
    const known = this.#counted.get(key)
    if (known !== undefined) return known
    const counted = await this.#count(topic, partition, from, to)
    if (counted !== undefined) {
      if (this.#counted.size >= 10_000) this.#counted.delete(this.#counted.keys().next().value!)
      this.#counted.set(key, counted)
    }
    return counted
  }

  async #count (topic: string, partition: number, from: bigint, to: bigint): Promise<bigint | undefined> {
    this.#started ??= this.#fetcher.start()
    await this.#started
    const deadline = Date.now() + READ_DEADLINE_MS
    let position = from
    let records = 0n
    while (position < to) {
      let p
      try {
        p = await this.#reader.fetch(topic, partition, position, { readCommitted: this.#readCommitted, deadline, maxBytes: 8 << 20, maxWaitMs: 100 })
      } catch (error) {
        // A Kafka error that is not retriable: not countable; a read that ran out of time: an error
        if (error instanceof PartitionReadError && error.errorCode !== undefined) return undefined
        throw error
      }
      if (p.errorCode !== 0) return undefined
      // As the copy loop plans them, with its rewrite where the engine has one (a variable, so
      // the option is passed through whether or not this build's PlanOptions declares it).
      const options = { endOffset: to, readCommitted: this.#readCommitted, abortedTransactions: p.abortedTransactions, compression: 'keep' as const, mergeBelowBytes: 0, ...(this.#rewrite === undefined ? {} : { rewrite: this.#rewrite }) }
      const plan = planFetchedRecords(p.records, position, options)
      for (const unit of plan.units) records += BigInt(unit.records)
      if (plan.nextOffset <= position) return undefined
      position = plan.nextOffset
    }
    return records
  }

  async close (): Promise<void> {
    await this.#fetcher.close()
  }
}

/** The producer of MM2's internal records: acks=all, idempotent, never creating topics by itself. */
export function internalProducer (connection: ClusterConnection, clientId: string): Producer {
  return new Producer({ ...baseClientOptions(connection, clientId), acks: -1, idempotent: true, autocreateTopics: false })
}
