// R4 (issue 6): a mirror frozen (SIGSTOP) for longer than the session timeout while a second one
// takes over its partitions, then thawed (SIGCONT). The thawed one is a zombie: the group has moved
// on without it. It must not write what it had fetched before the freeze; it waits until the group
// answers again, drops the partitions it lost, and only then goes on.
// Without transactions nothing fences A's producer at the broker, so A fences itself: its write gate
// shuts once the group has not vouched for it for nearly a session timeout, so after the thaw it
// writes nothing before its group answers, and the rejoin drops what moved to B. B reconciles with
// the target when it takes A's partitions, so what A wrote before the freeze is not copied again.
// 0 duplicates is asserted; only a request already written at the instant of the freeze could
// land twice.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { testClusters, topicRecordCount, uniqueName } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords } from '../helpers/records.ts'
import {
  committedTotal, createTopicNamed, describeOutcome, faultConfigs, measure, mirrorArgs, produceInBackground,
  recordResult, signalMirror, sized, startMirror, tailOf, waitForTargetCount
} from './helpers.ts'

test('R4: a mirror frozen past its session timeout while another takes over is fenced: it writes nothing it had fetched', async () => {
  const { source, target } = await testClusters()
  const count = sized(40_000, 300_000)
  // Given a source topic being written, and mirror A copying it (session timeout 6 s)
  const topic = uniqueName('r4-zombie')
  await createTopicNamed(source, topic, { partitions: 4, replicas: 2 })
  const records = makeRecords(count, { keys: 100, valueBytes: 100 })
  const producer = produceInBackground(source, topic, records, { partitions: 4, durationMs: sized(20_000, 90_000) })
  const files = faultConfigs(source, target)
  const args = mirrorArgs(files, topic)
  const started = Date.now()
  const a = startMirror(args)
  await waitForTargetCount(target, topic, Math.floor(count / 5), a, 120_000)

  // When A is frozen, and what it delivered but had not committed is measured
  a.child.kill('SIGSTOP')
  await sleep(1000)
  const targetAtFreeze = await topicRecordCount(target, topic)
  const committedAtFreeze = await committedTotal(source, files.group, topic)
  // And B joins the group and copies while A's session runs out (6 s) and some more
  const b = startMirror(args)
  await sleep(12_000)
  await waitForTargetCount(target, topic, Number(targetAtFreeze) + Math.floor(count / 10), b, 120_000)
  // And A is thawed, and both run on for a while
  a.child.kill('SIGCONT')
  await sleep(8000)
  await producer.done
  const codeA = await signalMirror(a, 'SIGTERM')
  const codeB = await signalMirror(b, 'SIGTERM')
  assert.equal(codeB, 0, tailOf(b))
  assert.equal(codeA, 0, tailOf(a))
  // And a last --once run copies whatever is left
  const last = startMirror([...args, '--once'])
  assert.equal(await last.exited, 0, tailOf(last))
  const ms = Date.now() - started

  // Then nothing was lost, and per-key order and bytes are kept
  const read = await kcatConsume(target, topic)
  const outcome = measure(records, read)
  const fenced = /missed a generation of its group .* droppedRecords=(\d+)/.exec(a.output())
  recordResult('R4 SIGSTOP past the session timeout (zombie)', outcome, ms, `at the freeze the target had ${targetAtFreeze} and the group had committed ${committedAtFreeze}; after SIGCONT the zombie dropped ${fenced?.[1] ?? '?'} records it held unsent (its write gate kept them back until its group answered)`)
  assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated, orderViolations: outcome.orderViolations, foreign: outcome.foreign }, { lost: 0, duplicated: 0, orderViolations: 0, foreign: 0 }, describeOutcome(outcome))
  assertMirrored(records, read)
  // And the thawed mirror saw that it had been fenced and dropped what it held, unsent
  assert.ok(fenced !== null, `the thawed mirror reports that it missed a generation:\n${tailOf(a, 20)}`)
})
