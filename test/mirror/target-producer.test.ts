// The producer the streams share with key partitioning: one queue per target partition for every
// stream, batches merged across streams, and each acknowledgement handed to the worker whose
// units it carried. Against the in-process fake broker.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import type { ProduceUnit, RawProducer } from '../../src/kafka/raw/raw-producer.ts'
import { TargetProducer } from '../../src/mirror/worker.ts'
import { FakeBroker, unitBatch, wireToFakeBroker } from '../helpers/fake-broker.ts'
import { writeTutorialConfigs } from '../helpers/records.ts'

interface Ctx { owner: Owner, id: number }
type Unit = ProduceUnit<Ctx>
interface Owner { name: string, acknowledged: (t: string, p: number, units: Unit[]) => void, failed: (t: string, p: number, unit: Unit) => void, reset: () => void }

interface Seen { owner: Owner, acked: Array<{ id: number, baseOffset: bigint | undefined }>, failed: number[] }

function fakeOwner (name: string): Seen {
  const seen: Seen = { owner: undefined as unknown as Owner, acked: [], failed: [] }
  seen.owner = {
    name,
    acknowledged: (_t: string, _p: number, units: Unit[]) => {
      for (const u of units) {
        assert.equal(u.context.owner, seen.owner, `${name} got only its own units`)
        seen.acked.push({ id: u.context.id, baseOffset: u.baseOffset })
      }
    },
    failed: (_t: string, _p: number, unit: Unit) => { seen.failed.push(unit.context.id) },
    reset: () => {}
  }
  return seen
}

/** The shared producer, typed for the test's units. */
function queueOf (target: TargetProducer): RawProducer<Ctx> {
  return target.producer as unknown as RawProducer<Ctx>
}

function shared (broker: FakeBroker, holdFirstRound = false, partitions = 1): TargetProducer {
  const files = writeTutorialConfigs('127.0.0.1:1', '127.0.0.1:1')
  const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', 'unused']])
  const target = new TargetProducer(settings.target, 'fake', { maxPendingBytes: 1 << 20, maxRequestBytes: 1 << 20 }, {}, {}, holdFirstRound)
  wireToFakeBroker(target.producer as RawProducer<unknown>, broker, partitions)
  return target
}

/** A started shared producer over the fake broker, used by two streams a and b. */
async function twoStreams (broker: FakeBroker, holdFirstRound = false, partitions = 1): Promise<{ target: TargetProducer, a: Seen, b: Seen }> {
  const target = shared(broker, holdFirstRound, partitions)
  const a = fakeOwner('a')
  const b = fakeOwner('b')
  target.use(a)
  target.use(b)
  await target.start()
  await target.producer.prepareTopics(['t'])
  return { target, a, b }
}

test('two streams\' batches for one partition go out merged; each stream is told of its own units, in order, with their target offsets', async () => {
  const broker = new FakeBroker()
  const { target, a, b } = await twoStreams(broker)
  // Given one unit in flight, and units of both streams enqueued behind it, interleaved
  queueOf(target).enqueue('t', 0, { batch: unitBatch(0), context: { owner: a.owner, id: 0 } })
  await new Promise(resolve => setImmediate(resolve))
  for (let i = 1; i < 12; i++) queueOf(target).enqueue('t', 0, { batch: unitBatch(i), context: { owner: (i % 3 === 0 ? a : b).owner, id: i } })
  const deadline = Date.now() + 5000
  while (target.producer.pending > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  await target.release(a)
  await target.release(b)
  // Then the broker appended one batch for the waiting units, every unit once, in order
  assert.deepEqual(broker.requests.map(r => r.map(x => x.ids)), [[[0]], [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]])
  assert.deepEqual(broker.log('t', 0).ids, Array.from({ length: 12 }, (_, i) => i))
  // And each stream heard of its own units only, in order, each with the offset of its first record (3 records a unit)
  assert.deepEqual(a.acked, [0, 3, 6, 9].map(id => ({ id, baseOffset: BigInt(3 * id) })))
  assert.deepEqual(b.acked, [1, 2, 4, 5, 7, 8, 10, 11].map(id => ({ id, baseOffset: BigInt(3 * id) })))
})

test('a merged batch of two streams refused by the target: the stream of its first unit is told, nothing of it acknowledged', async () => {
  const broker = new FakeBroker()
  broker.fault = request => (request === 1 ? 87 : undefined) // INVALID_RECORD
  const target = shared(broker)
  const a = fakeOwner('a')
  const b = fakeOwner('b')
  target.use(a)
  await target.start()
  await target.producer.prepareTopics(['t'])
  queueOf(target).enqueue('t', 0, { batch: unitBatch(0), context: { owner: a.owner, id: 0 } })
  await new Promise(resolve => setImmediate(resolve))
  for (let i = 1; i < 5; i++) queueOf(target).enqueue('t', 0, { batch: unitBatch(i), context: { owner: (i % 2 === 0 ? a : b).owner, id: i } })
  const deadline = Date.now() + 5000
  while (b.failed.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  await target.release(a)
  assert.deepEqual(b.failed, [1])
  assert.deepEqual(a.failed, [])
  assert.deepEqual(a.acked.map(x => x.id), [0])
  assert.deepEqual(b.acked, [])
  // The refused partition no longer counts as pending for anyone: the streams can drain and stop
  assert.equal(target.producer.pendingWhere(() => true), 0)
})

test('holding the first round: nothing goes before both streams\' first answers are planned, then each partition gets one batch of both', async () => {
  const broker = new FakeBroker()
  const { target, a, b } = await twoStreams(broker, true, 2)
  // Given stream a's first answer planned into two partitions
  queueOf(target).enqueue('t', 0, { batch: unitBatch(0), context: { owner: a.owner, id: 0 } })
  queueOf(target).enqueue('t', 1, { batch: unitBatch(1), context: { owner: a.owner, id: 1 } })
  target.answered(a)
  await new Promise(resolve => setTimeout(resolve, 50))
  // Then nothing was sent while b's first answer is still out
  assert.equal(broker.requests.length, 0)
  // When b's first answer is planned into the same partitions
  queueOf(target).enqueue('t', 0, { batch: unitBatch(2), context: { owner: b.owner, id: 2 } })
  queueOf(target).enqueue('t', 1, { batch: unitBatch(3), context: { owner: b.owner, id: 3 } })
  target.answered(b)
  const deadline = Date.now() + 5000
  while (target.producer.pending > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  // Then one request carried one batch per partition, each holding both streams' units in order
  assert.deepEqual(broker.requests.map(r => r.map(x => x.ids)), [[[0, 2], [1, 3]]])
  assert.deepEqual(a.acked.map(x => x.id), [0, 1])
  assert.deepEqual(b.acked.map(x => x.id), [2, 3])
  // And later answers are not held
  queueOf(target).enqueue('t', 0, { batch: unitBatch(4), context: { owner: a.owner, id: 4 } })
  while (target.producer.pending > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  assert.deepEqual(a.acked.map(x => x.id), [0, 1, 4])
  await target.release(a)
  await target.release(b)
})

test('holding the first round ends 1 s after the first answer when another stream has none', async () => {
  const broker = new FakeBroker()
  const target = shared(broker, true)
  const a = fakeOwner('a')
  target.use(a)
  target.use('idle stream')
  await target.start()
  await target.producer.prepareTopics(['t'])
  const started = Date.now()
  queueOf(target).enqueue('t', 0, { batch: unitBatch(0), context: { owner: a.owner, id: 0 } })
  target.answered(a)
  const deadline = Date.now() + 5000
  while (target.producer.pending > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  assert.deepEqual(a.acked.map(x => x.id), [0])
  assert.ok(Date.now() - started >= 900, 'sent before the hold ended')
  await target.release(a)
  await target.release('idle stream')
})
