// Offset syncs, checkpoints, group offset sync and heartbeats in MM2's formats, checked by Kafka's
// own classes (test/tools/mm2/Mm2Check.java: RemoteClusterUtils.translateOffsets, a Java consumer;
// kafka-console-consumer with MM2's formatters) against a Mirror with partitioning 'source'.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { Admin, Consumer, Producer } from '@platformatic/kafka'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { createLogger } from '../../src/log.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { CheckpointsPlugin } from '../../src/mm2/checkpoints.ts'
import { HeartbeatsPlugin } from '../../src/mm2/heartbeats.ts'
import { OffsetSyncsPlugin } from '../../src/mm2/offset-syncs.ts'
import type { FlowContext, ReplicationPolicyLike } from '../../src/mm2/plugin-api.ts'
import { flowOf } from '../../src/mm2/settings.ts'
import { createTestTopic, testClusters, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { writeTutorialConfigs } from '../helpers/records.ts'
import { consoleConsume, mm2CheckBatch } from './java.ts'

const logger = process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined

// Until the engine renames topics (mm2-config), the target topic keeps the source's name: MM2's
// IdentityReplicationPolicy, whose internal topic names are DefaultReplicationPolicy's.
const identity: ReplicationPolicyLike = {
  formatRemoteTopic: (_alias, topic) => topic,
  topicSource: () => undefined,
  originalTopic: topic => topic,
  heartbeatsTopic: () => 'heartbeats',
  offsetSyncsTopic: alias => `mm2-offset-syncs.${alias}.internal`,
  checkpointsTopic: alias => `${alias}.checkpoints.internal`
}

const JUNK = [13, 29] // records already on the target partitions: target offsets differ from the source's
const PLAIN = 15_000 // partition 0: plain records
const TRANSACTIONS = 20 // partition 1: transactions of 10 records, each followed by its commit marker

async function produceSource (bootstrap: string, topic: string): Promise<void> {
  const producer = new Producer({ clientId: 'mm2-test', bootstrapBrokers: bootstrap.split(','), idempotent: true, acks: -1 })
  const tx = new Producer({ clientId: 'mm2-test-tx', bootstrapBrokers: bootstrap.split(','), idempotent: true, acks: -1, transactionalId: uniqueName('tx') })
  try {
    await Promise.all([
      (async () => {
        for (let i = 0; i < PLAIN; i += 5000) {
          await producer.send({ messages: Array.from({ length: 5000 }, (_, j) => ({ topic, partition: 0, key: Buffer.from(`k${(i + j) % 50}`), value: Buffer.from(`p0-${i + j}`) })) })
        }
      })(),
      (async () => {
        for (let t = 0; t < TRANSACTIONS; t++) {
          const transaction = await tx.beginTransaction()
          await transaction.send({ messages: Array.from({ length: 10 }, (_, j) => ({ topic, partition: 1, key: Buffer.from(`k${j}`), value: Buffer.from(`p1-${t * 10 + j}`) })) })
          await transaction.commit()
        }
      })()
    ])
  } finally {
    await producer.close()
    await tx.close()
  }
}

async function fillTarget (bootstrap: string, topic: string): Promise<void> {
  const producer = new Producer({ clientId: 'mm2-test', bootstrapBrokers: bootstrap.split(','), acks: -1 })
  try {
    await producer.send({ messages: JUNK.flatMap((n, partition) => Array.from({ length: n }, (_, i) => ({ topic, partition, value: Buffer.from(`junk-${partition}-${i}`) }))) })
  } finally {
    await producer.close()
  }
}

/** Partition 1's source offset of its data record number i (10 records, then a marker). */
const p1Offset = (i: number): bigint => BigInt(Math.floor(i / 10) * 11 + (i % 10))

/** What a group committed at `committed` reads next: its value, and that record's target offset. */
function nextRecord (partition: number, committed: bigint): { value: string, target: bigint } {
  if (partition === 0) return { value: `p0-${committed}`, target: BigInt(JUNK[0]) + committed }
  const c = Number(committed)
  const before = Math.floor(c / 11) * 10 + Math.min(c % 11, 10) // data records below c
  return { value: `p1-${before}`, target: BigInt(JUNK[1] + before) }
}

async function commitGroup (bootstrap: string, groupId: string, topic: string, offsets: bigint[]): Promise<void> {
  const admin = new Admin({ clientId: 'mm2-test', bootstrapBrokers: bootstrap.split(',') })
  try {
    await admin.alterConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionOffsets: offsets.map((offset, partition) => ({ partition, offset })) }] })
  } finally {
    await admin.close()
  }
}

async function targetGroupOffsets (admin: Admin, groupId: string, topic: string): Promise<bigint[]> {
  const [g] = await admin.listConsumerGroupOffsets({ groups: [groupId] })
  const t = g?.topics.find(x => x.name === topic)
  return [0, 1].map(p => t?.partitions.find(x => x.partitionIndex === p)?.committedOffset ?? -1n)
}

test('MM2 checkpoints from kafka-mirror: RemoteClusterUtils translates record-exactly, a Java consumer at the translated offset reads exactly the next record, even 14,900 records behind; group offsets synced to idle groups only, never backwards; heartbeats and the formatters read ours', async (t) => {
  const started = Date.now()
  const step = (what: string): void => { t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`) }
  const { source, target } = await testClusters()
  const run = randomBytes(3).toString('hex')
  const [A, B] = [`src${run}`, `tgt${run}`] // aliases of this run only: internal topic names never collide
  const topic = await createTestTopic(source, { prefix: 'mm2-offsets', partitions: 2, replicas: 2 })
  await createTestTopic(target, { name: topic, partitions: 2, replicas: 2 })
  await fillTarget(target, topic)
  await produceSource(source, topic)
  step('source written')

  const files = writeTutorialConfigs(source, target)
  const mirror = new Mirror({ ...loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['partitioning', 'source'], ['status.interval.ms', '0'], ['offset.commit.interval.ms', '1000']]).settings, logger })
  const sourceAdmin = new Admin({ clientId: 'mm2-test-admin', bootstrapBrokers: source.split(',') })
  const targetAdmin = new Admin({ clientId: 'mm2-test-admin', bootstrapBrokers: target.split(',') })
  const flow = flowOf(A, B, { 'offset-syncs.topic.replication.factor': '2', 'checkpoints.topic.replication.factor': '2', 'heartbeats.topic.replication.factor': '2', 'sync.group.offsets.enabled': 'true', 'emit.checkpoints.interval.seconds': '3600', 'sync.group.offsets.interval.seconds': '3600', 'groups.exclude': 'excluded-.*' })
  const ctx: FlowContext = { flow, mirror, sourceAdmin, targetAdmin, policy: identity }
  const offsetSyncs = new OffsetSyncsPlugin({ logger })
  const checkpoints = new CheckpointsPlugin(offsetSyncs, { logger })
  const heartbeats = new HeartbeatsPlugin({ logger })
  let active: Consumer | undefined
  try {
    // Given the plug-ins started with the flow, and the mirror copying the topic into the same partitions
    await offsetSyncs.start(ctx)
    await checkpoints.start(ctx)
    await heartbeats.start(ctx)
    await mirror.start()
    const copied = JUNK[0] + JUNK[1] + PLAIN + TRANSACTIONS * 10
    assert.equal(await waitForRecords(target, topic, copied, 120_000), BigInt(copied))
    step('copied')

    // And source groups that read part of the topic: one close behind, one 14,900 records behind
    // on partition 0 (on partition 1 at a commit marker), one whose target group is in use, one excluded
    const reader = `reader-${run}`
    const lagging = `lagging-${run}`
    const busy = `busy-${run}`
    const committed = new Map([[reader, [12_345n, p1Offset(145)]], [lagging, [100n, 10n]], [busy, [500n, 50n]], [`excluded-${run}`, [1n, 1n]]])
    for (const [group, offsets] of committed) await commitGroup(source, group, topic, offsets)

    // When the checkpoints are emitted
    const written = await checkpoints.emitCheckpoints()
    step('checkpoints emitted')
    const ours = written.filter(c => committed.has(c.group))
    // Then each selected group has one checkpoint per partition, each record-exact
    assert.equal(ours.length, 6, ours.map(c => `${c.group}/${c.partition}`).join(' '))
    assert.equal(ours.filter(c => c.group.startsWith('excluded-')).length, 0)
    for (const c of ours) assert.equal(c.downstreamOffset, nextRecord(c.partition, committed.get(c.group)![c.partition]).target, `${c.group} partition ${c.partition} at ${c.upstreamOffset}`)
    assert.equal(checkpoints.counts.inexactCheckpoints, 0)

    // And Kafka's own classes, in one JVM: RemoteClusterUtils.translateOffsets over our checkpoints
    // topic, a consumer at each translated offset, MM2's Heartbeat and OffsetSync decoders
    await offsetSyncs.flush()
    const reads = [reader, lagging].flatMap(group => [0, 1].map(p => ({ group, p, from: nextRecord(p, committed.get(group)![p]) })))
    const answers = await mm2CheckBatch([
      ['translate', target, A, reader], ['translate', target, A, lagging],
      ...reads.map(r => ['read', target, topic, String(r.p), String(r.from.target), '20']),
      ['decode', target, 'heartbeats', 'heartbeat'], ['decode', source, identity.offsetSyncsTopic(B), 'offset-sync']
    ])
    step('Kafka\'s classes ran')
    // Then translateOffsets gives the same offsets as kafka-mirror
    for (const [i, group] of [reader, lagging].entries()) {
      assert.deepEqual(answers[i], [0, 1].map(p => `${topic} ${p} ${nextRecord(p, committed.get(group)![p]).target}`), `translateOffsets for ${group}`)
    }
    // And a consumer started at each translated offset reads exactly the next records the group
    // would have read on the source: no loss, no re-read (20 records each)
    for (const [i, r] of reads.entries()) {
      const read = answers[2 + i]
      const c = committed.get(r.group)![r.p]
      const expected = Array.from({ length: 20 }, (_, j) => r.p === 0 ? `p0-${c + BigInt(j)}` : `p1-${Number(r.from.value.slice(3)) + j}`)
      assert.deepEqual(read.map(l => l.split(' ')[1]), expected, `${r.group} partition ${r.p} from target offset ${r.from.target}`)
      assert.equal(read[0], `${r.from.target} ${r.from.value}`)
    }
    // And our heartbeats carry this flow's aliases
    const beats = answers[6].filter(l => l.includes(`sourceClusterAlias=${A}`))
    assert.ok(beats.length >= 1 && beats.every(l => l.includes(`targetClusterAlias=${B}`)), beats.join('\n'))
    assert.ok(heartbeats.counts.heartbeatsWritten >= 1)
    // And MM2's offset syncs hold, as newest pair of partition 0, its last record on both sides
    assert.ok(answers[7].some(l => l.includes(`topicPartition=${topic}-0, upstreamOffset=${PLAIN - 1}, downstreamOffset=${PLAIN - 1 + JUNK[0]}`)), answers[7].join('\n'))

        // When the busy group is in use on the target and a lagging group's target offset is ahead
    active = new Consumer({ clientId: 'mm2-test', groupId: busy, bootstrapBrokers: target.split(','), autocommit: false })
    const stream = await active.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' } as Parameters<Consumer['consume']>[0])
    stream.on('data', () => {})
    await commitGroup(target, lagging, topic, [200n, 0n])
    const synced = await checkpoints.syncGroupOffsets()
    // Then idle groups get the translated offsets, the busy one is skipped and counted, and the
    // lagging group's partition 0 stays where it was (never backwards) while partition 1 moves
    assert.deepEqual(synced.skippedActive, [busy])
    assert.equal(checkpoints.counts.activeGroupsSkipped, 1)
    assert.deepEqual(await targetGroupOffsets(targetAdmin, reader, topic), [0, 1].map(p => nextRecord(p, committed.get(reader)![p]).target))
    assert.deepEqual(await targetGroupOffsets(targetAdmin, lagging, topic), [200n, nextRecord(1, 10n).target])
    assert.deepEqual(await targetGroupOffsets(targetAdmin, busy, topic), [-1n, -1n])

    step('group offsets synced')
    // And the console consumer's MM2 formatters print our checkpoints and heartbeats (stopped
    // first: the console consumer reads until the topic is quiet)
    await heartbeats.stop()
    const [beatsEnd] = await targetAdmin.listOffsets({ topics: [{ name: 'heartbeats', partitions: [{ partitionIndex: 0, timestamp: -1n }] }] })
    const [printed, formatted] = await Promise.all([consoleConsume(target, identity.checkpointsTopic(A), 'CheckpointFormatter'), consoleConsume(target, 'heartbeats', 'HeartbeatFormatter', Number(beatsEnd.partitions[0].offset))])
    assert.ok(printed.some(l => l.includes(`consumerGroupId=${reader}`) && l.includes(`topicPartition=${topic}-0`) && l.includes('upstreamOffset=12345') && l.includes(`downstreamOffset=${12_345 + JUNK[0]}`)), printed.join('\n'))
    assert.equal(printed.filter(l => l.includes(`-${run},`)).length, 6)
    assert.ok(formatted.some(l => l.includes(`sourceClusterAlias=${A}, targetClusterAlias=${B}`)), `${formatted.length} heartbeats printed`)

    step('formatters printed')
    // When the plug-in starts again (a restart), from its history topic alone
    await offsetSyncs.stop()
    const again = new OffsetSyncsPlugin({ logger })
    const idle = new Mirror({ ...mirror.settings, logger })
    try {
      await again.start({ ...ctx, mirror: idle })
      // Then the 14,900-record-old offset still translates record-exactly
      assert.ok(again.counts.historyRunsLoaded >= 2, `${again.counts.historyRunsLoaded} runs`)
      assert.deepEqual(await again.translate(topic, 0, 100n), { downstream: BigInt(100 + JUNK[0]), exact: true })
      assert.deepEqual(await again.translate(topic, 1, p1Offset(145)), { downstream: BigInt(145 + JUNK[1]), exact: true })
    } finally {
      await again.stop()
    }
  } finally {
    await active?.close(true).catch(() => {})
    await mirror.stop().catch(() => {})
    await heartbeats.stop()
    await checkpoints.stop()
    await offsetSyncs.stop()
    await sourceAdmin.close()
    await targetAdmin.close()
  }
})
