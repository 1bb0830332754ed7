// The take-over scenarios with real MirrorMaker 2 (connect-mirror 4.3.1, dedicated mode) and
// MirrorMaker 1 (Kafka 3.9): the Java mirror copies part of a topic while records are being written,
// is stopped (SIGTERM or SIGKILL), and kafka-mirror copies the rest. kcat counts the target: none
// lost; none duplicated after a clean stop; after SIGKILL exactly the records the Java mirror copied
// past its last stored position (which it would copy again itself). npm test runs two of them
// reduced (takeover-java.test.ts), npm run test:mm2 all (takeover.e2e.ts).
import assert from 'node:assert/strict'
import { Admin } from '@platformatic/kafka'
import { loadMirrorConfig, type MirrorSettings } from '../../src/config/mirror-config.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { createLogger } from '../../src/log.ts'
import { Mm2Takeover, readMm2Positions, mm2OffsetsTopic } from '../../src/mm2/mm2-offsets.ts'
import { createTestTopic, testClusters, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, writeTutorialConfigs } from '../helpers/records.ts'
import { copyPartWithJava, mm2Properties, startMm1, startMm2 } from './java-mirrors.ts'

export type StopSignal = 'SIGTERM' | 'SIGKILL'
export type Partitioning = 'key' | 'source'

async function endOffsets (bootstrap: string, topic: string): Promise<bigint[]> {
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: bootstrap.split(',') })
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0
    const ends = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] })
    return ends[0].partitions.sort((a, b) => a.partitionIndex - b.partitionIndex).map(p => p.offset)
  } finally {
    await admin.close()
  }
}

async function deleteTopics (bootstrap: string, topics: string[]): Promise<void> {
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: bootstrap.split(',') })
  try {
    const existing = new Set(await admin.listTopics({ includeInternals: true }))
    const gone = topics.filter(t => existing.has(t))
    if (gone.length > 0) await admin.deleteTopics({ topics: gone })
  } catch {} finally {
    await admin.close()
  }
}

function mirrorFor (files: { consumer: string, producer: string }, topic: string, partitioning: 'key' | 'source', takeover?: (target: MirrorSettings['target']) => Mm2Takeover): Mirror {
  const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['include', topic], ['partitioning', partitioning], ['status.interval.ms', '0'], ['offset.commit.interval.ms', '1000']])
  const logger = process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined
  return new Mirror({ ...settings, logger, externalPositions: takeover?.(settings.target).positions })
}

/** MM2 copies part and is stopped; kafka-mirror takes its positions from mm2-offsets. Returns the results row. */
export async function mm2Takeover (signal: StopSignal, partitioning: Partitioning, total: number): Promise<string> {
  const { source, target } = await testClusters()
  const alias = uniqueName('src').replace(/-/g, '')
  const topic = await createTestTopic(source, { prefix: 'mm2takeover', partitions: 3 })
  // IdentityReplicationPolicy: the engine writes source topic names until mm2-config's renaming lands.
  const targetTopic = topic
  const records = makeRecords(total, { keys: 30, valueBytes: 100, tombstones: true })
  const started = Date.now()
  try {
    // Given MM2 copying the topic while it is written, stopped part-way
    const props = mm2Properties({ sourceAlias: alias, targetAlias: 'B', source, target, topics: topic, policy: 'identity', extra: signal === 'SIGKILL' ? { 'B.offset.flush.interval.ms': 1000 } : {} })
    const { javaCopied, exit } = await copyPartWithJava(source, target, topic, targetTopic, records, () => startMm2(props), signal)
    assert.ok(javaCopied > BigInt(total / 2) && javaCopied < BigInt(total), `MM2 copied ${javaCopied} of ${total}: the stop must fall in the second half`)
    // MM2's stored positions: after a clean stop exactly what it wrote to each target partition
    const files = writeTutorialConfigs(source, target, { consumer: { 'auto.offset.reset': 'earliest' } })
    const run = mirrorFor(files, topic, partitioning, connection => new Mm2Takeover(connection, { sourceAlias: alias }))
    const positions = await readMm2Positions(run.settings.target, { sourceAlias: alias })
    const ends = await endOffsets(target, targetTopic)
    const stored = ends.map((_, p) => positions.positions.get(`${topic}:${p}`) ?? 0n)
    if (signal === 'SIGTERM') assert.deepEqual(stored, ends, 'after SIGTERM MM2 flushed the position of every record it wrote')
    else for (const [p, s] of stored.entries()) assert.ok(s <= ends[p], `partition ${p}: MM2's position ${s} is not past what it wrote (${ends[p]})`)
    // When kafka-mirror starts with the same flow, its group new, taking MM2's positions
    await run.start()
    let summary
    try {
      await waitForRecords(target, targetTopic, total, 120_000)
      // A moment more, so a record copied twice would show in the count
      await new Promise(resolve => setTimeout(resolve, 2000))
      summary = await run.stop()
    } finally {
      await run.stop().catch(() => {})
    }
    // Then every record is on the target once (SIGKILL: the duplicates are exactly MM2's unflushed copies)
    const read = await kcatConsume(target, targetTopic)
    const expectedDuplicates = ends.reduce((s, e, p) => s + Number(e - stored[p]), 0)
    const { duplicates } = assertMirrored(records, read, { allowDuplicates: signal === 'SIGKILL' })
    assert.equal(duplicates, expectedDuplicates)
    assert.equal(read.length, total + expectedDuplicates)
    assert.equal(summary.records, total - Number(javaCopied) + expectedDuplicates)
    return `| MM2 4.3.1 → kafka-mirror | ${signal} | ${partitioning} | ${total} | ${javaCopied} (${exit}) | mm2-offsets ${stored.join('/')} of ${ends.join('/')} written | ${summary.records} | ${read.length} | 0 | ${duplicates} | ${Math.round((Date.now() - started) / 1000)} s |`
  } finally {
    await deleteTopics(target, [mm2OffsetsTopic(alias), `mm2-configs.${alias}.internal`, `mm2-status.${alias}.internal`])
  }
}

/** MM1 copies part and is stopped; kafka-mirror continues from the group's commits. Returns the results row. */
export async function mm1Takeover (signal: StopSignal, partitioning: Partitioning, total: number): Promise<string> {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { prefix: 'mm1takeover', partitions: 3 })
  await createTestTopic(target, { name: topic, partitions: 3 })
  const records = makeRecords(total, { keys: 30, valueBytes: 100, tombstones: true })
  // session.timeout.ms 10 s (Kafka's default is 45 s): after a SIGKILL the group keeps MM1's dead
  // members that long, and a client of another assignor cannot join while they are there
  const files = writeTutorialConfigs(source, target, { consumer: { 'auto.offset.reset': 'earliest', 'session.timeout.ms': '10000' } })
  const started = Date.now()
  // Given MirrorMaker 1 copying the topic while it is written, stopped part-way
  const { javaCopied, exit } = await copyPartWithJava(source, target, topic, topic, records, () => startMm1(files.consumer, files.producer, topic), signal)
  assert.ok(javaCopied > BigInt(total / 2) && javaCopied < BigInt(total), `MM1 copied ${javaCopied} of ${total}: the stop must fall in the second half`)
  // MM1's commits: after SIGTERM its last one, at shutdown; after SIGKILL its last periodic one (every 60 s)
  const run = mirrorFor(files, topic, partitioning)
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: source.split(',') })
  const groups = await admin.listConsumerGroupOffsets({ groups: [run.settings.source.groupId] }).finally(async () => { await admin.close() })
  const committed = groups.flatMap(g => g.topics).filter(t => t.name === topic).flatMap(t => t.partitions).reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n)
  // When kafka-mirror runs with the same two files, at once (after SIGKILL MM1's dead members are
  // still in the group: kafka-mirror's join waits for them to time out instead of being refused)
  const joining = Date.now()
  await run.start()
  const waitedMs = Date.now() - joining
  let summary
  try {
    await waitForRecords(target, topic, total, 120_000)
    await new Promise(resolve => setTimeout(resolve, 2000))
    summary = await run.stop()
  } finally {
    await run.stop().catch(() => {})
  }
  // Then nothing is lost; what MM1 copied but had not committed is copied again, and counted
  const read = await kcatConsume(target, topic)
  const { duplicates } = assertMirrored(records, read, { allowDuplicates: true })
  assert.equal(read.length, total + duplicates)
  // Exactly what MM1 copied past its last commit
  assert.equal(duplicates, Number(javaCopied - committed))
  if (signal === 'SIGTERM') assert.equal(duplicates, 0, 'MirrorMaker 1 commits on a clean shutdown')
  return `| MM1 3.9.1 → kafka-mirror | ${signal} | ${partitioning} | ${total} | ${javaCopied} (${exit}) | group committed ${committed}${signal === 'SIGKILL' ? `, kafka-mirror started in ${Math.round(waitedMs / 1000)} s (MM1's dead members in the group)` : ''} | ${summary.records} | ${read.length} | 0 | ${duplicates} | ${Math.round((Date.now() - started) / 1000)} s |`
}
