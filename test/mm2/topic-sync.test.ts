// Topic sync of an MM2 flow against real brokers: the engine with the flow's topic configs at
// creation and the TopicConfigSync plug-in, driven directly (the mm2 command wires the same).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin, ConfigResourceTypes, ConfigSources, IncrementalAlterConfigOperationTypes as Op } from '@platformatic/kafka'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { createLogger } from '../../src/log.ts'
import { ConfigPropertyFilter, TopicConfigSync, targetTopicConfigs } from '../../src/mm2/topic-sync.ts'
import { createTestTopic, testClusters, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume, type KcatRecord } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'

async function topicConfigs (admin: Admin, topic: string): Promise<Record<string, string>> {
  const [described] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic }] })
  return Object.fromEntries(described.configs.filter(c => c.configSource === ConfigSources.DYNAMIC_TOPIC_CONFIG).map(c => [c.name, c.value ?? '']))
}

async function until<T> (what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = await probe()
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 250))
    last = await probe()
  }
  return last
}

for (const partitioning of ['source', 'key'] as const) {
  test(`MM2 topic sync (--partitioning ${partitioning}): a new topic is created with the source's configs, added partitions and config changes reach the target within the intervals, excluded properties never do`, async () => {
    const { source, target } = await testClusters()
    const prefix = uniqueName('mm2sync')
    // Given a source topic with overrides, two of them on MM2's default exclude list
    const first = await createTestTopic(source, { name: `${prefix}-a`, partitions: 2, configs: { 'retention.ms': '3600000', 'max.message.bytes': '200000', 'min.insync.replicas': '1', 'message.timestamp.type': 'LogAppendTime' } })
    const files = writeTutorialConfigs(source, target)
    const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['include', `${prefix}-.*`], ['partitioning', partitioning],
      ['topic.refresh.interval.ms', '1000'], ['status.interval.ms', '0'], ['offset.commit.interval.ms', '1000']])
    const logger = process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined
    const filter = new ConfigPropertyFilter()
    const mirror = new Mirror({ ...settings, logger, targetTopicConfigs: targetTopicConfigs(filter) })
    const sourceAdmin = new Admin({ clientId: 'test-source', bootstrapBrokers: source.split(',') })
    const targetAdmin = new Admin({ clientId: 'test-target', bootstrapBrokers: target.split(',') })
    // IdentityReplicationPolicy until mm2-config's renaming lands in the engine
    const sync = new TopicConfigSync({ sourceAlias: 'A', enabled: true, intervalMs: 1000, filter, logger })
    try {
      await mirror.start()
      await sync.start({ flow: undefined, mirror, sourceAdmin, targetAdmin, policy: { formatRemoteTopic: (_alias, topic) => topic } })
      // Then the target topic was created with the replicated configs only
      const created = await topicConfigs(targetAdmin, first)
      assert.equal(created['retention.ms'], '3600000')
      assert.equal(created['max.message.bytes'], '200000')
      assert.equal(created['min.insync.replicas'], undefined, 'min.insync.replicas is on MM2\'s default exclude list')
      assert.equal(created['message.timestamp.type'], undefined, 'message.timestamp.type is on MM2\'s default exclude list')

      // When a config changes, one goes back to its default, an excluded one changes, and partitions are added
      await sourceAdmin.incrementalAlterConfigs({
        resources: [{
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: first,
          configs: [
            { name: 'retention.ms', configOperation: Op.SET, value: '7200000' },
            { name: 'segment.ms', configOperation: Op.SET, value: '86400000' },
            { name: 'max.message.bytes', configOperation: Op.DELETE },
            { name: 'unclean.leader.election.enable', configOperation: Op.SET, value: 'true' }
          ]
        }]
      })
      await sourceAdmin.createPartitions({ topics: [{ name: first, count: 4 }] })
      // And a second topic appears on the source
      const second = await createTestTopic(source, { name: `${prefix}-b`, partitions: 3, configs: { 'retention.bytes': '104857600', 'min.insync.replicas': '1' } })

      // Then the target follows within the intervals (1 s each here)
      const synced = await until('the changed configs on the target', async () => await topicConfigs(targetAdmin, first), c => c['retention.ms'] === '7200000' && c['segment.ms'] === '86400000' && c['max.message.bytes'] === undefined)
      assert.equal(synced['unclean.leader.election.enable'], undefined)
      assert.equal(synced['min.insync.replicas'], undefined)
      const expectedPartitions = partitioning === 'source' ? 4 : 2
      await until('the target partition count', async () => (await targetAdmin.metadata({ topics: [first], forceUpdate: true })).topics.get(first)?.partitionsCount, n => n === expectedPartitions)
      const secondConfigs = await until('the new topic on the target', async () => await topicConfigs(targetAdmin, second).catch(() => ({} as Record<string, string>)), c => c['retention.bytes'] === '104857600')
      assert.equal(secondConfigs['min.insync.replicas'], undefined)
      assert.equal((await targetAdmin.metadata({ topics: [second], forceUpdate: true })).topics.get(second)?.partitionsCount, 3)
      assert.ok(sync.changes >= 3, `${sync.changes} config operations sent`)

      // And records of the added partitions and the new topic are copied, once each
      const records = makeRecords(400, { keys: 20 })
      await produceRecords(source, first, records)
      const more = makeRecords(300, { keys: 15 })
      await produceRecords(source, second, more)
      await waitForRecords(target, first, records.length)
      await waitForRecords(target, second, more.length)
      await mirror.stop()
      // The first topic has message.timestamp.type=LogAppendTime on the source: its records carry
      // the source broker's timestamps, which the copy keeps; compare with what kcat reads there.
      const sameAsSource = async (topic: string): Promise<void> => {
        const print = (r: KcatRecord): string => `${r.key?.toString('hex')}|${r.value?.toString('hex')}|${r.timestamp}|${r.headers}`
        assert.deepEqual((await kcatConsume(target, topic)).map(print).sort(), (await kcatConsume(source, topic)).map(print).sort())
      }
      await sameAsSource(first)
      assertMirrored(more, await kcatConsume(target, second))
    } finally {
      await sync.stop()
      await mirror.stop().catch(() => {})
      await sourceAdmin.close()
      await targetAdmin.close()
    }
  })
}
