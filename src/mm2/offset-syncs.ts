// The offset-syncs plug-in: from every target batch the Mirror reports written (its `written`
// event: source span, target partition, target base offset), it keeps where each source record
// went (OffsetHistory) and writes
// - MM2's offset syncs to `mm2-offset-syncs.<target>.internal` (policy.offsetSyncsTopic), on the
//   source cluster unless offset-syncs.topic.location=target: OffsetSync(upstream, downstream)
//   pairs of records both sides hold, so MM2's own checkpoint connector (or anything reading the
//   topic) translates from ours as from MM2's;
// - our offset history to `kafka-mirror-offset-history.<target>.internal` beside it: every run of
//   the history (formats.ts), kept by compaction, read back at start, so translation stays
//   record-exact for any committed offset across restarts and whatever the group's lag (MM2 keeps
//   64 syncs per partition in memory, spaced wider the older they are).
// Only partitions copied into the partition of the same number (partitioning 'source', as MM2
// copies) can be translated; batches of a key-partitioned flow are ignored, with one warning.
import type { Producer } from '@platformatic/kafka'
import type { ClusterConnection } from '../kafka/client-options.ts'
import { describeCause } from '../errors.ts'
import type { Logger } from '../log.ts'
import { silentLogger } from '../log.ts'
import type { WrittenBatch } from '../mirror/mirror.ts'
import { partitionKey } from '../mirror/worker.ts'
import { decodeOffsetRun, encodeOffsetRunKey, encodeOffsetRunValue, encodeOffsetSyncKey, encodeOffsetSyncValue } from './formats.ts'
import { ensureCompactedTopic, internalProducer, readPartition, SourceRecordCounter, type RecordRewriteLike } from './internal-topics.ts'
import { isExact, OffsetHistory, type Translation } from './offset-history.ts'
import type { FlowContext, FlowPlugin } from './plugin-api.ts'
import { offsetsSettings, type OffsetsSettings } from './settings.ts'

/** The history topic of a flow to `targetAlias`: ours, named like MM2's so every policy treats it as internal. */
export function offsetHistoryTopic (targetAlias: string): string {
  return `kafka-mirror-offset-history.${targetAlias}.internal`
}

/** How often runs of records gone from the source (retention) are dropped from the history. */
const PRUNE_INTERVAL_MS = 5 * 60_000

export interface OffsetSyncsOptions {
  logger?: Logger
  /** Overrides of the flow's keys (tests). */
  settings?: Partial<OffsetsSettings>
}

export class OffsetSyncsPlugin implements FlowPlugin {
  readonly history = new OffsetHistory()
  /** What was written: runs, MM2 offset syncs, and batches that cannot be translated. */
  readonly counts = { runsWritten: 0, offsetSyncsWritten: 0, untranslatableBatches: 0, historyRunsLoaded: 0 }
  #log: Logger
  #overrides: Partial<OffsetsSettings>
  #ctx: FlowContext | undefined
  #settings: OffsetsSettings | undefined
  #producer: Producer | undefined
  #syncsTopic = ''
  #historyTopic = ''
  #pending: WrittenBatch[] | undefined = []
  #timer: NodeJS.Timeout | undefined
  #pruneTimer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()
  #counter: SourceRecordCounter | undefined
  #onWritten = (batch: WrittenBatch): void => { this.#written(batch) }
  #warnedKeyPartitioning = false

  constructor (options: OffsetSyncsOptions = {}) {
    this.#log = options.logger ?? silentLogger
    this.#overrides = options.settings ?? {}
  }

  get settings (): OffsetsSettings {
    if (this.#settings === undefined) throw new Error('the offset-syncs plug-in has not started')
    return this.#settings
  }

  /** Listens before the Mirror starts, so that no batch is missed; they wait for start(). */
  async beforeStart (ctx: FlowContext): Promise<void> {
    this.#listen(ctx)
  }

  #listen (ctx: FlowContext): void {
    if (this.#ctx !== undefined) return
    this.#ctx = ctx
    this.#log = ctx.logger ?? this.#log
    ctx.mirror.on('written', this.#onWritten)
  }

  async start (ctx: FlowContext): Promise<void> {
    // First, before anything is awaited (when beforeStart did not run): no batch written from now on is missed.
    this.#listen(ctx)
    const settings = this.#settings = { ...offsetsSettings(ctx.flow), ...this.#overrides }
    const onSource = settings.offsetSyncsTopicLocation === 'source'
    const cluster: ClusterConnection = onSource ? ctx.mirror.settings.source : ctx.mirror.settings.target
    const admin = onSource ? ctx.sourceAdmin : ctx.targetAdmin
    this.#syncsTopic = ctx.policy.offsetSyncsTopic(ctx.flow.target)
    this.#historyTopic = offsetHistoryTopic(ctx.flow.target)
    const where = onSource ? 'source' : 'target'
    if (settings.emitOffsetSyncsEnabled) await ensureCompactedTopic(admin, where, this.#syncsTopic, settings.offsetSyncsTopicReplicationFactor, 'offset-syncs.topic.replication.factor')
    await ensureCompactedTopic(admin, where, this.#historyTopic, settings.offsetSyncsTopicReplicationFactor, 'offset-syncs.topic.replication.factor')
    for (const r of await readPartition(cluster, this.#historyTopic)) {
      const run = decodeOffsetRun(r.key, r.value)
      this.history.load(run.topic, run.partition, run.run === undefined ? undefined : { upstream: run.upstreamOffset, upstreamEnd: run.run.upstreamEnd, downstream: run.run.downstreamOffset, records: run.run.records }, run.upstreamOffset)
    }
    this.counts.historyRunsLoaded = this.history.size
    const pending = this.#pending ?? []
    this.#pending = undefined
    for (const batch of pending) this.#written(batch)
    this.#producer = internalProducer(cluster, `${cluster.clientId}-mm2-offset-syncs`)
    this.#counter = new SourceRecordCounter(ctx.mirror.settings.source, (ctx.mirror.settings as { rewriteRecord?: RecordRewriteLike }).rewriteRecord)
    this.#timer = setInterval(() => { void this.flush() }, settings.offsetSyncsFlushIntervalMs)
    this.#timer.unref()
    this.#pruneTimer = setInterval(() => { this.prune().catch((error: unknown) => this.#log.debug({ err: describeCause(error) }, 'pruning the offset history failed')) }, PRUNE_INTERVAL_MS)
    this.#pruneTimer.unref()
    this.#log.info({ flow: `${ctx.flow.source}->${ctx.flow.target}`, offsetSyncs: this.#syncsTopic, history: this.#historyTopic, cluster: where, runs: this.history.size }, 'writing offset syncs and the offset history')
  }

  #written (batch: WrittenBatch): void {
    if (this.#pending !== undefined) { this.#pending.push(batch); return }
    if (batch.records === 0) return
    if (batch.targetPartition !== batch.sourcePartition) {
      this.counts.untranslatableBatches++
      if (!this.#warnedKeyPartitioning) {
        this.#warnedKeyPartitioning = true
        this.#log.warn({ topic: batch.topic }, 'records go to other partition numbers on the target (partitioning key): their offsets cannot be translated; MM2 flows keep partitions (partitioning source)')
      }
      return
    }
    this.history.add(batch.topic, batch.sourcePartition, batch.sourceFirstOffset, batch.sourceNextOffset, batch.targetBaseOffset, BigInt(batch.records))
  }

  /** The target offset of the next record a group committed at `committed` of a source partition would read. */
  async translate (topic: string, partition: number, committed: bigint): Promise<Translation | undefined> {
    const copiedTo = this.#ctx?.mirror.stats.position(partitionKey(topic, partition))
    return await this.history.translate(topic, partition, committed, copiedTo, this.#counter?.count)
  }

  /** Writes the runs changed since the last flush, and one MM2 offset sync per partition that moved. */
  async flush (): Promise<void> {
    const previous = this.#flushing
    const work = (async () => {
      await previous.catch(() => {})
      const producer = this.#producer
      if (producer === undefined) return
      const changes = this.history.drainChanges()
      if (changes.length === 0) return
      const messages = []
      const syncs = new Map<string, { topic: string, partition: number, upstreamOffset: bigint, downstreamOffset: bigint }>()
      for (const c of changes) {
        messages.push({ topic: this.#historyTopic, partition: 0, key: encodeOffsetRunKey({ topic: c.topic, partition: c.partition, upstreamOffset: c.upstream }), value: c.run === undefined ? undefined : encodeOffsetRunValue({ upstreamEnd: c.run.upstreamEnd, downstreamOffset: c.run.downstream, records: c.run.records }) })
        // MM2's pair: a record both sides hold, the newest of the run (exact runs only: inside
        // other runs the source offset of a given target record is not known without reading).
        if (c.run !== undefined && isExact(c.run) && c.run.records > 0n) syncs.set(`${c.topic}:${c.partition}`, { topic: c.topic, partition: c.partition, upstreamOffset: c.run.upstreamEnd - 1n, downstreamOffset: c.run.downstream + c.run.records - 1n })
      }
      if (this.settings.emitOffsetSyncsEnabled) for (const s of syncs.values()) messages.push({ topic: this.#syncsTopic, partition: 0, key: encodeOffsetSyncKey(s), value: encodeOffsetSyncValue(s) })
      try {
        for (let i = 0; i < messages.length; i += 500) await producer.send({ messages: messages.slice(i, i + 500), acks: -1 })
        this.counts.runsWritten += changes.length
        if (this.settings.emitOffsetSyncsEnabled) this.counts.offsetSyncsWritten += syncs.size
      } catch (error) {
        // Put the changes back: the next flush writes them (the newest state of each run wins).
        this.history.requeue(changes)
        this.#log.warn({ err: describeCause(error), topic: this.#historyTopic }, 'writing offset syncs failed; trying again at the next flush')
      }
    })()
    this.#flushing = work
    await work
  }

  /**
   * Drops the runs whose records are all gone from the source (below its log start): no group
   * can be committed there any more. Tombstones go out with the next flush, so the history topic
   * does not grow with the life of the flow.
   */
  async prune (): Promise<number> {
    const ctx = this.#ctx
    if (ctx === undefined) return 0
    const byTopic = new Map<string, number[]>()
    for (const { topic, partition } of this.history.partitions()) {
      let list = byTopic.get(topic)
      if (list === undefined) byTopic.set(topic, list = [])
      list.push(partition)
    }
    if (byTopic.size === 0) return 0
    const starts = await ctx.sourceAdmin.listOffsets({ topics: [...byTopic].map(([name, partitions]) => ({ name, partitions: partitions.map(partitionIndex => ({ partitionIndex, timestamp: -2n })) })) })
    let dropped = 0
    for (const t of starts) for (const p of t.partitions) if (p.offset >= 0n) dropped += this.history.forgetBefore(t.name, p.partitionIndex, BigInt(p.offset))
    return dropped
  }

  async stop (): Promise<void> {
    this.#ctx?.mirror.off('written', this.#onWritten)
    if (this.#timer !== undefined) clearInterval(this.#timer)
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer)
    await this.flush().catch(() => {})
    await this.#producer?.close().catch(() => {})
    await this.#counter?.close().catch(() => {})
    this.#producer = undefined
  }
}
