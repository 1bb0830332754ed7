// R11 and R12 (issue 15): reconciliation with the target on start and on every assignment
// (src/mirror/reconcile.ts), without transactions.
//   R11: another writer appends to the target topic between a crash (SIGKILL) and the restart:
//        the restarted mirror notices that the target does not match its commits, says so, falls
//        back to the committed offsets and loses nothing (what it copied again is counted).
//   R12: a rolling restart, as Kubernetes does it: two processes in one group, each stopped with
//        SIGTERM and started again in turn while records flow: 0 lost, 0 duplicated (before issue
//        15: 21 (key) and 119 (source) records copied twice).
// R11 runs in both partitionings in `npm test` (reduced); R12, the longer, in one of them there
// (alternating like the other scenarios); the full suite runs each once per partitioning.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Producer } from '@platformatic/kafka'
import { testClusters, topicRecordCount, uniqueName } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, type TestRecord } from '../helpers/records.ts'
import type { KcatRecord } from '../helpers/kcat.ts'
import {
  committedTotal, createTopicNamed, describeOutcome, faultConfigs, measure, mirrorArgs, produceAll, produceInBackground,
  recordResult, scenarioPartitioning, signalMirror, sized, startMirror, tailOf, testPartition, waitForTargetCount, waitUntil, type MirrorProcess
} from './helpers.ts'

/** Records read more than once, by source partition: index ranges (in the order written) and the target partitions they were on. */
function duplicateRanges (written: TestRecord[], read: KcatRecord[], partitions: number): string {
  const base = written[0].timestamp
  const seen = new Map<number, number[]>()
  for (const r of read) {
    const i = Number(r.timestamp - base)
    seen.set(i, [...(seen.get(i) ?? []), r.partition])
  }
  const bySource = new Map<number, string[]>()
  for (const [i, targets] of [...seen].sort((a, b) => a[0] - b[0])) {
    if (targets.length < 2) continue
    const p = testPartition(written[i].key, partitions, i)
    bySource.set(p, [...(bySource.get(p) ?? []), `${i}→${targets.join('/')}`])
  }
  return [...bySource].map(([p, list]) => `source ${p}: ${list.length} (${list.slice(0, 4).join(' ')} … ${list.slice(-2).join(' ')})`).join('; ')
}

/** Saves the outputs of every process of a scenario to one file; returns its name. */
function saveOutputs (processes: MirrorProcess[], name: string): string {
  const file = join(tmpdir(), `kafka-mirror-${name}.log`)
  writeFileSync(file, processes.map((m, i) => `==== process ${i}\n${m.output()}`).join('\n'))
  return file
}

const fixed = process.env.KAFKA_MIRROR_PARTITIONING
const partitionings: Array<'key' | 'source'> = fixed === 'key' || fixed === 'source' ? [fixed] : ['key', 'source']
const PARTITIONS = 4

for (const partitioning of partitionings) {
  test(`R11: another writer appends to the target between a crash and the restart (--partitioning ${partitioning}): the mirror says so and loses nothing`, async () => {
    const { source, target } = await testClusters()
    const count = sized(12_000, 100_000)
    const topic = uniqueName('r11-other-writer')
    await createTopicNamed(source, topic, { partitions: PARTITIONS, replicas: 2 })
    const records = makeRecords(count, { keys: 100, valueBytes: 100 })
    const files = faultConfigs(source, target)
    // One stream: with key partitioning a member sees another writer only when it holds every partition.
    // The default commit interval (5 s): the kill leaves records copied and not committed, which the
    // fallback copies again (counted), none skipped.
    const args = mirrorArgs(files, topic, ['--partitioning', partitioning, '--num.streams', '1', '--offset.commit.interval.ms', '5000'])
    const started = Date.now()
    // Given a source topic written while a mirror copies it, killed once it committed part of it
    const producer = produceInBackground(source, topic, records, { partitions: PARTITIONS, durationMs: sized(8000, 30_000) })
    const first = startMirror(args)
    await waitForTargetCount(target, topic, Math.floor(count / 3), first, 120_000)
    await waitUntil(async () => await committedTotal(source, files.group, topic) >= BigInt(Math.floor(count / 4)), 60_000, 'a commit of a quarter of the records')
    await signalMirror(first, 'SIGKILL')
    await sleep(1000)
    // When another writer appends records to every partition of the target topic
    const other = new Producer({ clientId: 'r11-other-writer', bootstrapBrokers: target.split(','), idempotent: true })
    const foreignPerPartition = 5
    try {
      await other.send({ acks: -1, messages: Array.from({ length: PARTITIONS * foreignPerPartition }, (_, i) => ({ topic, partition: i % PARTITIONS, key: Buffer.from(`other-${i}`), value: Buffer.from('written by someone else') })) })
    } finally {
      await other.close()
    }
    // And the mirror starts again and copies the rest
    await producer.done
    const last = startMirror([...args, '--once'])
    assert.equal(await last.exited, 0, tailOf(last))
    const ms = Date.now() - started
    // Then it said that the target does not match its commits, and nothing was lost
    const read = await kcatConsume(target, topic)
    const outcome = measure(records, read)
    const fallbacks = (last.output().match(/the target does not match what the commit says/g) ?? []).length
    recordResult('R11 another writer between a crash and the restart', outcome, ms, `${PARTITIONS * foreignPerPartition} records of another writer on the target; the restart fell back to the committed offset on ${fallbacks} partitions (duplicates are the records copied again there)`)
    assert.ok(fallbacks > 0, `the restarted mirror reports the mismatch:\n${tailOf(last, 40)}`)
    assert.deepEqual({ lost: outcome.lost, orderViolations: outcome.orderViolations, foreign: outcome.foreign },
      { lost: 0, orderViolations: 0, foreign: PARTITIONS * foreignPerPartition }, describeOutcome(outcome))
  })
}

for (const partitioning of fixed === 'key' || fixed === 'source' ? [fixed] : [scenarioPartitioning()]) {
  test(`R12: rolling restart of two processes in one group while records flow (--partitioning ${partitioning}): 0 lost, 0 duplicated`, async () => {
    const { source, target } = await testClusters()
    const count = sized(30_000, 300_000)
    const rounds = sized(1, 3)
    const topic = uniqueName('r12-rolling')
    await createTopicNamed(source, topic, { partitions: 8, replicas: 2 })
    const records = makeRecords(count, { keys: 200, valueBytes: 100 })
    const files = faultConfigs(source, target)
    const args = mirrorArgs(files, topic, ['--partitioning', partitioning])
    const started = Date.now()
    // Given two mirror processes in one group, copying a topic being written
    const backlog = Math.floor(count / 5)
    await produceAll(source, topic, records.slice(0, backlog), 8)
    const producer = produceInBackground(source, topic, records.slice(backlog), { partitions: 8, durationMs: sized(20_000, 120_000) })
    const members = [startMirror(args), startMirror(args)]
    const all = [...members]
    // When each is stopped with SIGTERM and started again in turn, as a rolling update does
    const restarts: string[] = []
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < members.length; i++) {
        await sleep(sized(3000, 8000))
        const code = await signalMirror(members[i], 'SIGTERM')
        assert.equal(code, 0, `SIGTERM: the mirror exits 0\n${tailOf(members[i])}`)
        restarts.push(`${await topicRecordCount(target, topic)}`)
        members[i] = startMirror(args)
        all.push(members[i])
      }
    }
    await producer.done
    await waitUntil(async () => await committedTotal(source, files.group, topic) >= BigInt(count), 120_000, 'the group caught up', 500)
    for (const m of members) assert.equal(await signalMirror(m, 'SIGTERM'), 0, tailOf(m))
    const ms = Date.now() - started
    // Then every record arrived exactly once, in per-key order, byte for byte
    const read = await kcatConsume(target, topic)
    const outcome = measure(records, read)
    recordResult(`R12 rolling restart ×${rounds} (2 processes)`, outcome, ms, `records on the target at each restart ${restarts.join(', ')}`)
    if (outcome.duplicated > 0) process.stderr.write(`R12 duplicates: ${duplicateRanges(records, read, 8)}; outputs in ${saveOutputs(all, topic)}\n`)
    assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated, orderViolations: outcome.orderViolations, foreign: outcome.foreign },
      { lost: 0, duplicated: 0, orderViolations: 0, foreign: 0 }, describeOutcome(outcome))
    assertMirrored(records, read)
  })
}
