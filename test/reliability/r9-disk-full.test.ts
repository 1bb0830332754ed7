// R9 (issue 6): the target's disk fills up under a running mirror. The target broker keeps its
// data (log.dirs) on a small tmpfs of its own, with a ballast file standing for "other data" on
// the same disk; its KRaft metadata log stays on the ordinary disk, as operators keep it. The
// mirror copies until the disk is full. Then:
//   - nothing the target did not store may be committed on the source: every source record
//     below the group's committed offsets (taken while the disk is full) is on the target;
//   - once the ballast is deleted (and the broker restarted, if Kafka took the log dir offline
//     or stopped), the mirror catches up: 0 lost.
// What Kafka and the mirror did (broker log lines, the mirror's warnings, whether it exited) goes
// into the results. Mounting a tmpfs needs root (or CAP_SYS_ADMIN); without it the test is
// skipped and says so.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'
import { startCluster, type KafkaCluster } from '../../harness/cluster.ts'
import { topicRecordCount, uniqueName } from '../helpers/clusters.ts'
import { kcatConsume, type KcatRecord } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords } from '../helpers/records.ts'
import { finishMirror, machineLoad, missingRanges, perSecond, problemLines, Progress, saveMirrorOutput, seconds } from '../tools/fault-scenarios.ts'
import { readTopicFromDisk } from '../tools/kafka-segments.ts'
import {
  createTopicNamed, describeOutcome, faultConfigs, measure, mirrorArgs, produceInBackground, recordResult,
  sized, startMirror, steps, tailOf, waitUntil
} from './helpers.ts'

const MiB = 1024 * 1024
/** KAFKA_MIRROR_TEST_LOG_LEVEL=debug: the mirror's debug lines in the saved output. */
const logLevel = process.env.KAFKA_MIRROR_TEST_LOG_LEVEL !== undefined ? ['--log.level', process.env.KAFKA_MIRROR_TEST_LOG_LEVEL] : []
const PARTITIONS = 4
const diskMb = sized(64, 256)
/** Room left for the target's records once the ballast is written. */
const roomBytes = sized(12, 80) * MiB

let base: string | undefined
let disk: string | undefined
let mounted = false
let cannotMount: string | undefined
let source: KafkaCluster | undefined
let target: KafkaCluster | undefined

before(async () => {
  const step = steps('R9 clusters')
  base = mkdtempSync(join(tmpdir(), 'kafka-mirror-r9-'))
  disk = join(base, 'disk')
  mkdirSync(disk)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${diskMb}m,mode=0755`, 'tmpfs', disk], { stdio: 'pipe' })
    mounted = true
    // A run that dies before after() must not leave the tmpfs mounted.
    process.once('exit', () => { if (mounted) try { execFileSync('umount', ['-l', disk!], { stdio: 'ignore' }) } catch {} })
  } catch (error) {
    cannotMount = `cannot mount a ${diskMb} MiB tmpfs for the target's log dir (needs root or CAP_SYS_ADMIN): ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`
    return
  }
  const metadata = join(base, 'metadata')
  mkdirSync(metadata)
  ;[source, target] = await Promise.all([
    startCluster({ name: 'r9-source', brokers: 1 }),
    startCluster({ name: 'r9-target', brokers: 1, serverProperties: { 'log.dirs': join(disk, 'data'), 'metadata.log.dir': metadata } })
  ])
  step(`up: source ${source.bootstrap}, target ${target.bootstrap} with its log dir on a ${diskMb} MiB tmpfs`)
})

after(async () => {
  await Promise.all([source?.stop(), target?.stop()])
  if (mounted) {
    try { execFileSync('umount', [disk!], { stdio: 'pipe' }); mounted = false } catch {}
  }
  if (base !== undefined) rmSync(base, { recursive: true, force: true })
})

function freeBytes (dir: string): number {
  const s = statfsSync(dir)
  return s.bavail * s.bsize
}

/** Fills the disk with a ballast file ("other data") until `leave` bytes are free. */
function writeBallast (file: string, leave: number): number {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(MiB, 0x5a)
  let written = 0
  try {
    while (freeBytes(disk!) - chunk.length > leave) written += writeSync(fd, chunk)
    const rest = freeBytes(disk!) - leave
    if (rest > 0) written += writeSync(fd, chunk, 0, rest)
  } finally {
    closeSync(fd)
  }
  return written
}

function brokerAlive (cluster: KafkaCluster): boolean {
  const pid = cluster.brokers[0].pid
  if (pid === undefined) return false
  try { process.kill(pid, 0); return true } catch { return false }
}

/** Lines of the target broker's log about the full disk and its consequences. */
function brokerDiskLines (cluster: KafkaCluster, max = 6): string[] {
  const file = join(cluster.brokers[0].dir, 'logs', 'server.log')
  if (!existsSync(file)) return []
  const seen = new Set<string>()
  const lines: string[] = []
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!/\] (WARN|ERROR|FATAL) /.test(line) || !/No space left|offline|Shutdown broker|halt|KafkaStorageException|failed log dir|LogDirFailure|Stopping serving logs/i.test(line)) continue
    // One line per kind of message: the first words after the level.
    const kind = line.replace(/^\[[^\]]*\] /, '').slice(0, 60)
    if (seen.has(kind)) continue
    seen.add(kind)
    lines.push(line.length > 300 ? `${line.slice(0, 300)}…` : line)
    if (lines.length >= max) break
  }
  return lines
}

async function committedOffsets (bootstrap: string, group: string, topic: string): Promise<Map<number, bigint>> {
  const admin = new Admin({ clientId: 'reliability-test', bootstrapBrokers: bootstrap.split(','), retries: 5, timeout: 10_000 })
  try {
    const committed = new Map<number, bigint>()
    for (const g of await admin.listConsumerGroupOffsets({ groups: [group] })) {
      for (const t of g.topics) if (t.name === topic) for (const p of t.partitions) if (p.committedOffset >= 0n) committed.set(p.partitionIndex, p.committedOffset)
    }
    return committed
  } finally {
    await admin.close().catch(() => {})
  }
}

/** Source records below the committed offsets that are not on the target: committed but never delivered. */
function committedButMissing (sourceRecords: KcatRecord[], committed: Map<number, bigint>, targetRecords: Array<{ timestamp: bigint }>): number {
  const onTarget = new Set(targetRecords.map(r => r.timestamp))
  let missing = 0
  for (const r of sourceRecords) {
    if (r.offset < (committed.get(r.partition) ?? 0n) && !onTarget.has(r.timestamp)) missing++
  }
  return missing
}

test('R9: the target\'s disk fills up: nothing undelivered is committed, the mirror catches up once there is room, 0 lost', async t => {
  if (!mounted) {
    t.skip(cannotMount)
    return
  }
  const step = steps('R9')
  const src = source!
  const tgt = target!
  const count = sized(30_000, 200_000)
  const holdMs = sized(5000, 30_000)
  // Given a source topic being written with 1 KB records, more than the target's disk holds
  const topic = uniqueName('r9-disk-full')
  await createTopicNamed(src.bootstrap, topic, { partitions: PARTITIONS, replicas: 1 })
  await createTopicNamed(tgt.bootstrap, topic, { partitions: PARTITIONS, replicas: 1 })
  // And a target disk that other data fills but for roomBytes
  const ballast = join(disk!, 'ballast')
  const ballastBytes = writeBallast(ballast, roomBytes)
  step(`ballast of ${(ballastBytes / MiB).toFixed(0)} MiB written; ${(freeBytes(disk!) / MiB).toFixed(1)} MiB free for the target's records`)
  const records = makeRecords(count, { keys: 200, valueBytes: 1000 })
  const totalMb = count * 1.1 / 1024
  const producer = produceInBackground(src.bootstrap, topic, records, { partitions: PARTITIONS, durationMs: sized(15_000, 90_000) })
  // And a mirror copying it, continuously
  const files = faultConfigs(src.bootstrap, tgt.bootstrap)
  const args = mirrorArgs(files, topic, ['--num.streams', '2', ...logLevel])
  const started = Date.now()
  const mirror = startMirror(args)
  const progress = new Progress(tgt.bootstrap, topic)
  try {
    // When the disk fills up: the target stops taking records
    await waitUntil(async () => mirror.done() || !brokerAlive(tgt) || freeBytes(disk!) < 2 * MiB, 300_000, `the target's disk to fill (about ${totalMb.toFixed(0)} MiB to copy)`)
    const fullAt = Date.now()
    step(`disk full: ${(freeBytes(disk!) / 1024).toFixed(0)} KiB free, broker ${brokerAlive(tgt) ? 'running' : 'gone'}, ${progress.countAt(fullAt)} records on the target`)
    // (the last count the target answered, and when it stopped growing)
    let last = -1
    let stableSince = Date.now()
    await waitUntil(async () => {
      if (mirror.done() || !brokerAlive(tgt)) return true
      const n = Number(await topicRecordCount(tgt.bootstrap, topic))
      if (n !== last) { last = n; stableSince = Date.now() }
      return Date.now() - stableSince >= 3000
    }, 60_000, 'the target to stop taking records', 500)
    const aliveWhenFull = brokerAlive(tgt)
    // Then the source offsets the mirror committed are only those of records the target holds:
    // what the broker serves if it still runs, else what its log dir holds (read from the
    // segment files: what it serves again once restarted)
    const committedWhenFull = await committedOffsets(src.bootstrap, files.group, topic)
    const committedSum = [...committedWhenFull.values()].reduce((s, o) => s + o, 0n)
    const targetWhenFull = aliveWhenFull
      ? await kcatConsume(tgt.bootstrap, topic).catch(() => readTopicFromDisk(join(disk!, 'data'), topic))
      : readTopicFromDisk(join(disk!, 'data'), topic)
    const onTargetWhenFull = targetWhenFull.length
    const missingWhenFull = committedButMissing(await kcatConsume(src.bootstrap, topic), committedWhenFull, targetWhenFull)
    const diskLines = brokerDiskLines(tgt)
    const mirrorLinesWhenFull = problemLines(mirror, 6)
    step(`target stalled at ${onTargetWhenFull} records, ${committedSum} committed on the source; committed but not on the target: ${missingWhenFull}; broker ${aliveWhenFull ? 'running' : 'gone'}\n` +
      `broker log:\n${diskLines.join('\n')}\nmirror:\n${mirrorLinesWhenFull.join('\n')}`)
    assert.equal(missingWhenFull, 0, `${missingWhenFull} source records were committed while the target disk was full but are not on the target`)
    assert.ok(committedSum <= BigInt(onTargetWhenFull), `the group committed ${committedSum} source offsets, more than the ${onTargetWhenFull} records the target holds`)

    // When the disk stays full for holdMs, then the other data is deleted
    await sleep(holdMs)
    const exitedWhileFull = mirror.done()
    unlinkSync(ballast)
    const freedAt = Date.now()
    step(`ballast deleted after ${seconds(freedAt - fullAt)} full: ${(freeBytes(disk!) / MiB).toFixed(1)} MiB free; the mirror ${exitedWhileFull ? `exited (${await mirror.exited})` : 'is running'}`)
    // (a broker that stopped, or took its only log dir offline, needs a restart: Kafka never
    // brings a failed log dir back by itself)
    let restarted = ''
    if (!brokerAlive(tgt)) {
      await tgt.killBroker(0)
      await tgt.restartBroker(0)
      restarted = `the target broker had stopped (${diskLines.find(l => /Shutdown broker|halt/i.test(l)) !== undefined ? 'all log dirs failed' : 'see its log'}); restarted after the ballast was deleted`
    } else {
      const before = Number(await topicRecordCount(tgt.bootstrap, topic))
      const resumed = await waitUntil(async () => mirror.done() || Number(await topicRecordCount(tgt.bootstrap, topic)) > before, 15_000, 'the target to take records again').then(() => !mirror.done(), () => false)
      if (!resumed) {
        await tgt.killBroker(0)
        await tgt.restartBroker(0)
        restarted = 'the target broker kept running but took no records after the ballast was deleted (its log dir offline); restarted'
      }
    }
    if (restarted !== '') step(restarted)
    const mirrorLines = problemLines(mirror, 12)
    step(`the mirror's warnings and errors so far:\n${mirrorLines.join('\n')}`)

    // Then the mirror catches up (by itself, or restarted with --once if it gave up) and commits
    await producer.done
    const { stoppedOnError } = await finishMirror(mirror, args, src.bootstrap, files.group, topic, fullAt, sized(120_000, 300_000))
    const ms = Date.now() - started
    await progress.stop()
    const caughtUpAt = progress.reached(count)
    step(stoppedOnError === '' ? `caught up ${caughtUpAt !== undefined ? seconds(caughtUpAt - freedAt) : '?'} after the space was freed` : stoppedOnError)

    // And kcat reads every record from the target, in per-key order, byte for byte, and every
    // record committed while the disk was full is among them
    const read = await kcatConsume(tgt.bootstrap, topic)
    const outcome = measure(records, read)
    const sourceRecords = await kcatConsume(src.bootstrap, topic)
    const missingCommitted = committedButMissing(sourceRecords, committedWhenFull, read)
    const notes = `target log dir on a ${diskMb} MiB tmpfs, ${(roomBytes / MiB).toFixed(0)} MiB left by a ballast file, ${count} records of 1 KB (${totalMb.toFixed(0)} MiB); ` +
      `full at ${onTargetWhenFull} records on the target${aliveWhenFull ? '' : ' (read from its segment files)'}, ${committedSum} committed on the source (committed but missing: ${missingWhenFull} then, ${missingCommitted} at the end); ` +
      `broker ${aliveWhenFull ? 'kept running' : 'stopped'}${diskLines.length > 0 ? ` (${diskLines.map(l => l.replace(/^\[[^\]]*\] /, '').slice(0, 110)).slice(0, 2).join(' / ')})` : ''}; ` +
      `ballast deleted after ${seconds(freedAt - fullAt)}${restarted !== '' ? `; ${restarted}` : ''}; ` +
      `the mirror said ${mirrorLinesWhenFull.length > 0 ? `"${mirrorLinesWhenFull[0].replace(/^\[[^\]]*\] /, '').slice(0, 160)}"` : 'nothing'} when the target stopped taking records, ` +
      `${mirrorLines.length > 0 ? `${mirrorLines.length} warnings by the time the target was back (first: "${mirrorLines[0].replace(/^\[[^\]]*\] /, '').slice(0, 160)}")` : 'nothing by the time the target was back'}; ` +
      `${caughtUpAt !== undefined ? `caught up ${seconds(caughtUpAt - freedAt)} after the space was freed (${perSecond(progress.rate(freedAt, caughtUpAt))}); ` : ''}` +
      `${stoppedOnError === '' ? 'the mirror rode it out' : stoppedOnError}; ${machineLoad()}`
    step(`the mirror's last lines:\n${tailOf(mirror, 12)}`)
    recordResult('R9 target disk full', outcome, ms, notes)
    if (outcome.lost > 0) step(`${describeOutcome(outcome)}; missing source offsets ${missingRanges(sourceRecords, read)}`)
    assert.equal(missingCommitted, 0, `${missingCommitted} source records were committed while the disk was full but never reached the target`)
    assert.deepEqual({ lost: outcome.lost, orderViolations: outcome.orderViolations, foreign: outcome.foreign, splitKeys: outcome.splitKeys },
      { lost: 0, orderViolations: 0, foreign: 0, splitKeys: 0 }, `${describeOutcome(outcome)}; ${notes}; missing source offsets ${missingRanges(sourceRecords, read)}\n${tailOf(mirror)}`)
    assertMirrored(records, read, { allowDuplicates: true })
  } finally {
    await progress.stop()
    if (!mirror.done()) mirror.child.kill('SIGKILL')
    step(`the mirror's output: ${saveMirrorOutput(mirror, topic)}`)
  }
})
