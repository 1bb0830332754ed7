// The commit rule of the copy loop: a source offset becomes committable only when every target
// batch holding a record before it was acknowledged, however the fetch fanned out.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RawProducer, type ProduceUnit } from '../../src/kafka/raw/raw-producer.ts'
import { encodeRecordBatch, readRecordBatch, type DecodedRecord } from '../../src/kafka/raw/record-batch.ts'
import { planFetchedRecords } from '../../src/mirror/plan.ts'
import { SpanQueue, type Settled, type Span } from '../../src/mirror/spans.ts'
import { FakeBroker, wireToFakeBroker } from '../helpers/fake-broker.ts'

test('the committable offset is the end of the longest prefix of done spans; a span without batches is done at once', () => {
  const queue = new SpanQueue()
  const a = queue.open(0n, 10n, 1, 2)
  const b = queue.open(10n, 12n, 1, 0) // only markers
  const c = queue.open(12n, 20n, 2, 1)
  // Given the last span acknowledged first, nothing is committable
  queue.acknowledged(c, 8, 800)
  assert.equal(queue.settle(), undefined)
  // And with one of the first span's two batches, still nothing
  queue.acknowledged(a, 4, 400)
  assert.equal(queue.settle(), undefined)
  // When its second batch is acknowledged, all three spans settle at once
  queue.acknowledged(a, 6, 600)
  const settled = queue.settle()
  assert.deepEqual(settled && { ...settled, since: 0 }, { nextOffset: 20n, leaderEpoch: 2, records: 18, bytes: 1800, since: 0 })
  assert.equal(queue.pending, 0)
  assert.equal(b.remaining, 0)
  // A span may not start before the end of the last one, nor be acknowledged more than it has batches
  assert.throws(() => queue.open(15n, 30n, 2, 1))
  assert.throws(() => { queue.acknowledged(a, 1, 1) })
})

function keyedRecords (base: bigint, count: number): DecodedRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    offset: base + BigInt(i),
    // Unique per record: the fake broker logs records by timestamp, and a target batch's max timestamp names it.
    timestamp: 1_000_000n + base + BigInt(i),
    attributes: 0,
    key: Buffer.from(`key-${(Number(base) + i) % 37}`),
    value: Buffer.from(`value-${base + BigInt(i)}`),
    headers: []
  }))
}

test('fan-out: fetches split by key over 4 target partitions, one of them failing for a while, never commit past a batch the broker does not have', async () => {
  // Given a source partition whose fetches are split by key into 4 target partitions, and a target
  // whose partition 2 answers NOT_LEADER_OR_FOLLOWER to its first five requests
  const broker = new FakeBroker()
  let refusals = 0
  broker.fault = (_request, partition) => partition === 2 && refusals++ < 5 ? 6 : undefined
  interface Ctx { span: Span, maxTimestamp: bigint }
  const queue = new SpanQueue()
  const settled: Settled[] = []
  const unitsOf: Array<{ nextOffset: bigint, maxTimestamp: bigint }> = []
  const violations: string[] = []
  const producer = new RawProducer<Ctx>({
    client: { clientId: 'fake', bootstrapBrokers: ['127.0.0.1:1'] },
    acks: -1, idempotent: true, requestTimeoutMs: 5000, deliveryTimeoutMs: 10_000, retryBackoffMs: 5, maxRequestBytes: 1 << 20
  }, {
    acknowledged: (_topic, _partition, units: Array<ProduceUnit<Ctx>>) => {
      for (const u of units) queue.acknowledged(u.context.span, 1, 1)
      const s = queue.settle()
      if (s === undefined) return
      settled.push(s)
      // Then everything below the committable offset is in the broker's log
      const appended = new Set([...broker.logs.values()].flatMap(l => l.ids))
      for (const u of unitsOf) if (u.nextOffset <= s.nextOffset && !appended.has(Number(u.maxTimestamp))) violations.push(`committable ${s.nextOffset} while the batch of span ending ${u.nextOffset} is not on the target`)
    },
    failed: (_t, partition, _u, error) => { violations.push(`partition ${partition} failed: ${error.message}`) }
  })
  wireToFakeBroker(producer as RawProducer<unknown>, broker, 4)
  await producer.start()
  await producer.prepareTopics(['t'])
  // When 20 fetches of 50 records each are planned and sent
  let offset = 0n
  for (let f = 0; f < 20; f++) {
    const fetched = encodeRecordBatch(keyedRecords(offset, 50), { baseOffset: offset, producerId: 1n, producerEpoch: 0, baseSequence: 0 })
    let keyless = 0
    const plan = planFetchedRecords(fetched, offset, { readCommitted: false, abortedTransactions: null, compression: 0, byKey: { partitions: 4, keylessPartition: () => keyless++ % 4 } })
    const span = queue.open(offset, plan.nextOffset, 0, plan.units.length)
    for (const u of plan.units) {
      const maxTimestamp = readRecordBatch(u.batch!).maxTimestamp
      unitsOf.push({ nextOffset: plan.nextOffset, maxTimestamp })
      producer.enqueue('t', u.partition!, { batch: u.batch, context: { span, maxTimestamp } })
    }
    offset = plan.nextOffset
    await new Promise(resolve => setTimeout(resolve, 1))
  }
  const deadline = Date.now() + 10_000
  while (producer.pending > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  await producer.close()
  // Then the commit reached the end, never passed a batch the broker lacked, and every record was appended once
  assert.deepEqual(violations, [])
  assert.ok(refusals >= 5, 'partition 2 refused some requests')
  assert.equal(settled.at(-1)?.nextOffset, 1000n)
  for (let i = 1; i < settled.length; i++) assert.ok(settled[i].nextOffset > settled[i - 1].nextOffset)
  const appended = [...broker.logs.values()].flatMap(l => l.ids)
  assert.equal(appended.length, 1000)
  assert.equal(new Set(appended).size, appended.length, 'no record appended twice')
  // And batches that waited behind the refused ones were merged: each of their spans was acknowledged through the merged batch
  assert.ok(producer.counts.merged > 0, 'batches were merged')
})

test('an unsealed span is never done, whatever its batches; a span opened for nothing can be taken back', () => {
  const queue = new SpanQueue()
  const a = queue.open(0n, 0n, -1, 0, 0, false)
  queue.addBatch(a)
  a.nextOffset = 10n
  queue.acknowledged(a, 3, 30)
  // Every batch so far is acknowledged, but more may come until it is sealed
  assert.equal(queue.settle(), undefined)
  assert.throws(() => queue.open(10n, 12n, -1, 1), /not sealed/)
  queue.seal(a)
  assert.equal(queue.settle()?.nextOffset, 10n)
  const b = queue.open(10n, 10n, -1, 0, 0, false)
  queue.cancel(b)
  assert.equal(queue.pending, 0)
  assert.throws(() => { queue.addBatch(a) }, /sealed/)
})
