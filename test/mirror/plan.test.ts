// The passthrough's per-partition rules on fetched bytes built like a broker returns them: which
// batches go as they are, which are cut or encoded again, which are dropped, and where offsets move.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRecordsBatch, readRecordsBatch, Reader } from '@platformatic/kafka'
import { Attributes, CompressionCodecs, batchCrc, crcIsValid, encodeRecordBatch, readRecordBatch, type DecodedRecord } from '../../src/kafka/raw/record-batch.ts'
import { KeyRouter, planFetchedRecords, UnsupportedRecordFormatError, type PlanOptions } from '../../src/mirror/plan.ts'
import { decodeRecords } from '../../src/kafka/raw/record-batch.ts'
import { partitionForKey } from '../../src/mirror/partitioner.ts'

// Merging of small batches is off except where a test is about it: these batches are all small.
const plain: PlanOptions = { readCommitted: false, abortedTransactions: null, compression: 'keep', mergeBelowBytes: 0 }

function records (base: bigint, count: number): DecodedRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    offset: base + BigInt(i),
    timestamp: 1_000_000n + base + BigInt(i),
    attributes: 0,
    key: Buffer.from(`k${base + BigInt(i)}`),
    value: Buffer.from(`v${base + BigInt(i)}`),
    headers: [[Buffer.from('h'), Buffer.from(`${base + BigInt(i)}`)]]
  }))
}

/** A batch as the broker stores it: at `base`, from a producer, maybe transactional or a marker. */
function batch (base: bigint, count: number, options: { codec?: number, producerId?: bigint, transactional?: boolean, marker?: 'abort' | 'commit', epoch?: number } = {}): Buffer {
  let bytes: Buffer
  if (options.marker !== undefined) {
    const key = Buffer.alloc(4)
    key.writeInt16BE(options.marker === 'abort' ? 0 : 1, 2)
    bytes = encodeRecordBatch([{ offset: base, timestamp: 1n, attributes: 0, key, value: Buffer.alloc(6), headers: [] }], { producerId: options.producerId ?? 1n, producerEpoch: 0, baseSequence: -1 })
  } else {
    bytes = encodeRecordBatch(records(base, count), { compression: options.codec ?? 0, producerId: options.producerId ?? 1n, producerEpoch: 0, baseSequence: 0 })
  }
  let attributes = bytes.readInt16BE(21)
  if (options.transactional === true || options.marker !== undefined) attributes |= Attributes.TRANSACTIONAL
  if (options.marker !== undefined) attributes |= Attributes.CONTROL
  bytes.writeInt16BE(attributes, 21)
  bytes.writeBigInt64BE(base, 0)
  bytes.writeInt32BE(options.epoch ?? 5, 12)
  bytes.writeUInt32BE(batchCrc(bytes), 17)
  return bytes
}

function keysOf (unit: { batch: Buffer | null }): string[] {
  const decoded = readRecordsBatch(Reader.from(Buffer.from(unit.batch!)))
  return decoded.records.map(r => String(r.key))
}

test('whole batches from the fetch offset go as they are, views of the fetched bytes', () => {
  const fetched = Buffer.concat([batch(100n, 5), batch(105n, 3, { codec: CompressionCodecs.lz4 }), batch(108n, 2, { codec: CompressionCodecs.zstd })])
  const plan = planFetchedRecords(fetched, 100n, plain)
  assert.deepEqual(plan.units.map(u => [u.records, u.nextOffset, u.reencoded]), [[5, 105n, undefined], [3, 108n, undefined], [2, 110n, undefined]])
  assert.equal(plan.nextOffset, 110n)
  assert.equal(plan.reachedEnd, false)
  assert.deepEqual(plan.counts, { raw: 3, reencoded: 0, merged: 0, skipped: 0 })
  assert.equal(plan.units[1].batch!.buffer, fetched.buffer, 'no copy')
  assert.equal(plan.units[0].leaderEpoch, 5)
})

test('a first batch that starts before the fetch offset is cut to the records at and after it', () => {
  for (const codec of [CompressionCodecs.none, CompressionCodecs.lz4, CompressionCodecs.zstd, CompressionCodecs.gzip]) {
    const fetched = Buffer.concat([batch(200n, 10, { codec }), batch(210n, 4, { codec })])
    const plan = planFetchedRecords(fetched, 207n, plain)
    assert.equal(plan.units.length, 2)
    assert.equal(plan.units[0].reencoded, 'before-fetch-offset')
    assert.equal(plan.units[0].records, 3)
    assert.deepEqual(keysOf(plan.units[0]), ['k207', 'k208', 'k209'])
    assert.equal(readRecordBatch(plan.units[0].batch!).compression, codec)
    assert.ok(crcIsValid(plan.units[0].batch!))
    assert.equal(plan.units[1].reencoded, undefined)
    assert.equal(plan.nextOffset, 214n)
  }
})

test('with an end offset, nothing at or after it is sent and the position stops there', () => {
  const fetched = Buffer.concat([batch(0n, 10), batch(10n, 10, { codec: CompressionCodecs.zstd }), batch(20n, 10)])
  const plan = planFetchedRecords(fetched, 0n, { ...plain, endOffset: 15n })
  assert.deepEqual(plan.units.map(u => [u.records, u.nextOffset, u.reencoded]), [[10, 10n, undefined], [5, 15n, 'after-end-offset']])
  assert.deepEqual(keysOf(plan.units[1]), ['k10', 'k11', 'k12', 'k13', 'k14'])
  assert.equal(plan.nextOffset, 15n)
  assert.equal(plan.reachedEnd, true)
  // An end exactly at a batch boundary needs no cut.
  const exact = planFetchedRecords(fetched, 0n, { ...plain, endOffset: 20n })
  assert.deepEqual(exact.units.map(u => u.reencoded), [undefined, undefined])
  assert.equal(exact.reachedEnd, true)
  // Already at the end: nothing.
  assert.deepEqual(planFetchedRecords(fetched, 15n, { ...plain, endOffset: 15n }), { units: [], nextOffset: 15n, reachedEnd: true, truncatedBytes: 0, counts: { raw: 0, reencoded: 0, merged: 0, skipped: 0 }, grouped: false })
})

test('transaction markers are dropped; their offsets ride on the unit before them', () => {
  const fetched = Buffer.concat([batch(0n, 3, { producerId: 7n, transactional: true }), batch(3n, 1, { producerId: 7n, marker: 'commit', epoch: 6 }), batch(4n, 2)])
  const plan = planFetchedRecords(fetched, 0n, plain)
  assert.deepEqual(plan.units.map(u => [u.records, u.nextOffset, u.leaderEpoch]), [[3, 4n, 6], [2, 6n, 5]])
  assert.equal(plan.counts.skipped, 1)
  // A marker first in the fetch becomes a unit of its own with nothing to send.
  const markerFirst = planFetchedRecords(fetched, 3n, plain)
  assert.deepEqual(markerFirst.units.map(u => [u.batch, u.records, u.nextOffset]), [[null, 0, 4n], [markerFirst.units[1].batch, 2, 6n]])
})

test('read_committed skips the batches of aborted transactions, by producer id and first offset', () => {
  // p10 aborts offsets 0..4, p11 commits 5..7, p10 then commits 12..13; p12 is not transactional.
  const fetched = Buffer.concat([
    batch(0n, 3, { producerId: 10n, transactional: true }),
    batch(3n, 2, { producerId: 10n, transactional: true, codec: CompressionCodecs.lz4 }),
    batch(5n, 3, { producerId: 11n, transactional: true }),
    batch(8n, 2, { producerId: 12n }),
    batch(10n, 1, { producerId: 10n, marker: 'abort' }),
    batch(11n, 1, { producerId: 11n, marker: 'commit' }),
    batch(12n, 2, { producerId: 10n, transactional: true }),
    batch(14n, 1, { producerId: 10n, marker: 'commit' })
  ])
  const committed = planFetchedRecords(fetched, 0n, { ...plain, readCommitted: true, abortedTransactions: [{ producerId: 10n, firstOffset: 0n }] })
  const sent = committed.units.filter(u => u.batch !== null)
  assert.deepEqual(sent.map(keysOf), [['k5', 'k6', 'k7'], ['k8', 'k9'], ['k12', 'k13']])
  assert.equal(committed.nextOffset, 15n)
  assert.equal(committed.units.at(-1)!.nextOffset, 15n)
  assert.deepEqual(committed.counts, { raw: 3, reencoded: 0, merged: 0, skipped: 5 })
  // The aborted range is known from the response alone, even when the marker is in a later fetch.
  const cut = planFetchedRecords(fetched.subarray(0, fetched.indexOf(batch(10n, 1, { producerId: 10n, marker: 'abort' }))), 0n, { ...plain, readCommitted: true, abortedTransactions: [{ producerId: 10n, firstOffset: 0n }] })
  assert.deepEqual(cut.units.filter(u => u.batch !== null).map(keysOf), [['k5', 'k6', 'k7'], ['k8', 'k9']])
  assert.equal(cut.nextOffset, 10n)
  // read_uncommitted copies what such a consumer sees: everything but the markers.
  const all = planFetchedRecords(fetched, 0n, plain)
  assert.equal(all.units.filter(u => u.batch !== null).reduce((s, u) => s + u.records, 0), 12)
})

test('batches the target cannot take as they are are encoded again: compaction gaps, LogAppendTime, another codec', () => {
  // Compaction removed offset 52: three records at deltas 0, 1, 3, lastOffsetDelta 3.
  const compacted = encodeRecordBatch([...records(50n, 2), ...records(53n, 1)], { producerId: 1n, producerEpoch: 0, baseSequence: 0 })
  let at = 61
  for (let i = 0; i < 2; i++) at += 1 + compacted[at] / 2
  assert.equal(compacted[at + 3], 4, 'the third record\'s offset delta is 2 (zigzag 4)')
  compacted[at + 3] = 6
  compacted.writeBigInt64BE(50n, 0)
  compacted.writeInt32BE(3, 23)
  compacted.writeUInt32BE(batchCrc(compacted), 17)
  const plan = planFetchedRecords(compacted, 50n, plain)
  assert.equal(plan.units[0].reencoded, 'compacted')
  assert.equal(plan.units[0].records, 3)
  assert.deepEqual(keysOf(plan.units[0]), ['k50', 'k51', 'k53'])
  assert.equal(readRecordBatch(plan.units[0].batch!).lastOffsetDelta, 2)
  assert.equal(plan.nextOffset, 54n)

  const appendTime = batch(60n, 2)
  appendTime.writeInt16BE(appendTime.readInt16BE(21) | Attributes.LOG_APPEND_TIME, 21)
  appendTime.writeUInt32BE(batchCrc(appendTime), 17)
  assert.equal(planFetchedRecords(appendTime, 60n, plain).units[0].reencoded, 'log-append-time')

  const lz4 = batch(70n, 4, { codec: CompressionCodecs.lz4 })
  assert.equal(planFetchedRecords(lz4, 70n, { ...plain, compression: CompressionCodecs.lz4 }).units[0].reencoded, undefined)
  const recompressed = planFetchedRecords(lz4, 70n, { ...plain, compression: CompressionCodecs.zstd }).units[0]
  assert.equal(recompressed.reencoded, 'compression')
  assert.equal(readRecordBatch(recompressed.batch!).compression, CompressionCodecs.zstd)
  assert.deepEqual(keysOf(recompressed), ['k70', 'k71', 'k72', 'k73'])
})

test('a batch cut at the fetch size limit is left for the next fetch, and its size is told', () => {
  const whole = batch(0n, 4)
  const big = batch(4n, 50)
  const plan = planFetchedRecords(Buffer.concat([whole, big.subarray(0, 100)]), 0n, plain)
  assert.equal(plan.units.length, 1)
  assert.equal(plan.nextOffset, 4n)
  assert.equal(plan.truncatedBytes, 100)
  assert.equal(plan.truncatedBatchBytes, big.length)
  const nothing = planFetchedRecords(big.subarray(0, 100), 4n, plain)
  assert.deepEqual([nothing.units.length, nothing.nextOffset, nothing.truncatedBatchBytes], [0, 4n, big.length])
})

test('batches from the library\'s producer encoder go through untouched', () => {
  const bytes = createRecordsBatch([{ topic: 't', partition: 0, key: Buffer.from('a'), value: Buffer.from('b') }], { compression: 'snappy', producerId: 3n, producerEpoch: 1 }).buffer
  const plan = planFetchedRecords(bytes, 0n, plain)
  assert.equal(plan.units[0].batch!.buffer, bytes.buffer)
  assert.equal(plan.units[0].reencoded, undefined)
})

test('old message formats are refused with a clear error', () => {
  const v1 = Buffer.alloc(40)
  v1.writeInt32BE(28, 8)
  v1.writeInt8(1, 16)
  assert.throws(() => planFetchedRecords(v1, 0n, plain), UnsupportedRecordFormatError)
})

test('runs of small batches are merged into bigger ones, records renumbered, markers between them dropped', () => {
  // 300 one-record batches (as linger.ms=0 writes them), a commit marker in the middle, then a big batch.
  const small = Array.from({ length: 300 }, (_, i) => batch(BigInt(i), 1, { producerId: 9n, transactional: i < 100 }))
  const big = batch(301n, 400)
  const fetched = Buffer.concat([...small.slice(0, 100), batch(100n, 1, { producerId: 9n, marker: 'commit' }), ...small.slice(100).map((_, i) => batch(BigInt(101 + i), 1)), big])
  assert.ok(big.length >= 4096)
  const plan = planFetchedRecords(fetched, 0n, { ...plain, mergeBelowBytes: 4096, mergedBatchBytes: 8192 })
  const merged = plan.units.filter(u => u.reencoded === 'merged')
  assert.ok(merged.length >= 2, `${plan.units.length} units`)
  assert.equal(plan.counts.merged, 300)
  assert.equal(plan.counts.skipped, 1)
  assert.equal(plan.counts.raw, 1)
  // The big batch goes as it is
  assert.equal(plan.units.at(-1)!.reencoded, undefined)
  assert.equal(plan.units.at(-1)!.batch!.buffer, fetched.buffer)
  // Every record once, in order, at offset deltas 0..n-1 per merged batch, timestamps kept
  const keys = plan.units.flatMap(u => decodeRecords(readRecordBatch(u.batch!)).map(r => [String(r.key), r.timestamp]))
  const want = [...Array.from({ length: 100 }, (_, i) => i), ...Array.from({ length: 200 }, (_, i) => 101 + i), ...Array.from({ length: 400 }, (_, i) => 301 + i)]
  assert.deepEqual(keys, want.map(o => [`k${o}`, 1_000_000n + BigInt(o)]))
  for (const u of merged) {
    assert.ok(crcIsValid(u.batch!))
    const decoded = readRecordsBatch(Reader.from(Buffer.from(u.batch!)))
    assert.deepEqual(decoded.records.map(r => r.offsetDelta), decoded.records.map((_, i) => i))
    assert.ok(u.batch!.length <= 8192 + 300)
  }
  // The offsets: merged units end where their last source batch ended (the marker rides on the batch before it).
  assert.deepEqual(plan.units.map(u => u.nextOffset).at(-1), 701n)
  assert.equal(plan.nextOffset, 701n)
  // Compressed small batches merge into one batch of their codec.
  const lz4 = Buffer.concat(Array.from({ length: 20 }, (_, i) => batch(BigInt(i * 2), 2, { codec: CompressionCodecs.lz4 })))
  const lz4Plan = planFetchedRecords(lz4, 0n, { ...plain, mergeBelowBytes: 4096 })
  assert.equal(lz4Plan.units.length, 1)
  assert.equal(readRecordBatch(lz4Plan.units[0].batch!).compression, CompressionCodecs.lz4)
  assert.equal(lz4Plan.units[0].records, 40)
  // But compressed batches of many records go as they are: recompressing them costs more than a request.
  const many = Buffer.concat(Array.from({ length: 5 }, (_, i) => batch(BigInt(i * 40), 40, { codec: CompressionCodecs.lz4 })))
  const manyPlan = planFetchedRecords(many, 0n, { ...plain, mergeBelowBytes: 1 << 20 })
  assert.deepEqual(manyPlan.counts, { raw: 5, reencoded: 0, merged: 0, skipped: 0 })
})

// ---- Key partitioning: one fetch split into a batch per target partition ----

function byKey (partitions: number, options: { maxBatchBytes?: number } = {}): NonNullable<PlanOptions['byKey']> {
  let next = 0
  return { partitions, keylessPartition: () => next++ % partitions, ...options }
}

function decoded (unit: { batch: Buffer | null }): DecodedRecord[] {
  return decodeRecords(readRecordBatch(unit.batch!))
}

test('key partitioning splits a fetch by murmur2 of each key: every record once, order kept per partition, bytes and timestamps kept', () => {
  const fetched = Buffer.concat([batch(100n, 40), batch(140n, 30, { codec: CompressionCodecs.lz4 }), batch(170n, 30, { codec: CompressionCodecs.zstd })])
  const plan = planFetchedRecords(fetched, 100n, { ...plain, compression: CompressionCodecs.none, byKey: byKey(4) })
  // One span: every unit accounts for the whole fetch
  assert.equal(plan.grouped, true)
  assert.equal(plan.nextOffset, 200n)
  for (const u of plan.units) assert.deepEqual([u.firstOffset, u.nextOffset, u.leaderEpoch], [100n, 200n, 5])
  // One batch per target partition, each record where Java's partitioner puts its key
  assert.deepEqual(plan.units.map(u => u.partition).sort(), [0, 1, 2, 3])
  const expected = records(100n, 100)
  const seen: DecodedRecord[] = []
  for (const u of plan.units) {
    const got = decoded(u)
    assert.equal(u.records, got.length)
    assert.equal(readRecordBatch(u.batch!).compression, CompressionCodecs.none)
    for (const r of got) assert.equal(partitionForKey(r.key!, 4), u.partition, `key ${r.key}`)
    // Source order within the partition: keys k100..k199 ascending
    const order = got.map(r => Number(String(r.key).slice(1)))
    assert.deepEqual(order, [...order].sort((a, b) => a - b))
    seen.push(...got)
  }
  assert.equal(seen.length, 100)
  const byKeyName = new Map(seen.map(r => [String(r.key), r]))
  for (const e of expected) {
    const r = byKeyName.get(String(e.key))!
    assert.deepEqual([r.value, r.timestamp, r.headers], [e.value, e.timestamp, e.headers])
  }
  assert.deepEqual(plan.counts, { raw: 0, reencoded: 3, merged: 0, skipped: 0 })
})

test('key partitioning sends a batch as it is when all its keys map to one partition, and cuts before the fetch offset and at the end offset', () => {
  // Every key maps to partition 0 of 1: whole batches go as they are, still compressed
  const fetched = Buffer.concat([batch(100n, 10), batch(110n, 10, { codec: CompressionCodecs.zstd }), batch(120n, 10)])
  const whole = planFetchedRecords(fetched, 100n, { ...plain, byKey: byKey(1) })
  assert.deepEqual(whole.counts, { raw: 3, reencoded: 0, merged: 0, skipped: 0 })
  assert.equal(whole.units[1].batch!.buffer, fetched.buffer, 'no copy')
  assert.deepEqual(whole.units.map(u => [u.partition, u.records]), [[0, 10], [0, 10], [0, 10]])
  // From offset 105 to an end offset of 125: the first and last batches are cut
  const cut = planFetchedRecords(fetched, 105n, { ...plain, endOffset: 125n, byKey: byKey(1) })
  assert.deepEqual(cut.units.map(u => u.records), [20], 'the cut records and the batch between them make one batch')
  assert.deepEqual(cut.units.flatMap(u => decoded(u).map(r => String(r.key))), records(105n, 20).map(r => String(r.key)))
  assert.equal(cut.nextOffset, 125n)
  assert.equal(cut.reachedEnd, true)
})

test('key partitioning: keyless records of one source batch go to one partition, the next batch\'s to the next; big batches are closed at maxBatchBytes', () => {
  const keyless = (base: bigint, count: number): Buffer => {
    const bytes = encodeRecordBatch(records(base, count).map(r => ({ ...r, key: null })), { producerId: 1n, producerEpoch: 0, baseSequence: 0, baseOffset: base })
    return bytes
  }
  const plan = planFetchedRecords(Buffer.concat([keyless(0n, 5), keyless(5n, 5), keyless(10n, 5)]), 0n, { ...plain, byKey: byKey(3) })
  assert.deepEqual(plan.units.map(u => [u.partition, u.records]), [[0, 5], [1, 5], [2, 5]])
  // 100 records of about 40 bytes with a 1 KiB limit: several batches for one partition, in order
  const big = planFetchedRecords(batch(0n, 100), 0n, { ...plain, byKey: byKey(1, { maxBatchBytes: 1024 }) })
  assert.ok(big.units.length >= 3, `units: ${big.units.length}`)
  assert.deepEqual(big.units.flatMap(u => decoded(u).map(r => String(r.key))), records(0n, 100).map(r => String(r.key)))
})

test('key partitioning: transaction markers and aborted batches are dropped and the span still moves past them', () => {
  const fetched = Buffer.concat([batch(0n, 4, { producerId: 7n, transactional: true }), batch(4n, 1, { producerId: 7n, marker: 'abort' }), batch(5n, 3)])
  const plan = planFetchedRecords(fetched, 0n, { ...plain, readCommitted: true, abortedTransactions: [{ producerId: 7n, firstOffset: 0n }], byKey: byKey(2) })
  assert.equal(plan.nextOffset, 8n)
  assert.equal(plan.units.reduce((n, u) => n + u.records, 0), 3)
  assert.equal(plan.counts.skipped, 2)
  // Nothing left to send at all: no unit, but the position moves past the marker
  const markers = planFetchedRecords(batch(4n, 1, { producerId: 7n, marker: 'commit' }), 4n, { ...plain, byKey: byKey(2) })
  assert.deepEqual([markers.units.length, markers.nextOffset, markers.grouped], [0, 5n, true])
})

test('one KeyRouter over several source partitions: one batch per target partition, each naming the plans its records came from', () => {
  const router = new KeyRouter({ compression: CompressionCodecs.none })
  const keyed = (base: bigint, count: number, tag: string): Buffer => encodeRecordBatch(records(base, count).map(r => ({ ...r, key: Buffer.from(`k${Number(r.offset) % 7}`), value: Buffer.from(`${tag}-${r.offset}`) })), { baseOffset: base, producerId: 1n, producerEpoch: 0, baseSequence: 0 })
  // Given two source partitions' fetches routed into the same 3 target partitions
  const a = planFetchedRecords(keyed(0n, 30, 'a'), 0n, { ...plain, byKey: { router, tag: 'a', topic: 't', partitions: 3, keylessPartition: () => 0 } })
  const b = planFetchedRecords(keyed(100n, 20, 'b'), 100n, { ...plain, byKey: { router, tag: 'b', topic: 't', partitions: 3, keylessPartition: () => 0 } })
  assert.deepEqual([a.units.length, a.nextOffset, b.units.length, b.nextOffset], [0, 30n, 0, 120n], 'the router holds the records, the plans only move the offsets')
  // When the answer is done
  const routed = router.finish()
  // Then each target partition got one batch with records of both, a's before b's, and says so
  assert.equal(routed.length, 3)
  assert.deepEqual(routed.map(r => r.partition).sort(), [0, 1, 2])
  let total = 0
  for (const r of routed) {
    const got = decodeRecords(readRecordBatch(r.batch))
    assert.equal(got.length, r.records)
    total += r.records
    assert.deepEqual(r.parts.map(p => p.tag), ['a', 'b'])
    assert.equal(r.parts.reduce((n, p) => n + p.records, 0), r.records)
    const tags = got.map(x => String(x.value).slice(0, 1))
    assert.deepEqual(tags, [...tags].sort(), 'source order kept: a\'s records before b\'s')
    for (const x of got) assert.equal(partitionForKey(x.key!, 3), r.partition)
  }
  assert.equal(total, 50)
  assert.deepEqual(router.finish(), [], 'nothing left after finish')
})

test('a KeyRouter keeps each target topic\'s batches under its limit: every record once, in order, none over', () => {
  // Given a router whose topic "small" takes batches of at most 2 KiB, and "big" the default
  const router = new KeyRouter({ compression: CompressionCodecs.none, topicMaxBytes: topic => topic === 'small' ? 2048 : undefined })
  const many = encodeRecordBatch(records(0n, 300).map(r => ({ ...r, key: Buffer.from('one-key') })), { producerId: 1n, producerEpoch: 0, baseSequence: 0 })
  // When 300 records of one key (about 14 KiB) go to each topic
  planFetchedRecords(many, 0n, { ...plain, byKey: { router, tag: 'a', topic: 'small', partitions: 1, keylessPartition: () => 0 } })
  planFetchedRecords(many, 0n, { ...plain, byKey: { router, tag: 'b', topic: 'big', partitions: 1, keylessPartition: () => 0 } })
  const routed = router.finish()
  // Then "small" got several batches, none over 2 KiB, the records in order; "big" one batch
  const small = routed.filter(r => r.topic === 'small')
  assert.ok(small.length >= 7, `batches: ${small.length}`)
  assert.ok(small.every(r => r.batch.length <= 2048), `sizes: ${small.map(r => r.batch.length).join(',')}`)
  assert.deepEqual(small.flatMap(r => decodeRecords(readRecordBatch(r.batch)).map(x => String(x.value))), records(0n, 300).map(r => String(r.value)))
  assert.equal(routed.filter(r => r.topic === 'big').length, 1)
})

test('runs of small batches are merged no larger than mergedBatchBytes', () => {
  const fetched = Buffer.concat(Array.from({ length: 40 }, (_, i) => batch(BigInt(i * 5), 5)))
  const plan = planFetchedRecords(fetched, 0n, { ...plain, mergeBelowBytes: 16 << 10, mergedBatchBytes: 1500 })
  assert.ok(plan.units.length >= 3, `units: ${plan.units.length}`)
  assert.ok(plan.units.every(u => u.batch!.length <= 1500 + 61), `sizes: ${plan.units.map(u => u.batch!.length).join(',')}`)
  assert.equal(plan.units.reduce((n, u) => n + u.records, 0), 200)
})

test('a source batch larger than the target takes is cut into batches that fit, each a span of its own, records in order', () => {
  for (const codec of [CompressionCodecs.none, CompressionCodecs.lz4]) {
    // Given one source batch of 300 records (about 14 KiB uncompressed) at offset 1000, and a
    // target that takes batches of at most 2 KiB
    const fetched = batch(1000n, 300, { codec })
    assert.ok(fetched.length > 2048 || codec !== CompressionCodecs.none)
    // When it is planned from offset 1000 with source partitioning
    const plan = planFetchedRecords(fetched, 1000n, { ...plain, maxBatchBytes: 2048 })
    // Then it went as several batches, none over the limit, in the source's codec, holding every
    // record once in order, and their spans run without gap from 1000 to 1300
    if (fetched.length > 2048) {
      assert.ok(plan.units.length >= 2, `units: ${plan.units.length}`)
      assert.ok(plan.units.every(u => u.batch!.length <= 2048 && u.reencoded === 'too-large'), `sizes: ${plan.units.map(u => u.batch!.length).join(',')}`)
    }
    assert.ok(plan.units.every(u => readRecordBatch(u.batch!).compression === codec))
    assert.deepEqual(plan.units.flatMap(u => decodeRecords(readRecordBatch(u.batch!)).map(r => String(r.value))), records(1000n, 300).map(r => String(r.value)))
    assert.equal(plan.units[0].firstOffset, 1000n)
    for (let i = 1; i < plan.units.length; i++) assert.equal(plan.units[i].firstOffset, plan.units[i - 1].nextOffset)
    assert.equal(plan.units.at(-1)!.nextOffset, 1300n)
    assert.equal(plan.units.reduce((n, u) => n + u.records, 0), 300)
    assert.equal(plan.nextOffset, 1300n)
  }
  // A batch that fits goes as it is
  const small = batch(0n, 5)
  assert.equal(planFetchedRecords(small, 0n, { ...plain, maxBatchBytes: 2048 }).units[0].reencoded, undefined)
})

test('--fast.path off writes every batch anew with the records copied as bytes: keys, values, headers, nulls and timestamps kept, from the fetch offset on', () => {
  const source: DecodedRecord[] = [
    ...records(200n, 3),
    { offset: 203n, timestamp: 1_000_500n, attributes: 0, key: null, value: Buffer.from('keyless'), headers: [] },
    { offset: 204n, timestamp: 999_000n, attributes: 0, key: Buffer.from('tombstone'), value: null, headers: [[Buffer.from('a'), null], [Buffer.from('b'), Buffer.alloc(0)]] },
    ...records(205n, 2)
  ]
  for (const [from, to] of [[CompressionCodecs.none, CompressionCodecs.none], [CompressionCodecs.lz4, CompressionCodecs.lz4], [CompressionCodecs.none, CompressionCodecs.zstd]]) {
    // Given a source batch of 7 records in one codec, fetched from its third record on
    const fetched = encodeRecordBatch(source, { compression: from, producerId: 1n, producerEpoch: 0, baseSequence: 0 })
    fetched.writeBigInt64BE(200n, 0)
    fetched.writeUInt32BE(batchCrc(fetched), 17)
    // When it is planned with every batch written anew, into the target's codec
    const plan = planFetchedRecords(fetched, 202n, { ...plain, compression: to, forceReencode: true })
    // Then one new batch in the target's codec holds records 202-206, each as it was
    assert.equal(plan.units.length, 1)
    assert.equal(plan.units[0].reencoded, 'forced')
    assert.equal(plan.units[0].firstOffset, 202n)
    assert.equal(plan.units[0].nextOffset, 207n)
    const written = readRecordBatch(plan.units[0].batch!)
    assert.equal(written.compression, to)
    assert.ok(crcIsValid(plan.units[0].batch!))
    const copied = decodeRecords(written)
    assert.deepEqual(copied.map(r => [r.timestamp, r.key, r.value, r.headers]), source.slice(2).map(r => [r.timestamp, r.key, r.value, r.headers]))
  }
})
