// The partition-range reader (src/kafka/raw/partition-reader.ts) against a fake fetcher: one
// partition's log as record batches, answered as a broker answers Fetch (whole batches from the
// one holding the fetch offset, the last one cut at the size limit), with the faults a read must
// ride out (a leader move, a lost connection) and those it must not (a Kafka error that is not
// retriable, a deadline). test/helpers/fake-broker.ts fakes the Produce side only.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RawFetchPartition, RawFetchResponse, RawFetchTopicRequest } from '../../../src/kafka/raw/fetch-v12.ts'
import { PartitionReadError, PartitionReader, type PartitionFetcher } from '../../../src/kafka/raw/partition-reader.ts'
import type { RawFetchOptions } from '../../../src/kafka/raw/raw-fetcher.ts'
import { Attributes, decodeRecords, encodeRecordBatch, readRecordBatch, type RecordBatch } from '../../../src/kafka/raw/record-batch.ts'

const TOPIC = 't'

/** A batch at `base` of `count` records (value `v<offset>`); transactional, or a marker, for producer `producerId`. */
function batch (base: bigint, count: number, options: { producerId?: bigint, transactional?: boolean, marker?: 'abort' | 'commit' } = {}): Buffer {
  let bytes: Buffer
  if (options.marker !== undefined) {
    const key = Buffer.alloc(4)
    key.writeInt16BE(options.marker === 'abort' ? 0 : 1, 2)
    bytes = encodeRecordBatch([{ offset: base, timestamp: 1n, attributes: 0, key, value: Buffer.alloc(6), headers: [] }], { baseOffset: base, producerId: options.producerId ?? 1n, producerEpoch: 0, baseSequence: -1 })
  } else {
    const records = Array.from({ length: count }, (_, i) => ({ offset: base + BigInt(i), timestamp: 1000n + base + BigInt(i), attributes: 0, key: null, value: Buffer.from(`v${base + BigInt(i)}`), headers: [] }))
    bytes = encodeRecordBatch(records, { baseOffset: base, producerId: options.producerId ?? -1n, producerEpoch: 0, baseSequence: options.producerId === undefined ? -1 : 0 })
  }
  let attributes = bytes.readInt16BE(21)
  if (options.transactional === true || options.marker !== undefined) attributes |= Attributes.TRANSACTIONAL
  if (options.marker !== undefined) attributes |= Attributes.CONTROL
  bytes.writeInt16BE(attributes, 21)
  return bytes
}

type Fault = 'network' | number

class FakeFetcher implements PartitionFetcher {
  log: Buffer[]
  logStart = 0n
  lastStable: bigint | undefined
  aborted: Array<{ producerId: bigint, firstOffset: bigint }> = []
  /** The broker leading the partition; metadata says `known` until refreshed. */
  leader = 1
  known: number | undefined = undefined
  faults: Fault[] = []
  refreshes = 0
  fetches: Array<{ leader: number, offset: bigint, maxBytes: number, isolationLevel: number }> = []

  constructor (log: Buffer[]) {
    this.log = log
  }

  get highWatermark (): bigint {
    const last = this.log.at(-1)
    return last === undefined ? this.logStart : readRecordBatch(last).lastOffset + 1n
  }

  leaderOf (): number | undefined {
    return this.known
  }

  async refresh (): Promise<void> {
    this.refreshes++
    this.known = this.leader
  }

  async fetch (leader: number, options: RawFetchOptions, topics: RawFetchTopicRequest[]): Promise<RawFetchResponse> {
    const offset = topics[0].partitions[0].fetchOffset
    const maxBytes = topics[0].partitions[0].partitionMaxBytes
    this.fetches.push({ leader, offset, maxBytes, isolationLevel: options.isolationLevel })
    const fault = this.faults.shift()
    if (fault === 'network') throw new Error('connection reset')
    const answer: RawFetchPartition = {
      partitionIndex: 0,
      errorCode: 0,
      highWatermark: this.highWatermark,
      lastStableOffset: this.lastStable ?? this.highWatermark,
      logStartOffset: this.logStart,
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: null,
      currentLeader: { leaderId: this.leader, leaderEpoch: 0 }
    }
    if (fault !== undefined) answer.errorCode = fault
    else if (leader !== this.leader) answer.errorCode = 6 // NOT_LEADER_OR_FOLLOWER
    else if (offset < this.logStart || offset > this.highWatermark) answer.errorCode = 1 // OFFSET_OUT_OF_RANGE
    else {
      // Whole batches from the one holding the offset; the first always, cut at the size limit
      const end = options.isolationLevel === 1 ? answer.lastStableOffset : answer.highWatermark
      const parts: Buffer[] = []
      let size = 0
      for (const b of this.log) {
        const h = readRecordBatch(b)
        if (h.lastOffset < offset || h.baseOffset >= end) continue
        if (size + b.length > maxBytes) {
          if (parts.length === 0) parts.push(b.subarray(0, maxBytes))
          break
        }
        parts.push(b)
        size += b.length
      }
      answer.records = parts.length > 0 ? Buffer.concat(parts) : null
      if (options.isolationLevel === 1) answer.abortedTransactions = this.aborted.length > 0 ? this.aborted : null
    }
    return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [{ topic: TOPIC, partitions: [answer] }] }
  }
}

const offsetsOf = (batches: RecordBatch[]): bigint[] => batches.flatMap(b => decodeRecords(b).map(r => r.offset))
const soon = (): number => Date.now() + 5000

test('reads [from, end) over several answers; control batches never, aborted transactions only read_uncommitted', async () => {
  // Given a log with a transaction of producer 9 aborted and one of producer 8 committed
  const log = [batch(0n, 3), batch(3n, 2, { producerId: 9n, transactional: true }), batch(5n, 0, { producerId: 9n, marker: 'abort' }),
    batch(6n, 2, { producerId: 8n, transactional: true }), batch(8n, 0, { producerId: 8n, marker: 'commit' }), batch(9n, 4)]
  const fetcher = new FakeFetcher(log)
  fetcher.aborted = [{ producerId: 9n, firstOffset: 3n }]
  const reader = new PartitionReader(fetcher)

  // When it is read from offset 1 to its end, read_committed, one small fetch at a time
  const seen: RecordBatch[] = []
  const committed = await reader.read(TOPIC, 0, 1n, { readCommitted: true, deadline: soon(), maxBytes: log[0].length + 10 }, b => { seen.push(b) })
  // Then the aborted records and both markers are left out; the first batch starts before `from`
  assert.deepEqual(offsetsOf(seen), [0n, 1n, 2n, 6n, 7n, 9n, 10n, 11n, 12n])
  assert.deepEqual({ next: committed.next, end: committed.end, stopped: committed.stopped, timedOut: committed.timedOut }, { next: 13n, end: 13n, stopped: false, timedOut: false })
  assert.ok(fetcher.fetches.length > 3, `${fetcher.fetches.length} fetches`)
  assert.ok(fetcher.fetches.every(f => f.isolationLevel === 1))

  // And read_uncommitted, to an end before the log's, keeps the aborted records
  const all: RecordBatch[] = []
  const uncommitted = await reader.read(TOPIC, 0, 0n, { readCommitted: false, deadline: soon(), to: 8n }, b => { all.push(b) })
  assert.deepEqual(offsetsOf(all), [0n, 1n, 2n, 3n, 4n, 6n, 7n])
  assert.equal(uncommitted.end, 8n)
})

test('the end of a read_committed read is the last stable offset: an open transaction is not waited for', async () => {
  const fetcher = new FakeFetcher([batch(0n, 2), batch(2n, 2, { producerId: 7n, transactional: true })])
  fetcher.lastStable = 2n
  const seen: RecordBatch[] = []
  const read = await new PartitionReader(fetcher).read(TOPIC, 0, 0n, { readCommitted: true, deadline: soon() }, b => { seen.push(b) })
  assert.deepEqual(offsetsOf(seen), [0n, 1n])
  assert.equal(read.end, 2n)
})

test('a leader move and a lost connection are asked again with fresh metadata; the read completes', async () => {
  // Given a leader that moves after the metadata was read, then a connection that drops
  const fetcher = new FakeFetcher([batch(0n, 5), batch(5n, 5)])
  await fetcher.refresh()
  fetcher.leader = 2
  fetcher.faults = [6, 'network']
  const seen: RecordBatch[] = []
  const read = await new PartitionReader(fetcher, { backoffMs: 1 }).read(TOPIC, 0, 0n, { readCommitted: false, deadline: soon() }, b => { seen.push(b) })
  // Then the fetch went to the new leader and every record was read once
  assert.deepEqual(offsetsOf(seen), Array.from({ length: 10 }, (_, i) => BigInt(i)))
  assert.equal(read.next, 10n)
  assert.equal(fetcher.fetches.at(-1)!.leader, 2)
  assert.ok(fetcher.refreshes >= 3, `${fetcher.refreshes} refreshes`)
})

test('a Kafka error that is not retriable ends the read at once, naming it', async () => {
  const fetcher = new FakeFetcher([batch(0n, 5)])
  fetcher.faults = [29] // TOPIC_AUTHORIZATION_FAILED
  await assert.rejects(new PartitionReader(fetcher, { backoffMs: 1 }).read(TOPIC, 0, 0n, { readCommitted: false, deadline: soon() }, () => {}), (error: Error) => {
    assert.ok(error instanceof PartitionReadError)
    assert.equal(error.errorCode, 29)
    assert.match(error.message, /fetching t-0 at offset 0 failed with Kafka error 29/)
    return true
  })
  assert.equal(fetcher.fetches.length, 1)
})

test('retriable errors stop at the deadline, with the last cause', async () => {
  const fetcher = new FakeFetcher([batch(0n, 5)])
  fetcher.faults = Array.from({ length: 1000 }, () => 'network' as const)
  const started = Date.now()
  await assert.rejects(new PartitionReader(fetcher, { backoffMs: 10, maxBackoffMs: 40 }).read(TOPIC, 0, 0n, { readCommitted: false, deadline: Date.now() + 300 }, () => {}), (error: Error) => {
    assert.ok(error instanceof PartitionReadError)
    assert.equal(error.errorCode, undefined)
    assert.match(error.message, /failed \d+ times: connection reset/)
    return true
  })
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`)
  assert.ok(fetcher.fetches.length >= 3 && fetcher.fetches.length < 40, `${fetcher.fetches.length} fetches`)
  // A reader whose owner closes stops at the next retry
  let closed = false
  const closing = new FakeFetcher([batch(0n, 5)])
  closing.faults = ['network', 'network']
  const read = new PartitionReader(closing, { backoffMs: 1, closed: () => closed }).read(TOPIC, 0, 0n, { readCommitted: false, deadline: Date.now() + 60_000 }, () => {})
  closed = true
  await assert.rejects(read, PartitionReadError)
})

test('a batch larger than the fetch size is fetched again with twice the size', async () => {
  const big = batch(0n, 200)
  const fetcher = new FakeFetcher([big, batch(200n, 1)])
  const seen: RecordBatch[] = []
  const read = await new PartitionReader(fetcher).read(TOPIC, 0, 0n, { readCommitted: false, deadline: soon(), maxBytes: Math.floor(big.length / 3) }, b => { seen.push(b) })
  assert.equal(read.next, 201n)
  assert.equal(offsetsOf(seen).length, 201)
  assert.deepEqual(fetcher.fetches.slice(0, 3).map(f => f.maxBytes), [1, 2, 4].map(n => n * Math.floor(big.length / 3)))
})

test('below the log start: from the log start when asked, else OFFSET_OUT_OF_RANGE; the visitor can stop the read', async () => {
  const fetcher = new FakeFetcher([batch(10n, 5), batch(15n, 5)])
  fetcher.logStart = 10n
  const wanted: Array<{ from: bigint, to: bigint }> = []
  const read = await new PartitionReader(fetcher).read(TOPIC, 0, 0n, { readCommitted: false, deadline: soon(), fromLogStart: true }, (_b, w) => { wanted.push(w) })
  assert.equal(read.next, 20n)
  assert.deepEqual(wanted[0], { from: 10n, to: 20n })
  await assert.rejects(new PartitionReader(fetcher).read(TOPIC, 0, 0n, { readCommitted: false, deadline: soon() }, () => {}),
    /fetching t-0 at offset 0: out of range \(the log starts at 10 and ends at 20\)/)
  // The visitor stops after the first batch
  const stopped = await new PartitionReader(fetcher).read(TOPIC, 0, 10n, { readCommitted: false, deadline: soon() }, () => false)
  assert.deepEqual({ next: stopped.next, stopped: stopped.stopped }, { next: 15n, stopped: true })
})
