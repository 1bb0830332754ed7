// Shared pieces of the reliability (fault) tests of issue 6: the mirror as a process, a producer
// that writes known records while the mirror runs, an exact count of what reached the target, and
// the results file of a full run (KAFKA_MIRROR_RELIABILITY=full, `npm run test:reliability`).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync } from 'node:fs'
import { cpus, platform, release, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin, Producer } from '@platformatic/kafka'
import { topicRecordCount } from '../helpers/clusters.ts'
import type { KcatRecord } from '../helpers/kcat.ts'
import { writeTutorialConfigs, type TestRecord } from '../helpers/records.ts'

/** Full sizes and repetitions (`npm run test:reliability`); reduced ones inside `npm test`. */
export const full = process.env.KAFKA_MIRROR_RELIABILITY === 'full'

/** The reduced value in `npm test`, the full one in `npm run test:reliability`. */
export function sized<T> (reduced: T, fullValue: T): T {
  return full ? fullValue : reduced
}

const bin = fileURLToPath(new URL('../../bin/kafka-mirror.ts', import.meta.url))
export const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))

/** Logs the steps of a scenario with the seconds since its start, to stderr (seen when a test fails or runs alone). */
export function steps (scenario: string): (what: string) => void {
  const started = Date.now()
  return what => { process.stderr.write(`[${scenario} +${((Date.now() - started) / 1000).toFixed(1)} s] ${what}\n`) }
}

// ---------------------------------------------------------------------------------------------
// The mirror as a process, as users run it.

export interface MirrorProcess {
  child: ChildProcess
  output: () => string
  /** Exit code, or -1 when a signal ended it. */
  exited: Promise<number>
  /** Whether it has exited already. */
  done: () => boolean
  /** When it exited (Date.now()), or undefined while it runs. */
  exitedAt: () => number | undefined
}

const running = new Set<ChildProcess>()
// A failed test must not leave mirrors copying into the next one.
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })

export function startMirror (argv: string[]): MirrorProcess {
  const child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let output = ''
  let exitedAt: number | undefined
  child.stdout!.on('data', d => { output += String(d) })
  child.stderr!.on('data', d => { output += String(d) })
  const exited = new Promise<number>(resolve => child.once('exit', (code, signal) => {
    exitedAt = Date.now()
    running.delete(child)
    resolve(code ?? (signal !== null ? -1 : 0))
  }))
  return { child, output: () => output, exited, done: () => exitedAt !== undefined, exitedAt: () => exitedAt }
}

/** Sends the signal and waits for the exit; SIGKILL follows after `timeoutMs`. Returns the exit code, or 'timeout'. */
export async function signalMirror (mirror: MirrorProcess, signal: NodeJS.Signals, timeoutMs = 30_000): Promise<number | 'timeout'> {
  if (mirror.done()) return await mirror.exited
  mirror.child.kill(signal)
  // An unref'd timer: once the mirror exited, it must not hold the test file's process for timeoutMs
  // (node --test waits for that process to exit).
  const result = await Promise.race([mirror.exited, sleep(timeoutMs, undefined, { ref: false }).then(() => 'timeout' as const)])
  if (result === 'timeout') {
    mirror.child.kill('SIGKILL')
    await mirror.exited
  }
  return result
}

/** The last lines of a mirror's output, for assertion messages. */
export function tailOf (mirror: MirrorProcess, lines = 30): string {
  return mirror.output().split('\n').slice(-lines).join('\n')
}

/**
 * consumer.properties and producer.properties for fault tests: a known group, and a short
 * session (6 s, the brokers' group.min.session.timeout.ms) so a killed member leaves the group
 * within seconds.
 */
export function faultConfigs (source: string, target: string, extra: { consumer?: Record<string, string>, producer?: Record<string, string> } = {}): { consumer: string, producer: string, group: string } {
  const group = `reliability-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
  const files = writeTutorialConfigs(source, target, {
    consumer: { 'group.id': group, 'session.timeout.ms': '6000', 'heartbeat.interval.ms': '1000', ...extra.consumer },
    producer: { ...extra.producer }
  })
  return { consumer: files.consumer, producer: files.producer, group }
}

/**
 * The partitioning each scenario runs with. KAFKA_MIRROR_PARTITIONING=key|source fixes it (the full
 * suite runs once with each); otherwise scenarios alternate, key first, so the reduced suite in
 * `npm test` covers both. A scenario's result names its partitioning.
 */
// Each test file runs in a process of its own: start the alternation from the file's name, so files
// with one scenario do not all get the same partitioning.
let scenarios = [...process.argv.join(' ')].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_003, 7)
let lastPartitioning = 'key'
export function scenarioPartitioning (): 'key' | 'source' {
  const fixed = process.env.KAFKA_MIRROR_PARTITIONING
  if (fixed === 'key' || fixed === 'source') return fixed
  return scenarios++ % 2 === 0 ? 'key' : 'source'
}

export function mirrorArgs (files: { consumer: string, producer: string }, topic: string, extra: string[] = []): string[] {
  const partitioning = extra.includes('--partitioning') ? extra[extra.indexOf('--partitioning') + 1] : scenarioPartitioning()
  lastPartitioning = partitioning
  // --partitioning and --offset.commit.interval.ms in `extra` replace the defaults.
  const replaced = new Set(['--partitioning', '--offset.commit.interval.ms'])
  const commitInterval = extra.includes('--offset.commit.interval.ms') ? extra[extra.indexOf('--offset.commit.interval.ms') + 1] : '500'
  return ['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic,
    '--offset.commit.interval.ms', commitInterval, '--status.interval.ms', '0', '--partitioning', partitioning, ...extra.filter((a, i) => !replaced.has(a) && !replaced.has(extra[i - 1]))]
}

// ---------------------------------------------------------------------------------------------
// Topics, leaders, offsets.

async function withAdmin<T> (bootstrap: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: 'reliability-test', bootstrapBrokers: bootstrap.split(','), retries: 5, timeout: 10_000 })
  try {
    return await fn(admin)
  } finally {
    await admin.close().catch(() => {})
  }
}

/**
 * Creates a topic with the given name and waits until every partition has a leader. `assignments`
 * (replica node ids per partition, the first one leading) replaces the broker's own placement.
 */
export async function createTopicNamed (bootstrap: string, name: string, options: { partitions: number, replicas: number, configs?: Record<string, string>, assignments?: number[][] }): Promise<void> {
  await withAdmin(bootstrap, async admin => {
    const configs = Object.entries(options.configs ?? {}).map(([n, value]) => ({ name: n, value }))
    if (options.assignments !== undefined) {
      await admin.createTopics({ topics: [name], assignments: options.assignments.map((brokers, partition) => ({ partition, brokers })), configs })
    } else {
      await admin.createTopics({ topics: [name], partitions: options.partitions, replicas: options.replicas, configs })
    }
  })
  await waitUntil(async () => {
    const leaders = await partitionLeaders(bootstrap, name).catch(() => [])
    return leaders.length === options.partitions && leaders.every(l => l >= 0)
  }, 30_000, `leaders for every partition of ${name}`)
}

/** The leader node id of each partition, by partition index. */
export async function partitionLeaders (bootstrap: string, topic: string): Promise<number[]> {
  return await withAdmin(bootstrap, async admin => {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const t = metadata.topics.get(topic)
    if (t === undefined) return []
    return Array.from({ length: t.partitionsCount }, (_, p) => t.partitions[p]?.leader ?? -1)
  })
}

/** Whether every partition of the topic has all its replicas in sync again. */
export async function fullyReplicated (bootstrap: string, topic: string): Promise<boolean> {
  return await withAdmin(bootstrap, async admin => {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const t = metadata.topics.get(topic)
    if (t === undefined) return false
    return Array.from({ length: t.partitionsCount }, (_, p) => t.partitions[p]).every(p => p !== undefined && p.leader >= 0 && p.isr.length === p.replicas.length)
  })
}

/** Whether the group's committed offsets reached the end of every partition of the topic. */
export async function groupCaughtUp (bootstrap: string, group: string, topic: string): Promise<boolean> {
  return await withAdmin(bootstrap, async admin => {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0
    const ends = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] })
    const committed = new Map<number, bigint>()
    for (const g of await admin.listConsumerGroupOffsets({ groups: [group] })) {
      for (const t of g.topics) if (t.name === topic) for (const p of t.partitions) committed.set(p.partitionIndex, p.committedOffset)
    }
    return ends[0].partitions.every(p => BigInt(p.offset) === 0n || (committed.get(p.partitionIndex) ?? -1n) >= BigInt(p.offset))
  })
}

/** Sum of the group's committed offsets over the topic's partitions: source records it will not copy again. */
export async function committedTotal (bootstrap: string, group: string, topic: string): Promise<bigint> {
  return await withAdmin(bootstrap, async admin => {
    let total = 0n
    for (const g of await admin.listConsumerGroupOffsets({ groups: [group] })) {
      for (const t of g.topics) if (t.name === topic) for (const p of t.partitions) if (p.committedOffset > 0n) total += p.committedOffset
    }
    return total
  })
}

/** Polls `check` (errors count as false) until it holds. */
export async function waitUntil (check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}

/** Polls the target until the topic holds at least `count` records, or the mirror exited. */
export async function waitForTargetCount (bootstrap: string, topic: string, count: number, mirror: MirrorProcess | undefined, timeoutMs: number): Promise<bigint> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const n = await topicRecordCount(bootstrap, topic)
    if (n >= BigInt(count)) return n
    if (mirror?.done() === true) throw new Error(`the mirror exited (code ${await mirror.exited}) before ${topic} held ${count} records (it holds ${n}):\n${tailOf(mirror)}`)
    if (Date.now() > deadline) throw new Error(`${topic} holds ${n} records, not ${count}, after ${timeoutMs} ms${mirror !== undefined ? `:\n${tailOf(mirror)}` : ''}`)
    await sleep(100)
  }
}

// ---------------------------------------------------------------------------------------------
// Writing the source.

function toMessage (topic: string, r: TestRecord): { topic: string, key?: Buffer, value?: Buffer, headers: Map<Buffer, Buffer>, timestamp: bigint } {
  return {
    topic,
    key: r.key ?? undefined,
    value: r.value ?? undefined,
    headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'latin1')])),
    timestamp: r.timestamp
  }
}

export interface BackgroundProducer {
  /** Records acknowledged by the source so far. */
  produced: () => number
  /** Settles when every record was acknowledged. */
  done: Promise<void>
}

/** The source partition of a key in these tests: FNV-1a of the key bytes (any fixed choice keeps per-key order). */
export function testPartition (key: Buffer | null, partitions: number, index: number): number {
  if (key === null) return index % partitions
  let h = 0x811c9dc5
  for (const b of key) h = Math.imul(h ^ b, 0x01000193)
  return (h >>> 0) % partitions
}

/**
 * Writes the records to a topic of `partitions` partitions with `producers` idempotent producers
 * at once, each owning a disjoint set of keys, so every key's records are still written one
 * after the other, in order. With `durationMs`, the writes are spread over about that long, so
 * the mirror copies while the source is being written.
 *
 * Each send holds the records of one partition: @platformatic/kafka 2.12.1 retries a send's
 * records for several partitions of one broker all at the new leader of the first one, which
 * never succeeds when a dead broker's partitions move to different brokers (see R5). Retries
 * (each after 500 ms) ride out a source broker's death: its partitions get a new leader once the
 * controller fenced it (broker.session.timeout.ms, 9 s).
 */
export function produceInBackground (bootstrap: string, topic: string, records: TestRecord[], options: { partitions: number, producers?: number, chunk?: number, durationMs?: number, retries?: number }): BackgroundProducer {
  const producers = options.producers ?? 4
  const chunk = options.chunk ?? 500
  const groups: TestRecord[][] = Array.from({ length: producers }, () => [])
  const keyGroup = new Map<string, number>()
  const partitionOf = new Map<TestRecord, number>()
  records.forEach((r, i) => {
    partitionOf.set(r, testPartition(r.key, options.partitions, i))
    const k = r.key === null ? '' : r.key.toString('latin1')
    let g = keyGroup.get(k)
    if (g === undefined) { g = keyGroup.size % producers; keyGroup.set(k, g) }
    groups[g].push(r)
  })
  let produced = 0
  const started = Date.now()
  const done = Promise.all(groups.map(async group => {
    if (group.length === 0) return
    const producer = new Producer({ clientId: 'reliability-producer', bootstrapBrokers: bootstrap.split(','), idempotent: true, retries: options.retries ?? 60, retryDelay: 500 })
    try {
      for (let i = 0; i < group.length; i += chunk) {
        const byPartition = new Map<number, TestRecord[]>()
        for (const r of group.slice(i, i + chunk)) {
          const p = partitionOf.get(r)!
          byPartition.set(p, [...(byPartition.get(p) ?? []), r])
        }
        // Partitions at once, each partition's records in order: keys never share two partitions.
        await Promise.all([...byPartition].map(async ([partition, rs]) => {
          await producer.send({ acks: -1, messages: rs.map(r => ({ ...toMessage(topic, r), partition })) })
          produced += rs.length
        }))
        if (options.durationMs !== undefined) {
          // Keep to the pace: this producer's share of the records in its share of the time.
          const due = started + options.durationMs * Math.min(1, (i + chunk) / group.length)
          if (due > Date.now()) await sleep(due - Date.now())
        }
      }
    } finally {
      await producer.close().catch(() => {})
    }
  })).then(() => {})
  done.catch(() => {})
  return { produced: () => produced, done }
}

/** Writes the records as fast as the source takes them (keys spread over parallel producers). */
export async function produceAll (bootstrap: string, topic: string, records: TestRecord[], partitions: number, producers = 4): Promise<void> {
  await produceInBackground(bootstrap, topic, records, { partitions, producers, chunk: 4000 }).done
}

// ---------------------------------------------------------------------------------------------
// Counting what reached the target.

export interface Outcome {
  written: number
  /** Records kcat read from the target. */
  read: number
  lost: number
  /** Extra copies: a record read three times counts 2. */
  duplicated: number
  /** Records whose first copy came after a later record of the same key in its target partition. */
  orderViolations: number
  /** Records read that were never written, or whose bytes differ from what was written. */
  foreign: number
  /** Keys found in more than one target partition. */
  splitKeys: number
}

/**
 * Counts loss, duplicates, per-key order and byte equality exactly, by each record's timestamp,
 * which makeRecords makes unique (base + index). Independent of assertMirrored, so the numbers
 * are known even when it fails; the tests call both.
 */
export function measure (written: TestRecord[], read: KcatRecord[]): Outcome {
  const base = written[0].timestamp
  const seen = new Uint32Array(written.length)
  let foreign = 0
  const index = (r: KcatRecord): number => {
    const i = Number(r.timestamp - base)
    if (!Number.isInteger(i) || i < 0 || i >= written.length) return -1
    const w = written[i]
    const same = (a: Buffer | null, b: Buffer | null): boolean => a === null ? b === null : b !== null && a.equals(b)
    if (w.timestamp !== r.timestamp || !same(w.key, r.key) || !same(w.value, r.value)) return -1
    return i
  }
  // kcat prints each partition in offset order; a stable sort by partition keeps that order.
  const sorted = [...read].sort((a, b) => a.partition - b.partition)
  const lastIndexOfKey = new Map<string, number>()
  const partitionOfKey = new Map<string, number>()
  const splitKeys = new Set<string>()
  let orderViolations = 0
  for (const r of sorted) {
    const i = index(r)
    if (i < 0) { foreign++; continue }
    seen[i]++
    if (r.key === null) continue
    const key = r.key.toString('latin1')
    const p = partitionOfKey.get(key)
    if (p === undefined) partitionOfKey.set(key, r.partition)
    else if (p !== r.partition) splitKeys.add(key)
    if (seen[i] > 1) continue // a second copy of a replayed range; the first copy is what is ordered
    const last = lastIndexOfKey.get(`${r.partition}|${key}`) ?? -1
    if (i < last) orderViolations++
    else lastIndexOfKey.set(`${r.partition}|${key}`, i)
  }
  let lost = 0
  let duplicated = 0
  for (const n of seen) {
    if (n === 0) lost++
    else duplicated += n - 1
  }
  return { written: written.length, read: read.length, lost, duplicated, orderViolations, foreign, splitKeys: splitKeys.size }
}

export function describeOutcome (o: Outcome): string {
  return `written ${o.written}, read ${o.read}, lost ${o.lost}, duplicated ${o.duplicated}, order violations ${o.orderViolations}, foreign ${o.foreign}, split keys ${o.splitKeys}`
}

// ---------------------------------------------------------------------------------------------
// The results file of a full run.

export function resultsFile (): string {
  return join(resultsDir, `${new Date().toISOString().slice(0, 10)}.md`)
}

/**
 * Appends a scenario's measured outcome to results/<date>.md in full mode (or when
 * KAFKA_MIRROR_RELIABILITY_RESULTS=1); prints it either way.
 */
export function recordResult (scenario: string, outcome: Outcome, ms: number, notes = ''): void {
  const line = `| ${scenario} (--partitioning ${lastPartitioning}) | ${full ? 'full' : 'reduced'} | ${outcome.written} | ${outcome.lost} | ${outcome.duplicated} | ${outcome.orderViolations} | ${(ms / 1000).toFixed(1)} s | ${notes} |`
  process.stderr.write(`reliability result: ${line}\n`)
  if (!full && process.env.KAFKA_MIRROR_RELIABILITY_RESULTS !== '1') return
  const file = resultsFile()
  mkdirSync(dirname(file), { recursive: true })
  startResultsRun(runDetails())
  appendFileSync(file, `${line}\n`)
}

// The global setup starts the run's table once; a file run alone starts its own.
let runStarted = process.env.KAFKA_MIRROR_RELIABILITY_RUN !== undefined

/** Starts a run's table in the results file (once per run). */
export function startResultsRun (details: string): void {
  if (runStarted) return
  runStarted = true
  process.env.KAFKA_MIRROR_RELIABILITY_RUN = new Date().toISOString()
  const file = resultsFile()
  mkdirSync(dirname(file), { recursive: true })
  if (!existsSync(file)) {
    appendFileSync(file, '# Reliability results\n\nWritten by `npm run test:reliability` (test/reliability/*.test.ts): every record written to the source is read back from the target with kcat and counted: lost, duplicated (extra copies), per-key order violations.\n')
  }
  appendFileSync(file, resultsRunHeading(details))
}

/** What the run ran on: versions and machine. */
export function runDetails (): string {
  let commit = 'unknown'
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dirname(bin), encoding: 'utf8' }).trim() } catch {}
  return `Node ${process.version}, commit ${commit}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()}.`
}

/** The table heading of one run in the results file; the global setup writes it once per run. */
export function resultsRunHeading (details: string): string {
  return `\n## Run of ${new Date().toISOString()}\n\n${details}\n\n| Scenario | Size | Written | Lost | Duplicated | Order violations | Time | Notes |\n|---|---|---|---|---|---|---|---|\n`
}
