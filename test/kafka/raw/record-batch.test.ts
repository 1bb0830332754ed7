// The record batch codec against @platformatic/kafka's own encoder and decoder: batches it builds are
// read and rewritten here, and what is written here its decoder reads back with a valid CRC.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRecordsBatch, crc32c, readRecordsBatch, Reader } from '@platformatic/kafka'
import {
  Attributes, CompressionCodecs, controlType, crcIsValid, decodeRecords, encodeRecordBatch, incrementSequence,
  mergeRecordBatches, readRecordBatch, readRecordBatches, rewriteProducerFields, sliceRecordBatch, type DecodedRecord
} from '../../../src/kafka/raw/record-batch.ts'

type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
const codecs: Codec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

function messages (count: number, tag = 'm'): Parameters<typeof createRecordsBatch>[0] {
  return Array.from({ length: count }, (_, i) => ({
    topic: 't',
    partition: 0,
    key: i % 5 === 4 ? undefined : Buffer.from(`key-${tag}-${i}`),
    value: Buffer.concat([Buffer.from(`${tag}-${i}-`), Buffer.alloc(40 + i, i)]),
    headers: new Map([[Buffer.from('h1'), Buffer.from(`v${i}`)], [Buffer.from('bin'), Buffer.from([0, 255, i])]]),
    timestamp: 1_700_000_000_000n + BigInt(i * 7)
  }))
}

/** A batch as the library writes it, placed at `baseOffset` as a broker would return it. */
function libraryBatch (count: number, codec: Codec, baseOffset: bigint, options: { transactional?: boolean, producerId?: bigint, tag?: string } = {}): Buffer {
  const bytes = createRecordsBatch(messages(count, options.tag), {
    compression: codec,
    producerId: options.producerId ?? 4242n,
    producerEpoch: 3,
    ...(options.transactional === true ? { transactionalId: 'tx' } : {})
  }).buffer
  // baseOffset is outside the CRC: the broker sets it on append.
  bytes.writeBigInt64BE(baseOffset, 0)
  return bytes
}

function libraryDecode (bytes: Buffer): ReturnType<typeof readRecordsBatch> {
  return readRecordsBatch(Reader.from(Buffer.from(bytes)))
}

test('reads every whole batch of a fetched buffer and leaves a cut last batch out', () => {
  const parts = [libraryBatch(10, 'none', 100n), libraryBatch(7, 'lz4', 110n), libraryBatch(3, 'zstd', 117n, { transactional: true })]
  const last = libraryBatch(20, 'none', 120n)
  const fetched = Buffer.concat([...parts, last.subarray(0, last.length - 9)])
  const { batches, truncatedBytes } = readRecordBatches(fetched)
  assert.equal(batches.length, 3)
  assert.equal(truncatedBytes, last.length - 9)
  assert.deepEqual(batches.map(b => [b.baseOffset, b.lastOffset, b.recordCount]), [[100n, 109n, 10], [110n, 116n, 7], [117n, 119n, 3]])
  assert.deepEqual(batches.map(b => b.compression), [CompressionCodecs.none, CompressionCodecs.lz4, CompressionCodecs.zstd])
  assert.deepEqual(batches.map(b => b.transactional), [false, false, true])
  assert.ok(batches.every(b => b.magic === 2 && !b.control && b.producerId === 4242n && b.producerEpoch === 3 && b.baseSequence === 0))
  assert.ok(batches.every(b => crcIsValid(b.bytes)))
  assert.equal(batches[0].maxTimestamp, 1_700_000_000_000n + 9n * 7n)
  // Fewer bytes than one batch header, or nothing at all.
  assert.equal(readRecordBatches(fetched.subarray(0, 11)).batches.length, 0)
  assert.equal(readRecordBatches(Buffer.alloc(0)).truncatedBytes, 0)
})

for (const codec of codecs) {
  test(`rewrites producer id, epoch and sequence of a ${codec} batch in place; the library decodes it with a valid CRC`, () => {
    const bytes = libraryBatch(25, codec, 5000n, { transactional: true })
    const before = libraryDecode(bytes)
    const batch = readRecordBatch(bytes)
    const body = Buffer.from(bytes.subarray(61))
    rewriteProducerFields(batch.bytes, { producerId: 77n, producerEpoch: 9, baseSequence: 1234 })
    const after = readRecordBatch(bytes)
    assert.ok(crcIsValid(bytes))
    assert.equal(after.crc, crc32c(bytes.subarray(21)))
    assert.equal(after.producerId, 77n)
    assert.equal(after.producerEpoch, 9)
    assert.equal(after.baseSequence, 1234)
    assert.equal(after.transactional, false)
    assert.equal(after.compression, CompressionCodecs[codec])
    assert.equal(after.baseOffset, 0n)
    assert.equal(after.partitionLeaderEpoch, -1)
    // The records, compressed or not, are the same bytes.
    assert.ok(bytes.subarray(61).equals(body))
    const decoded = libraryDecode(bytes)
    assert.equal(decoded.producerId, 77n)
    assert.deepEqual(decoded.records, before.records)
    assert.equal(decoded.lastOffsetDelta, 24)
  })

  test(`decodes the records of a ${codec} batch as the library does, and encodes them back byte-equal`, () => {
    const bytes = libraryBatch(12, codec, 900n)
    const batch = readRecordBatch(bytes)
    const mine = decodeRecords(batch)
    const theirs = libraryDecode(bytes)
    assert.equal(mine.length, 12)
    for (let i = 0; i < mine.length; i++) {
      const r = theirs.records[i]
      assert.equal(mine[i].offset, 900n + BigInt(r.offsetDelta))
      assert.equal(mine[i].timestamp, theirs.firstTimestamp + r.timestampDelta)
      assert.deepEqual(mine[i].key, r.key)
      assert.deepEqual(mine[i].value, r.value)
      assert.deepEqual(mine[i].headers, r.headers)
    }
    const again = encodeRecordBatch(mine, { compression: batch.compression, producerId: 4242n, producerEpoch: 3, baseSequence: 0 })
    assert.ok(crcIsValid(again))
    const reread = libraryDecode(again)
    assert.deepEqual(reread.records, theirs.records)
    assert.equal(reread.firstTimestamp, theirs.firstTimestamp)
    assert.equal(reread.maxTimestamp, theirs.maxTimestamp)
    // Uncompressed, the whole batch is identical to the library's (gzip and the others may differ in compressed bytes).
    // (The partition leader epoch before the magic byte differs: the library writes 0, a producer -1.)
    if (codec === 'none') assert.ok(Buffer.from(again).subarray(16).equals(Buffer.from(bytes).subarray(16)))
  })

  test(`cuts a ${codec} batch to the records at and after the fetch offset and before an end offset`, () => {
    const bytes = libraryBatch(30, codec, 1000n)
    const batch = readRecordBatch(bytes)
    const sliced = sliceRecordBatch(batch, 1012n, 1020n)
    assert.ok(sliced !== null)
    assert.equal(sliced.records, 8)
    assert.ok(crcIsValid(sliced.bytes))
    const cut = readRecordBatch(sliced.bytes)
    assert.equal(cut.compression, CompressionCodecs[codec])
    assert.equal(cut.baseOffset, 1012n)
    assert.equal(cut.lastOffsetDelta, 7)
    const decoded = libraryDecode(sliced.bytes)
    const original = libraryDecode(bytes).records.slice(12, 20)
    assert.deepEqual(decoded.records.map(r => [r.key, r.value, r.headers]), original.map(r => [r.key, r.value, r.headers]))
    assert.deepEqual(decoded.records.map(r => decoded.firstTimestamp + r.timestampDelta), original.map((_, i) => 1_700_000_000_000n + BigInt((12 + i) * 7)))
    assert.deepEqual(decoded.records.map(r => r.offsetDelta), [0, 1, 2, 3, 4, 5, 6, 7])
    assert.equal(sliceRecordBatch(batch, 1030n), null)
    assert.equal(sliceRecordBatch(batch, 0n, 1000n), null)
  })
}

test('keeps null keys and values, empty values, duplicate header names and null header values when encoding', () => {
  const records: DecodedRecord[] = [
    { offset: 5n, timestamp: 10n, attributes: 0, key: null, value: null, headers: [] },
    { offset: 6n, timestamp: 9n, attributes: 0, key: Buffer.alloc(0), value: Buffer.alloc(0), headers: [[Buffer.from('a'), Buffer.from('1')], [Buffer.from('a'), null], [Buffer.from('a'), Buffer.from('3')]] },
    { offset: 7n, timestamp: 10n + 2n ** 40n, attributes: 0, key: Buffer.from('k'), value: Buffer.alloc(70_000, 1), headers: [] }
  ]
  const bytes = encodeRecordBatch(records, { compression: CompressionCodecs.zstd })
  const batch = readRecordBatch(bytes)
  assert.equal(batch.maxTimestamp, 10n + 2n ** 40n)
  const back = decodeRecords(batch)
  assert.deepEqual(back.map(r => [r.offset, r.timestamp, r.key, r.value, r.headers]), records.map((r, i) => [BigInt(i), r.timestamp, r.key, r.value, r.headers]))
  const theirs = libraryDecode(bytes).records
  assert.equal(theirs[0].key, null)
  assert.equal(theirs[0].value, null)
  assert.deepEqual(theirs[1].headers, [[Buffer.from('a'), Buffer.from('1')], [Buffer.from('a'), null], [Buffer.from('a'), Buffer.from('3')]])
})

test('a LogAppendTime batch decodes with the append time on every record', () => {
  const bytes = libraryBatch(4, 'none', 0n)
  bytes.writeInt16BE(bytes.readInt16BE(21) | Attributes.LOG_APPEND_TIME, 21)
  bytes.writeBigInt64BE(1_800_000_000_000n, 35)
  const batch = readRecordBatch(bytes)
  assert.equal(batch.logAppendTime, true)
  assert.deepEqual(decodeRecords(batch).map(r => r.timestamp), [1_800_000_000_000n, 1_800_000_000_000n, 1_800_000_000_000n, 1_800_000_000_000n])
  // Cut and encoded again, the append time becomes each record's own (CreateTime) timestamp.
  const sliced = sliceRecordBatch(batch, 1n)!
  const again = readRecordBatch(sliced.bytes)
  assert.equal(again.logAppendTime, false)
  assert.deepEqual(decodeRecords(again).map(r => r.timestamp), [1_800_000_000_000n, 1_800_000_000_000n, 1_800_000_000_000n])
})

test('reads the marker type of control batches', () => {
  for (const type of [0, 1]) {
    const key = Buffer.alloc(4)
    key.writeInt16BE(0, 0)
    key.writeInt16BE(type, 2)
    const bytes = encodeRecordBatch([{ offset: 0n, timestamp: 1n, attributes: 0, key, value: Buffer.from([0, 0, 0, 0, 0, 0]), headers: [] }], { producerId: 8n, producerEpoch: 0 })
    bytes.writeInt16BE(Attributes.CONTROL | Attributes.TRANSACTIONAL, 21)
    const batch = readRecordBatch(bytes)
    assert.equal(batch.control, true)
    assert.equal(controlType(batch), type)
  }
  assert.equal(controlType(readRecordBatch(libraryBatch(1, 'none', 0n))), -1)
})

test('old message formats are told apart by their magic byte', () => {
  const v1 = Buffer.alloc(40)
  v1.writeBigInt64BE(7n, 0)
  v1.writeInt32BE(28, 8)
  v1.writeInt8(1, 16)
  const { batches } = readRecordBatches(v1)
  assert.equal(batches[0].magic, 1)
  assert.throws(() => decodeRecords(batches[0]), /magic 1/)
})

test('sequences wrap from 2^31 - 1 to 0 as Kafka\'s do', () => {
  assert.equal(incrementSequence(5, 10), 15)
  assert.equal(incrementSequence(0x7fffffff - 3, 3), 0x7fffffff)
  assert.equal(incrementSequence(0x7fffffff - 3, 4), 0)
  assert.equal(incrementSequence(0x7fffffff, 10), 9)
})

test('merges batches into one, spliced when uncompressed, decoded and encoded otherwise; the library reads the same records', () => {
  for (const [codecs, into] of [[['none', 'none', 'none'], 0], [['none', 'lz4', 'zstd'], CompressionCodecs.zstd], [['gzip', 'snappy'], 0]] as Array<[Codec[], number]>) {
    const parts = codecs.map((codec, i) => libraryBatch(3 + i, codec, BigInt(100 * i), { tag: `b${i}` }))
    const merged = mergeRecordBatches(parts.map(p => readRecordBatch(p)), into)
    assert.ok(crcIsValid(merged))
    const batch = readRecordBatch(merged)
    assert.equal(batch.compression, into)
    assert.equal(batch.baseOffset, 0n)
    assert.equal(batch.recordCount, parts.reduce((n, _, i) => n + 3 + i, 0))
    assert.equal(batch.lastOffsetDelta, batch.recordCount - 1)
    const theirs = libraryDecode(merged)
    const originals = parts.map(p => libraryDecode(p))
    const want = originals.flatMap(o => o.records.map(r => [r.key, r.value, r.headers, o.firstTimestamp + r.timestampDelta]))
    assert.deepEqual(theirs.records.map(r => [r.key, r.value, r.headers, theirs.firstTimestamp + r.timestampDelta]), want)
    assert.deepEqual(theirs.records.map(r => r.offsetDelta), theirs.records.map((_, i) => i))
    assert.equal(theirs.maxTimestamp, originals.reduce((m, o) => o.maxTimestamp > m ? o.maxTimestamp : m, 0n))
  }
})
