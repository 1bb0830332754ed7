import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mm2OffsetsTopic, parseMm2OffsetRecord } from '../../src/mm2/mm2-offsets.ts'

const b = (s: string): Buffer => Buffer.from(s, 'utf8')

test('a MirrorSourceTask position is read whatever the field order of its partition map; the next offset is the stored one + 1', () => {
  // Given keys as Connect's JsonConverter writes a Java HashMap (any field order)
  for (const key of ['["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]', '["MirrorSourceConnector",{"topic":"orders","partition":3,"cluster":"A"}]']) {
    // Then each is the same position, one past MM2's last copied offset
    assert.deepEqual(parseMm2OffsetRecord(b(key), b('{"offset":41}')), { connector: 'MirrorSourceConnector', cluster: 'A', topic: 'orders', partition: 3, next: 42n })
  }
})

test('a tombstone or a negative offset removes the position; offsets past 2^53 keep every digit', () => {
  const key = b('["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"t"}]')
  assert.equal(parseMm2OffsetRecord(key, null)?.next, undefined)
  assert.equal(parseMm2OffsetRecord(key, b('{"offset":-1}'))?.next, undefined)
  assert.equal(parseMm2OffsetRecord(key, b('{"offset":9007199254740993}'))?.next, 9007199254740994n)
})

test('records of the other connectors and other shapes are not positions', () => {
  // MirrorCheckpointConnector's and MirrorHeartbeatConnector's partitions, garbage, a null key
  assert.equal(parseMm2OffsetRecord(b('["MirrorCheckpointConnector",{"group":"g","partition":0,"topic":"t"}]'), b('{"offset":0}')), undefined)
  assert.equal(parseMm2OffsetRecord(b('["MirrorHeartbeatConnector",{"sourceClusterAlias":"A","targetClusterAlias":"B"}]'), b('{"offset":0}')), undefined)
  assert.equal(parseMm2OffsetRecord(b('not json'), b('{"offset":0}')), undefined)
  assert.equal(parseMm2OffsetRecord(null, b('{"offset":0}')), undefined)
  assert.equal(parseMm2OffsetRecord(b('["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"t"}]'), b('{"position":0}')), undefined)
  // Strimzi names the connector after the flow: its positions count too (the caller filters by name)
  assert.equal(parseMm2OffsetRecord(b('["A->B.MirrorSourceConnector",{"cluster":"A","partition":1,"topic":"t"}]'), b('{"offset":9}'))?.next, 10n)
  assert.equal(mm2OffsetsTopic('A'), 'mm2-offsets.A.internal')
})
