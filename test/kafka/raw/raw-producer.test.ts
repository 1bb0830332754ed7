// The raw producer's ordering, retries and producer-state rules against the in-process fake broker
// of test/helpers/fake-broker.ts.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { RawProducer, type ProduceUnit, type RawProducerOptions } from '../../../src/kafka/raw/raw-producer.ts'
import { CompressionCodecs, encodeRecordBatch } from '../../../src/kafka/raw/record-batch.ts'
import { FakeBroker, unitBatch, wireToFakeBroker } from '../../helpers/fake-broker.ts'

function producerFor (broker: FakeBroker, partitions: number, options: Partial<RawProducerOptions> = {}): { producer: RawProducer<number>, acked: Map<number, number[]>, failed: Array<[number, number, Error]>, resets: number[] } {
  const acked = new Map<number, number[]>()
  const failed: Array<[number, number, Error]> = []
  const resets: number[] = []
  const producer = new RawProducer<number>({
    client: { clientId: 'fake', bootstrapBrokers: ['127.0.0.1:1'] },
    acks: -1,
    idempotent: true,
    requestTimeoutMs: 5000,
    deliveryTimeoutMs: 10_000,
    retryBackoffMs: 5,
    maxRequestBytes: 1 << 20,
    ...options
  }, {
    acknowledged: (_topic, partition, units: Array<ProduceUnit<number>>) => acked.set(partition, [...(acked.get(partition) ?? []), ...units.map(u => u.context)]),
    failed: (_topic, partition, unit, error) => failed.push([partition, unit.context, error]),
    reset: (_topic, partition) => resets.push(partition)
  })
  wireToFakeBroker(producer as RawProducer<unknown>, broker, partitions)
  return { producer, acked, failed, resets }
}

/** Enqueues `perPartition` units on each partition: ids p*1000 + i, every 7th one with nothing to send. */
async function run (producer: RawProducer<number>, partitions: number, perPartition: number): Promise<Map<number, number[]>> {
  await producer.start()
  await producer.prepareTopics(['t'])
  const sent = new Map<number, number[]>()
  for (let i = 0; i < perPartition; i++) {
    for (let p = 0; p < partitions; p++) {
      const id = 1_000_000 + p * 1000 + i
      const empty = i % 7 === 6
      producer.enqueue('t', p, { batch: empty ? null : unitBatch(id), context: id })
      if (!empty) sent.set(p, [...(sent.get(p) ?? []), id])
    }
    if (i % 10 === 9) await new Promise(resolve => setTimeout(resolve, 2))
  }
  return sent
}

async function settle (producer: RawProducer<number>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (producer.pending > 0) {
    if (Date.now() > deadline) throw new Error(`${producer.pending} units still pending`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

function allIds (perPartition: number, p: number): number[] {
  return Array.from({ length: perPartition }, (_, i) => 1_000_000 + p * 1000 + i)
}

test('batches of each partition reach the broker once, in order, one per partition per request, at most 5 in flight', async () => {
  const broker = new FakeBroker()
  const { producer, acked, failed } = producerFor(broker, 3)
  const sent = await run(producer, 3, 60)
  await settle(producer)
  await producer.close()
  assert.deepEqual(failed, [])
  for (let p = 0; p < 3; p++) {
    assert.deepEqual(broker.log('t', p).ids, sent.get(p))
    // Every unit is reported, those with nothing to send too, in enqueue order.
    assert.deepEqual(acked.get(p), allIds(60, p))
  }
  assert.ok(broker.requests.every(r => new Set(r.map(x => x.partition)).size === r.length), 'one batch per partition per request')
  assert.ok(broker.requests.some(r => r.length > 1), 'partitions share requests')
  assert.ok(broker.maxInFlightSeen <= 5, `in flight per partition: ${broker.maxInFlightSeen}`)
})

test('a leader move, a timeout after the append and a lost connection: resent with the same sequences, never doubled', async () => {
  const broker = new FakeBroker()
  broker.fault = (request, partition) => {
    if (request === 3 && partition === 0) return 6 // NOT_LEADER_OR_FOLLOWER: not appended
    if (request === 5 && partition === 1) return 'append-then-timeout' // appended, answer lost
    if (request === 8) return 'network'
    if (request >= 12 && request < 15 && partition === 2) return 19 // NOT_ENOUGH_REPLICAS three times
    return undefined
  }
  const { producer, acked, failed } = producerFor(broker, 3)
  const sent = await run(producer, 3, 40)
  await settle(producer)
  await producer.close()
  assert.deepEqual(failed, [])
  for (let p = 0; p < 3; p++) {
    assert.deepEqual(broker.log('t', p).ids, sent.get(p), `partition ${p} holds each batch once, in order`)
    assert.deepEqual(acked.get(p), allIds(40, p))
  }
  // The resends carried the sequence of the first send.
  const byId = new Map<number, Set<number>>()
  for (const r of broker.requests) for (const x of r) for (const id of x.ids) byId.set(id, (byId.get(id) ?? new Set()).add(x.sequence))
  assert.ok([...byId.values()].every(s => s.size === 1))
  const sends = new Map<number, number>()
  for (const r of broker.requests) for (const x of r) for (const id of x.ids) sends.set(id, (sends.get(id) ?? 0) + 1)
  const resent = [...sends].filter(([, n]) => n > 1).map(([id]) => id)
  assert.ok(resent.length >= 4, `batches sent more than once: ${resent.length}`)
  assert.ok(resent.some(id => Math.floor((id - 1_000_000) / 1000) === 1), 'the batch appended before its timeout was resent, and dropped as a duplicate')
})

test('writtenSettled: resolves once every batch written before the call was answered, never earlier; abandon ends the wait with false', async () => {
  const broker = new FakeBroker()
  // Given a target whose answers are lost (appended, then the connection drops) while `cut` holds
  let cut = true
  broker.fault = () => cut ? 'network' : undefined
  const { producer, acked, failed } = producerFor(broker, 2, { retryBackoffMs: 20 })
  await producer.start()
  await producer.prepareTopics(['t'])
  const ids = [1_000_000, 1_000_001, 1_001_000, 1_001_001]
  for (const id of ids) producer.enqueue('t', Math.floor((id - 1_000_000) / 1000), { batch: unitBatch(id), context: id })
  while (broker.requests.length === 0) await new Promise(resolve => setTimeout(resolve, 2))
  // When the mirror waits for what it wrote to be answered
  let settled: boolean | undefined
  const waiting = producer.writtenSettled(topic => topic === 't').then(result => { settled = result })
  // And a second wait that is abandoned
  let abandoned = false
  const given = producer.writtenSettled(() => true, () => abandoned)
  await new Promise(resolve => setTimeout(resolve, 150))
  // Then neither ends while the answers are lost
  assert.equal(settled, undefined)
  abandoned = true
  assert.equal(await given, false)
  assert.equal(settled, undefined)
  // And once the target answers again, the wait ends with every batch written before it acknowledged, each appended once
  cut = false
  await waiting
  assert.equal(settled, true)
  const written = new Set(broker.requests.flatMap(r => r.flatMap(x => x.ids)))
  for (const id of written) assert.ok([...acked.values()].some(a => a.includes(id)), `unit ${id} was written and is acknowledged`)
  await settle(producer)
  assert.deepEqual(failed, [])
  assert.deepEqual(broker.log('t', 0).ids, [1_000_000, 1_000_001])
  assert.deepEqual(broker.log('t', 1).ids, [1_001_000, 1_001_001])
  // And with nothing in flight it ends at once
  assert.equal(await producer.writtenSettled(() => true), true)
  await producer.close()
})

test('producer state the broker forgot: the partition takes a new producer id and numbers its batches from 0 again', async () => {
  const broker = new FakeBroker()
  // A Kafka 2.4 broker says so (UNKNOWN_PRODUCER_ID); 2.5+ append the batch as it is
  broker.unknownProducer = 'unknown-producer-id'
  const { producer, acked, failed, resets } = producerFor(broker, 2)
  await producer.start()
  await producer.prepareTopics(['t'])
  for (let i = 0; i < 10; i++) producer.enqueue('t', 0, { batch: unitBatch(5000 + i), context: 5000 + i })
  await settle(producer)
  const firstId = producer.producerId
  // producer.id.expiration.ms passed on partition 0
  broker.log('t', 0).producers.clear()
  for (let i = 10; i < 20; i++) producer.enqueue('t', 0, { batch: unitBatch(5000 + i), context: 5000 + i })
  for (let i = 0; i < 5; i++) producer.enqueue('t', 1, { batch: unitBatch(7000 + i), context: 7000 + i })
  await settle(producer)
  await producer.close()
  assert.deepEqual(failed, [])
  assert.deepEqual(resets, [0])
  assert.deepEqual(broker.log('t', 0).ids, Array.from({ length: 20 }, (_, i) => 5000 + i))
  assert.deepEqual(acked.get(0), Array.from({ length: 20 }, (_, i) => 5000 + i))
  assert.deepEqual([...broker.log('t', 0).producers.keys()].length, 1)
  assert.notEqual([...broker.log('t', 0).producers.keys()][0], firstId)
  assert.deepEqual([...broker.log('t', 1).producers.keys()], [firstId], 'other partitions keep the first id')
})

test('a batch the target refuses stops its partition only; nothing after it is reported', async () => {
  const broker = new FakeBroker()
  broker.fault = (request, partition) => (partition === 1 && request === 4 ? 87 : undefined) // INVALID_RECORD
  const { producer, acked, failed } = producerFor(broker, 2)
  await run(producer, 2, 30)
  await settle(producer)
  await producer.close()
  assert.equal(failed.length, 1)
  assert.equal(failed[0][0], 1)
  assert.match(failed[0][2].message, /INVALID_RECORD/)
  const reported = acked.get(1) ?? []
  assert.ok(reported.every(id => id < failed[0][1]), 'no unit after the refused one is acknowledged')
  assert.deepEqual(acked.get(0), allIds(30, 0))
})

test('retriable failures that outlast delivery.timeout.ms fail the partition', async () => {
  const broker = new FakeBroker()
  broker.fault = (_request, partition) => (partition === 0 ? 6 : undefined)
  const { producer, failed } = producerFor(broker, 1, { deliveryTimeoutMs: 200 })
  await producer.start()
  await producer.prepareTopics(['t'])
  producer.enqueue('t', 0, { batch: unitBatch(1), context: 1 })
  const deadline = Date.now() + 5000
  while (failed.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  await producer.close()
  assert.equal(failed.length, 1)
  assert.match(failed[0][2].message, /NOT_LEADER_OR_FOLLOWER.*delivery\.timeout\.ms/)
  assert.equal(producer.pending, 0)
})

/** Units 0..n-1 on partition 0: the first one sent alone, the others enqueued while it is in flight. */
async function enqueueBehindFirst (producer: RawProducer<number>, n: number): Promise<void> {
  producer.enqueue('t', 0, { batch: unitBatch(0), context: 0 })
  await new Promise(resolve => setImmediate(resolve))
  for (let i = 1; i < n; i++) producer.enqueue('t', 0, { batch: unitBatch(i), context: i })
}

/** Ids of the units each request carried for `partition`, one array per batch. */
function batchesOf (broker: FakeBroker, partition: number): number[][] {
  return broker.requests.flatMap(r => r.filter(x => x.partition === partition).map(x => x.ids))
}

test('batches waiting behind one in flight are merged into one when sent: order, sequences and every unit\'s target offset kept', async () => {
  // Given one request in flight at a time, the first unit of each of 2 partitions sent, and 39
  // more enqueued on each while it is in flight
  const broker = new FakeBroker()
  const { producer, acked, failed } = producerFor(broker, 2, { maxInFlightRequests: 1 })
  await producer.start()
  await producer.prepareTopics(['t'])
  const units: Array<ProduceUnit<number>> = []
  for (let i = 0; i < 40; i++) {
    for (let p = 0; p < 2; p++) {
      const unit = { batch: unitBatch(1_000_000 + p * 1000 + i), context: 1_000_000 + p * 1000 + i }
      if (p === 0) units.push(unit)
      producer.enqueue('t', p, unit)
    }
    if (i === 0) await new Promise(resolve => setImmediate(resolve))
  }
  await settle(producer)
  await producer.close()
  // Then the first batch of each partition went alone and the 39 waiting behind it went as one
  assert.deepEqual(failed, [])
  for (let p = 0; p < 2; p++) {
    assert.deepEqual(batchesOf(broker, p), [allIds(1, p), allIds(40, p).slice(1)])
    assert.deepEqual(broker.log('t', p).ids, allIds(40, p))
    assert.deepEqual(acked.get(p), allIds(40, p))
  }
  assert.equal(producer.counts.merged, 78)
  // And each unit learnt where its own records landed (3 records a unit)
  assert.deepEqual(units.map(u => u.baseOffset), units.map((_, i) => BigInt(3 * i)))
})

test('merging stops at the merged batch size; batches of 16 KiB or more and LogAppendTime batches go as they are', async () => {
  const broker = new FakeBroker()
  const { producer, acked, failed } = producerFor(broker, 3, { maxInFlightRequests: 1, mergedBatchBytes: 1000 })
  await producer.start()
  await producer.prepareTopics(['t'])
  const big = (id: number, compression: number): Buffer => encodeRecordBatch(Array.from({ length: 200 }, (_, i) => ({ offset: BigInt(i), timestamp: BigInt(i), attributes: 0, key: Buffer.from(`u${id}`), value: randomBytes(100), headers: [] })), { compression })
  for (let i = 0; i < 20; i++) producer.enqueue('t', 0, { batch: unitBatch(i), context: i })
  for (let i = 0; i < 3; i++) producer.enqueue('t', 1, { batch: big(100 + i, CompressionCodecs.lz4), context: 100 + i })
  for (let i = 0; i < 3; i++) {
    const batch = unitBatch(200 + i)
    batch.writeInt16BE(batch.readInt16BE(21) | 0x08, 21)
    producer.enqueue('t', 2, { batch, context: 200 + i })
  }
  await settle(producer)
  await producer.close()
  assert.deepEqual(failed, [])
  const sizes = batchesOf(broker, 0).map(b => b.length)
  assert.ok(sizes.length >= 2 && sizes.every(n => n > 1), `partition 0's batches: ${sizes}`)
  assert.ok(Math.max(...sizes) < 20, 'no merged batch above mergedBatchBytes')
  assert.deepEqual(batchesOf(broker, 0).flat(), Array.from({ length: 20 }, (_, i) => i))
  assert.deepEqual(batchesOf(broker, 1), [[100], [101], [102]])
  assert.deepEqual(batchesOf(broker, 2), [[200], [201], [202]])
  assert.deepEqual(acked.get(0), Array.from({ length: 20 }, (_, i) => i))
  assert.deepEqual(acked.get(1), [100, 101, 102])
})

test('a merged batch the target refuses fails as a whole: its first unit is reported, none of its units nor any after it acknowledged', async () => {
  const broker = new FakeBroker()
  // The second request of partition 0 is the merged batch of units 1..9
  broker.fault = (request, partition) => (partition === 0 && request === 1 ? 87 : undefined) // INVALID_RECORD
  const { producer, acked, failed } = producerFor(broker, 1, { maxInFlightRequests: 1 })
  await producer.start()
  await producer.prepareTopics(['t'])
  await enqueueBehindFirst(producer, 10)
  const deadline = Date.now() + 5000
  while (failed.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  await new Promise(resolve => setTimeout(resolve, 50))
  await producer.close()
  assert.deepEqual(batchesOf(broker, 0), [[0], [1, 2, 3, 4, 5, 6, 7, 8, 9]])
  assert.equal(failed.length, 1)
  assert.equal(failed[0][1], 1)
  assert.match(failed[0][2].message, /INVALID_RECORD/)
  assert.deepEqual(acked.get(0), [0])
  assert.deepEqual(broker.log('t', 0).ids, [0])
})

test('with skipRefused, every unit of a refused merged batch is given up with its error, and the partition goes on', async () => {
  const broker = new FakeBroker()
  broker.fault = (request, partition) => (partition === 0 && request === 1 ? 87 : undefined)
  const skipped: number[] = []
  const acked: number[] = []
  const producer = new RawProducer<number>({
    client: { clientId: 'fake', bootstrapBrokers: ['127.0.0.1:1'] },
    acks: -1, idempotent: true, requestTimeoutMs: 5000, deliveryTimeoutMs: 10_000, retryBackoffMs: 5, maxRequestBytes: 1 << 20, maxInFlightRequests: 1, skipRefused: true
  }, {
    acknowledged: (_t, _p, units) => { for (const u of units) (u.skipped !== undefined ? skipped : acked).push(u.context) },
    failed: () => { throw new Error('nothing fails with skipRefused') }
  })
  wireToFakeBroker(producer as RawProducer<unknown>, broker, 1)
  await producer.start()
  await producer.prepareTopics(['t'])
  await enqueueBehindFirst(producer, 10)
  await settle(producer)
  for (let i = 10; i < 15; i++) producer.enqueue('t', 0, { batch: unitBatch(i), context: i })
  await settle(producer)
  await producer.close()
  assert.deepEqual(skipped, [1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.deepEqual(acked, [0, 10, 11, 12, 13, 14])
  assert.deepEqual(broker.log('t', 0).ids, [0, 10, 11, 12, 13, 14])
})

test('a merged batch refused as too large is split back: its units go one by one within its sequence range, nothing lost, doubled or reordered', async () => {
  const broker = new FakeBroker()
  // The second request holds units 1..9 merged
  let tooLarge = 0
  const { producer, acked, failed } = producerFor(broker, 1, { maxInFlightRequests: 1 })
  broker.fault = (request, _partition) => {
    if (request !== 1) return undefined
    tooLarge++
    return 10 // MESSAGE_TOO_LARGE
  }
  await producer.start()
  await producer.prepareTopics(['t'])
  await enqueueBehindFirst(producer, 10)
  await settle(producer)
  for (let i = 10; i < 14; i++) producer.enqueue('t', 0, { batch: unitBatch(i), context: i })
  await settle(producer)
  await producer.close()
  assert.equal(tooLarge, 1)
  assert.deepEqual(failed, [])
  const batches = batchesOf(broker, 0)
  assert.deepEqual(batches.slice(0, 2), [[0], [1, 2, 3, 4, 5, 6, 7, 8, 9]])
  // After the refusal every batch of the partition goes as it is
  assert.ok(batches.slice(2).every(b => b.length === 1), `batches after the split: ${JSON.stringify(batches.slice(2))}`)
  assert.deepEqual(broker.log('t', 0).ids, Array.from({ length: 14 }, (_, i) => i))
  assert.deepEqual(acked.get(0), Array.from({ length: 14 }, (_, i) => i))
  // The split units kept the merged batch's sequence range: unit 1 starts at 3, as the merged batch did
  assert.equal(broker.requests[2][0].sequence, 3)
})

// A broker (Kafka 2.5+) appends a batch of a producer id it holds no state for on the partition
// whatever its sequence: the fake broker does so by default, as the real one.
test('the first batch of a producer id on a partition, merged and refused as too large: nothing behind it is appended first', async () => {
  // Given 30 units enqueued at once on a partition no batch was written to, merged by ~9 into batches
  // the pump sends one behind the other, and the first of them refused as too large
  const broker = new FakeBroker()
  broker.fault = request => (request === 0 ? 10 : undefined) // MESSAGE_TOO_LARGE
  const { producer, acked, failed } = producerFor(broker, 1, { mergedBatchBytes: 1000, deliveryTimeoutMs: 1000 })
  await producer.start()
  await producer.prepareTopics(['t'])
  for (let i = 0; i < 30; i++) producer.enqueue('t', 0, { batch: unitBatch(i), context: i })
  await settle(producer)
  await producer.close()
  // Then the refused batch was a merged one, and its units went again before anything after them
  assert.ok(batchesOf(broker, 0)[0].length > 1, `first batch: ${JSON.stringify(batchesOf(broker, 0)[0])}`)
  assert.deepEqual(failed, [])
  assert.deepEqual(broker.log('t', 0).ids, Array.from({ length: 30 }, (_, i) => i))
  assert.deepEqual(acked.get(0), Array.from({ length: 30 }, (_, i) => i))
})

test('with skipRefused, the first batch under the new producer id refused as too large: nothing behind it is appended first', async () => {
  // Given unit 0 sent alone, units 1..59 merged behind it, the merged batch of unit 1 refused for
  // good (skipped: the partition takes a new producer id), and the first batch sent under the new
  // id, a merged one, refused as too large
  const broker = new FakeBroker()
  let tooLarge = false
  broker.fault = request => {
    const [sent] = broker.requests[request]
    if (sent.ids.length > 1 && sent.ids[0] === 1) return 87 // INVALID_RECORD
    if (sent.ids.length > 1 && sent.sequence === 0 && !tooLarge) {
      tooLarge = true
      return 10 // MESSAGE_TOO_LARGE
    }
    return undefined
  }
  const skipped: number[] = []
  const acked: number[] = []
  const producer = new RawProducer<number>({
    client: { clientId: 'fake', bootstrapBrokers: ['127.0.0.1:1'] },
    acks: -1, idempotent: true, requestTimeoutMs: 5000, deliveryTimeoutMs: 1000, retryBackoffMs: 5, maxRequestBytes: 1 << 20, mergedBatchBytes: 1000, skipRefused: true
  }, {
    acknowledged: (_t, _p, units) => { for (const u of units) (u.skipped !== undefined ? skipped : acked).push(u.context) },
    failed: () => { throw new Error('nothing fails with skipRefused') }
  })
  wireToFakeBroker(producer as RawProducer<unknown>, broker, 1)
  await producer.start()
  await producer.prepareTopics(['t'])
  await enqueueBehindFirst(producer, 60)
  await settle(producer)
  await producer.close()
  // Then only the skipped batch's units are missing, and the rest arrived once, in order
  assert.ok(tooLarge, 'a merged batch refused as too large')
  assert.ok(skipped.length > 1 && skipped[0] === 1, `skipped: ${JSON.stringify(skipped)}`)
  const rest = Array.from({ length: 60 }, (_, i) => i).filter(i => !skipped.includes(i))
  assert.deepEqual(acked, rest)
  assert.deepEqual(broker.log('t', 0).ids, rest)
})

test('a merged batch refused as too large with batches in flight behind it: they are refused out of sequence and sent again after its units', async () => {
  const broker = new FakeBroker()
  let tooLarge = false
  broker.fault = request => {
    const [sent] = broker.requests[request]
    if (sent.ids.length > 1 && sent.ids[0] === 1 && !tooLarge) {
      tooLarge = true
      return 10 // MESSAGE_TOO_LARGE
    }
    return undefined
  }
  const { producer, acked, failed } = producerFor(broker, 1, { mergedBatchBytes: 1000 })
  await producer.start()
  await producer.prepareTopics(['t'])
  // Unit 0 appended first, so the broker checks this producer id's sequences from then on
  producer.enqueue('t', 0, { batch: unitBatch(0), context: 0 })
  await settle(producer)
  for (let i = 1; i < 60; i++) producer.enqueue('t', 0, { batch: unitBatch(i), context: i })
  await settle(producer)
  await producer.close()
  assert.ok(tooLarge)
  assert.ok(broker.maxInFlightSeen > 1, 'batches were in flight behind the refused one')
  assert.deepEqual(failed, [])
  assert.deepEqual(broker.log('t', 0).ids, Array.from({ length: 60 }, (_, i) => i))
  assert.deepEqual(acked.get(0), Array.from({ length: 60 }, (_, i) => i))
})

test('a topic\'s batch limit caps the batches merged for it', async () => {
  // Given one request in flight at a time, and topic "small" whose batches may be at most 300 bytes
  const broker = new FakeBroker()
  const { producer, failed } = producerFor(broker, 1, { maxInFlightRequests: 1, topicMaxBatchBytes: topic => topic === 't' ? 300 : undefined })
  await producer.start()
  await producer.prepareTopics(['t'])
  // When 30 small units are queued behind the first
  for (let i = 0; i < 30; i++) producer.enqueue('t', 0, { batch: unitBatch(i), context: i })
  await settle(producer)
  await producer.close()
  // Then they went merged, in order, none of the merged batches over the limit
  assert.deepEqual(failed, [])
  const sent = batchesOf(broker, 0)
  assert.deepEqual(sent.flat(), Array.from({ length: 30 }, (_, i) => i))
  assert.ok(sent.some(ids => ids.length > 1), 'nothing was merged')
  const one = unitBatch(0).length
  assert.ok(sent.every(ids => ids.length === 1 || ids.length * one <= 300), `merged sizes (units): ${sent.map(ids => ids.length).join(',')}, one unit ${one} bytes`)
})

test('a shut write gate sends nothing; wake() sends what waited, in order', async () => {
  const broker = new FakeBroker()
  let open = false
  const { producer, acked, failed } = producerFor(broker, 2, { mayWrite: () => open })
  await producer.start()
  await producer.prepareTopics(['t'])
  for (let i = 0; i < 6; i++) producer.enqueue('t', i % 2, { batch: unitBatch(8000 + i), context: 8000 + i })
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(broker.requests.length, 0, 'nothing was written while the gate was shut')
  open = true
  producer.wake()
  await settle(producer)
  await producer.close()
  assert.deepEqual(failed, [])
  assert.deepEqual(broker.log('t', 0).ids, [8000, 8002, 8004])
  assert.deepEqual(acked.get(1), [8001, 8003, 8005])
})

test('a request the gate stops just before it is written is never written: drop() takes its batches, and the batches after them take their sequences', async () => {
  const broker = new FakeBroker()
  let open = true
  const { producer, acked, failed, resets } = producerFor(broker, 1, { mayWrite: () => open, mergedBatchBytes: 0 })
  await producer.start()
  await producer.prepareTopics(['t'])
  // Given a partition whose producer state the broker holds (sequences 0-2 appended)
  producer.enqueue('t', 0, { batch: unitBatch(9000), context: 9000 })
  await settle(producer)
  // When two batches are built into requests and the gate shuts before they are written
  broker.deferConnections = true
  producer.enqueue('t', 0, { batch: unitBatch(9001), context: 9001 })
  producer.enqueue('t', 0, { batch: unitBatch(9002), context: 9002 })
  await Promise.resolve()
  await Promise.resolve()
  open = false
  await new Promise(resolve => setTimeout(resolve, 30))
  assert.equal(broker.requests.length, 1, 'the stopped requests were not written')
  // And the first of them is dropped (its partition moved away)
  const dropped = producer.drop(u => u.context === 9001)
  assert.deepEqual(dropped.map(u => u.context), [9001])
  open = true
  producer.wake()
  await settle(producer)
  await producer.close()
  // Then the one left goes with the dropped one's sequence: the broker takes it in sequence
  assert.deepEqual(failed, [])
  assert.deepEqual(resets, [], 'no out-of-sequence refusal, no new producer id')
  assert.deepEqual(broker.log('t', 0).ids, [9000, 9002])
  assert.deepEqual(acked.get(0), [9000, 9002])
  assert.deepEqual(broker.requests.map(r => r.map(x => x.sequence)), [[0], [3]])
})

test('acknowledged batches are not kept alive by the producer (memory: a partition used to hold its last 256)', async () => {
  const { setFlagsFromString } = await import('node:v8')
  const { runInNewContext } = await import('node:vm')
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const broker = new FakeBroker()
  const { producer, acked, failed } = producerFor(broker, 1, { mergedBatchBytes: 0 })
  await producer.start()
  await producer.prepareTopics(['t'])
  // Given 200 batches of one partition, acknowledged, each known only through a weak reference
  // (made in a function of their own, so that no variable of this one holds the last)
  const enqueueWeakly = (): Array<WeakRef<Buffer>> => Array.from({ length: 200 }, (_, i) => {
    const batch = unitBatch(20_000 + i)
    producer.enqueue('t', 0, { batch, context: 20_000 + i })
    return new WeakRef(batch)
  })
  const refs = enqueueWeakly()
  await settle(producer)
  assert.deepEqual(failed, [])
  assert.equal(acked.get(0)?.length, 200)
  // When the garbage is collected
  await new Promise(resolve => setImmediate(resolve))
  gc()
  // Then none of them is still alive, though the producer is still open
  assert.deepEqual(refs.flatMap((r, i) => r.deref() !== undefined ? [i] : []), [])
  await producer.close()
})
