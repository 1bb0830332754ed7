// Exactly-once mode (issue 15, part 2): records and source positions in one target transaction.
//   SIGKILL mid-copy again and again, restarted each time: a read_committed reader (kcat) counts 0
//   lost, 0 duplicated, per-key order, byte-equal keys, values and headers, in both partitionings,
//   while a read_uncommitted reader sees the records of the aborted transactions twice (so the
//   transactions are what keeps them out).
//   A member frozen (SIGSTOP) past its session while the other takes its partitions, then resumed:
//   it is fenced, says so, and the read_committed count has no duplicate.
//   Exactly once with acks=1 or enable.idempotence=false: exit 2 naming the key.
// `npm test` runs it reduced; KAFKA_MIRROR_RELIABILITY=full (npm run test:reliability) with 10 kills.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { testClusters, topicRecordCount, uniqueName } from '../helpers/clusters.ts'
import { runKafkaMirror } from '../helpers/cli.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { parseMm2OffsetRecord } from '../../src/mm2/mm2-offsets.ts'
import { mm2CheckClasspath } from '../mm2/java.ts'
import { assertMirrored, makeRecords, writeTutorialConfigs } from '../helpers/records.ts'
import {
  createTopicNamed, describeOutcome, faultConfigs, full, measure, mirrorArgs, produceAll, produceInBackground,
  recordResult, signalMirror, sized, startMirror, tailOf, waitForTargetCount, waitUntil
} from './helpers.ts'

/**
 * Kafka's own Java consumer (ConsoleConsumer of the baselines' kafka-tools), read_committed, over
 * a whole topic: lost and duplicated records by their timestamps, which makeRecords makes unique.
 */
async function javaReadCommitted (bootstrap: string, topic: string, written: Array<{ timestamp: bigint }>): Promise<{ read: number, lost: number, duplicated: number }> {
  const cp = await mm2CheckClasspath()
  const { stdout } = await promisify(execFile)('java', ['-Xmx512m', '-cp', cp, 'org.apache.kafka.tools.consumer.ConsoleConsumer', '--bootstrap-server', bootstrap, '--topic', topic, '--from-beginning',
    '--isolation-level', 'read_committed', '--timeout-ms', '15000', '--property', 'print.timestamp=true', '--property', 'print.key=false', '--property', 'print.value=false'], { maxBuffer: 256 << 20, timeout: 300_000 })
    .catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))
  const base = written[0].timestamp
  const seen = new Uint32Array(written.length)
  let read = 0
  for (const line of stdout.split('\n')) {
    const m = /^CreateTime:(\d+)/.exec(line)
    if (m === null) continue
    read++
    const i = Number(BigInt(m[1]) - base)
    if (i >= 0 && i < seen.length) seen[i]++
  }
  let lost = 0
  let duplicated = 0
  for (const n of seen) { if (n === 0) lost++; else duplicated += n - 1 }
  return { read, lost, duplicated }
}

const fixed = process.env.KAFKA_MIRROR_PARTITIONING
const partitionings: Array<'key' | 'source'> = fixed === 'key' || fixed === 'source' ? [fixed] : ['key', 'source']
const exactlyOnce = ['--exactly.once.support', 'enabled', '--transaction.interval.ms', '500']

for (const partitioning of partitionings) {
  test(`R14: given exactly once (--partitioning ${partitioning}), when the mirror is SIGKILLed mid-copy and restarted repeatedly, then a read_committed reader counts 0 lost, 0 duplicated, per-key order kept, and a read_uncommitted one sees the aborted copies`, async () => {
    const { source, target } = await testClusters()
    const kills = sized(3, 10)
    const count = sized(10_000, 300_000)
    const topic = uniqueName(`r14-eos-${partitioning}`)
    await createTopicNamed(source, topic, { partitions: 4, replicas: 2 })
    const records = makeRecords(count, { keys: 100, valueBytes: 100 })
    const files = faultConfigs(source, target)
    const args = mirrorArgs(files, topic, ['--partitioning', partitioning, ...exactlyOnce])
    const started = Date.now()
    // Given a source topic being written at a steady pace
    const producer = produceInBackground(source, topic, records, { partitions: 4, durationMs: sized(10_000, 120_000) })
    const outputs: string[] = []
    for (let i = 0; i < kills; i++) {
      // When a mirror that has copied part of it is killed, and a new one starts in its group
      const mirror = startMirror(args)
      const atStart = Number(await topicRecordCount(target, topic))
      await waitForTargetCount(target, topic, atStart + Math.floor(count / (kills + 2)), mirror, 120_000)
      await sleep([0, 300, 700][i % 3])
      await signalMirror(mirror, 'SIGKILL')
      outputs.push(mirror.output())
    }
    await producer.done
    // And a last start with --once copies the rest
    const last = startMirror([...args, '--once'])
    const code = await last.exited
    const ms = Date.now() - started
    assert.equal(code, 0, tailOf(last))
    // Then a read_committed reader finds every record once, in per-key order, byte for byte
    const committed = await kcatConsume(target, topic, { isolation: 'read_committed' })
    const outcome = measure(records, committed)
    const uncommitted = measure(records, await kcatConsume(target, topic, { isolation: 'read_uncommitted' }))
    recordResult(`R14 exactly once, SIGKILL ×${kills} + restart`, outcome, ms, `read_uncommitted reader: ${uncommitted.duplicated} duplicated (records of aborted transactions), ${uncommitted.lost} lost`)
    assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated, orderViolations: outcome.orderViolations, foreign: outcome.foreign },
      { lost: 0, duplicated: 0, orderViolations: 0, foreign: 0 }, describeOutcome(outcome))
    assertMirrored(records, committed)
    if (full) {
      // And Kafka's own Java consumer, read_committed, counts the same
      const java = await javaReadCommitted(target, topic, records)
      recordResult(`R14 exactly once, SIGKILL ×${kills} + restart, read by Kafka's Java consumer (read_committed)`, { ...outcome, read: java.read, lost: java.lost, duplicated: java.duplicated }, ms, 'ConsoleConsumer --isolation-level read_committed, counted by timestamp')
      assert.deepEqual({ lost: java.lost, duplicated: java.duplicated, read: java.read }, { lost: 0, duplicated: 0, read: count })
    }
    // And a read_uncommitted reader sees the copies the killed mirrors had not committed
    assert.equal(uncommitted.lost, 0, describeOutcome(uncommitted))
    assert.ok(uncommitted.duplicated > 0, `the kills left aborted transactions with records: ${describeOutcome(uncommitted)}`)
    // And the positions are in the positions topic, in Kafka Connect's offsets format
    const positions = (await kcatConsume(target, `kafka-mirror-offsets.${files.group}.internal`, { isolation: 'read_committed' })).map(r => [String(r.key), String(r.value)])
    assert.ok(positions.some(([key, value]) => key.startsWith(`["MirrorSourceConnector",{"cluster":"source","partition":`) && key.endsWith(`"topic":"${topic}"}]`) && /^\{"offset":\d+\}$/.test(value)), JSON.stringify(positions.slice(0, 3)))
  })
}

test(`R14: given exactly once (--partitioning ${partitionings[0]}) and two members in one group, when one is frozen past its session while the other takes its partitions and then resumed, then it is fenced and a read_committed reader counts 0 duplicated, 0 lost`, async () => {
  const { source, target } = await testClusters()
  const count = sized(12_000, 200_000)
  const topic = uniqueName('r14-eos-zombie')
  await createTopicNamed(source, topic, { partitions: 4, replicas: 2 })
  const records = makeRecords(count, { keys: 100, valueBytes: 100 })
  const files = faultConfigs(source, target)
  const args = mirrorArgs(files, topic, ['--partitioning', partitionings[0], ...exactlyOnce])
  const started = Date.now()
  const producer = produceInBackground(source, topic, records, { partitions: 4, durationMs: sized(25_000, 90_000) })
  // Given two members sharing the partitions, both copying
  const one = startMirror(args)
  const two = startMirror(args)
  // (each holding partitions, and copying since)
  await waitUntil(async () => /partitions assigned/.test(one.output()) && /partitions assigned/.test(two.output()), 60_000, 'both members to get partitions')
  const shared = Number(await topicRecordCount(target, topic))
  await waitForTargetCount(target, topic, shared + Math.floor(count / 10), one, 120_000)
  // When one is frozen past its session timeout (6 s) and the other takes its partitions
  one.child.kill('SIGSTOP')
  const atFreeze = await topicRecordCount(target, topic)
  await sleep(12_000)
  await waitUntil(async () => await topicRecordCount(target, topic) > atFreeze, 30_000, 'the other member to copy on')
  // And then resumed
  one.child.kill('SIGCONT')
  await sleep(5000)
  await producer.done
  await signalMirror(one, 'SIGTERM')
  await signalMirror(two, 'SIGTERM')
  const last = startMirror([...args, '--once'])
  assert.equal(await last.exited, 0, tailOf(last))
  // Then the resumed member says it was fenced
  assert.match(one.output(), /fenced/, tailOf(one, 60))
  // And a read_committed reader counts every record once
  const committed = await kcatConsume(target, topic, { isolation: 'read_committed' })
  const outcome = measure(records, committed)
  recordResult('R14 exactly once, member frozen past its session (SIGSTOP) and resumed', outcome, Date.now() - started, 'the resumed member was fenced')
  assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated, orderViolations: outcome.orderViolations, foreign: outcome.foreign },
    { lost: 0, duplicated: 0, orderViolations: 0, foreign: 0 }, describeOutcome(outcome))
  assertMirrored(records, committed)
})

test('R14: given an mm2 flow A->B with B.exactly.once.source.support=enabled, when kafka-mirror mm2 is SIGKILLed mid-copy and started again, then the positions are in mm2-offsets.A.internal in MM2\'s format, read back at the restart, and a read_committed reader counts 0 lost, 0 duplicated', async () => {
  const { source, target } = await testClusters()
  const count = sized(8000, 100_000)
  const topic = uniqueName('r14-eos-mm2')
  await createTopicNamed(source, topic, { partitions: 4, replicas: 2 })
  const records = makeRecords(count, { keys: 100, valueBytes: 100 })
  const file = join(mkdtempSync(join(tmpdir(), 'kafka-mirror-eos-mm2-')), 'mm2.properties')
  writeFileSync(file, [
    'clusters = A, B', `A.bootstrap.servers = ${source}`, `B.bootstrap.servers = ${target}`,
    'A->B.enabled = true', 'B->A.enabled = false', `topics = ${topic}`, 'replication.factor = 2',
    `A->B.consumer.group.id = ${uniqueName('r14-eos-mm2-group')}`, 'B.exactly.once.source.support = enabled',
    // The killed member leaves the group within seconds (the brokers' minimum), not MM2's 45 s.
    'A->B.consumer.session.timeout.ms = 6000', 'A->B.consumer.heartbeat.interval.ms = 1000',
    'emit.heartbeats.enabled = false', 'emit.checkpoints.enabled = false', 'emit.offset-syncs.enabled = false',
    'offset-syncs.topic.replication.factor = 2', 'checkpoints.topic.replication.factor = 2', 'heartbeats.topic.replication.factor = 2'
  ].join('\n') + '\n')
  // MM2 keeps partition numbers: the results name it source partitioning.
  mirrorArgs({ consumer: '', producer: '' }, topic, ['--partitioning', 'source'])
  const started = Date.now()
  // Given records being written to the source topic
  const producer = produceInBackground(source, topic, records, { partitions: 4, durationMs: sized(8000, 60_000) })
  // When the flow is killed mid-copy
  const first = startMirror(['mm2', file])
  await waitForTargetCount(target, `A.${topic}`, Math.floor(count / 3), first, 120_000)
  await signalMirror(first, 'SIGKILL')
  await producer.done
  // And started again until everything is copied, then stopped
  const second = startMirror(['mm2', file])
  const copied = async (): Promise<boolean> => (await kcatConsume(target, `A.${topic}`, { isolation: 'read_committed' })).length >= count
  await waitUntil(async () => second.done() || await copied(), 120_000, 'the second run to copy every record', 1000)
  assert.equal(await signalMirror(second, 'SIGTERM'), 0, tailOf(second))
  // Then a read_committed reader counts every record once
  const outcome = measure(records, await kcatConsume(target, `A.${topic}`, { isolation: 'read_committed' }))
  recordResult('R14 exactly once, mm2 flow SIGKILLed and restarted', outcome, Date.now() - started, 'positions in mm2-offsets.A.internal')
  assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated, orderViolations: outcome.orderViolations, foreign: outcome.foreign },
    { lost: 0, duplicated: 0, orderViolations: 0, foreign: 0 }, describeOutcome(outcome))
  // And each partition's last position, in MM2's format, is the offset of its last record
  const positions = new Map<number, bigint | undefined>()
  for (const r of await kcatConsume(target, 'mm2-offsets.A.internal', { isolation: 'read_committed' })) {
    const entry = parseMm2OffsetRecord(r.key, r.value)
    if (entry?.topic !== topic) continue
    assert.equal(entry.connector, 'MirrorSourceConnector')
    assert.match(String(r.key), new RegExp(`^\\["MirrorSourceConnector",\\{"cluster":"A","partition":${entry.partition},"topic":"${topic}"\\}\\]$`))
    assert.match(String(r.value), /^\{"offset":\d+\}$/)
    positions.set(entry.partition, entry.next)
  }
  const ends = await kcatConsume(source, topic)
  for (let p = 0; p < 4; p++) {
    const inPartition = ends.filter(r => r.partition === p)
    assert.equal(positions.get(p), inPartition[inPartition.length - 1].offset + 1n, `partition ${p}: ${JSON.stringify([...positions].map(([k, v]) => [k, String(v)]))}`)
  }
})

if (!full) {
  test('R14: given exactly once with acks=1 or enable.idempotence=false, when the mirror starts, then it exits 2 naming the key and the fix', async () => {
    for (const [producer, key] of [[{ acks: '1' }, 'acks'], [{ 'enable.idempotence': 'false' }, 'enable.idempotence']] as const) {
      const files = writeTutorialConfigs('127.0.0.1:1', '127.0.0.1:1', { producer })
      const run = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', 't', '--exactly.once.support', 'enabled'])
      assert.equal(run.code, 2, run.stderr)
      assert.match(run.stderr, new RegExp(`${key.replace('.', '\\.')}.*cannot go with --exactly\\.once\\.support enabled`), run.stderr)
    }
  })
}

if (full) {
  // What transactions cost: the same records copied --once without and with them, each from a
  // source topic of its own (records/s in the results; speed is measured, never asserted).
  test(`R14: given two topics of 300,000 records (--partitioning ${partitionings[0]}), when one is copied without and the other with exactly once, then both copies are whole and the results give records/s of each`, async () => {
    const { source, target } = await testClusters()
    const count = 300_000
    const records = makeRecords(count, { keys: 1000, valueBytes: 100 })
    for (const mode of ['without', 'with'] as const) {
      const topic = uniqueName(`r14-eos-rate-${mode}`)
      await createTopicNamed(source, topic, { partitions: 8, replicas: 2 })
      await produceAll(source, topic, records, 8)
      const files = faultConfigs(source, target)
      const args = mirrorArgs(files, topic, ['--partitioning', partitionings[0], '--once', '--offset.commit.interval.ms', '5000', ...(mode === 'with' ? ['--exactly.once.support', 'enabled'] : [])])
      const started = Date.now()
      const mirror = startMirror(args)
      assert.equal(await mirror.exited, 0, tailOf(mirror))
      const ms = Date.now() - started
      const outcome = measure(records, await kcatConsume(target, topic, { isolation: 'read_committed' }))
      recordResult(`R14 --once copy of ${count} records (100 B values, 1000 keys, 8 partitions) ${mode} exactly once`, outcome, ms, `${Math.round(count / (ms / 1000))} records/s ${mode} transactions (process start included)`)
      assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated }, { lost: 0, duplicated: 0 }, describeOutcome(outcome))
    }
  })
}
