import assert from 'node:assert/strict'
import { test } from 'node:test'
import { murmur2, partitionForKey } from '../../src/mirror/partitioner.ts'

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

test('murmur2 of a key inside a larger buffer equals murmur2 of the key alone', () => {
  for (const key of ['21', 'foobar', 'a-little-bit-longer-string', 'x', '']) {
    const framed = Buffer.concat([Buffer.from('prefix-bytes'), Buffer.from(key), Buffer.from('-suffix')])
    assert.equal(murmur2(framed, 12, key.length), murmur2(Buffer.from(key)), key)
    assert.equal(partitionForKey(framed, 7, 12, key.length), partitionForKey(Buffer.from(key), 7), key)
  }
})
