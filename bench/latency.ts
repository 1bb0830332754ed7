// W5: end-to-end latency at a fixed rate. ProducerPerformance writes --throughput records/s into a
// LogAppendTime source topic while a mirror runs continuously into a LogAppendTime target topic; each
// record's latency is its target append time minus its source append time, paired by partition and
// offset (both mirrors measured here keep the partition and the order, and the topics start empty).
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { Producer } from '@platformatic/kafka'
import { kafkaMirrorArgs } from './bin.ts'
import type { Context, SystemId } from './harness.ts'
import { javaCommand, mm2Properties, producerPerfArgs, propertiesText } from './java.ts'
import { cpuSecondsOf, spawnMeasured, tailOf, terminate, type Measured } from './proc.ts'
import { createTopic, deleteTopic, recordCount, type TopicSpec } from './topics.ts'
import { latencySeconds, latencyWorkload } from './workloads.ts'

export interface LatencyRow {
  system: SystemId
  status: string
  /** Records produced at the fixed rate. */
  records: number
  /** Records in the percentiles: those appended after the warm-up. */
  measured: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  /** CPU of the mirror process over the whole run (idle wait included), per GB of values moved. */
  cpuSecondsPerGb: number
  peakRssBytes: number
  brokerCpuSecondsPerGb: number
  errorTail?: string
}

export interface LatencyResult {
  recordsPerSecond: number
  seconds: number
  valueBytes: number
  warmupSeconds: number
  rows: LatencyRow[]
  /** Why some systems or the whole workload were not measured. */
  notes: string[]
}

/** Each partition's LogAppendTime timestamps by offset, read with kcat (librdkafka). */
async function appendTimes (bootstrap: string, topic: string): Promise<Map<number, number[]>> {
  const child = spawn('kcat', ['-C', '-b', bootstrap.split(',')[0], '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %T\n'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', d => { err += String(d) })
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', code => resolve(code))
  })
  const times = new Map<number, number[]>()
  for await (const line of createInterface({ input: child.stdout })) {
    const [p, o, t] = line.split(' ').map(Number)
    let list = times.get(p)
    if (list === undefined) times.set(p, list = [])
    list[o] = t
  }
  const code = await exited
  if (code !== 0) throw new Error(`kcat could not read ${topic}: exit ${code}: ${err.slice(-500)}`)
  return times
}

function percentile (sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

async function waitForCount (ctx: Context, topic: string, expected: number, m: Measured): Promise<number> {
  let last = -1
  let progressAt = performance.now()
  while (true) {
    const n = await recordCount(ctx.targetAdmin, topic, ctx.partitions).catch(() => -1)
    if (n >= expected) return n
    if (n > last) { last = n; progressAt = performance.now() }
    if (m.exit !== undefined || performance.now() - progressAt > ctx.stallTimeoutMs) return n
    await sleep(200)
  }
}

function startMirror (ctx: Context, system: SystemId, topic: string, file: string): Measured {
  if (system === 'MM2') {
    const propsFile = file.replace(/\.log$/, '.properties')
    writeFileSync(propsFile, propertiesText(mm2Properties({
      sourceAlias: `source${ctx.runIndex}`, sourceBootstrap: ctx.source.bootstrap, targetBootstrap: ctx.target.bootstrap, topic, tasks: ctx.streams, compression: 'none'
    })))
    const cmd = javaCommand(ctx.dist, ctx.logConfig, file + '.log4j', 'org.apache.kafka.connect.mirror.MirrorMaker', [propsFile])
    return spawnMeasured(system, cmd.command, cmd.args, file)
  }
  const consumerFile = file.replace(/\.log$/, '.consumer.properties')
  const producerFile = file.replace(/\.log$/, '.producer.properties')
  writeFileSync(consumerFile, propertiesText({ 'bootstrap.servers': ctx.source.bootstrap, 'group.id': `bench-${randomBytes(4).toString('hex')}`, 'auto.offset.reset': 'earliest' }))
  writeFileSync(producerFile, propertiesText({ 'bootstrap.servers': ctx.target.bootstrap, acks: 'all', 'linger.ms': 5, 'batch.size': 262144 }))
  return spawnMeasured(system, process.execPath, [
    ...kafkaMirrorArgs(), '--consumer.config', consumerFile, '--producer.config', producerFile,
    '--include', topic, '--status.interval.ms', '0', '--num.streams', String(ctx.streams), '--partitioning', 'source',
    '--fast.path', system === 'kafka-mirror passthrough' ? 'auto' : 'off'
  ], file)
}



async function measure (ctx: Context, system: SystemId, rate: number, seconds: number): Promise<LatencyRow> {
  const records = rate * seconds
  const row: LatencyRow = { system, status: 'not run', records, measured: 0, p50Ms: NaN, p99Ms: NaN, p999Ms: NaN, maxMs: NaN, cpuSecondsPerGb: NaN, peakRssBytes: NaN, brokerCpuSecondsPerGb: NaN }
  const topic = `bench-w5-${system === 'MM2' ? 'mm2' : 'km'}-${randomBytes(3).toString('hex')}`
  const spec: TopicSpec = { name: topic, partitions: ctx.partitions, replicas: ctx.replicationFactor, configs: { 'message.timestamp.type': 'LogAppendTime' } }
  await createTopic(ctx.sourceAdmin, spec)
  await deleteTopic(ctx.targetAdmin, topic)
  await createTopic(ctx.targetAdmin, spec)
  ctx.runIndex++
  const file = join(ctx.workDir, `${String(ctx.runIndex).padStart(2, '0')}-latency-${system.replace(/\W+/g, '_')}.log`)
  const brokerCpu0 = cpuSecondsOf([...ctx.source.processIds(), ...ctx.target.processIds()])
  const mirror = startMirror(ctx, system, topic, file)
  const probe = new Producer({ clientId: 'bench-probe', bootstrapBrokers: ctx.source.bootstrap.split(','), autocreateTopics: false })
  let producer: Measured | undefined
  try {
    // The mirror is live once a probe record (partition 0) shows up on the target.
    let probes = 0
    const deadline = performance.now() + ctx.stallTimeoutMs
    while (await recordCount(ctx.targetAdmin, topic, ctx.partitions).catch(() => 0) < 1) {
      if (mirror.exit !== undefined || performance.now() > deadline) throw new Error(`the mirror did not copy a probe record (${mirror.exit !== undefined ? `exited ${mirror.exit.code}` : 'timed out'}):\n${tailOf(file, 20)}`)
      await probe.send({ acks: -1, messages: [{ topic, partition: 0, value: Buffer.from('probe') }] })
      probes++
      await sleep(500)
    }
    await sleep(1000)
    const pFile = file.replace(/\.log$/, '.producer.log')
    const pCmd = javaCommand(ctx.dist, ctx.logConfig, pFile + '.log4j', 'org.apache.kafka.tools.ProducerPerformance',
      producerPerfArgs(topic, records, { recordSize: latencyWorkload.valueBytes }, { 'bootstrap.servers': ctx.source.bootstrap, acks: 'all', 'linger.ms': 5, 'batch.size': 262144 }, rate))
    const producerStart = Date.now()
    producer = spawnMeasured('W5 producer', pCmd.command, pCmd.args, pFile)
    const pExit = await producer.exited
    producer.sampler.stop()
    if (pExit.code !== 0) throw new Error(`ProducerPerformance failed (exit ${pExit.code}):\n${tailOf(pFile, 20)}`)
    const total = await recordCount(ctx.sourceAdmin, topic, ctx.partitions)
    const copied = await waitForCount(ctx, topic, total, mirror)
    const usage = mirror.sampler.stop()
    const brokerCpu = cpuSecondsOf([...ctx.source.processIds(), ...ctx.target.processIds()]) - brokerCpu0
    await terminate(mirror)
    if (copied !== total) throw new Error(`the target holds ${copied} of ${total} records`)

    const [src, tgt] = await Promise.all([appendTimes(ctx.source.bootstrap, topic), appendTimes(ctx.target.bootstrap, topic)])
    // Warm-up: leave out what was appended in the first seconds of the fixed-rate producer (and the probes).
    let firstProduced = Infinity
    for (const [p, list] of src) {
      for (let o = p === 0 ? probes : 0; o < list.length; o++) if (list[o] >= producerStart && list[o] < firstProduced) firstProduced = list[o]
    }
    const cutoff = firstProduced + latencyWorkload.warmupSeconds * 1000
    const latencies: number[] = []
    for (const [p, list] of src) {
      const other = tgt.get(p) ?? []
      for (let o = 0; o < list.length; o++) {
        if (list[o] === undefined || list[o] < cutoff) continue
        if (other[o] === undefined) throw new Error(`partition ${p} offset ${o} is missing on the target`)
        latencies.push(other[o] - list[o])
      }
    }
    const sorted = Float64Array.from(latencies).sort()
    const gb = records * latencyWorkload.valueBytes / 1e9
    Object.assign(row, {
      status: 'ok',
      measured: sorted.length,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      p999Ms: percentile(sorted, 0.999),
      maxMs: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
      cpuSecondsPerGb: usage.cpuSeconds / gb,
      peakRssBytes: usage.peakRssBytes,
      brokerCpuSecondsPerGb: brokerCpu / gb
    })
  } catch (error) {
    row.status = `FAILED (${(error as Error).message.split('\n')[0]})`
    row.errorTail = `${String((error as Error).message)}\n--- mirror log ---\n${tailOf(file, 20)}`
  } finally {
    await probe.close().catch(() => {})
    if (producer !== undefined) await terminate(producer, 2000)
    await terminate(mirror)
    await deleteTopic(ctx.targetAdmin, topic).catch(() => {})
    await deleteTopic(ctx.sourceAdmin, topic).catch(() => {})
  }
  return row
}

export async function runLatency (ctx: Context, scale: number, systems: SystemId[]): Promise<LatencyResult> {
  const seconds = latencySeconds(scale)
  const result: LatencyResult = { recordsPerSecond: latencyWorkload.recordsPerSecond, seconds, valueBytes: latencyWorkload.valueBytes, warmupSeconds: latencyWorkload.warmupSeconds, rows: [], notes: [] }
  if (systems.includes('PIPE')) result.notes.push('PIPE: not measured (a producer and a consumer side by side copy nothing, so there is no target append time).')
  if (systems.includes('kafka-mirror key')) result.notes.push('kafka-mirror --partitioning key: not measured (ProducerPerformance writes keyless records, which key partitioning spreads over other partitions, so records cannot be paired by partition and offset).')
  if (systems.includes('MM1')) result.notes.push('MirrorMaker 1: not measured (it does not keep partitions: keyless records go where its producer\'s partitioner puts them, so they cannot be paired by partition and offset).')
  for (const system of systems) {
    if (system !== 'MM2' && system !== 'kafka-mirror source' && system !== 'kafka-mirror passthrough') continue
    ctx.log(`W5: ${system} at ${result.recordsPerSecond} records/s for ${seconds} s`)
    const row = await measure(ctx, system, result.recordsPerSecond, seconds)
    ctx.log(`W5: ${system}: ${row.status}, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, p99.9 ${row.p999Ms} ms`)
    result.rows.push(row)
  }
  return result
}
