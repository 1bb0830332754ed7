// Lag of a consumer group's copy, per source partition: the source's log end offset against how far
// the target has the partition (the position the target acknowledged in this process or, when
// unknown, the group's committed offset), and the age of the oldest record not yet copied.
//
// The age comes from one small fetch per source leader (Fetch v12 on a connection of its own,
// 128 bytes per partition: the broker sends the record batch that holds the offset, cut short,
// and its header is all that is read). The batch's first timestamp is that of the oldest record
// of the batch, which may start a few offsets before the position: the age is rounded up, never
// down. A batch with LogAppendTime carries the broker's append time in maxTimestamp.
// Run on a timer (every few seconds), never per record.
import type { Admin } from '@platformatic/kafka'
import type { SourceSettings } from '../config/mirror-config.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { RawFetcher } from '../kafka/raw/raw-fetcher.ts'
import type { PartitionLag } from '../mirror/stats.ts'

const BASE_TIMESTAMP_AT = 27
const MAX_TIMESTAMP_AT = 35
const ATTRIBUTES_AT = 21
const LOG_APPEND_TIME = 0x08
const HEADER_BYTES = 61

/** The timestamp of the first batch in a fetched partition's bytes, ms; undefined when none. */
export function firstBatchTimestamp (records: Buffer | null): number | undefined {
  if (records === null || records.length < HEADER_BYTES) return undefined
  const logAppendTime = (records.readInt16BE(ATTRIBUTES_AT) & LOG_APPEND_TIME) !== 0
  const ts = Number(records.readBigInt64BE(logAppendTime ? MAX_TIMESTAMP_AT : BASE_TIMESTAMP_AT))
  return ts > 0 ? ts : undefined
}

/** Runs `work`, rejecting after `ms`. */
export async function within<T> (work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms) })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export class LagProbe {
  #admin: Admin
  #source: SourceSettings
  #fetcher: RawFetcher | undefined
  #closed = false

  constructor (sourceAdmin: Admin, source: SourceSettings) {
    this.#admin = sourceAdmin
    this.#source = source
  }

  /** The source end offsets of every partition of `topics`, keyed "topic:partition". */
  async endOffsets (topics: string[]): Promise<Map<string, bigint>> {
    const result = new Map<string, bigint>()
    if (topics.length === 0) return result
    const metadata = await this.#admin.metadata({ topics })
    const request = topics.map(name => ({ name, partitions: Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }))
      .filter(t => t.partitions.length > 0)
    const answer = await this.#admin.listOffsets({ topics: request })
    for (const t of answer) for (const p of t.partitions) result.set(`${t.name}:${p.partitionIndex}`, BigInt(p.offset))
    return result
  }

  async committedOffsets (topics: string[]): Promise<Map<string, bigint>> {
    const result = new Map<string, bigint>()
    const groups = await this.#admin.listConsumerGroupOffsets({ groups: [this.#source.groupId] })
    for (const g of groups) {
      for (const t of g.topics) {
        if (!topics.includes(t.name)) continue
        for (const p of t.partitions) if (p.committedOffset >= 0n) result.set(`${t.name}:${p.partitionIndex}`, p.committedOffset)
      }
    }
    return result
  }

  /**
   * Lag of every partition of `topics`. `position` gives what this process knows the target has
   * (undefined: ask the group's committed offset).
   */
  async probe (topics: string[], position: (key: string) => bigint | undefined = () => undefined, now = Date.now): Promise<PartitionLag[]> {
    const [ends, committed] = await Promise.all([this.endOffsets(topics), this.committedOffsets(topics)])
    const lags: PartitionLag[] = []
    const behind: PartitionLag[] = []
    for (const [key, end] of ends) {
      const i = key.lastIndexOf(':')
      const at = position(key) ?? committed.get(key)
      const lag: PartitionLag = {
        topic: key.slice(0, i),
        partition: Number(key.slice(i + 1)),
        sourceEndOffset: end,
        committedOffset: committed.get(key),
        position: position(key),
        lagRecords: at === undefined ? undefined : Number(end > at ? end - at : 0n),
        lagSeconds: undefined
      }
      if (lag.lagRecords === 0) lag.lagSeconds = 0
      else if (at !== undefined) behind.push(lag)
      lags.push(lag)
    }
    if (behind.length > 0) await this.#ages(behind, position, committed, now).catch(() => {})
    return lags.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
  }

  /** Fills lagSeconds from the first record not yet copied of each partition. */
  async #ages (behind: PartitionLag[], position: (key: string) => bigint | undefined, committed: Map<string, bigint>, now: () => number): Promise<void> {
    if (this.#closed) return
    this.#fetcher ??= new RawFetcher(baseClientOptions(this.#source, `${this.#source.clientId}-lag`))
    const fetcher = this.#fetcher
    await fetcher.refresh([...new Set(behind.map(l => l.topic))])
    const byLeader = new Map<number, PartitionLag[]>()
    for (const l of behind) {
      const leader = fetcher.leaderOf(l.topic, l.partition)
      if (leader !== undefined) byLeader.set(leader, [...(byLeader.get(leader) ?? []), l])
    }
    await Promise.all([...byLeader].map(async ([leader, lags]) => {
      const topics = new Map<string, Array<{ partition: number, fetchOffset: bigint, partitionMaxBytes: number }>>()
      for (const l of lags) {
        const key = `${l.topic}:${l.partition}`
        const fetchOffset = position(key) ?? committed.get(key)!
        topics.set(l.topic, [...(topics.get(l.topic) ?? []), { partition: l.partition, fetchOffset, partitionMaxBytes: 128 }])
      }
      const response = await fetcher.fetch(leader, { maxWaitMs: 0, minBytes: 0, maxBytes: 64 << 10, isolationLevel: 0 }, [...topics].map(([topic, partitions]) => ({ topic, partitions })))
      const at = now()
      for (const t of response.responses) {
        for (const p of t.partitions) {
          const lag = lags.find(l => l.topic === t.topic && l.partition === p.partitionIndex)
          const ts = p.errorCode === 0 ? firstBatchTimestamp(p.records) : undefined
          if (lag !== undefined && ts !== undefined) lag.lagSeconds = Math.max(0, (at - ts) / 1000)
        }
      }
    }))
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#fetcher?.close()
  }
}
