// Through the mm2 runner (mm2-config's src/mm2/runner.ts and config.ts) with the offset plug-ins
// registered: remote topic names, checkpoints RemoteClusterUtils reads, group offsets synced,
// heartbeats mirrored into hops.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { Admin, Producer } from '@platformatic/kafka'
import { createLogger } from '../../src/log.ts'
import { mm2ConfigFromProperties } from '../../src/mm2/config.ts'
import { mm2OffsetsRegistration, type Mm2OffsetsPlugin } from '../../src/mm2/offset-plugins.ts'
import { Mm2Runner } from '../../src/mm2/runner.ts'
import { createTestTopic, testClusters, waitForRecords } from '../helpers/clusters.ts'
import { mm2CheckBatch } from './java.ts'

const logger = process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined

test('mm2 runner A->B (B->A not enabled) with the offset plug-ins: checkpoints on A.topic translated by RemoteClusterUtils, idle group synced, B->A\'s heartbeats in A, replicationHops of A on B is 1', async (t) => {
  const started = Date.now()
  const step = (what: string): void => { t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`) }
  const { source, target } = await testClusters()
  const run = randomBytes(3).toString('hex')
  const [A, B] = [`a${run}`, `b${run}`]
  const topic = await createTestTopic(source, { prefix: 'mm2-runner', partitions: 2, replicas: 2 })
  const producer = new Producer({ clientId: 'mm2-test', bootstrapBrokers: source.split(','), acks: -1 })
  await producer.send({ messages: Array.from({ length: 4000 }, (_, i) => ({ topic, partition: i % 2, value: Buffer.from(`v-${i % 2}-${Math.floor(i / 2)}`) })) })
  await producer.close()
  const admin = new Admin({ clientId: 'mm2-test', bootstrapBrokers: source.split(',') })
  const group = `app-${run}`
  await admin.alterConsumerGroupOffsets({ groupId: group, topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 1234n }, { partition: 1, offset: 777n }] }] })
  await admin.close()
  step('source ready')

  const props: Array<[string, string]> = [
    ['clusters', `${A}, ${B}`], [`${A}.bootstrap.servers`, source], [`${B}.bootstrap.servers`, target],
    [`${A}->${B}.enabled`, 'true'], [`${B}->${A}.enabled`, 'false'], ['topics', topic],
    ['replication.factor', '2'], ['offset-syncs.topic.replication.factor', '2'], ['checkpoints.topic.replication.factor', '2'], ['heartbeats.topic.replication.factor', '2'],
    ['emit.checkpoints.interval.seconds', '1'], ['sync.group.offsets.enabled', 'true'], ['sync.group.offsets.interval.seconds', '1'], ['refresh.topics.interval.seconds', '2'], ['groups', `app-${run}`]
  ]
  const runner = new Mm2Runner(mm2ConfigFromProperties(props, 'mm2.properties'), { logger, plugins: [mm2OffsetsRegistration] })
  await runner.start()
  try {
    const remote = `${A}.${topic}`
    await waitForRecords(target, remote, 4000)
    step('copied')
    const ab = runner.flows.find(f => f.flow.source === A)!.plugins[0].plugin as Mm2OffsetsPlugin
    const deadline = Date.now() + 30_000
    while (ab.checkpoints.checkpoints(group).length < 2 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 500))
    assert.deepEqual(ab.checkpoints.checkpoints(group).map(c => `${c.topic} ${c.partition} ${c.downstreamOffset}`).sort(), [`${remote} 0 1234`, `${remote} 1 777`])
    step('checkpoints')
    // And Kafka's classes: translateOffsets, a consumer at the translated offset, the hops from A
    // on B (A->B copies A's heartbeats as A.heartbeats), and B->A's heartbeats in A's heartbeats
    // topic although that flow is not enabled (when the runner runs plug-ins of such flows)
    const heartbeatsOfDisabledFlow = runner.disabledFlows !== undefined
    const answers = await mm2CheckBatch([['translate', target, A, group], ['read', target, remote, '0', '1234', '3'], ['hops', target, A], ['hops', source, B], ['decode', source, 'heartbeats', 'heartbeat']])
    step('Kafka classes ran')
    assert.deepEqual(answers[0], [`${remote} 0 1234`, `${remote} 1 777`])
    assert.deepEqual(answers[1], ['1234 v-0-1234', '1235 v-0-1235', '1236 v-0-1236'])
    assert.deepEqual([answers[2], answers[3]], [['1'], ['-1']])
    if (heartbeatsOfDisabledFlow) assert.ok(answers[4].some(l => l.includes(`sourceClusterAlias=${B}, targetClusterAlias=${A}`)), `${answers[4].length} heartbeats in ${A}`)
    const targetAdmin = new Admin({ clientId: 'mm2-test', bootstrapBrokers: target.split(',') })
    try {
      const [g] = await targetAdmin.listConsumerGroupOffsets({ groups: [group] })
      assert.deepEqual(g.topics.find(x => x.name === remote)?.partitions.map(p => p.committedOffset).sort(), [1234n, 777n].sort())
    } finally {
      await targetAdmin.close()
    }
  } finally {
    await runner.stop().catch(() => {})
  }
})
