// `kafka-mirror status`: how far a mirror's copy is, per topic and partition, in records and seconds.
// With --url it asks a running mirror (its --http.listener, /api/status); without, it reads the
// group's committed offsets and both clusters' end offsets itself, so it works when no mirror runs.
import { Admin } from '@platformatic/kafka'
import { ConfigDefinition, type ConfigKey } from '../config/definition.ts'
import { loadMirrorConfig } from '../config/mirror-config.ts'
import { topicMatches } from '../config/topic-filter.ts'
import { redactSecrets } from '../config/secrets.ts'
import { ConfigError, ErrorCodes, ExitCodes, KafkaMirrorError, describeCause } from '../errors.ts'
import { listTopics } from '../admin/topics.ts'
import { reachCluster } from '../kafka/access.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { LagProbe, within } from '../metrics/lag.ts'
import { helpText, parseFlags } from './flags.ts'
import type { Command } from './io.ts'

const statusFlagKeys: ConfigKey[] = [
  { name: 'url', type: 'string', doc: 'A running mirror\'s HTTP listener (its --http.listener), e.g. http://127.0.0.1:9090; 127.0.0.1:9090 or 9090 work too. Without it, status reads the clusters itself (--consumer.config, --producer.config, --include).' },
  { name: 'consumer.config', type: 'string', doc: 'The mirror\'s consumer properties (source cluster, group.id).' },
  { name: 'producer.config', type: 'string', doc: 'The mirror\'s producer properties (target cluster).' },
  { name: 'include', type: 'string', doc: 'The mirror\'s topics, as its --include.' },
  { name: 'whitelist', type: 'string', doc: 'The mirror\'s topics, as its --whitelist.' },
  { name: 'exclude', type: 'string', doc: 'As the mirror\'s --exclude.' },
  { name: 'json', type: 'boolean', default: false, doc: 'Print JSON (the shape of /api/status\'s partitions and totals) instead of a table.' },
  { name: 'help', type: 'boolean', default: false, doc: 'Print this help and exit.' }
]
const statusFlags = new ConfigDefinition(statusFlagKeys)

const usage = `Usage: kafka-mirror status --url http://127.0.0.1:9090 [--json]
       kafka-mirror status --consumer.config <file> --producer.config <file> --include <regex> [--json]

Prints, per topic and partition, how many records of the source the target does not have yet (lag)
and the age of the oldest of them (lag seconds). --url asks a running mirror; otherwise the group's
committed offsets (group.id of consumer.config) and both clusters' end offsets are read directly.`

export interface StatusRow {
  topic: string
  partition: number
  sourceEndOffset: string | null
  committedOffset: string | null
  targetEndOffset: string | null
  lagRecords: number | null
  lagSeconds: number | null
}

export interface StatusReport {
  /** Where the numbers come from: the mirror's URL, or "clusters". */
  from: string
  state?: string
  group: string
  recordsPerSecond?: number
  totals: { lagRecords: number | null, lagSeconds: number | null }
  partitions: StatusRow[]
}

function statusUrl (text: string): string {
  const base = /^https?:\/\//.test(text) ? text : /^\d+$/.test(text) ? `http://127.0.0.1:${text}` : `http://${text}`
  return new URL('/api/status', base).toString()
}

async function fromMirror (url: string): Promise<StatusReport> {
  let response: Response
  try {
    response = await fetch(statusUrl(url), { signal: AbortSignal.timeout(10_000) })
  } catch (error) {
    throw new KafkaMirrorError(ErrorCodes.CONNECTION, `No mirror answers at ${url}: ${describeCause((error as Error).cause ?? error)}. Is it running with --http.listener at that address?`)
  }
  if (!response.ok) throw new KafkaMirrorError(ErrorCodes.CONNECTION, `${url} answered ${response.status} to /api/status: is it kafka-mirror's --http.listener?`)
  const body = await response.json() as {
    state: string
    group: string
    totals: { lagRecords: number | null, lagSeconds: number | null, recordsPerSecond: number }
    partitions: Array<{ topic: string, partition: number, sourceEndOffset: string | null, committedOffset: string | null, lagRecords: number | null, lagSeconds: number | null }>
  }
  return {
    from: url,
    state: body.state,
    group: body.group,
    recordsPerSecond: body.totals.recordsPerSecond,
    totals: { lagRecords: body.totals.lagRecords, lagSeconds: body.totals.lagSeconds },
    partitions: body.partitions.map(p => ({ topic: p.topic, partition: p.partition, sourceEndOffset: p.sourceEndOffset, committedOffset: p.committedOffset, targetEndOffset: null, lagRecords: p.lagRecords, lagSeconds: p.lagSeconds }))
  }
}

async function fromClusters (pairs: Array<[string, string]>): Promise<StatusReport> {
  const loaded = loadMirrorConfig(pairs.filter(([k]) => k !== 'json' && k !== 'url'))
  const { source, target, topics: filter } = loaded.settings
  if (source.bootstrapServers.length === 0) {
    throw new ConfigError([{ source: source.source, key: 'bootstrap.servers', message: 'is needed by kafka-mirror status (zookeeper.connect is not read here)', fix: 'set bootstrap.servers in the consumer config' }])
  }
  const sourceAdmin = new Admin(baseClientOptions(source, `${source.clientId}-status`))
  const targetAdmin = new Admin(baseClientOptions(target, `${target.clientId}-status`))
  const probe = new LagProbe(sourceAdmin, source)
  try {
    await within(Promise.all([reachCluster(sourceAdmin, source), reachCluster(targetAdmin, target)]), 30_000, 'connecting')
    const topics = (await listTopics(sourceAdmin)).filter(t => topicMatches(filter, t)).sort()
    const lags = await probe.probe(topics)
    const targetEnds = new Map<string, bigint>()
    const onTarget = new Set(await listTopics(targetAdmin))
    const targetTopics = topics.filter(t => onTarget.has(t))
    if (targetTopics.length > 0) {
      const metadata = await targetAdmin.metadata({ topics: targetTopics })
      const answer = await targetAdmin.listOffsets({ topics: targetTopics.map(name => ({ name, partitions: Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) })) })
      for (const t of answer) for (const p of t.partitions) targetEnds.set(`${t.name}:${p.partitionIndex}`, BigInt(p.offset))
    }
    const partitions: StatusRow[] = lags.map(l => ({
      topic: l.topic,
      partition: l.partition,
      sourceEndOffset: l.sourceEndOffset?.toString() ?? null,
      committedOffset: l.committedOffset?.toString() ?? null,
      // With --partitioning key the target's partitions need not match the source's: shown as they are.
      targetEndOffset: targetEnds.get(`${l.topic}:${l.partition}`)?.toString() ?? null,
      lagRecords: l.lagRecords ?? null,
      lagSeconds: l.lagSeconds === undefined ? null : Number(l.lagSeconds.toFixed(3))
    }))
    return { from: 'clusters', group: source.groupId, totals: totalsOf(partitions), partitions }
  } finally {
    await probe.close().catch(() => {})
    await Promise.allSettled([sourceAdmin.close(), targetAdmin.close()])
  }
}

function totalsOf (rows: StatusRow[]): StatusReport['totals'] {
  let lagRecords: number | null = 0
  let lagSeconds: number | null = 0
  for (const r of rows) {
    lagRecords = lagRecords === null || r.lagRecords === null ? null : lagRecords + r.lagRecords
    lagSeconds = lagSeconds === null || r.lagSeconds === null ? null : Math.max(lagSeconds, r.lagSeconds)
  }
  return { lagRecords, lagSeconds }
}

/** The table people read; `-` where a value is unknown. */
export function formatStatus (report: StatusReport): string {
  const head = ['TOPIC', 'PARTITION', 'SOURCE-END', 'COMMITTED', 'TARGET-END', 'LAG', 'LAG-SECONDS']
  const cell = (v: string | number | null): string => v === null ? '-' : String(v)
  const rows = report.partitions.map(p => [p.topic, String(p.partition), cell(p.sourceEndOffset), cell(p.committedOffset), cell(p.targetEndOffset), cell(p.lagRecords), p.lagSeconds === null ? '-' : p.lagSeconds.toFixed(1)])
  rows.push(['TOTAL', '', '', '', '', cell(report.totals.lagRecords), report.totals.lagSeconds === null ? '-' : report.totals.lagSeconds.toFixed(1)])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  const about = [`group ${report.group}`, report.state !== undefined ? `mirror ${report.state}` : 'read from the clusters (no mirror asked)']
  if (report.recordsPerSecond !== undefined) about.push(`${Math.round(report.recordsPerSecond)} records/s`)
  return `${about.join(', ')}\n${[head, ...rows].map(line).join('\n')}\n`
}

export const statusCommand: Command = async (argv, io) => {
  const flags = parseFlags(argv, statusFlags)
  if (flags.pairs.some(([k]) => k === 'help')) {
    io.stdout.write(helpText(usage, statusFlags))
    return ExitCodes.OK
  }
  const problems = [...flags.problems, ...statusFlags.parse(flags.pairs, 'command line').problems.map(p => ({ ...p, key: p.key !== undefined ? `--${p.key}` : undefined }))]
  if (flags.positionals.length > 0) problems.push({ source: 'command line', message: `unexpected argument ${flags.positionals.join(' ')}`, fix: 'flags take the form --name value' })
  const url = flags.pairs.find(([k]) => k === 'url')?.[1]
  const offline = flags.pairs.filter(([k]) => k !== 'url' && k !== 'json')
  if (url !== undefined && offline.length > 0) problems.push({ source: 'command line', key: '--url', message: `cannot go with --${offline[0][0]}`, fix: 'give --url for a running mirror, or the config files for the clusters, not both' })
  if (url === undefined && offline.length === 0) problems.push({ source: 'command line', key: '--url', message: 'or the mirror\'s --consumer.config, --producer.config and --include are needed', fix: 'kafka-mirror status --url http://127.0.0.1:9090' })
  if (problems.length > 0) throw new ConfigError(problems)
  const report = url !== undefined ? await fromMirror(url) : await fromClusters(offline)
  const json = flags.pairs.some(([k, v]) => k === 'json' && v !== 'false')
  io.stdout.write(redactSecrets(json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report)))
  return ExitCodes.OK
}
