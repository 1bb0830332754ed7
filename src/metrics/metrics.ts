// Prometheus metrics of a running Mirror (prom-client), on a registry of its own.
//
// Kept off the copy loop: counters are read from MirrorStats when Prometheus scrapes (the loop only
// adds to per-partition totals it keeps anyway); the two histograms are observed once per target
// batch acknowledged (the Mirror's 'written' event), using the batch's maxTimestamp, never per
// record. Labels: topic and partition (source), Kafka error names, never anything per record.
// Every metric is declared once in `metricDeclarations`, which docs/metrics.md is generated from.
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CollectFunction } from 'prom-client'
import type { Mirror } from '../mirror/mirror.ts'
import type { MirrorStats } from '../mirror/stats.ts'
import type { WrittenBatch } from '../mirror/worker.ts'

export const METRIC_PREFIX = 'kafka_mirror_'

export interface MetricDeclaration {
  name: string
  type: 'counter' | 'gauge' | 'histogram'
  labels: string[]
  help: string
  /** MirrorMaker 2's metric with the same meaning (MBean kafka.connect.mirror:type=MirrorSourceConnector,target=…,topic=…,partition=…). */
  mm2?: string
}

const TP = ['topic', 'partition']

export const metricDeclarations: MetricDeclaration[] = [
  { name: 'kafka_mirror_records_total', type: 'counter', labels: TP, help: 'Records of the source partition the target acknowledged since the process started.', mm2: 'record-count (record-rate: rate() of this)' },
  { name: 'kafka_mirror_bytes_total', type: 'counter', labels: TP, help: 'Bytes of record batches of the source partition the target acknowledged (as sent, compressed ones compressed).', mm2: 'byte-count (byte-rate: rate() of this)' },
  { name: 'kafka_mirror_record_age_seconds', type: 'histogram', labels: TP, help: 'Age of records when fetched from the source (fetch time minus the record timestamp); one observation per target batch, from its newest record (maxTimestamp).', mm2: 'record-age-ms (-min, -max, -avg)' },
  { name: 'kafka_mirror_replication_latency_seconds', type: 'histogram', labels: TP, help: 'From the record timestamp to the target\'s acknowledgement; one observation per target batch, from its newest record (maxTimestamp).', mm2: 'replication-latency-ms (-min, -max, -avg)' },
  { name: 'kafka_mirror_lag_records', type: 'gauge', labels: TP, help: 'Records on the source not yet on the target: source log end offset minus the acknowledged position (or the committed offset when this process has none). From the last lag probe.' },
  { name: 'kafka_mirror_lag_bytes', type: 'gauge', labels: TP, help: 'Estimated bytes not yet copied: lag_records times the mean size of the partition\'s records copied so far (of all partitions while it has none).' },
  { name: 'kafka_mirror_lag_seconds', type: 'gauge', labels: TP, help: 'Age of the oldest record not yet copied (now minus the timestamp of the record batch at the position); 0 when lag_records is 0.' },
  { name: 'kafka_mirror_source_end_offset', type: 'gauge', labels: TP, help: 'The source partition\'s log end offset at the last lag probe.' },
  { name: 'kafka_mirror_committed_offset', type: 'gauge', labels: TP, help: 'The group\'s committed offset of the source partition at the last lag probe.' },
  { name: 'kafka_mirror_lag_probe_timestamp_seconds', type: 'gauge', labels: [], help: 'When the lag gauges were last measured (Unix time); they go stale when the source does not answer.' },
  { name: 'kafka_mirror_commits_total', type: 'counter', labels: TP, help: 'Source offset commits of the partition (each after the target acknowledged every record before the offset).' },
  { name: 'kafka_mirror_last_commit_timestamp_seconds', type: 'gauge', labels: TP, help: 'When the partition\'s offset was last committed (Unix time).' },
  { name: 'kafka_mirror_fetch_errors_total', type: 'counter', labels: ['error'], help: 'Failed fetch attempts on the source, by Kafka error name (NETWORK_ERROR: no answer).' },
  { name: 'kafka_mirror_send_errors_total', type: 'counter', labels: ['error'], help: 'Failed produce attempts on the target, by Kafka error name (NETWORK_ERROR: no answer), retried or not.' },
  { name: 'kafka_mirror_retries_total', type: 'counter', labels: ['operation'], help: 'Failed attempts that were tried again, by operation (fetch, send).' },
  { name: 'kafka_mirror_rebalances_total', type: 'counter', labels: [], help: 'Assignments the consumer group handed this process\'s streams (one per stream at start, one per stream after each rebalance).' },
  { name: 'kafka_mirror_reconciled_partitions_total', type: 'counter', labels: [], help: 'Partitions reconciled with the target when assigned: the copy starts after the records already on the target.' },
  { name: 'kafka_mirror_reconcile_fallbacks_total', type: 'counter', labels: [], help: 'Partitions whose target did not match their commit when assigned (another writer, a topic made again): the copy starts at the committed offset, and records already there may be copied again.' },
  { name: 'kafka_mirror_reconciled_records_total', type: 'counter', labels: [], help: 'Records past the committed offset found on the target when partitions were assigned, and not copied again.' },
  { name: 'kafka_mirror_data_loss_gaps_total', type: 'counter', labels: TP, help: 'Ranges of source records gone before they were copied (retention, topic made again) that the mirror went past with --on.data.loss continue; partition -1: the whole topic was made again.' },
  { name: 'kafka_mirror_failed_records_total', type: 'counter', labels: [], help: 'Records the target refused and the mirror gave up (--abort.on.send.failure false).' },
  { name: 'kafka_mirror_buffered_bytes', type: 'gauge', labels: [], help: 'Bytes of record batches fetched and not yet acknowledged by the target.' },
  { name: 'kafka_mirror_cluster_up', type: 'gauge', labels: ['cluster'], help: '1 when the cluster (source, target) answered the last probe in time, else 0.' },
  { name: 'kafka_mirror_info', type: 'gauge', labels: ['version', 'partitioning', 'group'], help: 'Always 1; the labels say what runs.' }
]

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]

/** Registers the process metrics (CPU, memory, event-loop delay, …) under the kafka_mirror_ prefix. */
export function registerProcessMetrics (registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX, eventLoopMonitoringPrecision: 20 })
}

type Collector = (stats: MirrorStats, mirror: Mirror) => void

/**
 * The metrics of one Mirror on `registry` (a new one by default). Call `close()` when the mirror
 * is gone, to stop observing it.
 */
export class MirrorMetrics {
  readonly registry: Registry
  #mirror: Mirror
  #onWritten: (batch: WrittenBatch) => void

  constructor (mirror: Mirror, options: { registry?: Registry, version?: string, processMetrics?: boolean } = {}) {
    this.#mirror = mirror
    this.registry = options.registry ?? new Registry()
    if (options.processMetrics !== false) registerProcessMetrics(this.registry)
    const declared = new Map(metricDeclarations.map(d => [d.name, d]))
    const make = (name: string, collect?: Collector): Counter | Gauge | Histogram => {
      const d = declared.get(name)!
      const config = {
        name,
        help: d.help,
        labelNames: d.labels,
        registers: [this.registry],
        ...(collect !== undefined ? { collect: function (this: Counter | Gauge) { collect.call(this, mirror.stats, mirror) } as CollectFunction<any> } : {})
      }
      if (d.type === 'counter') return new Counter(config)
      if (d.type === 'gauge') return new Gauge(config)
      return new Histogram({ ...config, buckets: SECONDS_BUCKETS })
    }
    const label = (topic: string, partition: number): { topic: string, partition: string } => ({ topic, partition: String(partition) })
    // A counter read from the stats: set to their current value on every scrape.
    const counter = (name: string, values: (stats: MirrorStats) => Iterable<[Record<string, string>, number]>): void => {
      const metric = make(name, function (this: Counter, stats) {
        this.reset()
        for (const [labels, value] of values(stats)) this.inc(labels, value)
      } as Collector) as Counter
      void metric
    }
    const gauge = (name: string, values: (stats: MirrorStats, mirror: Mirror) => Iterable<[Record<string, string>, number | undefined]>): void => {
      make(name, function (this: Gauge, stats, m) {
        this.reset()
        for (const [labels, value] of values(stats, m)) if (value !== undefined && Number.isFinite(value)) this.set(labels, value)
      } as Collector)
    }
    counter('kafka_mirror_records_total', function * (stats) { for (const c of stats.partitions.values()) yield [label(c.topic, c.partition), c.records] })
    counter('kafka_mirror_bytes_total', function * (stats) { for (const c of stats.partitions.values()) yield [label(c.topic, c.partition), c.bytes] })
    counter('kafka_mirror_commits_total', function * (stats) { for (const c of stats.partitions.values()) if (c.commits > 0) yield [label(c.topic, c.partition), c.commits] })
    gauge('kafka_mirror_last_commit_timestamp_seconds', function * (stats) { for (const c of stats.partitions.values()) if (c.lastCommitAt > 0) yield [label(c.topic, c.partition), c.lastCommitAt / 1000] })
    const recordAge = make('kafka_mirror_record_age_seconds') as Histogram
    const latency = make('kafka_mirror_replication_latency_seconds') as Histogram
    gauge('kafka_mirror_lag_records', function * (stats) { for (const l of stats.lag) yield [label(l.topic, l.partition), l.lagRecords] })
    gauge('kafka_mirror_lag_bytes', function * (stats) {
      const mean = stats.records > 0 ? stats.bytes / stats.records : undefined
      for (const l of stats.lag) {
        const c = stats.partitions.get(`${l.topic}:${l.partition}`)
        const size = c !== undefined && c.records > 0 ? c.bytes / c.records : mean
        yield [label(l.topic, l.partition), l.lagRecords === 0 ? 0 : l.lagRecords === undefined || size === undefined ? undefined : Math.round(l.lagRecords * size)]
      }
    })
    gauge('kafka_mirror_lag_seconds', function * (stats) { for (const l of stats.lag) yield [label(l.topic, l.partition), l.lagSeconds] })
    gauge('kafka_mirror_source_end_offset', function * (stats) { for (const l of stats.lag) yield [label(l.topic, l.partition), l.sourceEndOffset === undefined ? undefined : Number(l.sourceEndOffset)] })
    gauge('kafka_mirror_committed_offset', function * (stats) { for (const l of stats.lag) yield [label(l.topic, l.partition), l.committedOffset === undefined ? undefined : Number(l.committedOffset)] })
    gauge('kafka_mirror_lag_probe_timestamp_seconds', function * (stats) { if (stats.lagAt > 0) yield [{}, stats.lagAt / 1000] })
    const byError = (operation: 'fetch' | 'send') => function * (stats: MirrorStats): Iterable<[Record<string, string>, number]> {
      for (const [key, count] of stats.errors) if (key.startsWith(`${operation} `)) yield [{ error: key.slice(operation.length + 1) }, count]
    }
    counter('kafka_mirror_fetch_errors_total', byError('fetch'))
    counter('kafka_mirror_send_errors_total', byError('send'))
    counter('kafka_mirror_retries_total', function * (stats) { for (const [operation, count] of Object.entries(stats.retries)) yield [{ operation }, count] })
    counter('kafka_mirror_rebalances_total', function * (stats) { yield [{}, stats.rebalances] })
    counter('kafka_mirror_reconciled_partitions_total', function * (stats) { yield [{}, stats.reconciliation.matched] })
    counter('kafka_mirror_reconcile_fallbacks_total', function * (stats) { yield [{}, stats.reconciliation.fallbacks] })
    counter('kafka_mirror_reconciled_records_total', function * (stats) { yield [{}, stats.reconciliation.recordsFound] })
    counter('kafka_mirror_data_loss_gaps_total', function * (stats) {
      const counts = new Map<string, { topic: string, partition: number, n: number }>()
      for (const g of stats.gaps) {
        const key = `${g.topic}:${g.partition}`
        const c = counts.get(key) ?? { topic: g.topic, partition: g.partition, n: 0 }
        c.n++
        counts.set(key, c)
      }
      for (const c of counts.values()) yield [label(c.topic, c.partition), c.n]
    })
    counter('kafka_mirror_failed_records_total', function * (stats) { yield [{}, stats.failedRecords] })
    gauge('kafka_mirror_buffered_bytes', function * (_stats, m) { yield [{}, m.bufferedBytes] })
    gauge('kafka_mirror_cluster_up', function * (stats) {
      for (const cluster of ['source', 'target'] as const) {
        const up = stats.connected[cluster]
        if (up !== undefined) yield [{ cluster }, up ? 1 : 0]
      }
    })
    const info = make('kafka_mirror_info') as Gauge
    info.set({ version: options.version ?? 'unknown', partitioning: mirror.settings.partitioning, group: mirror.settings.source.groupId }, 1)

    this.#onWritten = (batch: WrittenBatch) => {
      if (batch.maxTimestamp <= 0) return
      const labels = label(batch.topic, batch.sourcePartition)
      recordAge.observe(labels, Math.max(0, batch.fetchedAt - batch.maxTimestamp) / 1000)
      latency.observe(labels, Math.max(0, Date.now() - batch.maxTimestamp) / 1000)
    }
    mirror.on('written', this.#onWritten)
  }

  /** The text Prometheus scrapes. */
  async text (): Promise<string> {
    return await this.registry.metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }

  close (): void {
    this.#mirror.off('written', this.#onWritten)
  }
}

/**
 * The metrics of several Mirrors in one process (the mm2 command's flows): each flow's series carry
 * a `flow` label (`A->B`), the process metrics appear once. Scraped as one text.
 */
export class FlowsMetrics {
  #flows: MirrorMetrics[]
  #process = new Registry()

  constructor (flows: Array<{ name: string, mirror: Mirror }>, options: { version?: string } = {}) {
    registerProcessMetrics(this.#process)
    this.#flows = flows.map(({ name, mirror }) => {
      const registry = new Registry()
      registry.setDefaultLabels({ flow: name })
      return new MirrorMetrics(mirror, { registry, version: options.version, processMetrics: false })
    })
  }

  async text (): Promise<string> {
    const all = await Promise.all([this.#process, ...this.#flows.map(f => f.registry)].map(async r => await r.getMetricsAsJSON()))
    // Series of one name from every flow under one HELP and TYPE; their flow labels keep them apart.
    return await AggregatorRegistry.aggregate(all).metrics()
  }

  get contentType (): string {
    return this.#process.contentType
  }

  close (): void {
    for (const f of this.#flows) f.close()
  }
}

/** docs/metrics.md's table of metrics, from the declarations and prom-client's process metrics. */
export async function metricsTable (): Promise<string> {
  const registry = new Registry()
  registerProcessMetrics(registry)
  const processMetrics = await registry.getMetricsAsJSON()
  registry.clear()
  const escape = (text: string): string => text.replace(/\|/g, '\\|')
  const rows = ['| Metric | Type | Labels | Meaning | MirrorMaker 2 |', '|---|---|---|---|---|']
  for (const d of metricDeclarations) rows.push(`| \`${d.name}\` | ${d.type} | ${d.labels.join(', ')} | ${escape(d.help)} | ${d.mm2 !== undefined ? `\`${d.mm2}\`` : ''} |`)
  rows.push('', 'Process metrics (prom-client\'s default metrics, with the same prefix):', '', '| Metric | Type | Meaning |', '|---|---|---|')
  for (const m of [...processMetrics].sort((a, b) => a.name.localeCompare(b.name))) rows.push(`| \`${m.name}\` | ${m.type} | ${escape(m.help)} |`)
  return rows.join('\n') + '\n'
}
