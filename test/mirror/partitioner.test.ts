import assert from 'node:assert/strict'
import { test } from 'node:test'
import { murmur2, partitionForKey, TargetPartitioner } from '../../src/mirror/partitioner.ts'

test('murmur2 gives the Java client\'s values (Kafka UtilsTest vectors)', () => {
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107]
  ]
  for (const [text, expected] of vectors) assert.equal(murmur2(Buffer.from(text)), expected, text)
})

test('a key maps to toPositive(murmur2) % partitions', () => {
  assert.equal(partitionForKey(Buffer.from('foobar'), 8), (-790332482 & 0x7fffffff) % 8)
})

test('keyless records spread evenly; source mode keeps the partition', () => {
  const p = new TargetPartitioner('key')
  const counts = [0, 0, 0]
  for (let i = 0; i < 300; i++) counts[p.partition('t', 0, null, 3)]++
  assert.deepEqual(counts, [100, 100, 100])
  assert.equal(new TargetPartitioner('source').partition('t', 5, Buffer.from('k'), 8), 5)
})
