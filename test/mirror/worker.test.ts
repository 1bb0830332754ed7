// The copy loop against real clusters, in both partitionings: record batches go to the same
// partitions as they are (--partitioning source), or split by key with bytes copied as they are
// (--partitioning key). kcat reads both sides independently.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin, Producer, compatibilityPartitioner } from '@platformatic/kafka'
import { loadMirrorConfig, type MirrorSettings } from '../../src/config/mirror-config.ts'
import { RawFetcher } from '../../src/kafka/raw/raw-fetcher.ts'
import { CompressionCodecs, readRecordBatches } from '../../src/kafka/raw/record-batch.ts'
import { createLogger } from '../../src/log.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import type { MirrorSummary } from '../../src/mirror/stats.ts'
import { CopyWorker, type WorkerCounts, type WorkerHost } from '../../src/mirror/worker.ts'
import { DataLossError } from '../../src/errors.ts'
import { silentLogger } from '../../src/log.ts'
import { createTopicPair, testClusters, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume, type KcatRecord } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, writeTutorialConfigs, type TestRecord } from '../helpers/records.ts'

type Codec = 'none' | 'lz4' | 'zstd'

const logger = process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined

type Partitioning = 'key' | 'source'
const partitionings: Partitioning[] = ['source', 'key']

function settingsFor (source: string, target: string, extra: Parameters<typeof writeTutorialConfigs>[2] = {}, flags: Array<[string, string]> = []): MirrorSettings {
  const files = writeTutorialConfigs(source, target, extra)
  return loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', 'unused'], ['partitioning', 'source'], ['num.streams', '2'], ['status.interval.ms', '0'], ...flags]).settings
}

/** A Mirror with --once over `topics`: what it copied, and how it treated the batches. */
async function copyOnce (settings: MirrorSettings, topics: string[], partitioning: Partitioning): Promise<{ summary: MirrorSummary, counts: WorkerCounts }> {
  const mirror = new Mirror({ ...settings, partitioning, once: true, topics: { ...settings.topics, include: new RegExp(`^(${topics.join('|')})$`), description: topics.join(',') }, logger })
  try {
    await mirror.start()
    return { summary: await mirror.finished, counts: mirror.counts }
  } finally {
    await mirror.stop().catch(() => {})
  }
}

function toMessages (topic: string, records: TestRecord[]): Array<{ topic: string, key?: Buffer, value?: Buffer, headers: Map<Buffer, Buffer>, timestamp: bigint }> {
  return records.map(r => ({
    topic,
    key: r.key ?? undefined,
    value: r.value ?? undefined,
    headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'latin1')])),
    timestamp: r.timestamp
  }))
}

/** Writes the records in producer batches of `batch` records, compressed with `codec`. */
async function produce (bootstrap: string, topic: string, records: TestRecord[], codec: Codec, batch = 200): Promise<void> {
  // Keys placed as Kafka's Java producer places them, so key partitioning agrees with the source's placement.
  const producer = new Producer({ clientId: 'test-producer', bootstrapBrokers: bootstrap.split(','), idempotent: true, compression: codec, partitioner: compatibilityPartitioner })
  try {
    for (let i = 0; i < records.length; i += batch) await producer.send({ acks: -1, messages: toMessages(topic, records.slice(i, i + batch)) })
  } finally {
    await producer.close()
  }
}

/** Compression codecs of the batches of one target partition, read raw. */
async function targetCodecs (bootstrap: string, topic: string, partition: number): Promise<Set<number>> {
  const fetcher = new RawFetcher({ clientId: 'test-raw', bootstrapBrokers: bootstrap.split(',') })
  try {
    await fetcher.refresh([topic])
    const response = await fetcher.fetch(fetcher.leaderOf(topic, partition)!, { maxWaitMs: 100, minBytes: 1, maxBytes: 10 << 20, isolationLevel: 0 }, [{ topic, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 10 << 20 }] }])
    const records = response.responses[0].partitions[0].records
    return new Set(readRecordBatches(records ?? Buffer.alloc(0)).batches.map(b => b.compression))
  } finally {
    await fetcher.close()
  }
}

/** Each target record sits in the partition its source twin sits in. */
function assertSamePartitions (sourceRead: KcatRecord[], targetRead: KcatRecord[]): void {
  const id = (r: KcatRecord): string => `${r.key?.toString('hex')}|${r.value?.toString('hex')}|${r.timestamp}`
  const where = new Map(sourceRead.map(r => [id(r), r.partition]))
  for (const r of targetRead) assert.equal(r.partition, where.get(id(r)), `record at target ${r.partition}/${r.offset} came from source partition ${where.get(id(r))}`)
}

for (const partitioning of partitionings) {
  test(`--partitioning ${partitioning}: uncompressed, lz4 and zstd producer batches whose keys sit where murmur2 puts them are copied as they are: same partitions, same bytes, nothing lost or doubled`, async () => {
    const { source, target } = await testClusters()
    for (const codec of ['none', 'lz4', 'zstd'] as const) {
      // Given a topic of 3 partitions on both sides holding keyed records with headers and tombstones, in batches compressed with codec
      const topic = await createTopicPair(source, target, { prefix: 'copy', partitions: 3, replicas: 2 })
      const records = makeRecords(3000, { keys: 30, valueBytes: 300, tombstones: true })
      await produce(source, topic, records, codec)
      // When the mirror copies them once, with compression.type the producer's codec
      const { summary, counts } = await copyOnce(settingsFor(source, target, { producer: { 'compression.type': codec } }), [topic], partitioning)
      // Then every batch went without decoding (key partitioning too: each batch's keys all map to its own partition)
      assert.equal(summary.records, 3000)
      assert.equal(counts.reencoded, 0, `${codec}: batches encoded again`)
      assert.ok(counts.raw >= 15, `${codec}: batches sent raw: ${counts.raw}`)
      await assertCopied({ codec, topic, records }, await kcatConsume(source, topic), await kcatConsume(target, topic), target)
    }
  })
}

test('--partitioning key into fewer target partitions splits batches by key: per-key order, bytes kept, each record once, target codec applied', async () => {
  const { source, target } = await testClusters()
  for (const codec of ['none', 'lz4'] as const) {
    // Given 6 source partitions of keyed lz4 batches, keyless records and tombstones among them, and 4 partitions on the target
    const topic = await createTopicPair(source, target, { prefix: 'split', partitions: 6, replicas: 1 })
    const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: target.split(',') })
    await admin.deleteTopics({ topics: [topic] })
    await admin.close()
    await new Promise(resolve => setTimeout(resolve, 1000))
    const { createTestTopic } = await import('../helpers/clusters.ts')
    await createTestTopic(target, { name: topic, partitions: 4 })
    const keyed = makeRecords(4000, { keys: 50, valueBytes: 150, tombstones: true })
    const keyless = makeRecords(600, { keyless: true, valueBytes: 90 })
    await produce(source, topic, keyed.slice(0, 2000), 'lz4', 300)
    await produce(source, topic, keyless, 'lz4', 100)
    await produce(source, topic, keyed.slice(2000), 'lz4', 300)
    // When key partitioning copies them, compressing with codec
    const { summary, counts } = await copyOnce(settingsFor(source, target, { producer: { 'compression.type': codec } }), [topic], 'key')
    // Then every record is on the target once, per-key order kept, each key in the partition Java's partitioner picks
    assert.equal(summary.records, 4600)
    assert.ok(counts.reencoded > 0)
    const read = await kcatConsume(target, topic)
    assertMirrored([...keyed, ...keyless], read)
    const { partitionForKey } = await import('../../src/mirror/partitioner.ts')
    for (const r of read) if (r.key !== null) assert.equal(r.partition, partitionForKey(r.key, 4), `key ${r.key.toString()}`)
    // And keyless records spread over the target partitions, a source batch at a time
    assert.ok(new Set(read.filter(r => r.key === null).map(r => r.partition)).size >= 2, 'keyless records spread')
    assert.deepEqual(await targetCodecs(target, topic, 0), new Set([CompressionCodecs[codec]]))
  }
})

async function assertCopied (c: { codec: Codec, topic: string, records: TestRecord[] }, sourceRead: KcatRecord[], targetRead: KcatRecord[], target: string): Promise<void> {
  {
    assert.equal(targetRead.length, c.records.length)
    assertMirrored(c.records, targetRead)
    assertSamePartitions(sourceRead, targetRead)
    // A fresh target partition gets the source's offsets too: same records, same order.
    assert.deepEqual(targetRead.map(r => `${r.partition}/${r.offset}`).sort(), sourceRead.map(r => `${r.partition}/${r.offset}`).sort())
  }
  // And the batches on the target are still compressed with the producer's codec.
  assert.deepEqual(await targetCodecs(target, c.topic, 0), new Set([CompressionCodecs[c.codec]]), `${c.codec} batches stay ${c.codec}`)
}

for (const partitioning of partitionings) {
test(`--partitioning ${partitioning}: read_committed copies committed transactions only; markers and aborted batches never reach the target`, async () => {
  const { source, target } = await testClusters()
  // Given a topic with a committed, an aborted and another committed transaction, and plain records between them
  const topic = await createTopicPair(source, target, { prefix: 'copy', partitions: 2, replicas: 2 })
  const all = makeRecords(1200, { keys: 12, valueBytes: 120 })
  const [first, aborted, plain, last] = [all.slice(0, 400), all.slice(400, 700), all.slice(700, 900), all.slice(900)]
  const producer = new Producer({ clientId: 'test-tx', bootstrapBrokers: source.split(','), idempotent: true, transactionalId: uniqueName('tx'), compression: 'lz4' })
  try {
    const t1 = await producer.beginTransaction()
    await t1.send({ messages: toMessages(topic, first) })
    await t1.commit()
    const t2 = await producer.beginTransaction()
    await t2.send({ messages: toMessages(topic, aborted) })
    await t2.abort()
  } finally {
    await producer.close()
  }
  await produce(source, topic, plain, 'zstd')
  const producer2 = new Producer({ clientId: 'test-tx2', bootstrapBrokers: source.split(','), idempotent: true, transactionalId: uniqueName('tx'), compression: 'none' })
  try {
    const t3 = await producer2.beginTransaction()
    await t3.send({ messages: toMessages(topic, last) })
    await t3.commit()
  } finally {
    await producer2.close()
  }
  // (A transaction's markers are written after its commit returns: wait for all six, one per partition and transaction.)
  await waitForRecords(source, topic, all.length + 6)
  // When the mirror copies the topic with isolation.level=read_committed
  const settings = settingsFor(source, target, { consumer: { 'isolation.level': 'read_committed' } })
  const { summary, counts } = await copyOnce(settings, [topic], partitioning)
  // Then the target holds the committed and plain records once each, and nothing of the aborted transaction
  const expected = [...first, ...plain, ...last]
  assert.equal(summary.records, expected.length)
  assert.ok(counts.skipped > 0, 'markers and aborted batches were dropped')
  const targetRead = await kcatConsume(target, topic)
  assert.equal(targetRead.length, expected.length)
  assertMirrored(expected, targetRead)
  if (partitioning === 'source') assertSamePartitions(await kcatConsume(source, topic), targetRead)
  // And the group's committed offsets are the source's end offsets (markers included)
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: source.split(',') })
  try {
    const ends = await admin.listOffsets({ topics: [{ name: topic, partitions: [0, 1].map(partitionIndex => ({ partitionIndex, timestamp: -1n })) }] })
    const committed = await admin.listConsumerGroupOffsets({ groups: [settings.source.groupId] })
    const got = new Map(committed[0].topics[0].partitions.map(p => [p.partitionIndex, p.committedOffset]))
    for (const p of ends[0].partitions) assert.equal(got.get(p.partitionIndex), p.offset, `partition ${p.partitionIndex}`)
    assert.equal(ends[0].partitions.reduce((s, p) => s + p.offset, 0n), BigInt(all.length + 6))
  } finally {
    await admin.close()
  }
})
}

for (const partitioning of partitionings) {
test(`--partitioning ${partitioning}: a committed offset in the middle of a batch: the records before it are never sent again`, async () => {
  const { source, target } = await testClusters()
  // Given one partition of 500 records in zstd batches of 250, and the group's offset committed at 130
  const topic = await createTopicPair(source, target, { prefix: 'copy', partitions: 1, replicas: 2 })
  const records = makeRecords(500, { keys: 5, valueBytes: 80 })
  await produce(source, topic, records, 'zstd', 250)
  const settings = settingsFor(source, target, { producer: { 'compression.type': 'zstd' } })
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: source.split(',') })
  try {
    await admin.alterConsumerGroupOffsets({ groupId: settings.source.groupId, topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 130n }] }] })
  } finally {
    await admin.close()
  }
  // When the mirror copies from the committed offset
  const { summary, counts } = await copyOnce(settings, [topic], partitioning)
  // Then the first batch was cut at offset 130, and records 130..499 are on the target once
  assert.equal(summary.records, 370)
  // (key partitioning puts the cut records and the next batch of the same fetch into one batch)
  if (partitioning === 'source') assert.equal(counts.reencoded, 1)
  else assert.ok(counts.reencoded >= 1 && counts.raw + counts.reencoded === 2, JSON.stringify(counts))
  const targetRead = await kcatConsume(target, topic)
  assertMirrored(records.slice(130), targetRead)
  assert.deepEqual(await targetCodecs(target, topic, 0), new Set([CompressionCodecs.zstd]))
})

test(`--partitioning ${partitioning}: records deleted from the source before they were copied are reported, never skipped silently`, async () => {
  const { source, target } = await testClusters()
  // Given a partition whose first 100 of 300 records were deleted (retention) after the group committed offset 50
  const topic = await createTopicPair(source, target, { prefix: 'copy', partitions: 1, replicas: 2 })
  await produce(source, topic, makeRecords(300, { keys: 3 }), 'lz4', 100)
  const settings = settingsFor(source, target)
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: source.split(',') })
  try {
    await admin.alterConsumerGroupOffsets({ groupId: settings.source.groupId, topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 50n }] }] })
    await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 100n }] }] })
  } finally {
    await admin.close()
  }
  // When the mirror starts, it stops with a DataLossError naming the gap, and commits nothing
  await assert.rejects(copyOnce(settings, [topic], partitioning), (error: unknown) => {
    assert.ok(error instanceof DataLossError)
    assert.equal(error.fromOffset, 50n)
    assert.equal(error.toOffset, 100n)
    return true
  })
  assert.equal((await kcatConsume(target, topic)).length, 0)
})

test(`--partitioning ${partitioning}: a second member joining the group takes over partitions while records flow: nothing is lost`, async () => {
  const { source, target } = await testClusters()
  const topic = await createTopicPair(source, target, { prefix: 'copy', partitions: 6, replicas: 2 })
  const settings = settingsFor(source, target)
  let delivered = 0
  const fatal: unknown[] = []
  const host: WorkerHost = {
    targetPartitions: () => 6,
    delivered: d => { delivered += d.records },
    onFatal: error => { fatal.push(error) },
    onDataLoss: () => { throw new Error('no data loss expected') },
    onOffsetsWentBack: () => { throw new Error('no offsets going back expected') }
  }
  const limits = { maxPendingBytes: 4 << 20, maxRequestBytes: 1 << 20 }
  const log = logger ?? silentLogger
  const all = makeRecords(6000, { keys: 60, valueBytes: 100 })
  // Given one member copying continuously
  const one = new CopyWorker(0, settings.source, settings.target, host, log, limits, { partitioning, compression: 'keep' })
  const two = new CopyWorker(1, settings.source, settings.target, host, log, limits, { partitioning, compression: 'keep' })
  // As the Mirror drives its workers: commits every offset.commit.interval.ms (500 ms here). What
  // was acknowledged since the last commit of a partition that moves is copied again by its new
  // owner, which reads the committed offset as soon as it is assigned the partition.
  const committing = setInterval(() => { for (const w of [one, two]) w.commit().catch(() => {}) }, 500)
  try {
    await one.addTopics([topic])
    one.release()
    await produce(source, topic, all.slice(0, 3000), 'zstd', 100)
    // When a second member joins while more records are written
    const joining = two.addTopics([topic]).then(() => two.release())
    await produce(source, topic, all.slice(3000), 'zstd', 100)
    await joining
    // Then both own partitions, and the target gets every record
    await waitForRecords(target, topic, all.length, 90_000)
    assert.deepEqual(fatal, [])
    assert.ok(one.owned.size > 0 && two.owned.size > 0, `owned: ${one.owned.size} and ${two.owned.size}`)
    assert.equal(one.owned.size + two.owned.size, 6)
  } finally {
    clearInterval(committing)
    for (const w of [one, two]) await w.stopFetching()
    for (const w of [one, two]) await w.drain(Date.now() + 10_000)
    for (const w of [one, two]) await w.commit().catch(() => {})
    for (const w of [one, two]) await w.close()
  }
  const read = await kcatConsume(target, topic)
  const { duplicates } = assertMirrored(all, read, { allowDuplicates: true })
  assert.equal(delivered, read.length)
  // At least once: a partition that moved may be copied again from its last commit.
  assert.ok(duplicates <= 3000, `duplicates: ${duplicates}`)
})
}
