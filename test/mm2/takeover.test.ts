// Taking over from MirrorMaker 2, reduced for npm test: an mm2-offsets topic written in MM2's own
// format (as test/mm2/takeover.e2e.ts checks real MirrorMaker 2 4.3.1 writes it), then kafka-mirror
// starts each partition at the larger of MM2's position and the group's commit.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin, Producer } from '@platformatic/kafka'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { createLogger } from '../../src/log.ts'
import { Mm2Takeover, mm2OffsetsTopic } from '../../src/mm2/mm2-offsets.ts'
import { createTestTopic, testClusters, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'

const fingerprint = (r: { key: Buffer | null, value: Buffer | null, timestamp: bigint }): string => `${r.key?.toString('hex')}|${r.value?.toString('hex')}|${r.timestamp}`

for (const partitioning of ['source', 'key'] as const) {
  test(`kafka-mirror (--partitioning ${partitioning}) starts each partition where MM2's mm2-offsets topic says, unless the group committed further: exactly the records after those positions are copied`, async () => {
    const { source, target } = await testClusters()
    const alias = uniqueName('mm2src').replace(/-/g, '')
    const topic = await createTestTopic(source, { prefix: 'mm2takeover', partitions: 3 })
    const records = makeRecords(3000, { keys: 30, tombstones: true })
    await produceRecords(source, topic, records)
    const sourceRecords = await kcatConsume(source, topic)
    const ends = [0, 1, 2].map(p => sourceRecords.filter(r => r.partition === p).length)
    assert.ok(ends.every(e => e > 250), `every partition has records: ${ends.join('/')}`)

    // Given MM2's offsets topic on the target, several partitions, as Connect's JsonConverter writes it:
    // p0 last copied 99; p1 copied 49 then 199 (the last value wins; field order differs);
    // p2 written then removed (tombstone); another source alias and the checkpoint connector ignored
    const offsetsTopic = await createTestTopic(target, { name: mm2OffsetsTopic(alias), partitions: 5, configs: { 'cleanup.policy': 'compact' } })
    const key = (p: number, order = 0): string => order === 0
      ? `["MirrorSourceConnector",{"cluster":"${alias}","partition":${p},"topic":"${topic}"}]`
      : `["MirrorSourceConnector",{"topic":"${topic}","partition":${p},"cluster":"${alias}"}]`
    const producer = new Producer({ clientId: 'test-mm2-offsets', bootstrapBrokers: target.split(',') })
    const write = async (k: string, v: string | null, partition: number): Promise<void> => {
      await producer.send({ acks: -1, messages: [{ topic: offsetsTopic, key: Buffer.from(k), value: v === null ? undefined : Buffer.from(v), partition }] })
    }
    try {
      await write(key(0), '{"offset":99}', 0)
      await write(key(1), '{"offset":49}', 3)
      await write(key(1, 1), '{"offset":199}', 3)
      await write(key(2), '{"offset":120}', 1)
      await write(key(2), null, 1)
      await write(`["MirrorSourceConnector",{"cluster":"other","partition":0,"topic":"${topic}"}]`, '{"offset":2999}', 2)
      await write(`["MirrorCheckpointConnector",{"group":"g","partition":1,"topic":"${topic}"}]`, '{"offset":2999}', 4)
    } finally {
      await producer.close()
    }
    // And the mirror's group committed past MM2 on p0 only (150 > 100) and behind it on p1 (20 < 200)
    const files = writeTutorialConfigs(source, target, { consumer: { 'auto.offset.reset': 'earliest' } })
    const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['include', topic], ['partitioning', partitioning], ['status.interval.ms', '0'], ['offset.commit.interval.ms', '1000']])
    const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: source.split(',') })
    await admin.alterConsumerGroupOffsets({ groupId: settings.source.groupId, topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 150n }, { partition: 1, offset: 20n }] }] })
    await admin.close()

    // When kafka-mirror starts with the take-over
    const takeover = new Mm2Takeover(settings.target, { sourceAlias: alias })
    const logger = process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined
    const mirror = new Mirror({ ...settings, logger, externalPositions: takeover.positions })
    const starts = [150, 200, 0]
    const expected = sourceRecords.filter(r => r.offset >= BigInt(starts[r.partition]))
    await mirror.start()
    try {
      await waitForRecords(target, topic, expected.length)
      await new Promise(resolve => setTimeout(resolve, 1000))
      const summary = await mirror.stop()
      // Then exactly the records after each partition's start are on the target, once, bytes kept
      assert.equal(summary.records, expected.length)
      const read = await kcatConsume(target, topic)
      assert.equal(read.length, expected.length)
      assert.deepEqual(read.map(fingerprint).sort(), expected.map(fingerprint).sort())
      for (const r of read) assert.equal(r.headers, expected.find(e => fingerprint(e) === fingerprint(r))!.headers)
      const { positions, records: read2, matched } = await takeover.read()
      assert.deepEqual([...positions].sort(), [[`${topic}:0`, 100n], [`${topic}:1`, 200n]])
      assert.equal(read2, 7)
      assert.equal(matched, 5)
    } finally {
      await mirror.stop().catch(() => {})
    }
  })
}

test('with exactly.once.source.support Connect writes the offsets topic in transactions: positions of aborted ones are not taken', async () => {
  const { target } = await testClusters()
  const alias = uniqueName('mm2eos').replace(/-/g, '')
  const offsetsTopic = await createTestTopic(target, { name: mm2OffsetsTopic(alias), partitions: 2, configs: { 'cleanup.policy': 'compact' } })
  const message = (p: number, offset: number, partition: number): { topic: string, key: Buffer, value: Buffer, partition: number } =>
    ({ topic: offsetsTopic, key: Buffer.from(`["MirrorSourceConnector",{"cluster":"${alias}","partition":${p},"topic":"t"}]`), value: Buffer.from(`{"offset":${offset}}`), partition })
  // Given a committed transaction (t-0 at 99), an aborted one (t-0 at 500, t-1 at 7) and a plain write (t-2 at 3)
  const producer = new Producer({ clientId: 'test-mm2-eos', bootstrapBrokers: target.split(','), idempotent: true, transactionalId: uniqueName('mm2eos') })
  try {
    const committed = await producer.beginTransaction()
    await committed.send({ messages: [message(0, 99, 0)] })
    await committed.commit()
    const aborted = await producer.beginTransaction()
    await aborted.send({ messages: [message(0, 500, 0), message(1, 7, 1)] })
    await aborted.abort()
  } finally {
    await producer.close()
  }
  const plain = new Producer({ clientId: 'test-mm2-plain', bootstrapBrokers: target.split(',') })
  try {
    await plain.send({ acks: -1, messages: [message(2, 3, 1)] })
  } finally {
    await plain.close()
  }
  // When the positions are read, then only the committed and the plain ones count
  const files = writeTutorialConfigs(target, target)
  const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['include', 't']])
  const { positions } = await new Mm2Takeover(settings.target, { sourceAlias: alias }).read()
  assert.deepEqual([...positions].sort(), [['t:0', 100n], ['t:2', 4n]])
})
