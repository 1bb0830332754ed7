// R1 (issue 6): a large keyed topic copied by `kafka-mirror --once` arrives whole: every record
// once, in per-key order, byte for byte. Reduced: 50 000 records; full: 1 000 000.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { testClusters, uniqueName } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords } from '../helpers/records.ts'
import { createTopicNamed, describeOutcome, faultConfigs, measure, mirrorArgs, produceAll, recordResult, sized, startMirror, tailOf } from './helpers.ts'

test('R1: 100-byte keyed records over 8 partitions, copied with --once: 0 lost, 0 duplicated, per-key order kept', async () => {
  const { source, target } = await testClusters()
  const count = sized(50_000, 1_000_000)
  // Given a source topic of 8 partitions holding `count` keyed records of 100 bytes
  const topic = uniqueName('r1-bulk')
  await createTopicNamed(source, topic, { partitions: 8, replicas: 2 })
  const records = makeRecords(count, { keys: 1000, valueBytes: 100 })
  await produceAll(source, topic, records, 8)

  // When the mirror copies it with --once, as a process
  const files = faultConfigs(source, target)
  const started = Date.now()
  const mirror = startMirror(mirrorArgs(files, topic, ['--num.streams', '2', '--once']))
  const code = await mirror.exited
  const ms = Date.now() - started

  // Then it exits 0
  assert.equal(code, 0, tailOf(mirror))
  // And kcat reads each record from the target exactly once, in per-key order, byte for byte
  const read = await kcatConsume(target, topic)
  const outcome = measure(records, read)
  const summary = /Copied (\d+) records .*? in ([\d.]+) s: (\d+) records\/s/.exec(mirror.output())
  recordResult('R1 bulk copy (--once)', outcome, ms, `8 partitions, 1000 keys, 100 B values, --num.streams 2; process ${(ms / 1000).toFixed(1)} s; the mirror reported ${summary?.[1] ?? '?'} records sent in ${summary?.[2] ?? '?'} s (${summary?.[3] ?? '?'} records/s)`)
  assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated, orderViolations: outcome.orderViolations, foreign: outcome.foreign, splitKeys: outcome.splitKeys },
    { lost: 0, duplicated: 0, orderViolations: 0, foreign: 0, splitKeys: 0 }, `${describeOutcome(outcome)}\n${tailOf(mirror, 12)}`)
  assertMirrored(records, read)
  assert.match(mirror.output(), new RegExp(`Copied ${count} records`), tailOf(mirror))
})
