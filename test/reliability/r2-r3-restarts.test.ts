// R2 and R3 (issue 6): the mirror process is stopped again and again while the source is being
// written and while it copies, then restarted in the same group; every record still arrives.
//   R2: SIGTERM (graceful: deliver what was fetched, commit, exit 0): 0 lost, 0 duplicated.
//   R3: SIGKILL (nothing committed after the last interval): 0 lost, 0 duplicated: the records the
//       target had and the group had not committed at a kill are found there by the restarted
//       mirror (src/mirror/reconcile.ts) and not copied again. The notes give, per run, how many
//       records would have been copied twice without it (the target − committed after the last kill;
//       232,485 of 532,487 for 300,000 records and 3 kills before issue 15). `npm test` runs it in
//       both partitionings (reduced), the full suite once per partitioning.
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { testClusters, topicRecordCount, uniqueName } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords } from '../helpers/records.ts'
import {
  committedTotal, createTopicNamed, describeOutcome, faultConfigs, measure, mirrorArgs, produceInBackground,
  recordResult, signalMirror, sized, startMirror, tailOf, waitForTargetCount, type Outcome
} from './helpers.ts'

interface Stop {
  /** Records on the target when the signal was sent. */
  targetAtSignal: bigint
  /** Records on the target once the process was gone. */
  targetAfter: bigint
  /** Source records the group had committed once the process was gone. */
  committedAfter: bigint
  code: number | 'timeout'
}

interface RestartRun { outcome: Outcome, stops: Stop[], ms: number, count: number, finalOutput: string, outputs: string[], read: Awaited<ReturnType<typeof kcatConsume>>, records: ReturnType<typeof makeRecords> }

async function stopAndRestart (signal: 'SIGTERM' | 'SIGKILL', stopsWanted: number, count: number, produceMs: number, extra: string[] = []): Promise<RestartRun> {
  const { source, target } = await testClusters()
  const topic = uniqueName(signal === 'SIGTERM' ? 'r2-sigterm' : 'r3-sigkill')
  await createTopicNamed(source, topic, { partitions: 8, replicas: 2 })
  const records = makeRecords(count, { keys: 200, valueBytes: 100 })
  const files = faultConfigs(source, target)
  const args = mirrorArgs(files, topic, ['--num.streams', '2', ...extra])
  const outputs: string[] = []

  // Given a source topic being written at a steady pace for about produceMs
  const producer = produceInBackground(source, topic, records, { partitions: 8, durationMs: produceMs })
  const started = Date.now()
  const stops: Stop[] = []
  for (let i = 0; i < stopsWanted; i++) {
    // When a mirror that has copied part of it gets the signal, and a new one starts in its group
    const atStart = Number(await topicRecordCount(target, topic))
    const mirror = startMirror(args)
    // Spread over the run, and always after this process copied something of its own (a graceful
    // stop delivers everything fetched, which can pass the next mark); then 0, 0.7 or 1.4 s more,
    // so some signals come during the burst after a restart and some in the steady state.
    const mark = Math.max(Math.floor(count * (i + 1) / (stopsWanted + 1)), atStart + Math.min(1000, Math.floor((count - atStart) / 4)))
    await waitForTargetCount(target, topic, mark, mirror, 300_000)
    await sleep([0, 700, 1400][i % 3])
    const targetAtSignal = await topicRecordCount(target, topic)
    const code = await signalMirror(mirror, signal)
    outputs.push(mirror.output())
    // A produce request the killed process had sent may still land; let the brokers finish it.
    if (signal === 'SIGKILL') await sleep(1000)
    stops.push({ targetAtSignal, targetAfter: await topicRecordCount(target, topic), committedAfter: await committedTotal(source, files.group, topic), code })
    if (signal === 'SIGTERM') assert.equal(code, 0, `SIGTERM ${i + 1}: the mirror exits 0 within 30 s\n${tailOf(mirror)}`)
  }
  await producer.done
  // And a last start with --once copies the rest
  const last = startMirror([...args, '--once'])
  const code = await last.exited
  const ms = Date.now() - started
  assert.equal(code, 0, tailOf(last))
  const read = await kcatConsume(target, topic)
  return { outcome: measure(records, read), stops, ms, count, finalOutput: last.output(), outputs: [...outputs, last.output()], read, records }
}

function describeStops (stops: Stop[]): string {
  return stops.map(s => `${s.targetAtSignal}→${s.targetAfter} on target, ${s.committedAfter} committed`).join('; ')
}

test('R2: SIGTERM and restart mid-run, repeatedly: 0 lost, 0 duplicated, per-key order kept', async () => {
  const stopsWanted = sized(2, 5)
  const run = await stopAndRestart('SIGTERM', stopsWanted, sized(40_000, 500_000), sized(24_000, 90_000))
  const { outcome, stops } = run
  recordResult(`R2 SIGTERM ×${stopsWanted} + restart`, outcome, run.ms, `stops at ${describeStops(stops)}`)
  // Then every stop came while records were still being copied
  for (const s of stops) assert.ok(s.targetAtSignal < BigInt(run.count), `a stop came mid-run: ${describeStops(stops)}`)
  // And after each stop the group had committed everything the target had
  for (const s of stops) assert.equal(s.committedAfter, s.targetAfter, `a graceful stop commits what was delivered: ${describeStops(stops)}`)
  // And every record arrived exactly once, in per-key order, byte for byte
  assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated, orderViolations: outcome.orderViolations, foreign: outcome.foreign },
    { lost: 0, duplicated: 0, orderViolations: 0, foreign: 0 }, describeOutcome(outcome))
  assertMirrored(run.records, run.read)
})

const fixed = process.env.KAFKA_MIRROR_PARTITIONING
const partitionings: Array<'key' | 'source'> = fixed === 'key' || fixed === 'source' ? [fixed] : ['key', 'source']
for (const partitioning of partitionings) {
  test(`R3: SIGKILL and restart mid-run, repeatedly (--partitioning ${partitioning}): 0 lost, 0 duplicated, per-key order kept`, async () => {
    const stopsWanted = sized(3, 10)
    // The default commit interval (5 s): a kill leaves seconds of records copied and not committed.
    const run = await stopAndRestart('SIGKILL', stopsWanted, sized(30_000, 500_000), sized(30_000, 200_000), ['--partitioning', partitioning, '--offset.commit.interval.ms', '5000'])
    const { outcome, stops } = run
    // Records the target held beyond what the group had committed, at each kill: copied again before reconciliation.
    const uncommitted = stops.map(s => Number(s.targetAfter - s.committedAfter))
    const reconciled = run.outputs.map(o => [...o.matchAll(/reconciled the assigned partitions with the target .*recordsFound=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0))
    recordResult(`R3 SIGKILL ×${stopsWanted} + restart`, outcome, run.ms, `on the target and not committed at each kill (copied twice before reconciliation) ${uncommitted.join(', ')}; records found on the target past the commit, per start: ${reconciled.join(', ')}; kills at ${describeStops(stops)}`)
    // Then every kill came while records were still being copied
    for (const s of stops) assert.ok(s.committedAfter < BigInt(run.count), `a kill came mid-run: ${describeStops(stops)}`)
    // And every record arrived exactly once, in per-key order, byte for byte
    assert.deepEqual({ lost: outcome.lost, duplicated: outcome.duplicated, orderViolations: outcome.orderViolations, foreign: outcome.foreign },
      { lost: 0, duplicated: 0, orderViolations: 0, foreign: 0 }, `${describeOutcome(outcome)}; kills at ${describeStops(stops)}`)
    assertMirrored(run.records, run.read)
  })
}
