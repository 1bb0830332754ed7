// A one-time passthrough copy (--once semantics) without the Mirror: takes the end offsets, runs
// --num.streams PassthroughWorkers in the source group until every partition reached its end,
// commits and stops. The benchmark and the passthrough tests drive the fast path through it until
// the Mirror runs PassthroughWorker itself; target topics must exist with at least the source's
// partitions (--partitioning source).
import { Admin } from '@platformatic/kafka'
import type { MirrorSettings } from '../../config/mirror-config.ts'
import { DataLossError } from '../../errors.ts'
import { baseClientOptions } from '../../kafka/client-options.ts'
import { CompressionCodecs } from '../../kafka/raw/record-batch.ts'
import { silentLogger, type Logger } from '../../log.ts'
import { partitionKey } from '../offset-committer.ts'
import { PassthroughWorker, type PassthroughCounts } from './worker.ts'

export interface OnceSummary {
  records: number
  /** Bytes of record batches written (compressed ones compressed). */
  bytes: number
  elapsedMs: number
  counts: PassthroughCounts
  /** Per partition: the end offset taken at start and where the copy stopped. */
  partitions: Array<{ key: string, end: bigint, reached: bigint }>
}

export async function passthroughOnce (settings: MirrorSettings, topics: string[], options: { logger?: Logger, timeoutMs?: number, compression?: number | 'keep' } = {}): Promise<OnceSummary> {
  const log = options.logger ?? silentLogger
  const started = Date.now()
  const { source, target } = settings
  const admin = new Admin(baseClientOptions(source, `${source.clientId}-admin`))
  const ends = new Map<string, bigint>()
  const starts = new Map<string, bigint>()
  try {
    const metadata = await admin.metadata({ topics })
    const request = topics.map(name => ({ name, partitions: Array.from({ length: metadata.topics.get(name)!.partitionsCount }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }))
    for (const t of await admin.listOffsets({ topics: request })) for (const p of t.partitions) ends.set(partitionKey(t.name, p.partitionIndex), p.offset)
    const earliest = await admin.listOffsets({ topics: request.map(t => ({ ...t, partitions: t.partitions.map(p => ({ ...p, timestamp: -2n })) })) })
    for (const t of earliest) for (const p of t.partitions) starts.set(partitionKey(t.name, p.partitionIndex), source.autoOffsetReset === 'latest' ? ends.get(partitionKey(t.name, p.partitionIndex))! : p.offset)
    for (const g of await admin.listConsumerGroupOffsets({ groups: [source.groupId] })) {
      for (const t of g.topics) for (const p of t.partitions) if (p.committedOffset >= 0n) starts.set(partitionKey(t.name, p.partitionIndex), p.committedOffset)
    }
  } finally {
    await admin.close().catch(() => {})
  }

  const reached = new Map<string, bigint>(starts)
  let records = 0
  let bytes = 0
  let fatal: unknown
  let wake: () => void = () => {}
  const host = {
    endOffset: (topic: string, partition: number) => ends.get(partitionKey(topic, partition)),
    delivered: (d: { topic: string, partition: number, records: number, bytes: number, nextOffset: bigint }) => {
      records += d.records
      bytes += d.bytes
      const key = partitionKey(d.topic, d.partition)
      if ((reached.get(key) ?? -1n) < d.nextOffset) reached.set(key, d.nextOffset)
      wake()
    },
    onFatal: (error: unknown) => {
      fatal ??= error
      wake()
    },
    onDataLoss: (topic: string, partition: number, from: bigint, deletedTo: bigint) => {
      throw new DataLossError(topic, partition, from, deletedTo)
    },
    onOffsetsWentBack: (topic: string, partition: number, from: bigint, to: bigint) => {
      throw new DataLossError(topic, partition, from, from + 1n, `the offsets of ${topic}-${partition} went back from ${from} to ${to}`)
    }
  }
  const numStreams = settings.numStreams
  const limits = {
    maxPendingBytes: Math.max(1 << 20, Math.floor(target.bufferMemory / numStreams)),
    maxRequestBytes: Math.max(16 << 10, Math.floor(target.maxRequestSize * 0.9))
  }
  const compression = options.compression ?? CompressionCodecs[target.compression]
  const workers = Array.from({ length: numStreams }, (_, i) => new PassthroughWorker(i, source, target, host, log, limits, { compression }))
  try {
    await Promise.all(workers.map(async w => await w.addTopics(topics)))
    for (const w of workers) w.release()
    const deadline = Date.now() + (options.timeoutMs ?? 24 * 3600_000)
    while (fatal === undefined) {
      let done = workers.every(w => w.idle)
      if (done) {
        const positions = new Map<string, bigint>()
        for (const w of workers) for (const [k, v] of w.fetchPositions()) positions.set(k, v)
        done = [...ends].every(([key, end]) => (reached.get(key) ?? -1n) >= end || (positions.get(key) ?? -1n) >= end)
      }
      if (done) break
      if (Date.now() > deadline) throw new Error('the passthrough copy did not reach the end offsets in time')
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, 100)
        wake = () => { clearTimeout(timer); resolve() }
      })
    }
    await Promise.all(workers.map(async w => await w.stopFetching()))
    if (fatal !== undefined) throw fatal
    await Promise.all(workers.map(async w => await w.drain(Date.now() + 25_000)))
    // Markers at the very end are never delivered; their end offset is committed too.
    const extra = [...ends].filter(([key, end]) => (reached.get(key) ?? -1n) < end).map(([key, end]) => ({ topic: key.slice(0, key.lastIndexOf(':')), partition: Number(key.slice(key.lastIndexOf(':') + 1)), offset: end, leaderEpoch: -1 }))
    await Promise.all(workers.map(async w => await w.commit()))
    if (extra.length > 0) await workers[0].commit(extra)
    const counts = { raw: 0, reencoded: 0, merged: 0, skipped: 0 }
    for (const w of workers) {
      counts.raw += w.counts.raw
      counts.reencoded += w.counts.reencoded
      counts.merged += w.counts.merged
      counts.skipped += w.counts.skipped
    }
    return { records, bytes, elapsedMs: Date.now() - started, counts, partitions: [...ends].map(([key, end]) => ({ key, end, reached: reached.get(key) ?? -1n })) }
  } finally {
    await Promise.all(workers.map(async w => await w.close()))
  }
}
