// Reconciliation's pure parts (src/mirror/reconcile.ts): the commit's metadata, where a source
// partition's records are on the target, and matching source records with target records.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Attributes, encodeRecordBatch, type DecodedRecord } from '../../src/kafka/raw/record-batch.ts'
import { KeyRouter } from '../../src/mirror/plan.ts'
import { partitionForKey } from '../../src/mirror/partitioner.ts'
import {
  KeyOrderMatcher, MAX_METADATA_BYTES, SourceOrderMatcher, TargetTrack, decodeTargetPositions, encodeTargetPositions, recordViews, type RecordView
} from '../../src/mirror/reconcile.ts'
import { readRecordBatch } from '../../src/kafka/raw/record-batch.ts'

function record (offset: bigint, key: string | null, value = `v${offset}`, timestamp = 1_000_000n + offset): DecodedRecord {
  return { offset, timestamp, attributes: 0, key: key === null ? null : Buffer.from(key), value: Buffer.from(value), headers: [[Buffer.from('h'), Buffer.from(String(offset))]] }
}

/** A batch at `base` holding the records (offsets base, base+1, ...). */
function batch (base: bigint, records: DecodedRecord[], options: { producerId?: bigint, transactional?: boolean, marker?: 'abort' | 'commit' } = {}): Buffer {
  let bytes: Buffer
  if (options.marker !== undefined) {
    const key = Buffer.alloc(4)
    key.writeInt16BE(options.marker === 'abort' ? 0 : 1, 2)
    bytes = encodeRecordBatch([{ offset: base, timestamp: 1n, attributes: 0, key, value: Buffer.alloc(6), headers: [] }], { producerId: options.producerId ?? 1n, producerEpoch: 0, baseSequence: -1 })
  } else {
    bytes = encodeRecordBatch(records, { producerId: options.producerId ?? -1n, producerEpoch: 0, baseSequence: 0 })
  }
  let attributes = bytes.readInt16BE(21)
  if (options.transactional === true || options.marker !== undefined) attributes |= Attributes.TRANSACTIONAL
  if (options.marker !== undefined) attributes |= Attributes.CONTROL
  bytes.writeInt16BE(attributes, 21)
  bytes.writeBigInt64BE(base, 0)
  return bytes
}

/** Views of records as if read from a partition (each record its own batch, so offsets can have gaps). */
function views (records: DecodedRecord[]): RecordView[] {
  return recordViews(Buffer.concat(records.map(r => batch(r.offset, [r]))), 0n, null, false).views
}

/** The same records at other offsets: copies on a target partition. */
function at (offsets: bigint, records: DecodedRecord[]): RecordView[] {
  return views(records.map((r, i) => ({ ...r, offset: offsets + BigInt(i) })))
}

test('metadata: encoded compactly and read back; anything else is not ours', () => {
  const positions = { topicId: 'abcdef012345', partitions: 12, offsets: new Map([[0, { offset: 0n, tight: true }], [11, { offset: 123_456_789_012n, tight: false }]]) }
  const text = encodeTargetPositions(positions)
  assert.equal(text, 'km1;abcdef012345;c;0.0,b.1kpqzg2c~')
  assert.deepEqual(decodeTargetPositions(text), positions)
  for (const other of [null, undefined, '', 'some app metadata', 'km1;x;0;', 'km1;x;2;0.zz!', 'km2;x;2;0.1']) assert.equal(decodeTargetPositions(other), undefined, String(other))
  assert.deepEqual(decodeTargetPositions('km1;x;2;'), { topicId: 'x', partitions: 2, offsets: new Map() })
})

test('TargetTrack: x_P is the first batch still ahead of the commit, else the end of the last one', () => {
  const track = new TargetTrack('id', 3, new Map([[0, 100n], [1, 50n], [2, 7n]]))
  // Nothing written yet: the ends at assignment.
  assert.deepEqual([...track.positions(0n, false).offsets], [[0, { offset: 100n, tight: true }], [1, { offset: 50n, tight: true }], [2, { offset: 7n, tight: true }]])
  // Span [0,10) went to P0 at 100 (4 records in the batch) and P1 at 50 (2); span [10,20) to P0 at 104.
  track.written(0, 100n, 4, 10n)
  track.written(1, 50n, 2, 10n)
  track.written(0, 104n, 3, 20n)
  assert.deepEqual(track.positions(10n, false).offsets.get(0), { offset: 104n, tight: true })
  assert.deepEqual(track.positions(10n, false).offsets.get(1), { offset: 52n, tight: true })
  assert.deepEqual(track.positions(20n, false).offsets.get(0), { offset: 107n, tight: true })
  // A batch acknowledged without its base offset: a lower bound, not tight; tight again after a known one.
  track.written(2, -1n, 5, 30n)
  assert.deepEqual(track.positions(20n, false).offsets.get(2), { offset: 7n, tight: false })
  assert.deepEqual(track.positions(30n, false).offsets.get(2), { offset: 7n, tight: false })
  assert.equal(track.positions(30n, true).offsets.has(2), false, 'source partitioning writes only tight positions')
  track.written(2, 20n, 1, 40n)
  assert.deepEqual(track.positions(40n, false).offsets.get(2), { offset: 21n, tight: true })
  // Records found on the target by reconciliation come first.
  const found = new TargetTrack('id', 1, new Map([[0, 500n]]))
  found.found(0, 12n, 480n)
  found.written(0, 500n, 3, 20n)
  assert.deepEqual(found.positions(10n, false).offsets.get(0), { offset: 480n, tight: true })
  assert.deepEqual(found.positions(13n, false).offsets.get(0), { offset: 500n, tight: true })
})

test('TargetTrack: source partitioning names only its own partition; metadata too long is not written, said once', () => {
  const own = new TargetTrack('id', 4, new Map([[0, 1n], [1, 2n], [2, 3n], [3, 4n]]), 2)
  assert.equal(own.metadata(0n, true), 'km1;id;4;2.3')
  const many = new Map(Array.from({ length: 600 }, (_, p) => [p, 123_456_789n + BigInt(p)]))
  const wide = new TargetTrack('id', 600, many)
  const warnings: unknown[] = []
  const log = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Parameters<TargetTrack['metadata']>[2]
  assert.ok(encodeTargetPositions(wide.positions(0n, false)).length > MAX_METADATA_BYTES)
  assert.equal(wide.metadata(0n, false, log, 't:0'), null)
  assert.equal(wide.metadata(1n, false, log, 't:0'), null)
  assert.equal(warnings.length, 1)
})

test('recordViews: control batches, aborted transactions (read_committed) and compaction gaps', () => {
  const bytes = Buffer.concat([
    batch(0n, [record(0n, 'a'), record(1n, 'b')]),
    batch(2n, [record(2n, 'c')], { producerId: 9n, transactional: true }),
    batch(3n, [], { producerId: 9n, marker: 'abort' }),
    batch(4n, [record(4n, 'd')], { producerId: 8n, transactional: true }),
    batch(5n, [], { producerId: 8n, marker: 'commit' }),
    batch(9n, [record(9n, 'e')])
  ])
  const committed = recordViews(bytes, 1n, [{ producerId: 9n, firstOffset: 2n }], true)
  assert.deepEqual(committed.views.map(v => v.offset), [1n, 4n, 9n])
  assert.equal(committed.next, 10n)
  assert.deepEqual(recordViews(bytes, 0n, [{ producerId: 9n, firstOffset: 2n }], false).views.map(v => v.offset), [0n, 1n, 2n, 4n, 9n])
})

test('source partitioning: counted one by one, the copy resumes after the last record already on the target', () => {
  // Source offsets with gaps (compaction): 10, 12, 13, 17.
  const source = [record(10n, 'a'), record(12n, 'b'), record(13n, 'c'), record(17n, 'd')]
  const m = new SourceOrderMatcher(at(500n, source.slice(0, 3)), 0, 10n)
  m.feed(views(source))
  assert.equal(m.done, true)
  const r = m.result(false)
  assert.equal(r.kind, 'matched')
  assert.equal(r.kind === 'matched' && r.resumeAt, 14n)
  assert.deepEqual(r.kind === 'matched' && r.found.map(f => [f.sourceOffset, f.targetOffset]), [[10n, 500n], [12n, 501n], [13n, 502n]])
  // Nothing on the target past x_P: start at the committed offset.
  const none = new SourceOrderMatcher([], 0, 10n)
  assert.equal(none.done, true)
  assert.deepEqual(none.result(false), { kind: 'matched', resumeAt: 10n, found: [] })
})

test('source partitioning: another writer\'s record, or more records than the source has, is a mismatch', () => {
  const source = [record(10n, 'a'), record(11n, 'b'), record(12n, 'c')]
  const foreign = new SourceOrderMatcher([...at(500n, source.slice(0, 1)), ...at(501n, [record(99n, 'x', 'other writer')])], 0, 10n)
  foreign.feed(views(source))
  assert.equal(foreign.result(true).kind, 'mismatch')
  // The same key and value with another timestamp is another record.
  const retimed = new SourceOrderMatcher(at(500n, [record(10n, 'a', 'v10', 5n)]), 0, 10n)
  retimed.feed(views(source))
  assert.equal(retimed.result(true).kind, 'mismatch')
  const extra = new SourceOrderMatcher(at(500n, [...source, record(13n, 'd')]), 0, 10n)
  extra.feed(views(source))
  assert.equal(extra.done, false)
  assert.match(JSON.stringify(extra.result(true)), /1 records more than the source/)
})

test('key partitioning: records of other source partitions interleaved; resume at the first missing one, skip the ones already there', () => {
  const partitions = 2
  // Keys by target partition.
  const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']
  const on = (p: number): string[] => keys.filter(k => partitionForKey(Buffer.from(k), partitions) === p)
  const [a, b] = [on(0), on(1)]
  assert.ok(a.length >= 2 && b.length >= 2)
  // Source partition from offset 100: a0 b0 a1 b1 a2(=a[0] again, new record)
  const source = [record(100n, a[0]), record(101n, b[0]), record(102n, a[1]), record(103n, b[1]), record(104n, a[0], 'again')]
  const other = (o: bigint): DecodedRecord => record(o + 9000n, a[1], 'another source partition')
  // P0 holds 100, 102, 104 with other records between; P1 holds only 101 (103 missing).
  const p0 = views([{ ...other(0n), offset: 40n }, { ...source[0], offset: 41n }, { ...other(1n), offset: 42n }, { ...source[2], offset: 43n }, { ...source[4], offset: 44n }, { ...other(2n), offset: 45n }])
  const p1 = views([{ ...source[1], offset: 70n }, { ...other(3n), offset: 71n }])
  const m = new KeyOrderMatcher(new Map([[0, p0], [1, p1]]), partitions, 100n)
  m.feed(views(source))
  const r = m.result()
  assert.equal(r.kind, 'matched')
  if (r.kind !== 'matched') return
  assert.equal(r.resumeAt, 103n)
  assert.deepEqual(r.found.map(f => [f.sourceOffset, f.partition, f.targetOffset]), [[100n, 0, 41n], [101n, 1, 70n], [102n, 0, 43n], [104n, 0, 44n]])
})

test('key partitioning: a partition closes at its first missing record; nothing after it there is taken', () => {
  const partitions = 1
  const source = [record(0n, 'a'), record(1n, 'b'), record(2n, 'c')]
  // 'b' is missing; a record equal to 'c' stands after: per partition the records are a prefix, so 'c' is missing too.
  const m = new KeyOrderMatcher(new Map([[0, at(10n, [source[0], source[2]])]]), partitions, 0n)
  m.feed(views(source))
  assert.equal(m.done, true)
  const r = m.result()
  assert.deepEqual(r.kind === 'matched' && [r.resumeAt, r.found.length], [1n, 1])
})

test('key partitioning: keyless records are looked for on every partition; an empty target resumes at the committed offset', () => {
  const source = [record(5n, null, 'x'), record(6n, null, 'y')]
  const m = new KeyOrderMatcher(new Map([[0, []], [1, at(3n, [source[0]])]]), 2, 5n)
  m.feed(views(source))
  const r = m.result()
  assert.deepEqual(r.kind === 'matched' && [r.resumeAt, r.found.map(f => f.partition)], [6n, [1]])
  const empty = new KeyOrderMatcher(new Map([[0, []], [1, []]]), 2, 5n)
  empty.feed(views(source))
  assert.deepEqual(empty.result(), { kind: 'matched', resumeAt: 5n, found: [] })
})

test('key partitioning: nothing on the target past x_P, the matcher is done before any source record (the source is not read)', () => {
  const m = new KeyOrderMatcher(new Map([[0, []], [1, []], [2, []]]), 3, 40n)
  assert.equal(m.done, true)
  assert.deepEqual(m.result(), { kind: 'matched', resumeAt: 40n, found: [] })
  // One record left to match: not done until it is.
  const one = record(40n, 'k')
  const p = partitionForKey(Buffer.from('k'), 3)
  const waiting = new KeyOrderMatcher(new Map([[0, []], [1, []], [2, []], [p, at(7n, [one])]]), 3, 40n)
  assert.equal(waiting.done, false)
  waiting.feed(views([one, record(41n, 'k')]))
  assert.equal(waiting.done, true)
  assert.deepEqual(waiting.result(), { kind: 'matched', resumeAt: 41n, found: [{ sourceOffset: 40n, partition: p, targetOffset: 7n }] })
})

test('KeyRouter: records already on the target are left out by source offset, and the batch is not sent as it is', () => {
  const bytes = batch(20n, [record(20n, 'a'), record(21n, 'b'), record(22n, 'c')])
  const router = new KeyRouter({ compression: 'keep' })
  const skip = new Set([21n])
  const routed = router.route('t', 1, () => 0, readRecordBatch(bytes), 20n, undefined, undefined, 'tag', o => skip.delete(o))
  assert.equal(routed, 'copied')
  const [out] = router.finish()
  assert.equal(out.records, 2)
  assert.deepEqual(recordViews(out.batch, 0n, null, false).views.map(v => v.key?.toString()), ['a', 'c'])
  assert.equal(skip.size, 0)
})
