// The benchmark harness of issue 5: kafka-mirror beside Kafka's own tools, on one machine, in one run,
// on the same pre-loaded source topics. runBench() is what `npm run bench` and the smoke test call.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { alterPartitionReassignmentsV0, type Admin } from '@platformatic/kafka'
import { RawProducer } from '../src/kafka/raw/raw-producer.ts'
import { encodeRecordBatch, type DecodedRecord } from '../src/kafka/raw/record-batch.ts'
import { kafkaMirrorArgs } from './bin.ts'
import { startCluster, type KafkaCluster } from '../harness/cluster.ts'
import { ensureKafkaDist, type KafkaDist } from '../harness/kafka-dist.ts'
import {
  consumerPerfArgs, javaCommand, mm2Properties, parseConsumerPerf, parseProducerPerf, producerPerfArgs,
  mm1Properties, propertiesText, writeLogConfig, type LogConfig, type Payload
} from './java.ts'
import { machineInfo, renderMarkdown, type MachineInfo } from './report.ts'
import { cpuSecondsOf, spawnMeasured, tailOf, terminate, type Measured, type Usage } from './proc.ts'
import { benchAdmin, CountWatcher, createTopic, deleteTopic, recordCount, type TopicSpec } from './topics.ts'
import { casesOf, manyPartitionsWorkload, recordsAt, writeHalfCompressiblePayload, type Case, type WorkloadId } from './workloads.ts'
import { runLatency, type LatencyResult } from './latency.ts'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..')

export type SystemId = 'PIPE' | 'MM2' | 'MM1' | 'kafka-mirror source' | 'kafka-mirror key' | 'kafka-mirror passthrough' | 'REPLICATION'
export const allSystems: SystemId[] = ['PIPE', 'MM2', 'MM1', 'kafka-mirror source', 'kafka-mirror key', 'kafka-mirror passthrough', 'REPLICATION']

export interface BenchOptions {
  /** Multiplies every workload's record count. Default 1. */
  scale?: number
  /** Default W1..W5. */
  workloads?: WorkloadId[]
  /** Brokers of each of the two clusters: 1 or 3. Default 1. */
  brokers?: number
  /** Systems to measure; default all six. */
  systems?: SystemId[]
  /** Partitions of every source and target topic. Default 4. */
  partitions?: number
  /** kafka-mirror's --num.streams and MirrorMaker 2's tasks.max. Default 2. */
  streams?: number
  /** Heap of each broker JVM, MiB. Default 1024. */
  brokerHeapMb?: number
  /** Where to write the Markdown results; nothing is written without it. */
  out?: string
  /** Progress lines; default stderr. */
  log?: (line: string) => void
  /** Gives up on a system run when its target count has not grown for this long. Default 120 000 ms. */
  stallTimeoutMs?: number
}

export interface Row {
  caseId: string
  system: SystemId
  /** N: records in the source topic. */
  records: number
  valueBytes: number
  /** Records found on the target topic afterwards (PIPE: and consumed by ConsumerPerformance, the smaller of the two). */
  targetCount: number
  complete: boolean
  status: string
  /** Start of the process(es) until all N were on the target (and, for PIPE, consumed). */
  wallSeconds: number
  /** First record on the target until the last (PIPE: the longer of that and ConsumerPerformance's fetch time). */
  copySeconds: number
  /** Start of the process(es) until the first record was on the target. */
  firstRecordSeconds: number
  recordsPerSecond: number
  megabytesPerSecond: number
  copyRecordsPerSecond: number
  copyMegabytesPerSecond: number
  cpuSeconds: number
  cpuSecondsPerGb: number
  /** CPU from the first record on the target to the end: without start-up (approximate for PIPE's consumer). */
  copyCpuSeconds: number
  copyCpuSecondsPerGb: number
  peakRssBytes: number
  /** CPU seconds of every broker JVM of both clusters during the run, per GB moved. */
  brokerCpuSecondsPerGb: number
  note: string
  /** Log tail when the run failed. */
  errorTail?: string
}

export interface CaseInfo {
  id: string
  title: string
  topic: string
  records: number
  valueBytes: number
  compression: string
  partitions: number
  replicationFactor: number
  preloadRecordsPerSecond: number
  preloadSeconds: number
  /** Bytes of the source topic's log segments (one replica): shows what the producer codec made of the values. */
  sourceLogBytes: number
}

export interface MachineLoad {
  /** /proc/loadavg's 1-minute load at the start and the end of the run. */
  loadStart: number
  loadEnd: number
  /** Share of all CPUs busy over the run (from /proc/stat), whoever used them. */
  busyPercent: number
}

/** W6: one system's --once copy of many small topics. */
export interface ManyPartitionsRow {
  system: SystemId
  status: string
  records: number
  targetCount: number
  wallSeconds: number
  firstRecordSeconds: number
  cpuSeconds: number
  peakRssBytes: number
}

export interface ManyPartitionsResult {
  topics: number
  partitions: number
  recordsPerTopic: number
  rows: ManyPartitionsRow[]
}

export interface BenchResult {
  startedAt: Date
  finishedAt: Date
  options: Required<Omit<BenchOptions, 'out' | 'log'>> & { out?: string }
  machine: MachineInfo
  cases: CaseInfo[]
  rows: Row[]
  latency?: LatencyResult
  manyPartitions?: ManyPartitionsResult
  load: MachineLoad
  markdown: string
  file?: string
}

const GB = 1e9
const MB = 1e6

interface Context {
  dist: KafkaDist
  /** Kafka 3.9's jars, for MirrorMaker 1 (removed in 4.0); fetched only when MM1 runs. */
  mm1Dist?: KafkaDist
  source: KafkaCluster
  target: KafkaCluster
  sourceAdmin: Admin
  targetAdmin: Admin
  workDir: string
  logConfig: LogConfig
  partitions: number
  replicationFactor: number
  streams: number
  stallTimeoutMs: number
  log: (line: string) => void
  runIndex: number
}

/** Sum of the log segment sizes of a topic over every broker, divided by the replication factor. */
function topicLogBytes (cluster: KafkaCluster, topic: string, replicationFactor: number): number {
  let bytes = 0
  for (const broker of cluster.brokers) {
    const data = join(broker.dir, 'data')
    if (!existsSync(data)) continue
    for (const dir of readdirSync(data)) {
      if (!dir.startsWith(`${topic}-`) || !/^\d+$/.test(dir.slice(topic.length + 1))) continue
      for (const f of readdirSync(join(data, dir))) if (f.endsWith('.log')) bytes += statSync(join(data, dir, f)).size
    }
  }
  return bytes / replicationFactor
}

function cpuTimes (): { busy: number, total: number } {
  const fields = (/^cpu\s+(.+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '').trim().split(/\s+/).map(Number)
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return { busy: total - idle, total }
}

function loadAverage (): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0])
}

function brokerPids (ctx: Context): number[] {
  return [...ctx.source.processIds(), ...ctx.target.processIds()]
}

function payloadOf (c: Case, ctx: Context): Payload {
  if (!c.halfCompressible) return { recordSize: c.valueBytes }
  const file = join(ctx.workDir, `payload-${c.valueBytes}.txt`)
  return { recordSize: c.valueBytes, payloadFile: existsSync(file) ? file : writeHalfCompressiblePayload(ctx.workDir, c.valueBytes) }
}

function logFile (ctx: Context, name: string): string {
  ctx.runIndex++
  return join(ctx.workDir, `${String(ctx.runIndex).padStart(2, '0')}-${name.replace(/[^A-Za-z0-9.-]+/g, '_')}.log`)
}

/** Waits for a measured process's exit or the target count, whichever `until` says; fails on a stall or an early exit. */
async function watch (ctx: Context, m: Measured, watcher: CountWatcher, until: 'exit' | 'count', fatalLog?: { file: string, pattern: RegExp }): Promise<'done' | 'exited' | 'stalled' | 'failed'> {
  let lastCount = -1
  let lastProgress = performance.now()
  let lastLogCheck = 0
  while (true) {
    if (fatalLog !== undefined && performance.now() - lastLogCheck > 1000) {
      lastLogCheck = performance.now()
      if (existsSync(fatalLog.file) && fatalLog.pattern.test(readFileSync(fatalLog.file, 'utf8'))) return 'failed'
    }
    if (until === 'count' && watcher.doneAt !== undefined) return 'done'
    if (m.exit !== undefined) return until === 'exit' ? 'done' : (watcher.doneAt !== undefined ? 'done' : 'exited')
    if (watcher.last > lastCount) {
      lastCount = watcher.last
      lastProgress = performance.now()
    }
    if (performance.now() - lastProgress > ctx.stallTimeoutMs) return 'stalled'
    // Sleeps 100 ms at most; never races an already-settled promise, which would spin.
    await Promise.race(until === 'count' ? [m.exited, watcher.reached(), sleep(100)] : [m.exited, sleep(100)])
  }
}

/** CPU seconds of the processes when the first record reached the target. */
function snapshotAtFirst (watcher: CountWatcher, processes: Measured[]): { value: number | undefined } {
  const snapshot: { value: number | undefined } = { value: undefined }
  watcher.onFirst.push(() => {
    let sum = 0
    for (const p of processes) {
      p.sampler.sample()
      sum += p.sampler.usage().cpuSeconds
    }
    snapshot.value = sum
  })
  return snapshot
}

function emptyRow (c: CaseInfo, system: SystemId): Row {
  return {
    caseId: c.id, system, records: c.records, valueBytes: c.valueBytes, targetCount: 0, complete: false, status: 'not run',
    wallSeconds: NaN, copySeconds: NaN, firstRecordSeconds: NaN, recordsPerSecond: NaN, megabytesPerSecond: NaN, copyRecordsPerSecond: NaN,
    copyMegabytesPerSecond: NaN, cpuSeconds: NaN, cpuSecondsPerGb: NaN, copyCpuSeconds: NaN, copyCpuSecondsPerGb: NaN, peakRssBytes: NaN, brokerCpuSecondsPerGb: NaN, note: ''
  }
}

function finishRow (row: Row, wallMs: number, copyMs: number, usage: Usage, cpuAtFirst: number | undefined, brokerCpu: number): Row {
  const bytes = row.records * row.valueBytes
  row.wallSeconds = wallMs / 1000
  // (Unknown when the count polling never saw the target between empty and full, or first saw it
  // only after the process had exited: kafka-mirror's --once exit can beat the 100 ms polling.)
  row.firstRecordSeconds = copyMs >= 0 && copyMs < wallMs ? (wallMs - copyMs) / 1000 : NaN
  // A copy phase shorter than the 100 ms count polling cannot be told apart from it.
  row.copySeconds = Math.max(copyMs, 100) / 1000
  row.recordsPerSecond = row.records / row.wallSeconds
  row.megabytesPerSecond = bytes / MB / row.wallSeconds
  row.copyRecordsPerSecond = row.records / row.copySeconds
  row.copyMegabytesPerSecond = bytes / MB / row.copySeconds
  row.cpuSeconds = usage.cpuSeconds
  row.cpuSecondsPerGb = usage.cpuSeconds / (bytes / GB)
  row.copyCpuSeconds = cpuAtFirst !== undefined ? usage.cpuSeconds - cpuAtFirst : NaN
  row.copyCpuSecondsPerGb = row.copyCpuSeconds / (bytes / GB)
  row.peakRssBytes = usage.peakRssBytes
  row.brokerCpuSecondsPerGb = brokerCpu / (bytes / GB)
  return row
}

function verdict (row: Row): void {
  row.complete = row.targetCount === row.records
  if (row.complete) row.status = 'ok'
  else row.status = row.targetCount < row.records ? `INCOMPLETE (${row.targetCount} of ${row.records})` : `INCOMPLETE (${row.targetCount} records, ${row.targetCount - row.records} more than ${row.records})`
}

async function freshTarget (ctx: Context, spec: TopicSpec): Promise<void> {
  await deleteTopic(ctx.targetAdmin, spec.name)
  await createTopic(ctx.targetAdmin, spec)
}

/**
 * Writes N keyed records (see Case.keyed) with kafka-mirror's own batch producer: batches of about
 * 256 KiB, partition after partition, keys key-000000..key-099999 in turn, random values.
 */
async function preloadKeyed (ctx: Context, c: Case, info: CaseInfo, topic = info.topic, partitions = info.partitions, perBatchMax = Infinity): Promise<void> {
  const started = performance.now()
  let failure: Error | undefined
  const producer = new RawProducer<number>({
    client: { clientId: 'bench-preload', bootstrapBrokers: ctx.source.bootstrap.split(',') },
    acks: -1, idempotent: true, requestTimeoutMs: 30_000, deliveryTimeoutMs: 120_000, retryBackoffMs: 100, maxRequestBytes: 4 << 20
  }, { acknowledged: () => {}, failed: (_t, _p, _u, error) => { failure = error } })
  try {
    await producer.start()
    await producer.prepareTopics([topic])
    const pool = randomBytes(c.valueBytes * 1024 + 1)
    const perBatch = Math.min(perBatchMax, Math.max(1, Math.floor((256 << 10) / (c.valueBytes + 30))))
    let written = 0
    let partition = 0
    while (written < info.records && failure === undefined) {
      const n = Math.min(perBatch, info.records - written)
      const now = BigInt(Date.now())
      const records: DecodedRecord[] = new Array(n)
      for (let j = 0; j < n; j++) {
        const i = written + j
        const at = (i * 7919) % 1024 * c.valueBytes
        records[j] = { offset: BigInt(j), timestamp: now, attributes: 0, key: Buffer.from(`key-${String(i % 100_000).padStart(6, '0')}----`.slice(0, 16)), value: pool.subarray(at, at + c.valueBytes), headers: [] }
      }
      producer.enqueue(topic, partition, { batch: encodeRecordBatch(records), context: n })
      partition = (partition + 1) % partitions
      written += n
      while (producer.pending > 32 && failure === undefined) await sleep(2)
    }
    while (producer.pending > 0 && failure === undefined) await sleep(10)
  } finally {
    await producer.close()
  }
  if (failure !== undefined) throw new Error(`Pre-loading ${topic} failed: ${failure.message}`)
  info.preloadSeconds = (performance.now() - started) / 1000
  info.preloadRecordsPerSecond = info.records / info.preloadSeconds
}

async function preload (ctx: Context, c: Case, info: CaseInfo): Promise<void> {
  if (c.keyed === true) {
    await preloadKeyed(ctx, c, info)
    const count = await recordCount(ctx.sourceAdmin, info.topic, info.partitions)
    if (count !== info.records) throw new Error(`Pre-loading ${info.topic} wrote ${count} of ${info.records} records`)
    return
  }
  const payload = payloadOf(c, ctx)
  const file = logFile(ctx, `preload-${c.id}`)
  const props = { 'bootstrap.servers': ctx.source.bootstrap, acks: 'all', 'compression.type': c.compression, ...c.preloadProps }
  const cmd = javaCommand(ctx.dist, ctx.logConfig, file + '.log4j', 'org.apache.kafka.tools.ProducerPerformance', producerPerfArgs(info.topic, info.records, payload, props))
  const m = spawnMeasured(`preload ${c.id}`, cmd.command, cmd.args, file)
  const exit = await m.exited
  m.sampler.stop()
  const count = await recordCount(ctx.sourceAdmin, info.topic, info.partitions)
  if (exit.code !== 0 || count !== info.records) {
    throw new Error(`Pre-loading ${info.topic} failed (exit ${exit.code}, ${count} of ${info.records} records):\n${tailOf(file)}\n${tailOf(file + '.log4j')}`)
  }
  info.preloadSeconds = (exit.at - m.startedAt) / 1000
  info.preloadRecordsPerSecond = parseProducerPerf(readFileSync(file, 'utf8'))?.recordsPerSecond ?? info.records / info.preloadSeconds
}

async function runPipe (ctx: Context, c: Case, info: CaseInfo, spec: TopicSpec): Promise<Row> {
  const row = emptyRow(info, 'PIPE')
  const payload = payloadOf(c, ctx)
  const pFile = logFile(ctx, `pipe-producer-${c.id}`)
  const cFile = logFile(ctx, `pipe-consumer-${c.id}`)
  const props = { 'bootstrap.servers': ctx.target.bootstrap, acks: 'all', 'linger.ms': 5, 'batch.size': 262144, 'compression.type': c.compression }
  const pCmd = javaCommand(ctx.dist, ctx.logConfig, pFile + '.log4j', 'org.apache.kafka.tools.ProducerPerformance', producerPerfArgs(info.topic, info.records, payload, props))
  const cCmd = javaCommand(ctx.dist, ctx.logConfig, cFile + '.log4j', 'org.apache.kafka.tools.ConsumerPerformance', consumerPerfArgs(ctx.source.bootstrap, info.topic, info.records))
  const watcher = new CountWatcher(ctx.targetAdmin, info.topic, info.partitions, info.records)
  const brokerCpu0 = cpuSecondsOf(brokerPids(ctx))
  const producer = spawnMeasured('PIPE producer', pCmd.command, pCmd.args, pFile)
  const consumer = spawnMeasured('PIPE consumer', cCmd.command, cCmd.args, cFile)
  const cpuAtFirst = snapshotAtFirst(watcher, [producer, consumer])
  const [pState, cState] = await Promise.all([watch(ctx, producer, watcher, 'exit'), watch(ctx, consumer, watcher, 'exit')])
  const brokerCpu = cpuSecondsOf(brokerPids(ctx)) - brokerCpu0
  const pUsage = producer.sampler.stop()
  const cUsage = consumer.sampler.stop()
  await Promise.all([terminate(producer, 2000), terminate(consumer, 2000)])
  await watcher.stop()
  const consumed = parseConsumerPerf(readFileSync(cFile, 'utf8'))
  const produced = await recordCount(ctx.targetAdmin, info.topic, info.partitions)
  row.targetCount = Math.min(produced, consumed?.records ?? 0)
  const start = Math.min(producer.startedAt, consumer.startedAt)
  const end = Math.max(producer.exit?.at ?? performance.now(), consumer.exit?.at ?? performance.now())
  const producerCopy = watcher.doneAt !== undefined && watcher.firstAt !== undefined ? watcher.doneAt - watcher.firstAt : end - start
  const copyMs = Math.max(producerCopy, consumed?.fetchMs ?? end - start)
  finishRow(row, end - start, copyMs, { cpuSeconds: pUsage.cpuSeconds + cUsage.cpuSeconds, peakRssBytes: pUsage.peakRssBytes + cUsage.peakRssBytes, processes: 2 }, cpuAtFirst.value, brokerCpu)
  verdict(row)
  row.note = `producer ${produced} records on the target, consumer ${consumed?.records ?? '?'} records read; CPU and RSS are the two JVMs' sum`
  if (pState !== 'done' || cState !== 'done' || producer.exit?.code !== 0 || consumer.exit?.code !== 0 || !row.complete) {
    row.complete = false
    if (row.status === 'ok') row.status = 'FAILED'
    row.errorTail = `--- producer (exit ${producer.exit?.code}, ${pState}) ---\n${tailOf(pFile, 15)}\n--- consumer (exit ${consumer.exit?.code}, ${cState}) ---\n${tailOf(cFile, 15)}`
  }
  return row
}

async function runMm2 (ctx: Context, c: Case, info: CaseInfo): Promise<Row> {
  const file = logFile(ctx, `mm2-${c.id}`)
  const props = mm2Properties({
    sourceAlias: `source${ctx.runIndex}`,
    sourceBootstrap: ctx.source.bootstrap,
    targetBootstrap: ctx.target.bootstrap,
    topic: info.topic,
    tasks: ctx.streams,
    compression: c.compression
  })
  const propsFile = file.replace(/\.log$/, '.properties')
  writeFileSync(propsFile, propertiesText(props))
  const cmd = javaCommand(ctx.dist, ctx.logConfig, file + '.log4j', 'org.apache.kafka.connect.mirror.MirrorMaker', [propsFile])
  // A connector whose configuration Connect refuses never starts: no use waiting for the stall timeout.
  return await runUntilCount(ctx, info, 'MM2', 'MirrorMaker 2', cmd, file, { file: file + '.log4j', pattern: /ERROR Failed to configure MirrorSourceConnector/ })
}

/** MirrorMaker 1 of Kafka 3.9 (kafka.tools.MirrorMaker), as the tutorial runs it, with --num.streams as kafka-mirror's. */
async function runMm1 (ctx: Context, c: Case, info: CaseInfo): Promise<Row> {
  ctx.mm1Dist ??= ensureKafkaDist('kafka-3.9')
  const file = logFile(ctx, `mm1-${c.id}`)
  const props = mm1Properties({ sourceBootstrap: ctx.source.bootstrap, targetBootstrap: ctx.target.bootstrap, group: `bench-mm1-${randomBytes(4).toString('hex')}`, compression: c.compression })
  const consumerFile = file.replace(/\.log$/, '.consumer.properties')
  const producerFile = file.replace(/\.log$/, '.producer.properties')
  writeFileSync(consumerFile, propertiesText(props.consumer))
  writeFileSync(producerFile, propertiesText(props.producer))
  const cmd = javaCommand(ctx.mm1Dist, ctx.logConfig, file + '.log4j', 'kafka.tools.MirrorMaker', [
    '--consumer.config', consumerFile, '--producer.config', producerFile, '--include', info.topic, '--num.streams', String(ctx.streams)
  ])
  return await runUntilCount(ctx, info, 'MM1', 'MirrorMaker 1', cmd, file)
}

/** Runs a mirror that never ends by itself and stops it (SIGTERM) as soon as the target holds N records. */
async function runUntilCount (ctx: Context, info: CaseInfo, system: SystemId, name: string, cmd: { command: string, args: string[] }, file: string, fatalLog?: { file: string, pattern: RegExp }): Promise<Row> {
  const row = emptyRow(info, system)
  const watcher = new CountWatcher(ctx.targetAdmin, info.topic, info.partitions, info.records)
  const brokerCpu0 = cpuSecondsOf(brokerPids(ctx))
  const m = spawnMeasured(name, cmd.command, cmd.args, file)
  const cpuAtFirst = snapshotAtFirst(watcher, [m])
  const state = await watch(ctx, m, watcher, 'count', fatalLog)
  const brokerCpu = cpuSecondsOf(brokerPids(ctx)) - brokerCpu0
  const usage = m.sampler.stop()
  const doneAt = watcher.doneAt
  await terminate(m)
  await watcher.stop()
  row.targetCount = await recordCount(ctx.targetAdmin, info.topic, info.partitions)
  const end = doneAt ?? performance.now()
  finishRow(row, end - m.startedAt, watcher.firstAt !== undefined ? end - watcher.firstAt : end - m.startedAt, usage, cpuAtFirst.value, brokerCpu)
  verdict(row)
  row.note = 'stopped (SIGTERM) once the target held N records; CPU and RSS up to then'
  if (state !== 'done' || !row.complete) {
    row.complete = false
    if (row.status === 'ok') row.status = 'FAILED'
    row.status += state === 'exited'
      ? ` (${name} exited with ${m.exit?.code ?? m.exit?.signal})`
      : state === 'stalled' ? ` (no progress for ${ctx.stallTimeoutMs / 1000} s)` : state === 'failed' ? ' (its configuration was refused)' : ''
    row.errorTail = `--- stdout/stderr ---\n${tailOf(file, 20)}\n--- log4j (errors) ---\n${errorLines(file + '.log4j')}`
  }
  return row
}

function errorLines (file: string): string {
  const tail = tailOf(file, 400).split('\n')
  const errors = tail.filter(l => /ERROR|Exception|WARN/.test(l))
  return (errors.length > 0 ? errors.slice(-25) : tail.slice(-25)).join('\n')
}

/** 'passthrough': --partitioning source, batches as they are where they can (--fast.path auto); 'source': the same, every batch written anew (--fast.path off). */
async function runKafkaMirror (ctx: Context, c: Case, info: CaseInfo, partitioning: 'source' | 'key' | 'passthrough'): Promise<Row> {
  const system: SystemId = `kafka-mirror ${partitioning}`
  const row = emptyRow(info, system)
  const file = logFile(ctx, `kafka-mirror-${partitioning}-${c.id}`)
  const consumerFile = file.replace(/\.log$/, '.consumer.properties')
  const producerFile = file.replace(/\.log$/, '.producer.properties')
  writeFileSync(consumerFile, propertiesText({ 'bootstrap.servers': ctx.source.bootstrap, 'group.id': `bench-${randomBytes(4).toString('hex')}`, 'auto.offset.reset': 'earliest' }))
  writeFileSync(producerFile, propertiesText({ 'bootstrap.servers': ctx.target.bootstrap, acks: 'all', 'compression.type': c.compression, 'linger.ms': 5, 'batch.size': 262144 }))
  const args = [
    ...kafkaMirrorArgs(),
    '--consumer.config', consumerFile, '--producer.config', producerFile,
    '--include', info.topic, '--once', '--status.interval.ms', '0', '--num.streams', String(ctx.streams), '--partitioning', partitioning === 'passthrough' ? 'source' : partitioning,
    // "kafka-mirror source" writes every batch anew (--fast.path off), so the cost of re-encoding
    // shows beside the passthrough; key partitioning runs as users get it (--fast.path auto).
    '--fast.path', partitioning === 'source' ? 'off' : 'auto'
  ]
  const watcher = new CountWatcher(ctx.targetAdmin, info.topic, info.partitions, info.records)
  const brokerCpu0 = cpuSecondsOf(brokerPids(ctx))
  const m = spawnMeasured(system, process.execPath, args, file)
  const cpuAtFirst = snapshotAtFirst(watcher, [m])
  const state = await watch(ctx, m, watcher, 'exit')
  const brokerCpu = cpuSecondsOf(brokerPids(ctx)) - brokerCpu0
  const usage = m.sampler.stop()
  await terminate(m, 5000)
  await watcher.stop()
  row.targetCount = await recordCount(ctx.targetAdmin, info.topic, info.partitions)
  const exitAt = m.exit?.at ?? performance.now()
  const end = Math.min(exitAt, watcher.doneAt ?? exitAt)
  finishRow(row, end - m.startedAt, watcher.firstAt !== undefined ? end - watcher.firstAt : end - m.startedAt, usage, cpuAtFirst.value, brokerCpu)
  verdict(row)
  const summary = /Copied .*records\/s.*/.exec(readFileSync(file, 'utf8'))?.[0]
  row.note = summary !== undefined ? `its own summary: "${summary}"` : ''
  if (state !== 'done' || m.exit?.code !== 0 || !row.complete) {
    row.complete = false
    if (row.status === 'ok') row.status = 'FAILED'
    row.status += state === 'stalled' ? ` (no progress for ${ctx.stallTimeoutMs / 1000} s)` : ` (exit ${m.exit?.code ?? m.exit?.signal})`
    row.errorTail = tailOf(file, 30)
  }
  return row
}

/**
 * The ceiling: Kafka copying the same pre-loaded log to a new replica. Every partition of the
 * source topic (on node 1) is reassigned to nodes 1 and 2, unthrottled; timed from the request to
 * the moment every partition lists node 2 in sync. The new replica is removed again afterwards.
 */
async function runReplication (ctx: Context, info: CaseInfo): Promise<Row> {
  const row = emptyRow(info, 'REPLICATION')
  if (ctx.source.brokers.length < 2 || ctx.replicationFactor !== 1) {
    row.status = 'NOT RUN (needs --brokers 1: the source cluster then gets a second broker for it)'
    return row
  }
  const reassign = async (replicas: number[]): Promise<void> => {
    const metadata = await ctx.sourceAdmin.metadata({ topics: [info.topic], forceUpdate: true })
    const connection = await ctx.sourceAdmin.connections.get(metadata.brokers.get(metadata.controllerId) ?? [...metadata.brokers.values()][0])
    const answer = await alterPartitionReassignmentsV0.api.async(connection, 30_000, false, [{ name: info.topic, partitions: Array.from({ length: info.partitions }, (_, partitionIndex) => ({ partitionIndex, replicas })) }])
    const refused = answer.responses.flatMap(r => r.partitions).find(p => p.errorCode !== 0)
    if (answer.errorCode !== 0 || refused !== undefined) throw new Error(`the reassignment was refused: ${answer.errorMessage ?? refused?.errorMessage ?? refused?.errorCode}`)
  }
  const inSync = async (wanted: number[]): Promise<boolean> => {
    const metadata = await ctx.sourceAdmin.metadata({ topics: [info.topic], forceUpdate: true })
    const t = metadata.topics.get(info.topic)
    return t !== undefined && t.partitions.every(p => p.replicas.length === wanted.length && wanted.every(n => p.isr.includes(n) && p.replicas.includes(n)))
  }
  const brokerCpu0 = cpuSecondsOf(brokerPids(ctx))
  const started = performance.now()
  await reassign([1, 2])
  const deadline = started + ctx.stallTimeoutMs * 5
  while (!await inSync([1, 2])) {
    if (performance.now() > deadline) {
      row.status = 'FAILED (not in sync in time)'
      return row
    }
    await sleep(100)
  }
  const ms = performance.now() - started
  const brokerCpu = cpuSecondsOf(brokerPids(ctx)) - brokerCpu0
  finishRow(row, ms, ms, { cpuSeconds: brokerCpu, peakRssBytes: NaN, processes: 0 }, 0, brokerCpu)
  row.firstRecordSeconds = NaN
  row.targetCount = info.records
  verdict(row)
  row.note = 'an unthrottled reassignment of every partition from node 1 to nodes 1 and 2 of the source cluster, timed until node 2 was in sync everywhere (polled every 100 ms); CPU is the brokers\' (both clusters), as in the Broker CPU column'
  await reassign([1])
  while (!await inSync([1]) && performance.now() < deadline) await sleep(200)
  return row
}

async function runSystem (ctx: Context, system: SystemId, c: Case, info: CaseInfo, spec: TopicSpec): Promise<Row> {
  switch (system) {
    case 'REPLICATION': return await runReplication(ctx, info)
    case 'PIPE': return await runPipe(ctx, c, info, spec)
    case 'MM2': return await runMm2(ctx, c, info)
    case 'MM1': return await runMm1(ctx, c, info)
    case 'kafka-mirror source': return await runKafkaMirror(ctx, c, info, 'source')
    case 'kafka-mirror key': return await runKafkaMirror(ctx, c, info, 'key')
    case 'kafka-mirror passthrough': return await runKafkaMirror(ctx, c, info, 'passthrough')
  }
}

/** A topic's spec; `onNodeOne`: every partition on node 1 (the source's spare broker stays empty, for REPLICATION). */
function topicSpec (name: string, partitions: number, replicas: number, onNodeOne: boolean): TopicSpec {
  return { name, partitions, replicas, ...(onNodeOne ? { assignments: Array.from({ length: partitions }, () => [1]) } : {}) }
}

/** Records of a case's warm-up topic (fewer when the case has fewer). */
const WARM_UP_RECORDS = 2_000_000

/**
 * Before a case's systems are timed: kafka-mirror passthrough and then key copy a warm-up topic of
 * the same records (up to WARM_UP_RECORDS), untimed. Without it the first system measured on fresh
 * brokers pays for their warm-up (JIT compilation of the fetch, produce and validation paths, heap
 * sizing): measured on W1 at 2,000,000 records, the first system's broker CPU per GB was 1.8 to 2.4
 * times the same system's a run later.
 */
async function warmUp (ctx: Context, c: Case, info: CaseInfo, onNodeOne: boolean): Promise<void> {
  const warm: CaseInfo = { ...info, topic: `${info.topic}-warm-up`, records: Math.min(info.records, WARM_UP_RECORDS) }
  const spec = topicSpec(warm.topic, warm.partitions, warm.replicationFactor, onNodeOne)
  try {
    await createTopic(ctx.sourceAdmin, spec)
    await preload(ctx, c, warm)
    for (const system of ['kafka-mirror passthrough', 'kafka-mirror key'] as const) {
      await freshTarget(ctx, spec)
      const row = await runSystem(ctx, system, c, warm, spec)
      ctx.log(`${c.id}: warm-up with ${system} (not timed): ${row.status}`)
    }
  } finally {
    await deleteTopic(ctx.sourceAdmin, warm.topic).catch(() => {})
    await deleteTopic(ctx.targetAdmin, warm.topic).catch(() => {})
  }
}

/**
 * W6: 200 topics of 8 partitions with 500 keyed records each, copied --once into a fresh target
 * (topics made afresh before each system, not timed): what a many-topic migration costs, start-up
 * and group set-up included. MirrorMaker 1 and 2 never end by themselves: they are stopped once the
 * target holds every record.
 */
async function runManyPartitions (ctx: Context, systems: SystemId[], onNodeOne: boolean): Promise<ManyPartitionsResult> {
  const w = manyPartitionsWorkload
  const prefix = `bench-w6-${randomBytes(3).toString('hex')}`
  const topics = Array.from({ length: w.topics }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`)
  const spec = (name: string): TopicSpec => topicSpec(name, w.partitions, ctx.replicationFactor, onNodeOne)
  const total = w.topics * w.recordsPerTopic
  const result: ManyPartitionsResult = { topics: w.topics, partitions: w.partitions, recordsPerTopic: w.recordsPerTopic, rows: [] }
  ctx.log(`W6: creating and loading ${w.topics} topics of ${w.partitions} partitions`)
  await Promise.all(topics.map(async t => await createTopic(ctx.sourceAdmin, spec(t))))
  const c: Case = { workload: 'W6', id: 'W6', title: 'many partitions', baseRecords: w.recordsPerTopic, valueBytes: w.valueBytes, halfCompressible: false, compression: 'none', preloadProps: {}, keyed: true }
  for (const t of topics) {
    const info = { records: w.recordsPerTopic, partitions: w.partitions } as CaseInfo
    await preloadKeyed(ctx, c, info, t, w.partitions, Math.ceil(w.recordsPerTopic / w.partitions))
  }
  const include = `${prefix}-.*`
  const measured = systems.filter(s => s === 'MM1' || s === 'MM2' || s === 'kafka-mirror key' || s === 'kafka-mirror passthrough')
  // An untimed kafka-mirror run first, so that the first system measured does not pay alone for
  // a cold page cache (the source logs, Node's compiled code cache) after the pre-load.
  const warmUp = measured.find(s => s.startsWith('kafka-mirror'))
  const runs = [...(warmUp !== undefined ? [{ system: warmUp, timed: false }] : []), ...measured.map(system => ({ system, timed: true }))]
  for (const { system, timed } of runs) {
    await Promise.all(topics.map(async t => await deleteTopic(ctx.targetAdmin, t)))
    await Promise.all(topics.map(async t => await createTopic(ctx.targetAdmin, spec(t))))
    await sleep(1000)
    ctx.log(`W6: ${system}${timed ? '' : ' (warm-up, not timed)'}`)
    const file = logFile(ctx, `w6-${system}${timed ? '' : '-warm-up'}`)
    const row: ManyPartitionsRow = { system, status: 'FAILED', records: total, targetCount: 0, wallSeconds: NaN, firstRecordSeconds: NaN, cpuSeconds: NaN, peakRssBytes: NaN }
    let cmd: { command: string, args: string[] }
    if (system === 'MM2') {
      const propsFile = file.replace(/\.log$/, '.properties')
      writeFileSync(propsFile, propertiesText(mm2Properties({ sourceAlias: `source${ctx.runIndex}`, sourceBootstrap: ctx.source.bootstrap, targetBootstrap: ctx.target.bootstrap, topic: include, tasks: ctx.streams, compression: 'none' })))
      cmd = javaCommand(ctx.dist, ctx.logConfig, file + '.log4j', 'org.apache.kafka.connect.mirror.MirrorMaker', [propsFile])
    } else if (system === 'MM1') {
      ctx.mm1Dist ??= ensureKafkaDist('kafka-3.9')
      const props = mm1Properties({ sourceBootstrap: ctx.source.bootstrap, targetBootstrap: ctx.target.bootstrap, group: `bench-mm1-${randomBytes(4).toString('hex')}`, compression: 'none' })
      const consumerFile = file.replace(/\.log$/, '.consumer.properties')
      const producerFile = file.replace(/\.log$/, '.producer.properties')
      writeFileSync(consumerFile, propertiesText(props.consumer))
      writeFileSync(producerFile, propertiesText(props.producer))
      cmd = javaCommand(ctx.mm1Dist, ctx.logConfig, file + '.log4j', 'kafka.tools.MirrorMaker', ['--consumer.config', consumerFile, '--producer.config', producerFile, '--include', include, '--num.streams', String(ctx.streams)])
    } else {
      const consumerFile = file.replace(/\.log$/, '.consumer.properties')
      const producerFile = file.replace(/\.log$/, '.producer.properties')
      writeFileSync(consumerFile, propertiesText({ 'bootstrap.servers': ctx.source.bootstrap, 'group.id': `bench-${randomBytes(4).toString('hex')}`, 'auto.offset.reset': 'earliest' }))
      writeFileSync(producerFile, propertiesText({ 'bootstrap.servers': ctx.target.bootstrap, acks: 'all' }))
      cmd = {
        command: process.execPath,
        args: [...kafkaMirrorArgs(), '--consumer.config', consumerFile, '--producer.config', producerFile, '--include', include, '--once',
          '--status.interval.ms', '0', '--num.streams', String(ctx.streams), '--partitioning', system === 'kafka-mirror key' ? 'key' : 'source']
      }
    }
    const watcher = new CountWatcher(ctx.targetAdmin, topics, w.partitions, total, 200)
    const m = spawnMeasured(system, cmd.command, cmd.args, file)
    const state = await watch(ctx, m, watcher, system.startsWith('kafka-mirror') ? 'exit' : 'count')
    const usage = m.sampler.stop()
    const doneAt = watcher.doneAt
    await terminate(m, 5000)
    await watcher.stop()
    row.targetCount = await recordCount(ctx.targetAdmin, topics, w.partitions)
    const end = Math.min(m.exit?.at ?? performance.now(), doneAt ?? Infinity)
    row.wallSeconds = (end - m.startedAt) / 1000
    row.firstRecordSeconds = watcher.firstAt !== undefined ? (watcher.firstAt - m.startedAt) / 1000 : NaN
    row.cpuSeconds = usage.cpuSeconds
    row.peakRssBytes = usage.peakRssBytes
    row.status = state === 'done' && row.targetCount === total ? 'ok' : `FAILED (${state}, ${row.targetCount} of ${total})`
    ctx.log(`W6: ${system}${timed ? '' : ' (warm-up)'}: ${row.status}, ${row.wallSeconds.toFixed(1)} s`)
    if (timed) result.rows.push(row)
  }
  await Promise.all(topics.map(async t => { await deleteTopic(ctx.targetAdmin, t).catch(() => {}); await deleteTopic(ctx.sourceAdmin, t).catch(() => {}) }))
  return result
}

function javaVersion (): string {
  const out = spawnSync('java', ['-version'], { encoding: 'utf8' })
  return (out.stderr ?? '').split('\n')[0]?.trim() ?? 'unknown'
}

export async function runBench (options: BenchOptions = {}): Promise<BenchResult> {
  const startedAt = new Date()
  const opts = {
    scale: options.scale ?? 1,
    workloads: options.workloads ?? ['W1', 'W2', 'W3', 'W4', 'W5'],
    brokers: options.brokers ?? 1,
    systems: options.systems ?? allSystems,
    partitions: options.partitions ?? 4,
    streams: options.streams ?? 2,
    brokerHeapMb: options.brokerHeapMb ?? 1024,
    stallTimeoutMs: options.stallTimeoutMs ?? 120_000,
    out: options.out
  }
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`))
  if (!(opts.scale > 0)) throw new Error(`--scale must be above 0, not ${opts.scale}`)
  if (opts.brokers !== 1 && opts.brokers !== 3) throw new Error(`--brokers must be 1 or 3, not ${opts.brokers}`)

  const loadStart = loadAverage()
  const cpuStart = cpuTimes()
  const dist = ensureKafkaDist('baselines')
  const workDir = mkdtempSync(join(tmpdir(), 'kafka-mirror-bench-'))
  log(`work folder ${workDir}; starting two ${opts.brokers}-broker clusters`)
  // The replication ceiling needs a second source broker to copy to; source topics stay on node 1.
  const spare = opts.brokers === 1 && opts.systems.includes('REPLICATION') && opts.workloads.some(w => casesOf(w).length > 0)
  const [source, target] = await Promise.all([
    startCluster({ name: 'bench-source', brokers: opts.brokers + (spare ? 1 : 0), heapMb: opts.brokerHeapMb }),
    startCluster({ name: 'bench-target', brokers: opts.brokers, heapMb: opts.brokerHeapMb })
  ])
  const ctx: Context = {
    dist, source, target, sourceAdmin: benchAdmin(source.bootstrap), targetAdmin: benchAdmin(target.bootstrap), workDir,
    logConfig: writeLogConfig(workDir), partitions: opts.partitions, replicationFactor: Math.min(3, opts.brokers),
    streams: opts.streams, stallTimeoutMs: opts.stallTimeoutMs, log, runIndex: 0
  }
  if (opts.systems.includes('MM1')) ctx.mm1Dist = ensureKafkaDist('kafka-3.9')
  const machine = machineInfo({ nodeBin: process.execPath, java: javaVersion(), brokerKafka: source.kafkaVersion, toolsKafka: dist.version, mm1Kafka: ctx.mm1Dist?.version })
  const cases: CaseInfo[] = []
  const rows: Row[] = []
  let latency: LatencyResult | undefined
  let manyPartitions: ManyPartitionsResult | undefined
  try {
    for (const workload of opts.workloads) {
      if (workload === 'W5') {
        log('W5: fixed-rate latency')
        latency = await runLatency(ctx, opts.scale, opts.systems)
        continue
      }
      if (workload === 'W6') {
        log('W6: many partitions')
        manyPartitions = await runManyPartitions(ctx, opts.systems, spare)
        continue
      }
      for (const c of casesOf(workload)) {
        const info: CaseInfo = {
          id: c.id, title: c.title, topic: `bench-${c.id.toLowerCase()}-${randomBytes(3).toString('hex')}`,
          records: recordsAt(c, opts.scale), valueBytes: c.valueBytes, compression: c.compression,
          partitions: opts.partitions, replicationFactor: ctx.replicationFactor, preloadRecordsPerSecond: NaN, preloadSeconds: NaN, sourceLogBytes: NaN
        }
        cases.push(info)
        const spec = topicSpec(info.topic, info.partitions, info.replicationFactor, spare)
        log(`${c.id}: pre-loading ${info.records} records of ${c.valueBytes} B into ${info.topic}`)
        try {
          await createTopic(ctx.sourceAdmin, spec)
          await preload(ctx, c, info)
        } catch (error) {
          for (const system of opts.systems) {
            const row = emptyRow(info, system)
            row.status = 'NOT RUN (pre-load failed)'
            row.errorTail = String((error as Error).message)
            rows.push(row)
          }
          log(`${c.id}: pre-load failed: ${(error as Error).message}`)
          await deleteTopic(ctx.sourceAdmin, info.topic).catch(() => {})
          continue
        }
        info.sourceLogBytes = topicLogBytes(source, info.topic, info.replicationFactor)
        log(`${c.id}: pre-loaded in ${info.preloadSeconds.toFixed(1)} s (${(info.sourceLogBytes / 1e6).toFixed(1)} MB of log)`)
        await warmUp(ctx, c, info, spare)
        for (const system of opts.systems) {
          await freshTarget(ctx, spec)
          await sleep(1000)
          log(`${c.id}: ${system}`)
          let row: Row
          try {
            row = await runSystem(ctx, system, c, info, spec)
          } catch (error) {
            row = emptyRow(info, system)
            row.status = `FAILED (${(error as Error).message.split('\n')[0]})`
            row.errorTail = String((error as Error).stack ?? error)
          }
          rows.push(row)
          log(`${c.id}: ${system}: ${row.status}, ${Math.round(row.recordsPerSecond)} records/s (copy phase ${Math.round(row.copyRecordsPerSecond)}), ${row.cpuSeconds.toFixed(1)} CPU s, ${(row.peakRssBytes / 2 ** 20).toFixed(0)} MiB RSS`)
        }
        await deleteTopic(ctx.targetAdmin, info.topic)
        await deleteTopic(ctx.sourceAdmin, info.topic)
      }
    }
  } finally {
    await ctx.sourceAdmin.close().catch(() => {})
    await ctx.targetAdmin.close().catch(() => {})
    await Promise.all([source.stop(), target.stop()])
  }
  const finishedAt = new Date()
  const cpuEnd = cpuTimes()
  const load: MachineLoad = { loadStart, loadEnd: loadAverage(), busyPercent: 100 * (cpuEnd.busy - cpuStart.busy) / Math.max(1, cpuEnd.total - cpuStart.total) }
  const result: BenchResult = { startedAt, finishedAt, options: opts, machine, cases, rows, latency, manyPartitions, load, markdown: '' }
  result.markdown = renderMarkdown(result)
  if (opts.out !== undefined) {
    mkdirSync(dirname(opts.out), { recursive: true })
    writeFileSync(opts.out, result.markdown)
    result.file = opts.out
    log(`results written to ${opts.out}`)
  }
  // Logs of a failed run stay for a look; a clean run leaves nothing behind.
  const failed = rows.some(x => !x.complete && !x.status.startsWith('NOT RUN (needs')) || (latency?.rows.some(x => x.status !== 'ok') ?? false) || (manyPartitions?.rows.some(x => x.status !== 'ok') ?? false)
  if (failed) log(`some runs failed; their logs are in ${workDir}`)
  else if (process.env.KAFKA_MIRROR_BENCH_KEEP === '1') log(`logs kept in ${workDir} (KAFKA_MIRROR_BENCH_KEEP=1)`)
  else rmSync(workDir, { recursive: true, force: true })
  return result
}

export type { Context }
