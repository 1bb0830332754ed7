// Kafka's own tools as the benchmarks run them: ProducerPerformance, ConsumerPerformance and
// MirrorMaker 2 in dedicated mode, from the baselines jars (connect-mirror + kafka-tools).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { javaBin, type KafkaDist } from '../harness/kafka-dist.ts'

/** Heap of every tool JVM; the rest is what Kafka's kafka-run-class.sh passes by default. */
export const JVM_HEAP = '-Xmx1g'

const log4j2 = `status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = \${sys:bench.log.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
`

// Kafka 3.9 (MirrorMaker 1) still logs through reload4j, which reads log4j 1.x properties.
const log4j1 = `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=\${bench.log.file}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
`

export interface LogConfig {
  /** log4j2 properties, for Kafka 4.x tools. */
  log4j2: string
  /** log4j 1.x properties, for Kafka 3.9's MirrorMaker 1. */
  log4j1: string
}

/** Writes the logging configs every tool JVM uses: all logging into one file per run, nothing on stdout. */
export function writeLogConfig (dir: string): LogConfig {
  const config = { log4j2: join(dir, 'log4j2.properties'), log4j1: join(dir, 'log4j.properties') }
  writeFileSync(config.log4j2, log4j2)
  writeFileSync(config.log4j1, log4j1)
  return config
}

export interface JavaCommand {
  command: string
  args: string[]
}

export function javaCommand (dist: KafkaDist, logConfig: LogConfig, logFile: string, mainClass: string, args: string[]): JavaCommand {
  const logging = dist.flavour === 'kafka-3.9' ? `-Dlog4j.configuration=file:${logConfig.log4j1}` : `-Dlog4j2.configurationFile=${logConfig.log4j2}`
  return {
    command: javaBin(),
    args: [
      JVM_HEAP, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true',
      logging, `-Dbench.log.file=${logFile}`,
      '-cp', join(dist.libs, '*'), mainClass, ...args
    ]
  }
}

export interface Payload {
  /** Size of every value in bytes. */
  recordSize: number
  /** A file of values, one a line, each `recordSize` bytes; random values of `recordSize` bytes without it. */
  payloadFile?: string
}

export function payloadArgs (payload: Payload): string[] {
  return payload.payloadFile !== undefined ? ['--payload-file', payload.payloadFile] : ['--record-size', String(payload.recordSize)]
}

export function producerPerfArgs (topic: string, records: number, payload: Payload, props: Record<string, string | number>, throughput = -1): string[] {
  return [
    '--topic', topic, '--num-records', String(records), ...payloadArgs(payload), '--throughput', String(throughput),
    '--command-property', ...Object.entries(props).map(([k, v]) => `${k}=${String(v)}`)
  ]
}

export function consumerPerfArgs (bootstrap: string, topic: string, records: number): string[] {
  return ['--bootstrap-server', bootstrap, '--topic', topic, '--num-records', String(records), '--timeout', '60000']
}

export interface ProducerPerfResult {
  records: number
  recordsPerSecond: number
  avgLatencyMs: number
  p99LatencyMs: number
}

/** The summary line: "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, p50 ms 50th, ... ms 99th, ...". */
export function parseProducerPerf (output: string): ProducerPerfResult | undefined {
  const lines = output.split('\n').filter(l => / records sent, .* records\/sec .* avg latency/.test(l) && /50th/.test(l))
  const line = lines.at(-1)
  if (line === undefined) return undefined
  const m = /(\d+) records sent, ([\d.]+) records\/sec .*?, ([\d.]+) ms avg latency/.exec(line)
  const p99 = /(\d+) ms 99th/.exec(line)
  if (m === null) return undefined
  return { records: Number(m[1]), recordsPerSecond: Number(m[2]), avgLatencyMs: Number(m[3]), p99LatencyMs: Number(p99?.[1] ?? NaN) }
}

export interface ConsumerPerfResult {
  records: number
  /** Time spent fetching, without the group join. */
  fetchMs: number
  rebalanceMs: number
}

/** The CSV line after the header "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, ...". */
export function parseConsumerPerf (output: string): ConsumerPerfResult | undefined {
  const lines = output.split('\n')
  const header = lines.findIndex(l => l.includes('data.consumed.in.nMsg'))
  if (header < 0) return undefined
  const names = lines[header].split(',').map(s => s.trim())
  const values = lines.slice(header + 1).find(l => l.split(',').length === names.length)?.split(',').map(s => s.trim())
  if (values === undefined) return undefined
  const get = (name: string): number => Number(values[names.indexOf(name)])
  return { records: get('data.consumed.in.nMsg'), fetchMs: get('fetch.time.ms'), rebalanceMs: get('rebalance.time.ms') }
}

export interface Mm2Options {
  /** Source cluster alias: fresh for every run, so each run gets its own Connect group and internal topics. */
  sourceAlias: string
  sourceBootstrap: string
  targetBootstrap: string
  topic: string
  tasks: number
  compression: string
}

/** MirrorMaker 2's tuning for the benchmarks; written into the results. */
export function mm2Properties (o: Mm2Options): Record<string, string | number | boolean> {
  const s = o.sourceAlias
  return {
    clusters: `${s}, target`,
    [`${s}.bootstrap.servers`]: o.sourceBootstrap,
    'target.bootstrap.servers': o.targetBootstrap,
    [`${s}->target.enabled`]: true,
    [`target->${s}.enabled`]: false,
    [`${s}->target.topics`]: o.topic,
    'replication.policy.class': 'org.apache.kafka.connect.mirror.IdentityReplicationPolicy',
    'tasks.max': o.tasks,
    // Producer tuning: the same batching and acks as the PIPE baseline and the source pre-load.
    'target.producer.acks': 'all',
    'target.producer.linger.ms': 5,
    'target.producer.batch.size': 262144,
    'target.producer.compression.type': o.compression,
    // Consumer tuning: bigger polls than the default 500 records, for the small-record workloads.
    [`${s}.consumer.max.poll.records`]: 2000,
    // Only the data path is measured: no heartbeats, checkpoints, offset syncs, ACL/config/group syncing.
    'emit.heartbeats.enabled': false,
    'emit.checkpoints.enabled': false,
    'emit.offset-syncs.enabled': false,
    'sync.topic.acls.enabled': false,
    'sync.topic.configs.enabled': false,
    'sync.group.offsets.enabled': false,
    'refresh.topics.interval.seconds': 5,
    'offset.storage.replication.factor': 1,
    'config.storage.replication.factor': 1,
    'status.storage.replication.factor': 1,
    'checkpoints.topic.replication.factor': 1,
    'heartbeats.topic.replication.factor': 1
    // No offset-syncs.topic.replication.factor: with emit.offset-syncs.enabled=false MirrorSourceConnector
    // refuses every offset-syncs.* key ("can't setup offset-syncs feature"), and that topic is not created.
  }
}

export function propertiesText (props: Record<string, string | number | boolean>): string {
  return Object.entries(props).map(([k, v]) => `${k} = ${String(v)}`).join('\n') + '\n'
}

export interface Mm1Options {
  sourceBootstrap: string
  targetBootstrap: string
  group: string
  compression: string
}

/**
 * MirrorMaker 1's two property files, tuned as MirrorMaker 2 is: the same producer batching, acks
 * and codec, the same bigger polls. MirrorMaker 1 itself sets max.in.flight.requests.per.connection=1
 * unless told otherwise (it has no idempotence to keep order), and a careful operator of 3.9 would
 * keep that, so it is left alone.
 */
export function mm1Properties (o: Mm1Options): { consumer: Record<string, string | number>, producer: Record<string, string | number> } {
  return {
    consumer: { 'bootstrap.servers': o.sourceBootstrap, 'group.id': o.group, 'auto.offset.reset': 'earliest', 'max.poll.records': 2000 },
    producer: { 'bootstrap.servers': o.targetBootstrap, acks: 'all', 'linger.ms': 5, 'batch.size': 262144, 'compression.type': o.compression }
  }
}
