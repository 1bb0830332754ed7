// The pieces of exactly-once mode that need no broker: names and the position record's format.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseMm2OffsetRecord } from '../../src/mm2/mm2-offsets.ts'
import { positionKey, transactionalId } from '../../src/mirror/transactions.ts'

test('given a source partition, then its transactional id is <prefix>-<topic>-<partition>, so it follows the partition from member to member', () => {
  assert.equal(transactionalId('kafka-mirror-g1', 'orders.eu', 7), 'kafka-mirror-g1-orders.eu-7')
})

test('given a position, then its key is byte for byte what MM2\'s MirrorSourceTask writes through Connect (HashMap order cluster, partition, topic) and mm2-offsets.ts reads it back', () => {
  const key = positionKey({ connector: 'MirrorSourceConnector', sourceAlias: 'A' }, 'orders', 3)
  assert.equal(key.toString(), '["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]')
  assert.deepEqual(parseMm2OffsetRecord(key, Buffer.from('{"offset":41}')), { connector: 'MirrorSourceConnector', cluster: 'A', topic: 'orders', partition: 3, next: 42n })
})
