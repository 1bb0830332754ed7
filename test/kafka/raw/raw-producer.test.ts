// The raw producer's ordering, retries and producer-state rules against the in-process fake broker
// of test/helpers/fake-broker.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RawProducer, type ProduceUnit, type RawProducerOptions } from '../../../src/kafka/raw/raw-producer.ts'
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

test('producer state the broker forgot: the partition takes a new producer id and numbers its batches from 0 again', async () => {
  const broker = new FakeBroker()
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
  broker.fault = (request, partition) => (partition === 1 && request === 4 ? 10 : undefined) // MESSAGE_TOO_LARGE
  const { producer, acked, failed } = producerFor(broker, 2)
  await run(producer, 2, 30)
  await settle(producer)
  await producer.close()
  assert.equal(failed.length, 1)
  assert.equal(failed[0][0], 1)
  assert.match(failed[0][2].message, /MESSAGE_TOO_LARGE/)
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
