// Taking over from a running MirrorMaker 2: where it stopped, per source partition.
//
// MM2 in dedicated mode (connect-mirror-maker.sh) runs one Kafka Connect herder per flow A->B. Its
// MirrorSourceTask stores, for every record it copied, the source position through Connect's
// offset storage: the topic `mm2-offsets.<source alias>.internal` on the TARGET cluster
// (MirrorMakerConfig.workerConfig; `offset.storage.topic` overrides it), written by Connect's
// internal JsonConverter with schemas disabled:
//   key   ["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"t"}]   (MirrorUtils.wrapPartition)
//   value {"offset":41}                                                        (MirrorUtils.wrapOffset)
// `offset` is the offset of the LAST source record MM2 copied: MirrorSourceTask seeks to offset + 1
// at start, and an offset below 0 means none. The partition map is a Java HashMap, so its field
// order is whatever Jackson wrote: keys are compared parsed, never as bytes. A record with a null
// value (a tombstone, as Connect's offset reset writes) removes the position. The topic has several
// partitions (25 by default); one Connect key always goes to the same one, so the last value read
// for a key, partition by partition, is the current one (KafkaOffsetBackingStore does the same).
// With exactly.once.source.support, Connect writes the topic in transactions: it is read
// read_committed, as KafkaOffsetBackingStore reads it then.
//
// Invariant: a position taken from here is the next source offset to copy (MM2's offset + 1); the
// engine starts each partition at the larger of it and the group's committed offset, so nothing
// MM2 copied is copied again and nothing after it is skipped.
import { Admin, FetchIsolationLevels } from '@platformatic/kafka'
import { ErrorCodes, KafkaMirrorError, describeCause } from '../errors.ts'
import { baseClientOptions, type ClusterConnection } from '../kafka/client-options.ts'
import { RawFetcher } from '../kafka/raw/raw-fetcher.ts'
import { PartitionReadError, PartitionReader } from '../kafka/raw/partition-reader.ts'
import { decodeRecords } from '../kafka/raw/record-batch.ts'
import { silentLogger, type Logger } from '../log.ts'
import { partitionKey } from '../mirror/offset-committer.ts'

/** MirrorMakerConfig.workerConfig's default `offset.storage.topic` for the flow `<source alias>->...`. */
export function mm2OffsetsTopic (sourceAlias: string): string {
  return `mm2-offsets.${sourceAlias}.internal`
}

/** The Connect connector name MM2's dedicated mode gives MirrorSourceConnector (its simple class name). */
export const MIRROR_SOURCE_CONNECTOR = 'MirrorSourceConnector'

export interface Mm2OffsetEntry {
  /** The Connect connector that wrote it: MirrorSourceConnector, or `A->B.MirrorSourceConnector` under Strimzi. */
  connector: string
  cluster: string
  topic: string
  partition: number
  /** The next source offset to copy (MM2's stored offset + 1); undefined: the position was removed (tombstone, or an offset below 0). */
  next: bigint | undefined
}

/**
 * One record of Connect's offset storage as MirrorSourceTask wrote it; undefined for records of
 * other connectors (checkpoints, heartbeats) or that are not Connect offsets at all.
 */
export function parseMm2OffsetRecord (key: Buffer | null, value: Buffer | null): Mm2OffsetEntry | undefined {
  if (key === null) return undefined
  let parsedKey: unknown
  try {
    parsedKey = JSON.parse(key.toString('utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(parsedKey) || parsedKey.length !== 2 || typeof parsedKey[0] !== 'string') return undefined
  const [connector, partitionMap] = parsedKey as [string, unknown]
  if (partitionMap === null || typeof partitionMap !== 'object') return undefined
  const { cluster, topic, partition } = partitionMap as Record<string, unknown>
  if (typeof cluster !== 'string' || typeof topic !== 'string' || typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0) return undefined
  const entry = { connector, cluster, topic, partition, next: undefined }
  if (value === null) return entry
  const text = value.toString('utf8')
  try {
    const parsed = JSON.parse(text) as unknown
    if (parsed === null) return entry
    if (typeof parsed !== 'object' || typeof (parsed as Record<string, unknown>).offset !== 'number') return undefined
  } catch {
    return undefined
  }
  // Exact digits: a JSON number past 2^53 would lose precision through JSON.parse.
  const digits = /"offset"\s*:\s*(-?\d+)/.exec(text)?.[1]
  if (digits === undefined) return undefined
  const offset = BigInt(digits)
  return { ...entry, next: offset < 0n ? undefined : offset + 1n }
}

export interface Mm2Positions {
  /** partitionKey(source topic, partition) → the next source offset to copy. */
  positions: Map<string, bigint>
  /** Records read from the offsets topic, and how many of them were positions of this flow. */
  records: number
  matched: number
  /** False when the topic does not exist on the target (MM2 never ran this flow there). */
  found: boolean
}

export interface ReadMm2PositionsOptions {
  /** The offsets topic; default mm2-offsets.<sourceAlias>.internal. */
  topic?: string
  sourceAlias: string
  /** Connector names whose positions count; default: MirrorSourceConnector and any `<prefix>.MirrorSourceConnector`. */
  connector?: (name: string) => boolean
  timeoutMs?: number
  logger?: Logger
}

const defaultConnector = (name: string): boolean => name === MIRROR_SOURCE_CONNECTOR || name.endsWith(`.${MIRROR_SOURCE_CONNECTOR}`)

/** Reads MM2's offsets topic on `target` to its end and returns this flow's positions. */
export async function readMm2Positions (target: ClusterConnection, options: ReadMm2PositionsOptions): Promise<Mm2Positions> {
  const topic = options.topic ?? mm2OffsetsTopic(options.sourceAlias)
  const connector = options.connector ?? defaultConnector
  const log = options.logger ?? silentLogger
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  const admin = new Admin(baseClientOptions(target, `${target.clientId}-mm2-offsets`))
  const fetcher = new RawFetcher(baseClientOptions(target, `${target.clientId}-mm2-offsets-fetch`))
  const result: Mm2Positions = { positions: new Map(), records: 0, matched: 0, found: false }
  try {
    const topics = await admin.listTopics({ includeInternals: true })
    if (!topics.includes(topic)) return result
    result.found = true
    await fetcher.start()
    await fetcher.refresh([topic])
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0
    const request = [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -2n })) }]
    const starts = await admin.listOffsets({ topics: request, isolationLevel: FetchIsolationLevels.READ_COMMITTED })
    const ends = await admin.listOffsets({ topics: request.map(t => ({ ...t, partitions: t.partitions.map(p => ({ ...p, timestamp: -1n })) })), isolationLevel: FetchIsolationLevels.READ_COMMITTED })
    const end = new Map<number, bigint>()
    for (const p of ends[0]?.partitions ?? []) end.set(p.partitionIndex, p.offset)
    // Last value per Connect key; keys compared parsed (field order is a HashMap's). One key is
    // always in the same partition, so the partitions are read side by side.
    const latest = new Map<string, bigint | undefined>()
    const reader = new PartitionReader(fetcher, { backoffMs: 200 })
    await Promise.all((starts[0]?.partitions ?? []).map(async ({ partitionIndex, offset: from }) => {
      const to = end.get(partitionIndex) ?? from
      if (from >= to) return
      let read
      try {
        read = await reader.read(topic, partitionIndex, from, { readCommitted: true, deadline, to, maxBytes: 4 << 20, maxWaitMs: 100, fromLogStart: true }, batch => {
          for (const r of decodeRecords(batch)) {
            if (r.offset < from || r.offset >= to) continue
            result.records++
            const entry = parseMm2OffsetRecord(r.key, r.value)
            if (entry === undefined || entry.cluster !== options.sourceAlias || !connector(entry.connector)) continue
            result.matched++
            latest.set(partitionKey(entry.topic, entry.partition), entry.next)
          }
        })
      } catch (error) {
        if (error instanceof PartitionReadError && error.errorCode !== undefined) throw new KafkaMirrorError(ErrorCodes.TOPIC, `Reading MirrorMaker 2's offsets topic ${topic}-${partitionIndex} failed with Kafka error ${error.errorCode}`, { cause: error })
        throw error
      }
      if (read.next < to) throw new KafkaMirrorError(ErrorCodes.TOPIC, `Could not read MirrorMaker 2's offsets topic ${topic} on the target to its end${read.timedOut ? ' in time' : ''} (partition ${partitionIndex} stopped at ${read.next} of ${to})`)
    }))
    for (const [key, next] of latest) if (next !== undefined) result.positions.set(key, next)
    log.info({ cluster: 'target', topic, records: result.records, positions: result.positions.size }, 'read MirrorMaker 2\'s source positions')
    return result
  } catch (error) {
    if (error instanceof KafkaMirrorError) throw error
    throw new KafkaMirrorError(ErrorCodes.TOPIC, `Could not read MirrorMaker 2's offsets topic ${topic} on the target: ${describeCause(error)}`, { cause: error })
  } finally {
    await fetcher.close()
    await admin.close().catch(() => {})
  }
}

/**
 * The take-over as the engine uses it (MirrorOptions.externalPositions): MM2's positions, read once
 * when the first partitions are assigned. MM2 must be stopped by then; what the mirror copies
 * afterwards is committed to its own group, whose offsets win once they are past MM2's.
 */
export class Mm2Takeover {
  /** The offsets topic it reads. */
  readonly topic: string
  #target: ClusterConnection
  #options: ReadMm2PositionsOptions
  #read: Promise<Mm2Positions> | undefined

  constructor (target: ClusterConnection, options: ReadMm2PositionsOptions) {
    this.#target = target
    this.#options = options
    this.topic = options.topic ?? mm2OffsetsTopic(options.sourceAlias)
  }

  async read (): Promise<Mm2Positions> {
    this.#read ??= readMm2Positions(this.#target, this.#options)
    // A failed read is tried again at the next assignment rather than remembered.
    this.#read.catch(() => { this.#read = undefined })
    return await this.#read
  }

  /** WorkerHost.externalPositions: for each partition asked about, MM2's next offset where it has one. */
  readonly positions = async (partitions: Array<{ topic: string, partition: number }>): Promise<Map<string, bigint>> => {
    const { positions } = await this.read()
    const result = new Map<string, bigint>()
    for (const { topic, partition } of partitions) {
      const next = positions.get(partitionKey(topic, partition))
      if (next !== undefined) result.set(partitionKey(topic, partition), next)
    }
    return result
  }
}
