import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { createLogger } from '../../src/log.ts'
import { createTestTopic, testClusters, topicRecordCount, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'
import { assertGroupShared } from '../helpers/mirrors.ts'

function mirrorFor (source: string, target: string, flags: Array<[string, string]>, extra: Parameters<typeof writeTutorialConfigs>[2] = {}): Mirror {
  const files = writeTutorialConfigs(source, target, extra)
  const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['status.interval.ms', '0'], ['offset.commit.interval.ms', '1000'], ...flags])
  // KAFKA_MIRROR_TEST_LOG=debug shows what the mirror does while a test runs.
  return new Mirror({ ...settings, logger: process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined })
}

test('the tutorial flow: 8 source partitions into 3 target partitions, 4 streams, every record once, per-key order, bytes kept', async () => {
  const { source, target } = await testClusters()
  // Given testtopic with 8 partitions and replication factor 2 on the source, 3 partitions on the target
  const topic = await createTestTopic(source, { prefix: 'testtopic', partitions: 8, replicas: 2 })
  await createTestTopic(target, { partitions: 3, replicas: 2 }).then(() => {})
  const targetTopicAdmin = await import('@platformatic/kafka')
  const admin = new targetTopicAdmin.Admin({ clientId: 't', bootstrapBrokers: target.split(',') })
  await admin.createTopics({ topics: [topic], partitions: 3, replicas: 2 })
  await admin.close()
  // And a mirror with 4 streams that is already running
  const mirror = mirrorFor(source, target, [['whitelist', topic], ['num.streams', '4']])
  await mirror.start()
  try {
    // When keyed records with headers, binary values and tombstones are written
    const records = makeRecords(5000, { keys: 40, valueBytes: 100, tombstones: true })
    await produceRecords(source, topic, records)
    // Then the target holds each exactly once, in per-key order, byte-equal
    await waitForRecords(target, topic, records.length)
    const summary = await mirror.stop()
    assert.equal(summary.records, records.length)
    const read = await kcatConsume(target, topic)
    assert.equal(read.length, records.length)
    assertMirrored(records, read)
    // And every key sits in one target partition, the one Kafka's default partitioner picks
    assert.deepEqual(new Set(read.map(r => r.partition)), new Set([0, 1, 2]))
  } finally {
    await mirror.stop().catch(() => {})
  }
})

test('a missing target topic is created like the source: partitions, replication factor capped by brokers, configs', async () => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 5, replicas: 2, configs: { 'retention.ms': '7200000', 'cleanup.policy': 'compact', 'segment.ms': '100000000' } })
  const records = makeRecords(300, { keys: 10 })
  await produceRecords(source, topic, records)
  const mirror = mirrorFor(source, target, [['include', topic], ['once', 'true']])
  await mirror.start()
  const summary = await mirror.finished
  assert.equal(summary.records, 300)
  const { Admin } = await import('@platformatic/kafka')
  const { describeTopics } = await import('../../src/admin/topics.ts')
  const admin = new Admin({ clientId: 't', bootstrapBrokers: target.split(',') })
  const [described] = await describeTopics(admin, [topic])
  await admin.close()
  assert.equal(described.partitions.length, 5)
  assert.equal(described.replicationFactor, 2)
  assert.equal(described.configs['retention.ms'], '7200000')
  assert.equal(described.configs['cleanup.policy'], 'compact')
  assertMirrored(records, await kcatConsume(target, topic))
})

test('--once copies up to the end offsets taken at start and no further', async () => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 4, replicas: 1 })
  const before = makeRecords(2000, { keys: 20 })
  await produceRecords(source, topic, before)
  const mirror = mirrorFor(source, target, [['whitelist', topic], ['once', 'true'], ['partitioning', 'source']])
  await mirror.start()
  // Records written after the start are not part of this migration
  await produceRecords(source, topic, makeRecords(100, { keys: 5 }).map(r => ({ ...r, value: Buffer.from(`late-${r.value?.toString('hex')}`) })))
  const summary = await mirror.finished
  assert.equal(summary.records, 2000)
  assert.equal(summary.topics[0].copied, 2000n)
  const read = await kcatConsume(target, topic)
  assertMirrored(before, read)
  // --partitioning source keeps each record in its source partition number
  assert.equal(await topicRecordCount(target, topic), 2000n)
})

test('a topic created while the mirror runs is mirrored too', async () => {
  const { source, target } = await testClusters()
  const prefix = uniqueName('late')
  const mirror = mirrorFor(source, target, [['whitelist', `${prefix}.*`], ['topic.refresh.interval.ms', '500']])
  await mirror.start()
  try {
    assert.deepEqual(mirror.topics, [])
    const topic = await createTestTopic(source, { prefix, partitions: 2 })
    const records = makeRecords(500, { keys: 7 })
    await produceRecords(source, topic, records)
    await waitForRecords(target, topic, 500, 60_000)
    await mirror.stop()
    assertMirrored(records, await kcatConsume(target, topic))
  } finally {
    await mirror.stop().catch(() => {})
  }
})

test('a stop and a restart with the same group copy nothing twice and lose nothing', async () => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 3 })
  const files = writeTutorialConfigs(source, target)
  const flags: Array<[string, string]> = [['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['status.interval.ms', '0']]
  const all = makeRecords(2000, { keys: 10 })
  const first = all.slice(0, 1000)
  await produceRecords(source, topic, first)
  const one = new Mirror(loadMirrorConfig(flags).settings)
  await one.start()
  await waitForRecords(target, topic, 1000)
  await one.stop()
  // Records written while no mirror runs are picked up from the committed offsets
  const second = all.slice(1000)
  await produceRecords(source, topic, second)
  const two = new Mirror(loadMirrorConfig([...flags, ['once', 'true']]).settings)
  await two.start()
  const summary = await two.finished
  assert.equal(summary.records, 1000)
  assertMirrored([...first, ...second], await kcatConsume(target, topic))
})

test('two mirror processes in one group share the partitions through the group protocol', async () => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 6 })
  const files = writeTutorialConfigs(source, target)
  const flags: Array<[string, string]> = [['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['status.interval.ms', '0'], ['offset.commit.interval.ms', '1000']]
  // Given two mirrors with the same group.id, both running
  // When records are written, then both take a share and together copy each record once
  await assertGroupShared(new Mirror(loadMirrorConfig(flags).settings), new Mirror(loadMirrorConfig(flags).settings), target, topic, async records => { await produceRecords(source, topic, records) })
})

for (const partitioning of ['key', 'source'] as const) {
  test(`--partitioning ${partitioning}: partitions added to a mirrored source topic while the mirror runs are found and copied from their start`, async () => {
    const { source, target } = await testClusters()
    // Given a topic of 4 partitions mirrored by a running mirror that starts new partitions at "latest"
    const topic = await createTestTopic(source, { prefix: 'grow', partitions: 4 })
    const all = makeRecords(3000, { keys: 60, valueBytes: 50 })
    const mirror = mirrorFor(source, target, [['whitelist', topic], ['partitioning', partitioning], ['topic.refresh.interval.ms', '500']], { consumer: { 'auto.offset.reset': 'latest' } })
    await mirror.start()
    try {
      await produceRecords(source, topic, all.slice(0, 1000))
      await waitForRecords(target, topic, 1000)
      // When the source topic grows to 8 partitions and records go to all of them at once
      const { Admin } = await import('@platformatic/kafka')
      const admin = new Admin({ clientId: 't', bootstrapBrokers: source.split(',') })
      try {
        await admin.createPartitions({ topics: [{ name: topic, count: 8 }] })
      } finally {
        await admin.close()
      }
      await produceRecords(source, topic, all.slice(1000))
      // Then every record reaches the target once, those of partitions 4-7 included
      await waitForRecords(target, topic, all.length, 60_000)
      await mirror.stop()
      const read = await kcatConsume(target, topic)
      assertMirrored(all, read)
      const sourceRead = await kcatConsume(source, topic)
      assert.ok(sourceRead.some(r => r.partition >= 4), 'the source used the new partitions')
      // And the target topic has the source's 8 partitions with --partitioning source, and keeps its 4 with key partitioning
      const { describeTopics } = await import('../../src/admin/topics.ts')
      const targetAdmin = new Admin({ clientId: 't', bootstrapBrokers: target.split(',') })
      const [described] = await describeTopics(targetAdmin, [topic], false)
      await targetAdmin.close()
      assert.equal(described.partitions.length, partitioning === 'source' ? 8 : 4)
      if (partitioning === 'source') {
        const where = new Map(sourceRead.map(r => [`${r.key?.toString()}|${r.value?.toString('hex')}`, r.partition]))
        for (const r of read) assert.equal(r.partition, where.get(`${r.key?.toString()}|${r.value?.toString('hex')}`))
      }
    } finally {
      await mirror.stop().catch(() => {})
    }
  })
}

for (const partitioning of ['key', 'source'] as const) {
  test(`--partitioning ${partitioning} with --abort.on.send.failure false: a batch the target refuses is counted and skipped, and the copy goes on`, async () => {
    const { source, target } = await testClusters()
    // Given a source record too large for the target topic (max.message.bytes 100000), between small ones
    const topic = await createTestTopic(source, { partitions: 1 })
    await createTestTopic(target, { name: topic, partitions: 1, configs: { 'max.message.bytes': '100000' } })
    const all = makeRecords(1001, { keys: 5, valueBytes: 50 })
    all[500] = { ...all[500], value: Buffer.concat([all[500].value!, Buffer.alloc(200_000, 120)]) }
    const [before, big, after] = [all.slice(0, 500), all.slice(500, 501), all.slice(501)]
    await produceRecords(source, topic, before)
    await produceRecords(source, topic, big)
    await produceRecords(source, topic, after)
    // When the mirror copies it once, told not to stop on a refused send
    const mirror = mirrorFor(source, target, [['whitelist', topic], ['partitioning', partitioning], ['once', 'true'], ['abort.on.send.failure', 'false']])
    await mirror.start()
    const summary = await mirror.finished
    // Then it finished, every record is on the target or counted as skipped, and the big one is not on the target
    const read = await kcatConsume(target, topic)
    assert.ok(summary.failedRecords >= 1, `skipped ${summary.failedRecords}`)
    assert.equal(read.length + summary.failedRecords, 1001)
    assert.ok(read.every(r => (r.value?.length ?? 0) < 100_000))
    // With --partitioning source the big record's batch held it alone: everything else arrived
    if (partitioning === 'source') {
      assert.equal(summary.failedRecords, 1)
      assertMirrored([...before, ...after], read)
    }
  })
}
