// The Markdown results file of a benchmark run.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, release } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchResult, Row, SystemId } from './harness.ts'
import { JVM_HEAP, mm1Properties, mm2Properties } from './java.ts'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')

export interface MachineInfo {
  cpus: number
  cpuModel: string
  memory: string
  kernel: string
  node: string
  java: string
  brokerKafka: string
  toolsKafka: string
  /** Kafka version of MirrorMaker 1's jars, when MM1 ran. */
  mm1Kafka?: string
  platformaticKafka: string
  kafkaMirror: string
}

function readOr (file: string, fallback = ''): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return fallback
  }
}

export function machineInfo (o: { nodeBin: string, java: string, brokerKafka: string, toolsKafka: string, mm1Kafka?: string }): MachineInfo {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(readOr('/proc/cpuinfo'))?.[1] ?? 'unknown'
  const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readOr('/proc/meminfo'))?.[1] ?? NaN)
  const node = spawnSync(o.nodeBin, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? process.version
  const pkg = (file: string): string => (JSON.parse(readOr(file, '{}')) as { version?: string }).version ?? 'unknown'
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout?.trim()
  const dirty = (spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo, encoding: 'utf8' }).stdout ?? '').trim() !== ''
  return {
    cpus: availableParallelism(),
    cpuModel,
    memory: Number.isFinite(memKb) ? `${(memKb / 2 ** 20).toFixed(1)} GiB` : 'unknown',
    kernel: `Linux ${release()}`,
    node,
    java: o.java,
    brokerKafka: o.brokerKafka,
    toolsKafka: o.toolsKafka,
    mm1Kafka: o.mm1Kafka,
    platformaticKafka: pkg(join(repo, 'node_modules', '@platformatic', 'kafka', 'package.json')),
    kafkaMirror: `${pkg(join(repo, 'package.json'))}${commit !== undefined && commit !== '' ? ` (commit ${commit}${dirty ? ' with uncommitted changes' : ''})` : ''}`
  }
}

function num (n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '–'
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function mib (bytes: number): string {
  return Number.isFinite(bytes) ? num(bytes / 2 ** 20) : '–'
}

function ratio (a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–'
  return `${(a / b).toFixed(2)}×`
}

function table (head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map(r => `| ${r.join(' | ')} |`)].join('\n')
}

const systemNames: Record<SystemId, string> = {
  PIPE: 'PIPE (ProducerPerformance → target ‖ ConsumerPerformance ← source)',
  MM2: 'MirrorMaker 2 (dedicated mode, tuned)',
  MM1: 'MirrorMaker 1 (Kafka 3.9, tuned)',
  'kafka-mirror source': 'kafka-mirror --partitioning source --fast.path off (every batch written anew)',
  'kafka-mirror key': 'kafka-mirror --partitioning key',
  'kafka-mirror passthrough': 'kafka-mirror --partitioning source, raw record-batch passthrough',
  REPLICATION: 'Kafka replication (reassignment to a new replica): the ceiling'
}

function cell (row: Row | undefined, pick: (r: Row) => number): number {
  return row === undefined || !row.complete ? NaN : pick(row)
}

export function renderMarkdown (r: BenchResult): string {
  const o = r.options
  const date = r.startedAt.toISOString().slice(0, 10)
  const minutes = (r.finishedAt.getTime() - r.startedAt.getTime()) / 60_000
  const m = r.machine
  const out: string[] = []
  out.push(`# kafka-mirror benchmark, ${date}`)
  out.push('')
  out.push(`Command: \`npm run bench -- --scale ${o.scale} --workloads ${o.workloads.join(',')} --brokers ${o.brokers}\`${o.systems.length < Object.keys(systemNames).length ? ` (systems: ${o.systems.join(', ')})` : ''}. ` +
    `Run from ${r.startedAt.toISOString().slice(0, 19)}Z to ${r.finishedAt.toISOString().slice(0, 19)}Z (${minutes.toFixed(1)} min).`)
  out.push('')
  out.push('## Machine')
  out.push('')
  out.push(table(['', ''], [
    ['CPUs (nproc)', String(m.cpus)], ['CPU model', m.cpuModel], ['Memory', m.memory], ['Kernel', m.kernel],
    ['Node (kafka-mirror)', m.node], ['Java', m.java],
    ['Kafka brokers', `Apache Kafka ${m.brokerKafka}, KRaft, ${o.brokers} broker${o.brokers > 1 ? 's' : ''} per cluster, two clusters (source, target) on loopback, ${o.brokerHeapMb} MiB heap each`],
    ['Kafka tools and MirrorMaker 2', `kafka-tools and connect-mirror ${m.toolsKafka}`],
    ...(m.mm1Kafka !== undefined ? [['MirrorMaker 1', `kafka.tools.MirrorMaker from kafka_2.13 ${m.mm1Kafka} (removed in Kafka 4.0)`]] : []),
    ['kafka-mirror', `${m.kafkaMirror}, @platformatic/kafka ${m.platformaticKafka}`]
  ]))
  out.push('')
  out.push(`Everything (both clusters, the system measured, the harness polling end offsets) shares the same CPUs, so the numbers are of this machine only; only one system runs at a time. ` +
    `Load average (1 min) ${r.load.loadStart.toFixed(2)} at the start and ${r.load.loadEnd.toFixed(2)} at the end; the CPUs were ${r.load.busyPercent.toFixed(0)} % busy over the run (all processes, the machine's other work included).`)
  out.push('')
  out.push('## Setup')
  out.push('')
  out.push(`- Every source topic has ${o.partitions} partitions and replication factor ${Math.min(3, o.brokers)}; before each system runs, its target topic is deleted and created afresh with the same partition count and replication factor (so topic creation is not timed). All producers use \`acks=all\`.`)
  out.push('- Source topics are pre-loaded once per workload; every system then copies the same N records. W1 and W2 hold keyed records (16 B keys, 100,000 distinct) written in batches of about 256 KiB placed round-robin over the partitions by kafka-mirror\'s own batch producer, so every source batch holds keys of every target partition and key partitioning must split each one (its worst case); the other workloads are keyless, written by ProducerPerformance. (PIPE writes keyless records in every workload.)')
  out.push('- Warm-up: before a case\'s systems are timed, kafka-mirror passthrough and then key copy a warm-up topic of the same records (up to 2,000,000), untimed, so the first system measured does not pay for the fresh brokers\' warm-up (JIT compilation, heap sizing).')
  if (o.systems.includes('REPLICATION')) out.push('- **Replication (the ceiling)**: with `--brokers 1` the source cluster gets a second broker that no topic uses; the pre-loaded topic (on node 1) is reassigned to nodes 1 and 2 with no throttle, and the time until node 2 is in sync on every partition is both its wall and its copy time. This is Kafka copying its own log between brokers, with no client in between.')
  out.push(`- **PIPE**: ProducerPerformance writing N records of the same size (and codec) into the fresh target topic (\`linger.ms=5 batch.size=262144\`) while ConsumerPerformance reads the N records of the source topic; both start together and the pair's time is the later of the two. It is the floor of "read it and write it again" with Kafka's own Java clients, not a mirror.`)
  out.push(`- **MirrorMaker 2**: \`org.apache.kafka.connect.mirror.MirrorMaker\` in dedicated mode, stopped (SIGTERM) as soon as the target topic holds N records. Each run gets a fresh source cluster alias (\`sourceN\`), hence its own Connect group and internal topics.`)
  if (o.systems.includes('MM1')) {
    const mm1 = mm1Properties({ sourceBootstrap: '…', targetBootstrap: '…', group: '<fresh>', compression: '<codec>' })
    const text = (props: Record<string, string | number>): string => Object.entries(props).filter(([k]) => k !== 'bootstrap.servers').map(([k, v]) => `${k}=${String(v)}`).join(' ')
    out.push(`- **MirrorMaker 1**: \`kafka.tools.MirrorMaker --consumer.config … --producer.config … --include <topic> --num.streams ${o.streams}\` from Kafka ${m.mm1Kafka ?? '3.9'}, as the tutorial runs it, stopped (SIGTERM) as soon as the target topic holds N records. Consumer: \`${text(mm1.consumer)}\`; producer: \`${text(mm1.producer)}\` (the same batching as MirrorMaker 2; MirrorMaker 1's own default \`max.in.flight.requests.per.connection=1\` kept). It does not keep partitions (keyless records go where the producer's partitioner puts them), so it has no W5 row.`)
  }
  out.push(`- **kafka-mirror**: \`node dist/bin/kafka-mirror.js --once --num.streams ${o.streams} --partitioning source|key --status.interval.ms 0\`, a fresh consumer group each run, producer \`acks=all\` and the workload's codec, everything else default; it exits by itself at the end offsets.`)
  if (o.systems.includes('kafka-mirror passthrough')) out.push(`- **kafka-mirror passthrough**: the fast path, \`node dist/bin/kafka-mirror.js\` with the same flags and files and \`--partitioning source --fast.path auto\` (the kafka-mirror source row runs with \`--fast.path off\`, which writes every batch anew, records copied as bytes; the key row runs with the default \`auto\`, splitting each fetch by key): source record batches go to the same target partitions without being decoded (producer id, epoch, sequence and CRC rewritten; compressed batches stay compressed). MB in its own summary are bytes of batches as sent, not of values.`)
  out.push(`- Every JVM (tools, MirrorMaker 2) runs with \`${JVM_HEAP}\` and kafka-run-class.sh's default G1 flags, logging into a file.`)
  out.push('- **records/s and MB/s (wall)**: N ÷ time from starting the process(es) until the target held N records (polled every 100 ms; kafka-mirror: its exit, if earlier). Includes JVM/Node start, group join and MirrorMaker 2\'s Connect start-up. **(copy)**: N ÷ time from the first record on the target to the last (PIPE: the longer of that and ConsumerPerformance\'s fetch time), i.e. without start-up. MB = 10⁶ bytes of values (no keys or headers are written).')
  out.push('- **CPU s/GB (wall)**: utime + stime of the measured process tree (PIPE: both JVMs) over its whole run, start-up included, sampled from /proc every 100 ms, ÷ GB (10⁹ B) of values moved. **(copy)**: only the CPU used after the first record reached the target (for PIPE\'s consumer this is approximate: it may have started reading a little earlier). **Peak RSS**: highest VmRSS/VmHWM sampled (PIPE: the two JVMs\' peaks added). **Broker CPU s/GB**: CPU of all broker JVMs of both clusters during the run, ÷ GB.')
  out.push('- A run whose target count is not exactly N is marked INCOMPLETE and left out of the ratios.')
  out.push('')
  out.push('MirrorMaker 2 configuration (tuned; `<codec>` is the workload\'s, bootstrap addresses elided):')
  out.push('')
  out.push('```properties')
  const example = mm2Properties({ sourceAlias: 'sourceN', sourceBootstrap: '…', targetBootstrap: '…', topic: '<topic>', tasks: o.streams, compression: '<codec>' })
  for (const [k, v] of Object.entries(example)) out.push(`${k} = ${String(v)}`)
  out.push('```')
  out.push('')
  out.push('## Sizes')
  out.push('')
  out.push(table(['Case', 'What', 'Records (N)', 'Value', 'MB of values', 'Producer codec', 'Source log MB (one replica)', 'Pre-load records/s'], r.cases.map(c => [
    c.id, c.title, num(c.records), `${c.valueBytes} B`, num(c.records * c.valueBytes / 1e6, 1), c.compression, num(c.sourceLogBytes / 1e6, 1), num(c.preloadRecordsPerSecond)
  ])))
  out.push('')
  out.push(`--scale ${o.scale} of the base counts (W1 20 M, W2 5 M, W3 5 M per codec, W4 1 M records).`)
  out.push('')
  out.push('## Results')
  for (const c of r.cases) {
    out.push('')
    out.push(`### ${c.id}: ${c.title}, N = ${num(c.records)}`)
    out.push('')
    const rows = r.rows.filter(x => x.caseId === c.id)
    out.push(table(['System', 'Status', 'On target', 'Wall s', 'First record s', 'records/s (wall)', 'MB/s (wall)', 'records/s (copy)', 'MB/s (copy)', 'CPU s', 'CPU s/GB (wall)', 'CPU s/GB (copy)', 'Peak RSS MiB', 'Broker CPU s/GB'], rows.map(x => [
      systemNames[x.system], x.status, num(x.targetCount), num(x.wallSeconds, 1), num(x.firstRecordSeconds, 1), num(x.recordsPerSecond), num(x.megabytesPerSecond, 1),
      num(x.copyRecordsPerSecond), num(x.copyMegabytesPerSecond, 1), num(x.cpuSeconds, 1), num(x.cpuSecondsPerGb, 1), num(x.copyCpuSecondsPerGb, 1), mib(x.peakRssBytes), num(x.brokerCpuSecondsPerGb, 1)
    ])))
    const notes = rows.filter(x => x.note !== '').map(x => `- ${x.system}: ${x.note}`)
    if (notes.length > 0) out.push('', ...notes)
  }
  out.push('')
  out.push('## Ratios')
  out.push('')
  out.push('kafka-mirror ÷ baseline; above 1× means kafka-mirror copies faster (records/s) or uses more (CPU, RSS).')
  out.push('')
  const ratioRows: string[][] = []
  for (const c of r.cases) {
    const by = (s: SystemId): Row | undefined => r.rows.find(x => x.caseId === c.id && x.system === s)
    const mm2 = by('MM2')
    const mm1 = by('MM1')
    const pipe = by('PIPE')
    const ceiling = by('REPLICATION')
    for (const s of ['kafka-mirror source', 'kafka-mirror key', 'kafka-mirror passthrough'] as const) {
      const km = by(s)
      if (km === undefined) continue
      ratioRows.push([
        c.id, s.replace('kafka-mirror ', ''),
        ratio(cell(km, x => x.recordsPerSecond), cell(mm2, x => x.recordsPerSecond)),
        ratio(cell(km, x => x.copyRecordsPerSecond), cell(mm2, x => x.copyRecordsPerSecond)),
        ratio(cell(km, x => x.recordsPerSecond), cell(pipe, x => x.recordsPerSecond)),
        ratio(cell(km, x => x.copyRecordsPerSecond), cell(pipe, x => x.copyRecordsPerSecond)),
        ratio(cell(km, x => x.copyRecordsPerSecond), cell(mm1, x => x.copyRecordsPerSecond)),
        ratio(cell(km, x => x.copyRecordsPerSecond), cell(ceiling, x => x.copyRecordsPerSecond)),
        ratio(cell(km, x => x.cpuSecondsPerGb), cell(mm2, x => x.cpuSecondsPerGb)),
        ratio(cell(km, x => x.copyCpuSecondsPerGb), cell(mm2, x => x.copyCpuSecondsPerGb)),
        ratio(cell(km, x => x.peakRssBytes), cell(mm2, x => x.peakRssBytes))
      ])
    }
  }
  out.push(table(['Case', 'kafka-mirror partitioning', 'records/s ÷ MM2 (wall)', 'records/s ÷ MM2 (copy)', 'records/s ÷ PIPE (wall)', 'records/s ÷ PIPE (copy)', 'records/s ÷ MM1 (copy)', 'records/s ÷ replication (copy)', 'CPU s/GB ÷ MM2 (wall)', 'CPU s/GB ÷ MM2 (copy)', 'Peak RSS ÷ MM2'], ratioRows))
  out.push('')
  out.push(...goalsSection(r))
  out.push('')
  out.push(...manyPartitionsSection(r))
  out.push('## W5: latency at a fixed rate')
  out.push('')
  const lat = r.latency
  if (lat === undefined) {
    out.push(o.workloads.includes('W5') ? 'Not measured (the run stopped before W5).' : 'Not measured in this run (W5 not in --workloads).')
  } else {
    out.push(`ProducerPerformance writes ${num(lat.recordsPerSecond)} records/s of ${lat.valueBytes} B for ${lat.seconds} s into a \`message.timestamp.type=LogAppendTime\` source topic while the mirror runs continuously into a LogAppendTime target topic. ` +
      `Latency = target append time − source append time of the same record (paired by partition and offset, read back with kcat). Records appended in the first ${lat.warmupSeconds} s are left out. The mirror is started first and is live (a probe record got through) before producing starts.`)
    out.push('')
    if (lat.rows.length > 0) {
      out.push(table(['System', 'Status', 'Records', 'In percentiles', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'CPU s/GB (whole run)', 'Peak RSS MiB', 'Broker CPU s/GB'], lat.rows.map(x => [
        systemNames[x.system], x.status, num(x.records), num(x.measured), num(x.p50Ms), num(x.p99Ms), num(x.p999Ms), num(x.maxMs), num(x.cpuSecondsPerGb, 1), mib(x.peakRssBytes), num(x.brokerCpuSecondsPerGb, 1)
      ])))
    }
    if (lat.notes.length > 0) out.push('', ...lat.notes.map(note => `- ${note}`))
  }
  const failures = [...r.rows.filter(x => x.errorTail !== undefined).map(x => ({ title: `${x.caseId} ${x.system}: ${x.status}`, tail: x.errorTail! })),
    ...(lat?.rows ?? []).filter(x => x.errorTail !== undefined).map(x => ({ title: `W5 ${x.system}: ${x.status}`, tail: x.errorTail! }))]
  if (failures.length > 0) {
    out.push('')
    out.push('## Failures')
    for (const f of failures) {
      out.push('', `### ${f.title}`, '', '```', f.tail.trimEnd(), '```')
    }
  }
  out.push('')
  return out.join('\n')
}

function manyPartitionsSection (r: BenchResult): string[] {
  const w = r.manyPartitions
  if (w === undefined) return []
  const out = ['## W6: many partitions', '',
    `${w.topics} topics × ${w.partitions} partitions × ${w.recordsPerTopic} keyed records of 100 B (${num(w.topics * w.recordsPerTopic)} records), copied into fresh target topics (made before each system, not timed). kafka-mirror runs with \`--once\` and exits by itself; MirrorMaker 1 and 2 are stopped once the target holds every record. Wall time includes start-up, group joins and the first metadata of ${w.topics * w.partitions} partitions. An untimed kafka-mirror run comes first (a warm-up: page cache, compiled code).`, '',
    table(['System', 'Status', 'On target', 'Wall s', 'First record s', 'CPU s', 'Peak RSS MiB'], w.rows.map(x => [systemNames[x.system], x.status, num(x.targetCount), num(x.wallSeconds, 1), num(x.firstRecordSeconds, 1), num(x.cpuSeconds, 1), mib(x.peakRssBytes)])), '']
  return out
}

/** Issue 5's goals, each checked against this run's own baselines. */
function goalsSection (r: BenchResult): string[] {
  const row = (caseId: string, s: SystemId): Row | undefined => r.rows.find(x => x.caseId === caseId && x.system === s)
  const lines: string[][] = []
  const speed = (goal: string, caseId: string, s: SystemId, base: SystemId, min: number): void => {
    const km = row(caseId, s)
    const b = row(caseId, base)
    if (km === undefined || b === undefined) return
    const copy = cell(km, x => x.copyRecordsPerSecond) / cell(b, x => x.copyRecordsPerSecond)
    const wall = cell(km, x => x.recordsPerSecond) / cell(b, x => x.recordsPerSecond)
    lines.push([goal, Number.isFinite(copy) ? `${copy.toFixed(2)}×` : '–', Number.isFinite(wall) ? `${wall.toFixed(2)}×` : '–', !Number.isFinite(copy) ? 'not measured' : copy >= min ? 'met' : 'NOT met'])
  }
  const atMost = (goal: string, s: SystemId, pick: (x: Row) => number, max: number): void => {
    const ratios = r.cases.map(c => cell(row(c.id, s), pick) / cell(row(c.id, 'MM2'), pick)).filter(Number.isFinite)
    if (ratios.length === 0) return
    const worst = Math.max(...ratios)
    lines.push([goal, `${Math.min(...ratios).toFixed(2)}× to ${worst.toFixed(2)}× over ${ratios.length} cases`, '', worst <= max ? 'met' : 'NOT met'])
  }
  speed('W2 passthrough ≥ 0.85× PIPE', 'W2', 'kafka-mirror passthrough', 'PIPE', 0.85)
  speed('W2 passthrough ≥ 1.5× MM2', 'W2', 'kafka-mirror passthrough', 'MM2', 1.5)
  speed('W3-lz4 passthrough ≥ 2× MM2', 'W3-lz4', 'kafka-mirror passthrough', 'MM2', 2)
  speed('W3-zstd passthrough ≥ 2× MM2', 'W3-zstd', 'kafka-mirror passthrough', 'MM2', 2)
  speed('W1 decode path (source) ≥ 1.0× MM2', 'W1', 'kafka-mirror source', 'MM2', 1)
  speed('W1 decode path (key) ≥ 1.0× MM2', 'W1', 'kafka-mirror key', 'MM2', 1)
  for (const s of ['kafka-mirror passthrough', 'kafka-mirror source'] as const) {
    atMost(`Peak RSS ≤ 0.25× MM2 (${s.replace('kafka-mirror ', '')})`, s, x => x.peakRssBytes, 0.25)
    atMost(`CPU s/GB (copy) ≤ 0.35× MM2 (${s.replace('kafka-mirror ', '')})`, s, x => x.copyCpuSecondsPerGb, 0.35)
  }
  for (const l of r.latency?.rows ?? []) {
    if (l.system === 'MM2' || l.status !== 'ok') continue
    lines.push([`W5 p99 < 50 ms (${l.system.replace('kafka-mirror ', '')})`, `${num(l.p99Ms)} ms`, '', l.p99Ms < 50 ? 'met' : 'NOT met'])
  }
  if (lines.length === 0) return []
  return ['## Goals (issue 5)', '', 'Throughput goals compare the copy phase (start-up left out); the wall ratio is shown beside it.', '',
    table(['Goal', 'Measured (copy)', 'Measured (wall)', 'Verdict'], lines), '', ...issue11Goals(r, row, speed, atMost, lines)]
}

/** Issue 11's goals (one engine), against the same run. */
function issue11Goals (r: BenchResult, row: (caseId: string, s: SystemId) => Row | undefined, speed: (goal: string, caseId: string, s: SystemId, base: SystemId, min: number) => void,
  atMost: (goal: string, s: SystemId, pick: (x: Row) => number, max: number) => void, lines: string[][]): string[] {
  lines.length = 0
  speed('W1 key ≥ 2× MM2', 'W1', 'kafka-mirror key', 'MM2', 2)
  speed('W2 key ≥ 2× MM2', 'W2', 'kafka-mirror key', 'MM2', 2)
  speed('W2 passthrough ≥ 1.0× replication', 'W2', 'kafka-mirror passthrough', 'REPLICATION', 1)
  for (const s of ['kafka-mirror passthrough', 'kafka-mirror key', 'kafka-mirror source'] as const) {
    atMost(`CPU s/GB (copy) ≤ 0.35× MM2 (${s.replace('kafka-mirror ', '')})`, s, x => x.copyCpuSecondsPerGb, 0.35)
    atMost(`Peak RSS ≤ 0.25× MM2 (${s.replace('kafka-mirror ', '')})`, s, x => x.peakRssBytes, 0.25)
    const firsts = r.cases.map(c => cell(row(c.id, s), x => x.firstRecordSeconds)).filter(Number.isFinite)
    if (firsts.length > 0) lines.push([`First record ≤ 2 s after start (${s.replace('kafka-mirror ', '')})`, `${Math.min(...firsts).toFixed(1)} to ${Math.max(...firsts).toFixed(1)} s over ${firsts.length} cases`, '', Math.max(...firsts) <= 2 ? 'met' : 'NOT met'])
  }
  const mm2First = r.cases.map(c => cell(row(c.id, 'MM2'), x => x.firstRecordSeconds)).filter(Number.isFinite)
  if (mm2First.length > 0) lines.push(['(MirrorMaker 2\'s first record, for comparison)', `${Math.min(...mm2First).toFixed(1)} to ${Math.max(...mm2First).toFixed(1)} s`, '', ''])
  const w6 = r.manyPartitions?.rows
  const key = w6?.find(x => x.system === 'kafka-mirror key' && x.status === 'ok')
  const pass = w6?.find(x => x.system === 'kafka-mirror passthrough' && x.status === 'ok')
  if (key !== undefined && pass !== undefined) lines.push(['W6 key ≤ 1.2× passthrough\'s time', `${(key.wallSeconds / pass.wallSeconds).toFixed(2)}× (${key.wallSeconds.toFixed(1)} s and ${pass.wallSeconds.toFixed(1)} s)`, '', key.wallSeconds <= 1.2 * pass.wallSeconds ? 'met' : 'NOT met'])
  if (lines.length === 0) return []
  return ['## Goals (issue 11)', '', table(['Goal', 'Measured (copy)', 'Measured (wall)', 'Verdict'], [...lines])]
}
