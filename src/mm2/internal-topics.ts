// MM2's internal topics on one cluster: created as MirrorMaker 2 creates them (compacted, one
// partition, the replication factor its key names), read back whole at start, and the source
// partitions counted where an offset history run cannot place a record by itself.
import { Producer, type Admin } from '@platformatic/kafka'
import type { ClusterConnection } from '../kafka/client-options.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { ErrorCodes, KafkaMirrorError, describeCause } from '../errors.ts'
import { createTopic, waitForLeaders } from '../admin/topics.ts'
import { RawFetcher } from '../kafka/raw/raw-fetcher.ts'
import { decodeRecords, readRecordBatches, type DecodedRecord } from '../kafka/raw/record-batch.ts'
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

const READ = { maxWaitMs: 100, minBytes: 1, maxBytes: 8 << 20, isolationLevel: 0 as const }

/** Every record of a partition from its log start to its high watermark, in offset order. */
export async function readPartition (connection: ClusterConnection, topic: string, partition = 0, clientId = `${connection.clientId}-mm2-read`): Promise<DecodedRecord[]> {
  const fetcher = new RawFetcher(baseClientOptions(connection, clientId))
  const records: DecodedRecord[] = []
  try {
    await fetcher.start()
    let position = 0n
    for (let attempt = 0; attempt < 1_000_000; attempt++) {
      const p = await fetchOnce(fetcher, topic, partition, position, READ.maxBytes, READ.isolationLevel)
      if (p.errorCode === 1 && p.logStartOffset > position) { position = p.logStartOffset; continue } // OFFSET_OUT_OF_RANGE: the log starts later
      if (p.errorCode !== 0) throw new KafkaMirrorError(ErrorCodes.CONNECTION, `Reading ${topic}-${partition} failed with Kafka error ${p.errorCode}`, { retriable: true })
      if (position >= p.highWatermark) break
      const { batches } = readRecordBatches(p.records ?? Buffer.alloc(0))
      const before = position
      for (const batch of batches) {
        if (batch.lastOffset < position) continue
        if (!batch.control) for (const r of decodeRecords(batch)) if (r.offset >= position && r.offset < p.highWatermark) records.push(r)
        position = batch.lastOffset + 1n
      }
      if (position === before) throw new KafkaMirrorError(ErrorCodes.INTERNAL, `Reading ${topic}-${partition} made no progress at offset ${position}`)
    }
  } finally {
    await fetcher.close()
  }
  return records
}

async function fetchOnce (fetcher: RawFetcher, topic: string, partition: number, offset: bigint, maxBytes: number, isolationLevel: 0 | 1): Promise<{ errorCode: number, highWatermark: bigint, logStartOffset: bigint, records: Buffer | null, abortedTransactions: Array<{ producerId: bigint, firstOffset: bigint }> | null }> {
  for (let attempt = 0; ; attempt++) {
    await fetcher.refresh([topic])
    const leader = fetcher.leaderOf(topic, partition)
    try {
      if (leader === undefined) throw new Error(`${topic}-${partition} has no leader`)
      const answer = await fetcher.fetch(leader, { maxWaitMs: READ.maxWaitMs, minBytes: READ.minBytes, maxBytes, isolationLevel }, [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: maxBytes }] }])
      const p = answer.responses[0]?.partitions[0]
      if (p === undefined) throw new Error(`no answer for ${topic}-${partition}`)
      // NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, FENCED_LEADER_EPOCH: ask again
      if ([6, 3, 5, 74].includes(p.errorCode) && attempt < 20) { await new Promise(resolve => setTimeout(resolve, 200)); continue }
      return p
    } catch (error) {
      if (attempt >= 20) throw error
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
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
  #readCommitted: boolean
  #started: Promise<void> | undefined

  #rewrite: RecordRewriteLike | undefined
  #counted = new Map<string, bigint>()

  /** `rewrite`: the Mirror's record rewrite (MirrorSettings.rewriteRecord, mm2-config), whose dropped records are not copied. */
  constructor (source: ClusterConnection & { readCommitted: boolean }, rewrite?: RecordRewriteLike) {
    this.#fetcher = new RawFetcher(baseClientOptions(source, `${source.clientId}-mm2-count`))
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
    let position = from
    let records = 0n
    while (position < to) {
      const p = await fetchOnce(this.#fetcher, topic, partition, position, 8 << 20, this.#readCommitted ? 1 : 0)
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
