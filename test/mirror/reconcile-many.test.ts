// Reconciling many topics at once (src/mirror/reconcile.ts, issue 11's W6): a mirror restarted on
// a group whose commits name target positions, over many topics and partitions, starts each
// partition after the records already on the target, skips (key partitioning) later ones there,
// and copies the rest: every record once. The target is laid out by hand, so that each kind of
// partition is there for sure: all of it copied, none of it, part of it (source partitioning: a
// prefix; key partitioning: every record but those of the target partition of its first record,
// so the copy resumes at the committed offset itself with records to skip after it).
// KAFKA_MIRROR_PARTITIONING=key|source runs one partitioning; otherwise both run.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin, Consumer, Producer } from '@platformatic/kafka'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { offsetCommitApi } from '../../src/kafka/raw/offset-commit.ts'
import { createLogger } from '../../src/log.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { partitionForKey } from '../../src/mirror/partitioner.ts'
import { READS_IN_FLIGHT, encodeTargetPositions, shortTopicId } from '../../src/mirror/reconcile.ts'
import { createTestTopic, testClusters, uniqueName } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, writeTutorialConfigs, type TestRecord } from '../helpers/records.ts'

const TOPICS = 12
const PARTITIONS = 4
const PER_TOPIC = 120

/** Writes `records` in order, record i to partition i % PARTITIONS (so a key's records are in every source partition). */
async function produceSpread (bootstrap: string, placed: Array<{ topic: string, partition: number, record: TestRecord }>): Promise<void> {
  const producer = new Producer({ clientId: 'reconcile-many', bootstrapBrokers: bootstrap.split(','), idempotent: true })
  try {
    for (let i = 0; i < placed.length; i += 500) {
      await producer.send({
        acks: -1,
        messages: placed.slice(i, i + 500).map(({ topic, partition, record: r }) => ({
          topic, partition, key: r.key ?? undefined, value: r.value ?? undefined, timestamp: r.timestamp,
          headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'latin1')]))
        }))
      })
    }
  } finally {
    await producer.close()
  }
}

/** Commits offset 0 of every partition of `topics` for `group`, its metadata naming target position 0 everywhere (as a mirror's first commit does). */
async function commitStart (source: string, target: string, group: string, topics: string[]): Promise<void> {
  const admin = new Admin({ clientId: 'reconcile-many', bootstrapBrokers: target.split(',') })
  const consumer = new Consumer({ clientId: 'reconcile-many', groupId: group, bootstrapBrokers: source.split(',') })
  try {
    const metadata = await admin.metadata({ topics, forceUpdate: true })
    const coordinator = await consumer.findGroupCoordinator()
    const broker = (await consumer.metadata({ topics: [] })).brokers.get(coordinator)!
    const connection = await consumer.connections.get(broker)
    const api = await offsetCommitApi(connection)
    const offsets = new Map(Array.from({ length: PARTITIONS }, (_, p) => [p, { offset: 0n, tight: true }]))
    await api.async(connection, group, -1, '', null, topics.map(name => ({
      name,
      partitions: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({
        partitionIndex, committedOffset: 0n, committedLeaderEpoch: -1,
        committedMetadata: encodeTargetPositions({ topicId: shortTopicId(metadata.topics.get(name)!.id), partitions: PARTITIONS, offsets })
      }))
    })))
  } finally {
    await consumer.close()
    await admin.close()
  }
}

const fixed = process.env.KAFKA_MIRROR_PARTITIONING
for (const partitioning of fixed === 'key' || fixed === 'source' ? [fixed] : ['key', 'source'] as const) {
  test(`a restart over ${TOPICS} topics × ${PARTITIONS} partitions (--partitioning ${partitioning}): each partition starts after what the target holds, every record once`, async () => {
    const { source, target } = await testClusters()
    assert.ok(TOPICS * PARTITIONS > READS_IN_FLIGHT, 'more partitions than reads in flight')
    // Given many source topics, each record i in partition i % 4, and their target topics
    const prefix = uniqueName('reconcile-many')
    const topics = Array.from({ length: TOPICS }, (_, i) => `${prefix}-${i}`)
    for (const bootstrap of [source, target]) await Promise.all(topics.map(async name => await createTestTopic(bootstrap, { name, partitions: PARTITIONS })))
    const records = new Map(topics.map(t => [t, makeRecords(PER_TOPIC, { keys: 24, valueBytes: 60 })]))
    await produceSpread(source, topics.flatMap(topic => records.get(topic)!.map((record, i) => ({ topic, partition: i % PARTITIONS, record }))))
    // And the target holding what a mirror killed before its first commit could have left there:
    // per source partition (numbered over every topic) all its records, none, or part of them
    const onTarget: Array<{ topic: string, partition: number, record: TestRecord }> = []
    let expectFound = 0
    topics.forEach((topic, t) => {
      for (let s = 0; s < PARTITIONS; s++) {
        const own = records.get(topic)!.filter((_, i) => i % PARTITIONS === s)
        const where = (r: TestRecord): number => partitioning === 'key' ? partitionForKey(r.key!, PARTITIONS) : s
        const kind = (t * PARTITIONS + s) % 3
        const firstGoesTo = where(own[0])
        const kept = kind === 0 ? own : kind === 1 ? [] : partitioning === 'key' ? own.filter(r => where(r) !== firstGoesTo) : own.slice(0, own.length / 2)
        expectFound += kept.length
        for (const record of kept) onTarget.push({ topic, partition: where(record), record })
      }
    })
    // (in source order per source partition, interleaved on each target partition)
    onTarget.sort((a, b) => Number(a.record.timestamp - b.record.timestamp))
    await produceSpread(target, onTarget)
    const group = uniqueName('reconcile-many-group')
    const files = writeTutorialConfigs(source, target, { consumer: { 'group.id': group } })
    await commitStart(source, target, group, topics)
    // When a mirror of that group with two streams copies them --once
    const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['include', `${prefix}-.*`], ['once', 'true'],
      ['num.streams', '2'], ['partitioning', partitioning], ['status.interval.ms', '0']])
    const mirror = new Mirror({ ...settings, logger: process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined })
    const reconciled = { matched: 0, fallbacks: 0, found: 0 }
    mirror.on('reconciled', (r: { outcome: string, found: number }) => {
      if (r.outcome === 'matched') reconciled.matched++
      if (r.outcome === 'fallback') reconciled.fallbacks++
      reconciled.found += r.found
    })
    await mirror.start()
    const summary = await mirror.finished
    // Then every partition was matched with the target, what was there was found and not copied again
    const total = TOPICS * PER_TOPIC
    assert.equal(reconciled.fallbacks, 0)
    assert.ok(reconciled.matched >= TOPICS * PARTITIONS, `${reconciled.matched} partitions matched`)
    assert.ok(reconciled.found >= expectFound, `${reconciled.found} records found on the target, ${expectFound} placed there`)
    assert.equal(summary.records, total - expectFound, 'records copied: only those not on the target')
    // And each target topic holds every record exactly once, in per-key order, byte for byte
    for (const topic of topics) assertMirrored(records.get(topic)!, await kcatConsume(target, topic))
  })
}
