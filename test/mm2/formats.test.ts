// MirrorMaker 2's internal records, byte for byte: the expected bytes are what MM2 4.3.1's own
// classes write (test/tools/mm2/Mm2Check.java `golden`, run once and pasted here).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  Mm2FormatError, decodeCheckpoint, decodeHeartbeat, decodeOffsetSync, encodeCheckpointKey, encodeCheckpointValue,
  encodeHeartbeatKey, encodeHeartbeatValue, encodeOffsetSyncKey, encodeOffsetSyncValue
} from '../../src/mm2/formats.ts'

const hex = (b: Buffer): string => b.toString('hex')

test('OffsetSync: key topic+partition, value upstreamOffset+offset, no version header, as MM2 writes them', () => {
  // Given MM2's OffsetSync(orders-3, upstream 1234567890123, downstream 42)
  const sync = { topic: 'orders', partition: 3, upstreamOffset: 1234567890123n, downstreamOffset: 42n }
  // Then our key and value are MM2's bytes, and they decode back
  assert.equal(hex(encodeOffsetSyncKey(sync)), '00066f726465727300000003')
  assert.equal(hex(encodeOffsetSyncValue(sync)), '0000011f71fb04cb000000000000002a')
  assert.deepEqual(decodeOffsetSync(encodeOffsetSyncKey(sync), encodeOffsetSyncValue(sync)), sync)
})

test('Checkpoint: key group+topic+partition, value version 0 + upstreamOffset + offset + metadata (UTF-8), as MM2 writes them', () => {
  const checkpoint = { group: 'billing', topic: 'A.orders', partition: 7, upstreamOffset: 1000n, downstreamOffset: 990n, metadata: 'méta' }
  assert.equal(hex(encodeCheckpointKey(checkpoint)), '000762696c6c696e670008412e6f726465727300000007')
  assert.equal(hex(encodeCheckpointValue(checkpoint)), '000000000000000003e800000000000003de00056dc3a97461')
  assert.deepEqual(decodeCheckpoint(encodeCheckpointKey(checkpoint), encodeCheckpointValue(checkpoint)), checkpoint)
})

test('Heartbeat: key sourceClusterAlias+targetClusterAlias, value version 0 + timestamp, as MM2 writes them', () => {
  const heartbeat = { sourceClusterAlias: 'A', targetClusterAlias: 'B', timestamp: 1765000000000n }
  assert.equal(hex(encodeHeartbeatKey(heartbeat)), '000141000142')
  assert.equal(hex(encodeHeartbeatValue(heartbeat)), '00000000019af232b200')
  assert.deepEqual(decodeHeartbeat(encodeHeartbeatKey(heartbeat), encodeHeartbeatValue(heartbeat)), heartbeat)
})

test('records that are not MM2\'s are refused with a reason, as MM2 skips them', () => {
  // A cut value, an unknown version, a null string, a null key: each is an Mm2FormatError naming the field
  assert.throws(() => decodeOffsetSync(Buffer.from('00066f726465727300000003', 'hex'), Buffer.from('0000011f71fb04cb', 'hex')), (e: Error) => e instanceof Mm2FormatError && /offset/.test(e.message))
  assert.throws(() => decodeHeartbeat(Buffer.from('000141000142', 'hex'), Buffer.from('00010000019af232b200', 'hex')), (e: Error) => e instanceof Mm2FormatError && /version 1/.test(e.message))
  assert.throws(() => decodeCheckpoint(Buffer.from('ffff', 'hex'), encodeCheckpointValue({ upstreamOffset: 1n, downstreamOffset: 1n, metadata: '' })), (e: Error) => e instanceof Mm2FormatError && /group is null/.test(e.message))
  assert.throws(() => decodeOffsetSync(null, Buffer.alloc(16)), Mm2FormatError)
  // And a string MM2 could not hold is refused when written
  assert.throws(() => encodeCheckpointValue({ upstreamOffset: 1n, downstreamOffset: 1n, metadata: 'x'.repeat(40000) }), /metadata is 40000 bytes/)
})
