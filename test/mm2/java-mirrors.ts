// Real MirrorMaker 2 (connect-mirror 4.3.1, dedicated mode) and MirrorMaker 1 (Kafka 3.9) as the
// take-over tests run them: the jars the benchmarks use, logs into one file per run.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Producer } from '@platformatic/kafka'
import { javaCommand, propertiesText, writeLogConfig } from '../../bench/java.ts'
import { ensureKafkaDist } from '../../harness/kafka-dist.ts'
import { topicRecordCount, waitForRecords } from '../helpers/clusters.ts'
import type { TestRecord } from '../helpers/records.ts'

export interface JavaMirror {
  child: ChildProcess
  dir: string
  log: string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** SIGTERM (or SIGKILL) and wait for the exit; SIGKILL after `graceMs` when SIGTERM is not enough. */
  stop: (signal?: 'SIGTERM' | 'SIGKILL', graceMs?: number) => Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  tail: (lines?: number) => string
}

const live = new Set<ChildProcess>()
process.once('exit', () => { for (const c of live) c.kill('SIGKILL') })

function startJava (flavour: 'baselines' | 'kafka-3.9', mainClass: string, args: (dir: string) => string[]): JavaMirror {
  const dist = ensureKafkaDist(flavour)
  const dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-java-'))
  const logConfig = writeLogConfig(dir)
  const log = join(dir, 'mirror.log')
  const cmd = javaCommand(dist, logConfig, log, mainClass, args(dir))
  const out = openSync(join(dir, 'stdout.log'), 'a')
  const child = spawn(cmd.command, ['-Xmx512m', ...cmd.args.filter(a => a !== '-Xmx1g')], { stdio: ['ignore', out, out] })
  closeSync(out)
  live.add(child)
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => { live.delete(child); resolve({ code, signal }) }))
  const tail = (lines = 30): string => {
    let text = ''
    for (const f of [log, join(dir, 'stdout.log')]) { try { text += readFileSync(f, 'utf8') } catch {} }
    return text.split('\n').slice(-lines).join('\n')
  }
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', graceMs = 60_000): Promise<{ code: number | null, signal: NodeJS.Signals | null }> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    try { return await exited } finally { clearTimeout(timer) }
  }
  return { child, dir, log, exited, stop, tail }
}

export interface Mm2Flow {
  sourceAlias: string
  targetAlias: string
  source: string
  target: string
  topics: string
  /** 'default' (A.topic) or 'identity'. */
  policy: 'default' | 'identity'
  extra?: Record<string, string | number | boolean>
}

/** An mm2.properties for one flow A->B, as an operator writes it; the internal topics on a shared test cluster are kept small. */
export function mm2Properties (f: Mm2Flow): Record<string, string | number | boolean> {
  return {
    clusters: `${f.sourceAlias}, ${f.targetAlias}`,
    [`${f.sourceAlias}.bootstrap.servers`]: f.source,
    [`${f.targetAlias}.bootstrap.servers`]: f.target,
    [`${f.sourceAlias}->${f.targetAlias}.enabled`]: true,
    [`${f.targetAlias}->${f.sourceAlias}.enabled`]: false,
    [`${f.sourceAlias}->${f.targetAlias}.topics`]: f.topics,
    'replication.policy.class': f.policy === 'identity' ? 'org.apache.kafka.connect.mirror.IdentityReplicationPolicy' : 'org.apache.kafka.connect.mirror.DefaultReplicationPolicy',
    'tasks.max': 2,
    'emit.heartbeats.enabled': false,
    'emit.checkpoints.enabled': false,
    'sync.topic.acls.enabled': false,
    'sync.group.offsets.enabled': false,
    'refresh.topics.interval.seconds': 5,
    'offset.storage.replication.factor': 1,
    'config.storage.replication.factor': 1,
    'status.storage.replication.factor': 1,
    'checkpoints.topic.replication.factor': 1,
    'heartbeats.topic.replication.factor': 1,
    'offset-syncs.topic.replication.factor': 1,
    'replication.factor': 1,
    ...f.extra
  }
}

/** connect-mirror-maker.sh mm2.properties, with the 4.3.1 jars. */
export function startMm2 (props: Record<string, string | number | boolean>): JavaMirror {
  return startJava('baselines', 'org.apache.kafka.connect.mirror.MirrorMaker', dir => {
    const file = join(dir, 'mm2.properties')
    writeFileSync(file, propertiesText(props))
    return [file]
  })
}

/** kafka-mirror-maker.sh of Kafka 3.9 with the tutorial's two files. */
export function startMm1 (consumerFile: string, producerFile: string, include: string, streams = 2): JavaMirror {
  return startJava('kafka-3.9', 'kafka.tools.MirrorMaker', () => ['--consumer.config', consumerFile, '--producer.config', producerFile, '--include', include, '--num.streams', String(streams)])
}

/** Writes records in chunks with a pause between them, so a mirror is stopped while they arrive. */
export async function produceSlowly (bootstrap: string, topic: string, records: TestRecord[], chunk: number, pauseMs: number, progress?: (sent: number) => void): Promise<void> {
  const producer = new Producer({ clientId: 'test-producer', bootstrapBrokers: bootstrap.split(','), idempotent: true })
  try {
    for (let i = 0; i < records.length; i += chunk) {
      await producer.send({
        acks: -1,
        messages: records.slice(i, i + chunk).map(r => ({
          topic,
          key: r.key ?? undefined,
          value: r.value ?? undefined,
          headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'latin1')])),
          timestamp: r.timestamp
        }))
      })
      progress?.(Math.min(records.length, i + chunk))
      if (pauseMs > 0) await new Promise(resolve => setTimeout(resolve, pauseMs))
    }
  } finally {
    await producer.close()
  }
}

/**
 * Given a topic being written while a Java mirror copies it: stop the Java mirror with `signal`
 * once it copied `stopAfter` records of the second half, and let the writes finish.
 */
export async function copyPartWithJava (source: string, target: string, topic: string, targetTopic: string, records: TestRecord[], start: () => JavaMirror, signal: 'SIGTERM' | 'SIGKILL'): Promise<{ javaCopied: bigint, exit: string }> {
  const half = records.length / 2
  await produceSlowly(source, topic, records.slice(0, half), 1000, 0)
  const java = start()
  try {
    await waitForRecords(target, targetTopic, half, 180_000).catch((error: unknown) => { throw new Error(`${String(error)}\n${java.tail()}`) })
    // When the second half is being written and the Java mirror is copying it
    let stopped: Promise<{ code: number | null, signal: NodeJS.Signals | null }> | undefined
    await produceSlowly(source, topic, records.slice(half), 250, 40, sent => {
      if (stopped === undefined && sent >= half / 3) stopped = java.stop(signal)
    })
    const exit = await (stopped ?? java.stop(signal))
    const javaCopied = await topicRecordCount(target, targetTopic)
    return { javaCopied, exit: exit.signal ?? `exit ${exit.code}` }
  } finally {
    await java.stop('SIGKILL')
  }
}

