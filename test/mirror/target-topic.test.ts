// Topic renaming in the engine (MirrorSettings.targetTopic, which MirrorMaker 2's replication
// policies use): the target topic is created and written under its new name, in both partitionings,
// while stats, commits and the written events keep the source topic's name.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { Mirror, type WrittenBatch } from '../../src/mirror/mirror.ts'
import { createTestTopic, testClusters, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'

for (const partitioning of ['key', 'source'] as const) {
  test(`given a renaming mirror (--partitioning ${partitioning}), when it copies a topic, then the records land once in the renamed target topic, created like the source, and never under the source's name`, async t => {
    const { source, target } = await testClusters()
    const topic = await createTestTopic(source, { prefix: 'rename', partitions: 3 })
    const renamed = `A.${topic}`
    t.after(async () => {
      const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: target.split(',') })
      await admin.deleteTopics({ topics: [renamed] }).catch(() => {})
      await admin.close()
    })
    const records = makeRecords(600, { keys: 30 })
    await produceRecords(source, topic, records)
    const files = writeTutorialConfigs(source, target)
    const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['partitioning', partitioning], ['once', 'true'], ['status.interval.ms', '0']])
    const mirror = new Mirror({ ...settings, targetTopic: t => `A.${t}` })
    const written: WrittenBatch[] = []
    mirror.on('written', (batch: WrittenBatch) => written.push(batch))
    await mirror.start()
    const summary = await mirror.finished

    assert.equal(summary.records, records.length)
    assert.deepEqual(summary.topics.map(s => s.topic), [topic])
    assert.deepEqual([...new Set(written.map(b => `${b.topic}->${b.targetTopic}`))], [`${topic}->${renamed}`])
    assert.equal(written.reduce((n, b) => n + b.records, 0), records.length)
    assertMirrored(records, await kcatConsume(target, renamed))
    const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: target.split(',') })
    try {
      const topics = await admin.listTopics({ includeInternals: false })
      assert.ok(!topics.includes(topic), 'nothing is written under the source topic\'s name')
      const metadata = await admin.metadata({ topics: [renamed] })
      assert.equal(metadata.topics.get(renamed)?.partitionsCount, 3)
    } finally {
      await admin.close()
    }
  })
}

test('given a renaming mirror with --partitioning source, when partitions are added to the source topic, then the renamed target topic gets as many and their records', async t => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { prefix: 'rename-grow', partitions: 2 })
  const renamed = `A.${topic}`
  t.after(async () => {
    const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: target.split(',') })
    await admin.deleteTopics({ topics: [renamed] }).catch(() => {})
    await admin.close()
  })
  const files = writeTutorialConfigs(source, target)
  const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['partitioning', 'source'], ['topic.refresh.interval.ms', '500'], ['status.interval.ms', '0']])
  const mirror = new Mirror({ ...settings, targetTopic: t => `A.${t}` })
  t.after(async () => { await mirror.stop().catch(() => {}) })
  await mirror.start()
  // One sequence per key over both halves, for the per-key order check.
  const all = makeRecords(500, { keys: 60 })
  const first = all.slice(0, 200)
  await produceRecords(source, topic, first)
  await waitForRecords(target, renamed, 200)
  const grown = new Promise(resolve => mirror.once('partitions', resolve))
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: source.split(',') })
  try {
    await admin.createPartitions({ topics: [{ name: topic, count: 5 }] })
  } finally {
    await admin.close()
  }
  await grown
  const second = all.slice(200)
  await produceRecords(source, topic, second)
  await waitForRecords(target, renamed, 500)
  await mirror.stop()
  const check = new Admin({ clientId: 'test-helper', bootstrapBrokers: target.split(',') })
  try {
    assert.equal((await check.metadata({ topics: [renamed], forceUpdate: true })).topics.get(renamed)?.partitionsCount, 5)
  } finally {
    await check.close()
  }
  const read = await kcatConsume(target, renamed)
  assertMirrored([...first, ...second], read)
  assert.ok(read.some(r => r.partition >= 2), 'records reached the added partitions')
})
