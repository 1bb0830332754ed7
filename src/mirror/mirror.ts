// The mirror engine: finds the topics to copy, makes sure the target has them, and runs
// --num.streams copy workers (worker.ts, the one copy loop) in one consumer group; each commits
// source offsets only after the target acknowledged every record before them. Tests and the CLI
// drive it the same way:
//   const mirror = new Mirror(settings); await mirror.start(); ...; await mirror.stop()
import { EventEmitter } from 'node:events'
import { Admin } from '@platformatic/kafka'
import type { MirrorSettings } from '../config/mirror-config.ts'
import { topicMatches } from '../config/topic-filter.ts'
import { ConfigError, DataLossError, ErrorCodes, KafkaMirrorError, SendFailedError, StopDeadlineError, describeCause } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { brokersFromZooKeeper } from '../kafka/bootstrap.ts'
import { accessError, checkMirrorAccess, explainAccess, reachCluster } from '../kafka/access.ts'
import { silentLogger, type Logger } from '../log.ts'
import { addPartitions, brokerCount, createTopic, describeTopics, listTopics, maxMessageBytes, replicatedTopicConfigs } from '../admin/topics.ts'
import { MirrorStats, type MirrorSummary } from './stats.ts'
import { CompressionCodecs } from '../kafka/raw/record-batch.ts'
import { CopyWorker, partitionKey, TargetProducer, type Delivery, type WorkerCounts, type WorkerHost, type WorkerOptions, type WrittenBatch } from './worker.ts'
import { LagProbe, within } from '../metrics/lag.ts'

export type { WorkerCounts, WrittenBatch }

export interface MirrorOptions extends MirrorSettings {
  logger?: Logger
  /** How often lag and the clusters' reachability are probed (stats.lag, stats.connected). Default: status.interval.ms up to 5000. */
  probeIntervalMs?: number
  /** Source positions kept outside the group (a MirrorMaker 2 take-over): WorkerHost.externalPositions. */
  externalPositions?: WorkerHost['externalPositions']
  /** The configs a missing target topic is created with (an MM2 flow's filter); default: the source topic's own of replicatedTopicConfigs. */
  targetTopicConfigs?: (sourceTopic: string, sourceAdmin: Admin) => Promise<Record<string, string>>
}

export type MirrorState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed'

/** How long stop() may take; a Kubernetes pod's terminationGracePeriodSeconds must be above it. */
export const STOP_TIMEOUT_MS = 25_000

/** How long stop() waits, out of its deadline, for a start it cut short to reach the end of its step. */
const START_CUT_WAIT_MS = 5000
/** While some streams of a starting mirror are still joining, how often the ones in ask whether a rebalance started (#joinTogether). */
const JOIN_PROBE_MS = 200

/** True when `work` settled before `deadline`; false when the deadline came first. */
export async function settlesBy (work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>(resolve => { timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())) })
  try {
    return await Promise.race([work.then(() => true, () => true), timedOut])
  } finally {
    clearTimeout(timer)
  }
}

export class Mirror extends EventEmitter {
  readonly settings: MirrorSettings
  readonly stats: MirrorStats
  #log: Logger
  #sourceAdmin: Admin | undefined
  #targetAdmin: Admin | undefined
  #workers: CopyWorker[] = []
  #topics = new Set<string>()
  #targetPartitions = new Map<string, number>()
  /** Target topics' max.message.bytes less a margin for a codec's framing: no batch sent is larger. */
  #targetMaxBatchBytes = new Map<string, number>()
  /** Partition counts of the source topics as last seen: a larger count means partitions were added. */
  #sourcePartitions = new Map<string, number>()
  /** Partitions added to a mirrored topic while the mirror ran: copied from their start, whatever auto.offset.reset says. */
  #addedPartitions = new Set<string>()
  /** Source topic ids: a new id under a known name means the topic was deleted and made again. */
  #topicIds = new Map<string, string>()
  /** --once: the end offset of every partition at start; records at or past it are not copied. */
  #endOffsets: Map<string, bigint> | undefined
  #timers: NodeJS.Timeout[] = []
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'
  #starting: Promise<void> | undefined
  /** stop() was called while starting. */
  #stopRequested = false
  #finished: Promise<MirrorSummary>
  #resolveFinished!: (summary: MirrorSummary) => void
  #rejectFinished!: (error: unknown) => void
  #fatal: unknown
  #startError: unknown
  #probeIntervalMs: number
  #lagProbe: LagProbe | undefined
  #probing = false
  #externalPositions: MirrorOptions['externalPositions']
  #targetTopicConfigs: MirrorOptions['targetTopicConfigs']

  constructor (options: MirrorOptions) {
    super()
    const { logger, probeIntervalMs, externalPositions, targetTopicConfigs, ...settings } = options
    this.settings = settings
    this.#externalPositions = externalPositions
    this.#targetTopicConfigs = targetTopicConfigs
    this.#probeIntervalMs = probeIntervalMs ?? (settings.statusIntervalMs > 0 ? Math.min(settings.statusIntervalMs, 5000) : 5000)
    this.#log = logger ?? silentLogger
    this.stats = new MirrorStats()
    this.#finished = new Promise((resolve, reject) => {
      this.#resolveFinished = resolve
      this.#rejectFinished = reject
    })
    // A caller that only awaits start()/stop() must not see an unhandled rejection.
    this.#finished.catch(() => {})
  }

  /** The name a source topic has on the target (settings.targetTopic; the same name without one). */
  get #targetTopic (): (sourceTopic: string) => string {
    return this.settings.targetTopic ?? ((topic: string) => topic)
  }

  /** Settles when the mirror stopped: by stop(), at the end of --once, or on a fatal error. */
  get finished (): Promise<MirrorSummary> {
    return this.#finished
  }

  /** How the workers treated the source batches so far: sent as they were, encoded again, merged, dropped. */
  get counts (): WorkerCounts {
    const counts = { raw: 0, reencoded: 0, merged: 0, skipped: 0 }
    for (const w of this.#workers) for (const k of Object.keys(counts) as Array<keyof WorkerCounts>) counts[k] += w.counts[k]
    return counts
  }

  get topics (): string[] {
    return [...this.#topics].sort()
  }

  get state (): MirrorState {
    if (this.failure !== undefined && this.#state === 'stopped') return 'failed'
    return this.#state === 'new' ? 'starting' : this.#state
  }

  /** The error that stopped the mirror (or made start() fail); undefined while all is well. */
  get failure (): unknown {
    return this.#fatal ?? this.#startError
  }

  /** Bytes of record batches fetched and not yet acknowledged by the target, over every stream. */
  get bufferedBytes (): number {
    let bytes = 0
    for (const w of this.#workers) bytes += w.pendingBytes
    return bytes
  }

  /**
   * Connects, prepares the target topics and joins the group. A stop() asked meanwhile (SIGTERM
   * while starting, a rolling restart that comes early) ends the start at its next step: start()
   * then resolves, and `finished` settles with the stop's outcome, an error only if one happened.
   */
  async start (): Promise<void> {
    if (this.#state !== 'new') throw new Error('A Mirror starts once')
    this.#state = 'starting'
    this.#starting = this.#start()
    await this.#starting
  }

  /** A stop was asked while starting: the start goes no further (rethrowing a fatal error that caused it). */
  #startCut (): boolean {
    if (!this.#stopRequested) return false
    if (this.#fatal !== undefined) throw this.#fatal
    return true
  }

  async #start (): Promise<void> {
    try {
      await this.#connect()
      if (this.#startCut()) return
      const topics = await this.#matchingSourceTopics()
      // A user without ACLs sees no topics: say which permission is missing instead of waiting.
      await checkMirrorAccess(this.#sourceAdmin!, this.#targetAdmin!, this.settings.source, this.settings.target, { filter: this.settings.topics, matched: topics })
      if (topics.length === 0) this.#log.warn({ include: this.settings.topics.description }, 'no source topic matches yet; checking again every topic.refresh.interval.ms')
      if (this.#startCut()) return
      await this.#prepareTargets(topics)
      if (this.settings.once) await this.#takeEndOffsets(topics)
      if (this.#startCut()) return
      await this.#startWorkers(topics)
      if (this.#startCut()) return
      this.#state = 'running'
      this.#startTimers()
      this.#log.info({ topics: this.topics.join(','), streams: this.settings.numStreams, group: this.settings.source.groupId }, 'mirroring')
      if (this.settings.once) this.#checkOnceDone()
    } catch (error) {
      if (this.#stopRequested) {
        // stop() closes what was opened and settles `finished`; an error of a start it cut short
        // (a client closed under it) is not the mirror's failure.
        if (this.#state === 'stopped') await this.#closeAll().catch(() => {})
        if (this.#fatal !== undefined) throw this.#fatal
        return
      }
      this.#startError = error
      this.#state = 'stopping'
      await this.#closeAll()
      this.#state = 'stopped'
      this.#rejectFinished(error)
      throw error
    }
  }

  async #connect (): Promise<void> {
    const { source, target } = this.settings
    if (source.zookeeperConnect !== undefined) {
      source.bootstrapServers = await brokersFromZooKeeper(source.zookeeperConnect, { securityProtocol: source.securityProtocol, timeoutMs: source.zookeeperTimeoutMs })
      this.#log.info({ 'zookeeper.connect': source.zookeeperConnect, brokers: source.bootstrapServers.join(',') }, 'found the source brokers through ZooKeeper')
    }
    this.#sourceAdmin = new Admin(baseClientOptions(source, `${source.clientId}-admin`))
    this.#targetAdmin = new Admin(baseClientOptions(target, `${target.clientId}-admin`))
    await Promise.all([reachCluster(this.#sourceAdmin, source), reachCluster(this.#targetAdmin, target)])
    this.stats.connected = { source: true, target: true }
    this.#lagProbe = new LagProbe(this.#sourceAdmin, source)
  }

  async #matchingSourceTopics (): Promise<string[]> {
    const all = await listTopics(this.#sourceAdmin!)
    return all.filter(t => topicMatches(this.settings.topics, t) && !this.#topics.has(t))
  }

  /** Creates missing target topics like their source, and learns each target's partition count. */
  async #prepareTargets (topics: string[]): Promise<void> {
    if (topics.length === 0) return
    const sourceTopics = await describeTopics(this.#sourceAdmin!, topics)
    const existing = new Set(await listTopics(this.#targetAdmin!, true))
    const brokers = await brokerCount(this.#targetAdmin!)
    const targetOf = this.#targetTopic
    for (const topic of sourceTopics) {
      if (existing.has(targetOf(topic.name))) continue
      if (!this.settings.createTopics) {
        throw new KafkaMirrorError(ErrorCodes.TOPIC, `Topic ${targetOf(topic.name)} does not exist on the target and --create.topics is false: create it there first`)
      }
      const configs = this.#targetTopicConfigs !== undefined
        ? await this.#targetTopicConfigs(topic.name, this.#sourceAdmin!)
        : Object.fromEntries(Object.entries(topic.configs).filter(([k]) => replicatedTopicConfigs.includes(k) && (this.settings.topicConfigFilter?.(k) ?? true)))
      const replicationFactor = this.settings.replicationFactor ?? Math.min(topic.replicationFactor, brokers)
      if (configs['min.insync.replicas'] !== undefined && replicationFactor > 0 && Number(configs['min.insync.replicas']) > replicationFactor) {
        configs['min.insync.replicas'] = String(replicationFactor)
      }
      const created = await createTopic(this.#targetAdmin!, { name: targetOf(topic.name), partitions: topic.partitions.length, replicationFactor, configs })
        .catch((error: unknown) => { throw explainAccess(error, this.settings.target, ['Create']) })
      if (created) this.#log.info({ cluster: 'target', topic: targetOf(topic.name), sourceTopic: topic.name, partitions: topic.partitions.length, replicationFactor, configs: Object.keys(configs).join(',') }, 'created the target topic')
    }
    const ids = await this.#sourceAdmin!.metadata({ topics, forceUpdate: true })
    for (const t of topics) { const id = ids.topics.get(t)?.id; if (id !== undefined) this.#topicIds.set(t, id) }
    const targetNames = topics.map(targetOf)
    const targets = await this.#waitForTargetMetadata(targetNames)
    // A target topic may take smaller batches than the source's (max.message.bytes): batches made
    // or merged here stay below it. A compressed batch is at most a few dozen bytes over its records.
    // Without DescribeConfigs on the target (ACLs, or a broker the client cannot ask), the
    // 256 KiB cap stays: below every broker's default. Keyed by the target topic's name.
    const limits = await maxMessageBytes(this.#targetAdmin!, targetNames).catch((error: unknown) => {
      this.#log.debug({ err: describeCause(error) }, 'could not read the target topics\' max.message.bytes; batches stay at most 256 KiB')
      return new Map<string, number>()
    })
    for (const [topic, bytes] of limits) this.#targetMaxBatchBytes.set(topic, Math.max(1024, bytes - 1024))
    const problems = []
    for (const topic of sourceTopics) {
      const count = targets.get(targetOf(topic.name))!
      this.#targetPartitions.set(topic.name, count)
      this.#sourcePartitions.set(topic.name, topic.partitions.length)
      if (this.settings.partitioning === 'source' && count < topic.partitions.length) {
        problems.push({ source: 'command line', key: '--partitioning', message: `source keeps partition numbers, but ${topic.name} has ${topic.partitions.length} partitions on the source and only ${count} on the target${targetOf(topic.name) !== topic.name ? ` (as ${targetOf(topic.name)})` : ''}`, fix: 'add partitions to the target topic, or use --partitioning key' })
      }
    }
    if (problems.length > 0) throw new ConfigError(problems)
  }

  async #waitForTargetMetadata (topics: string[]): Promise<Map<string, number>> {
    const deadline = Date.now() + 30_000
    while (true) {
      try {
        const metadata = await this.#targetAdmin!.metadata({ topics, forceUpdate: true })
        const counts = new Map<string, number>()
        for (const t of topics) {
          const m = metadata.topics.get(t)
          if (m !== undefined && m.partitionsCount > 0 && m.partitions.every(p => p.leader >= 0)) counts.set(t, m.partitionsCount)
        }
        if (counts.size === topics.length) return counts
      } catch (error) {
        if (Date.now() > deadline) throw error
      }
      if (Date.now() > deadline) throw new KafkaMirrorError(ErrorCodes.TOPIC, `Target topics ${topics.join(', ')} have no leaders after 30 s`)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }

  async #takeEndOffsets (topics: string[]): Promise<void> {
    this.#endOffsets = new Map()
    const metadata = await this.#sourceAdmin!.metadata({ topics })
    const request = topics.map(name => ({
      name,
      partitions: Array.from({ length: metadata.topics.get(name)!.partitionsCount }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }))
    }))
    // Copied out at once: the client may reuse the objects of one answer for the next.
    const ends = await this.#listOffsets(request, -1n)
    const starts = await this.#listOffsets(request, -2n)
    const committed = await this.#committedOffsets(topics)
    for (const [key, end] of ends) {
      this.#endOffsets.set(key, end)
      const topic = key.slice(0, key.lastIndexOf(':'))
      let from = committed.get(key) ?? (this.settings.source.autoOffsetReset === 'latest' ? end : starts.get(key) ?? 0n)
      if (committed.has(key) && from > end) {
        // The group is past the partition's end: its offsets went back (topic made again).
        const logStart = starts.get(key) ?? 0n
        this.#offsetsWentBack(topic, Number(key.slice(key.lastIndexOf(':') + 1)), from, logStart)
        from = logStart
      }
      this.stats.planPartition(topic, key, from, end)
    }
  }

  /** Offsets at a timestamp (-1: end, -2: log start), keyed "topic:partition". */
  async #listOffsets (request: Array<{ name: string, partitions: Array<{ partitionIndex: number }> }>, timestamp: bigint): Promise<Map<string, bigint>> {
    const answer = await this.#sourceAdmin!.listOffsets({ topics: request.map(t => ({ name: t.name, partitions: t.partitions.map(p => ({ partitionIndex: p.partitionIndex, timestamp })) })) })
    const result = new Map<string, bigint>()
    for (const t of answer) for (const p of t.partitions) result.set(partitionKey(t.name, p.partitionIndex), BigInt(p.offset))
    return result
  }

  async #committedOffsets (topics: string[]): Promise<Map<string, bigint>> {
    const result = new Map<string, bigint>()
    const groups = await this.#sourceAdmin!.listConsumerGroupOffsets({ groups: [this.settings.source.groupId] })
    for (const g of groups) {
      for (const t of g.topics) {
        if (!topics.includes(t.name)) continue
        for (const p of t.partitions) if (p.committedOffset >= 0n) result.set(partitionKey(t.name, p.partitionIndex), p.committedOffset)
      }
    }
    return result
  }

  async #startWorkers (topics: string[]): Promise<void> {
    const { numStreams, target } = this.settings
    const host = {
      endOffset: (topic: string, partition: number) => this.#endOffsets?.get(partitionKey(topic, partition)),
      targetPartitions: (topic: string) => this.#targetPartitions.get(topic) ?? 1,
      targetMaxBatchBytes: (topic: string) => this.#targetMaxBatchBytes.get(topic),
      fromLogStart: (topic: string, partition: number) => this.#addedPartitions.has(partitionKey(topic, partition)),
      delivered: (d: Delivery) => {
        this.stats.recordDelivered(d.topic, d.partition, d.records, d.bytes, d.nextOffset)
        if (this.#endOffsets !== undefined) this.#checkOnceDone()
      },
      written: (batch: WrittenBatch) => { this.emit('written', batch) },
      reconciled: (topic: string, partition: number, r: { outcome: 'none' | 'matched' | 'fallback', found: number }) => {
        if (r.outcome === 'matched') this.stats.reconciliation.matched++
        if (r.outcome === 'fallback') this.stats.reconciliation.fallbacks++
        this.stats.reconciliation.recordsFound += r.found
        this.emit('reconciled', { topic, partition, ...r })
      },
      skipped: (topic: string, partition: number, records: number, error: Error) => {
        // --abort.on.send.failure false: the user chose to go on; the records are counted as lost.
        this.stats.recordFailed(records)
        this.#log.error({ topic, partition, records, err: describeCause(error) }, 'records were not delivered and are skipped (abort.on.send.failure=false)')
      },
      onFatal: (error: unknown) => {
        if (error instanceof SendFailedError) this.#failed(accessError(error.cause, target, { operations: ['Write'] }) ?? error)
        else this.#failed(error instanceof KafkaMirrorError ? error : explainAccess(error, this.settings.source))
      },
      onDataLoss: (topic: string, partition: number, from: bigint, deletedTo: bigint, resumeAt: bigint) => { this.#dataLoss(topic, partition, from, deletedTo, resumeAt) },
      onOffsetsWentBack: (topic: string, partition: number, from: bigint, to: bigint) => { this.#offsetsWentBack(topic, partition, from, to) },
      error: (operation: 'fetch' | 'send', name: string, retried: boolean) => { this.stats.recordError(operation, name, retried) },
      externalPositions: this.#externalPositions,
      // A partition that moves between two streams of this process (source partitioning: each has
      // its own producer) is read on the target only once the other's requests were answered too.
      writesSettled: async (targetTopics: Set<string>, abandon: () => boolean) => (await Promise.all(this.#workers.map(async w => await w.writtenSettled(targetTopics, abandon)))).every(Boolean)
    }
    const limits = { maxPendingBytes: Math.max(1 << 20, Math.floor(target.bufferMemory / numStreams)), maxRequestBytes: Math.max(16 << 10, Math.floor(target.maxRequestSize * 0.9)) }
    const options: WorkerOptions = {
      partitioning: this.settings.partitioning,
      compression: CompressionCodecs[target.compression],
      forceReencode: this.settings.fastPath === 'off',
      skipRefused: !this.settings.abortOnSendFailure,
      targetTopic: this.settings.targetTopic,
      rewrite: this.settings.rewriteRecord,
      exactlyOnce: this.settings.exactlyOnce
    }
    // Key partitioning: every stream writes to every target partition, so they share one producer
    // (see TargetProducer); with source partitioning each stream's partitions are its own.
    if (this.settings.partitioning === 'key') options.producer = new TargetProducer(target, target.clientId, limits, options, host, numStreams > 1)
    for (let i = 0; i < numStreams; i++) this.#workers.push(new CopyWorker(i, this.settings.source, target, host, this.#log, limits, options))
    for (const w of this.#workers) this.#watchAssignments(w)
    for (const t of topics) this.#topics.add(t)
    if (topics.length > 0) {
      // Every stream is set up before any joins, and then they join together: one joining alone
      // would get every partition, and give half of them back (reconciled by their new owner) as
      // soon as the next one arrived.
      await Promise.all(this.#workers.map(async w => await w.addTopics(topics, false)))
      await this.#joinTogether()
      await this.#waitForStableGroup()
    }
    for (const w of this.#workers) w.release()
  }

  /** One log line per change of a stream's partitions, per topic; counts the group's assignments. */
  #watchAssignments (worker: CopyWorker): void {
    let owned = new Set<string>()
    // Registered after the worker's own listener, which applies the assignment first.
    worker.consumer.on('consumer:group:join', () => {
      this.stats.rebalances++
      const now = worker.owned
      const changes = { assigned: [...now].filter(k => !owned.has(k)), revoked: [...owned].filter(k => !now.has(k)) }
      owned = new Set(now)
      for (const [what, keys] of Object.entries(changes)) {
        const byTopic = new Map<string, number[]>()
        for (const k of keys) {
          const i = k.lastIndexOf(':')
          byTopic.set(k.slice(0, i), [...(byTopic.get(k.slice(0, i)) ?? []), Number(k.slice(i + 1))])
        }
        for (const [topic, partitions] of byTopic) this.#log.info({ cluster: 'source', stream: worker.index, topic, partitions: partitions.sort((a, b) => a - b).join(',') }, `partitions ${what}`)
      }
    })
  }

  /**
   * Every stream sends its JoinGroup. With an empty group and group.initial.rebalance.delay.ms=0 on
   * the brokers, one stream's join can complete alone before another's JoinGroup arrives; that one
   * then starts a rebalance the first learns of only at its next heartbeat (up to
   * heartbeat.interval.ms, 3 s by default), and nothing is copied meanwhile. So while some joins
   * are still waiting, the streams already in ask the coordinator every JOIN_PROBE_MS and join
   * again at once when it has started a rebalance.
   */
  async #joinTogether (): Promise<void> {
    const track = (worker: CopyWorker): { worker: CopyWorker, promise: Promise<void>, done: boolean } => {
      const join = { worker, promise: worker.join(), done: false }
      join.promise.then(() => { join.done = true }, () => {})
      return join
    }
    const joins = this.#workers.map(track)
    for (;;) {
      const waiting = joins.filter(j => !j.done)
      if (waiting.length === 0) break
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all(waiting.map(async j => await j.promise)),
        new Promise(resolve => { timer = setTimeout(resolve, JOIN_PROBE_MS) })
      ]).finally(() => { clearTimeout(timer) })
      if (this.#stopRequested || joins.every(j => j.done)) continue
      // A stream that joins again here is back once the rebalance completes, with the others.
      await Promise.all(joins.filter(j => j.done).map(async j => {
        if (await j.worker.joinIfRebalancing()) this.#log.debug({ stream: j.worker.index }, 'another stream started a rebalance after this one joined: joined again at once')
      }))
    }
  }

  /**
   * Waits until the group has settled with all our consumers, so records are not fetched by one
   * member and then again by the next after a rebalance at start.
   */
  async #waitForStableGroup (): Promise<void> {
    const deadline = Date.now() + Math.min(60_000, this.settings.source.rebalanceTimeoutMs)
    while (Date.now() < deadline) {
      try {
        const groups = await this.#sourceAdmin!.describeGroups({ groups: [this.settings.source.groupId] })
        const group = groups.get(this.settings.source.groupId)
        const members = new Set(group?.members.keys() ?? [])
        const current = new Set(this.#workers.map(w => w.consumer.memberId))
        // Each consumer must also know its part of the settled assignment, so none copies a
        // partition the group gave to another.
        const settled = this.#workers.every(w => {
          const member = w.consumer.memberId === null ? undefined : group?.members.get(w.consumer.memberId)
          if (member === undefined) return false
          const assigned = new Set<string>()
          for (const [topic, a] of member.assignments ?? new Map()) for (const p of a.partitions) assigned.add(partitionKey(topic, p))
          return assigned.size === w.owned.size && [...assigned].every(k => w.owned.has(k))
        })
        if (String(group?.state).toUpperCase() === 'STABLE' && [...current].every(id => id !== null && members.has(id)) && settled) return
      } catch {}
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    this.#log.warn('the consumer group did not settle in time; going on')
  }

  /** Records the mirror had not copied are gone from the source: stop, or report and go on. */
  #dataLoss (topic: string, partition: number, from: bigint, deletedTo: bigint, resumeAt: bigint): void {
    // Values once, as fields (the error that ends the process says it all in a sentence).
    const fields = { cluster: 'source', topic, partition, from: String(from), to: String(deletedTo - 1n), records: String(deletedTo - from), resumeAt: String(resumeAt) }
    const what = 'records were deleted from the source (retention) before they were copied'
    if (this.settings.onDataLoss === 'stop') {
      this.#log.error(fields, `${what}; stopping without committing past them (--on.data.loss stop). To go on from resumeAt, restart with --on.data.loss continue`)
      throw new DataLossError(topic, partition, from, deletedTo)
    }
    this.stats.recordGap(topic, partition, from, deletedTo)
    this.#log.error(fields, `${what}; going on from resumeAt (--on.data.loss continue)`)
    this.emit('gap', { topic, partition, from, to: deletedTo, resumeAt })
  }

  /** The source partition's offsets went back: the topic was deleted and created again, or truncated. */
  #offsetsWentBack (topic: string, partition: number, from: bigint, to: bigint): void {
    const fields = { cluster: 'source', topic, partition, from: String(from), to: String(to) }
    const what = 'the partition\'s offsets went back: the topic was deleted and created again, or its log was truncated, so records of the old log from offset `from` on were never copied'
    if (this.settings.onDataLoss === 'stop') {
      this.#log.error(fields, `${what}; stopping without committing (--on.data.loss stop). To copy the partition from offset \`to\`, restart with --on.data.loss continue`)
      throw new DataLossError(topic, partition, from, from + 1n, `the offsets of ${topic}-${partition} went back from ${from} to ${to}: the topic was deleted and created again, or its log was truncated, so records of the old log from offset ${from} on were never copied`)
    }
    this.stats.recordGap(topic, partition, from, from)
    this.#log.error(fields, `${what}; copying from offset \`to\` (--on.data.loss continue)`)
    this.emit('gap', { topic, partition, from, to: undefined, resumeAt: to })
  }

  #startTimers (): void {
    const { offsetCommitIntervalMs, topicRefreshIntervalMs, statusIntervalMs, once } = this.settings
    if (offsetCommitIntervalMs > 0) this.#timers.push(setInterval(() => { this.#commitAll().catch(error => this.#log.warn({ err: describeCause(error) }, 'committing source offsets failed; trying again at the next interval')) }, offsetCommitIntervalMs))
    if (!once) this.#timers.push(setInterval(() => { this.#refreshTopics().catch(error => this.#log.warn({ err: describeCause(error) }, 'checking for new topics failed')) }, topicRefreshIntervalMs))
    if (statusIntervalMs > 0) this.#timers.push(setInterval(() => { this.#logStatus() }, statusIntervalMs))
    this.#timers.push(setInterval(() => { this.#probe().catch(() => {}) }, this.#probeIntervalMs))
    this.#timers.push(setInterval(() => { this.stats.sample() }, 1000))
    this.#probe().catch(() => {})
    if (once) this.#timers.push(setInterval(() => this.#checkOnceDone(), 250))
    for (const t of this.#timers) t.unref()
  }

  /** Compares the source topics' ids with those seen before; a changed id is reported. */
  async #checkTopicIds (topics: string[] = this.topics): Promise<void> {
    const known = topics.filter(t => this.#topicIds.has(t))
    if (known.length === 0) return
    const listed = new Set(await listTopics(this.#sourceAdmin!))
    const present = known.filter(t => listed.has(t))
    if (present.length === 0) return
    const metadata = await this.#sourceAdmin!.metadata({ topics: present, forceUpdate: true })
    for (const t of present) {
      const id = metadata.topics.get(t)?.id
      if (id === undefined || id === this.#topicIds.get(t)) continue
      this.#topicIds.set(t, id)
      this.#topicRecreated(t)
    }
  }

  #topicRecreated (topic: string): void {
    const what = 'the source topic was deleted and created again (its topic id changed): records of the old topic that were not copied yet are gone, and the new topic\'s offsets start over'
    if (this.settings.onDataLoss === 'stop') {
      this.#log.error({ cluster: 'source', topic }, `${what}; stopping (--on.data.loss stop). Restart with --on.data.loss continue to copy the new topic from its start`)
      this.#failed(new DataLossError(topic, -1, 0n, 1n, `source topic ${topic} was deleted and created again (its topic id changed): records of the old topic that were not copied yet are gone, and the new topic's offsets start over`))
      return
    }
    this.stats.recordGap(topic, -1, 0n, 0n)
    this.#log.error({ cluster: 'source', topic }, `${what}; copying the new topic from its start (--on.data.loss continue)`)
    for (const w of this.#workers) w.forgetTopic(topic)
    this.emit('gap', { topic, partition: -1, from: 0n, to: undefined, resumeAt: 0n })
  }

  async #refreshTopics (): Promise<void> {
    if (this.#state !== 'running') return
    await this.#checkTopicIds()
    await this.#checkPartitionCounts()
    const fresh = await this.#matchingSourceTopics()
    if (fresh.length === 0) return
    await this.#prepareTargets(fresh)
    for (const t of fresh) this.#topics.add(t)
    this.#log.info({ topics: fresh.join(',') }, 'new topics match; mirroring them too')
    await Promise.all(this.#workers.map(async w => await w.addTopics(fresh)))
    this.emit('topics', fresh)
  }

  /**
   * Partitions added to mirrored source topics: with --partitioning source the target topic gets
   * as many (its partition numbers are the source's); with key partitioning the target keeps its
   * count, since more partitions would move keys. Either way the group rebalances so the new
   * partitions get an owner, and they are copied from their start.
   */
  async #checkPartitionCounts (): Promise<void> {
    if (this.#topics.size === 0) return
    const metadata = await this.#sourceAdmin!.metadata({ topics: this.topics, forceUpdate: true })
    const grown: string[] = []
    for (const topic of this.topics) {
      const count = metadata.topics.get(topic)?.partitionsCount ?? 0
      const known = this.#sourcePartitions.get(topic) ?? count
      if (count <= known) continue
      for (let p = known; p < count; p++) this.#addedPartitions.add(partitionKey(topic, p))
      const targetCount = this.#targetPartitions.get(topic) ?? 0
      if (this.settings.partitioning === 'source' && targetCount < count) {
        const targetTopic = this.#targetTopic(topic)
        await addPartitions(this.#targetAdmin!, targetTopic, count).catch((error: unknown) => { throw explainAccess(error, this.settings.target, ['Alter']) })
        const counts = await this.#waitForTargetMetadata([targetTopic])
        this.#targetPartitions.set(topic, counts.get(targetTopic) ?? count)
        this.#log.info({ topic, from: known, to: count, targetPartitions: count }, 'partitions were added to a source topic: added as many to the target topic, and copying them from their start')
      } else if (this.settings.partitioning === 'key') {
        this.#log.info({ topic, from: known, to: count, targetPartitions: targetCount }, 'partitions were added to a source topic: copying them from their start; the target topic keeps its partition count, since more partitions would move keys (--partitioning key)')
      } else {
        this.#log.info({ topic, from: known, to: count, targetPartitions: targetCount }, 'partitions were added to a source topic: copying them from their start')
      }
      this.#sourcePartitions.set(topic, count)
      grown.push(topic)
    }
    if (grown.length === 0) return
    await Promise.all(this.#workers.map(async w => await w.partitionsAdded(grown)))
    this.emit('partitions', grown)
  }

  async #commitAll (): Promise<void> {
    await Promise.all(this.#workers.map(async w => {
      const offsets = [...w.committable.values()]
      await w.commit()
      this.stats.recordCommits(offsets)
    }))
  }

  /**
   * Lag per partition and whether each cluster answers, into stats.lag and stats.connected; on a
   * timer. A cluster that does not answer within the timeout counts as not connected.
   */
  async #probe (): Promise<void> {
    if (this.#probing || this.#state !== 'running' || this.#lagProbe === undefined) return
    this.#probing = true
    const timeoutMs = Math.max(2000, Math.min(10_000, 2 * this.#probeIntervalMs))
    try {
      const source = within(this.#lagProbe.probe(this.topics, key => this.stats.position(key)), timeoutMs, 'the source').then(lag => {
        this.stats.lag = lag
        this.stats.lagAt = Date.now()
        this.#connection('source', true)
      }, (error: unknown) => { this.#connection('source', false, error) })
      const target = within(this.#targetAdmin!.metadata({ topics: [], forceUpdate: true }), timeoutMs, 'the target')
        .then(() => { this.#connection('target', true) }, (error: unknown) => { this.#connection('target', false, error) })
      await Promise.all([source, target])
    } finally {
      this.#probing = false
    }
  }

  /** One log line when a cluster stops or starts answering. */
  #connection (cluster: 'source' | 'target', connected: boolean, error?: unknown): void {
    const was = this.stats.connected[cluster]
    this.stats.connected[cluster] = connected
    if (was === connected || this.#state !== 'running') return
    const bootstrap = this.settings[cluster].bootstrapServers.join(',')
    if (connected) this.#log.info({ cluster, bootstrap }, 'the cluster answers again')
    else this.#log.warn({ cluster, bootstrap, err: describeCause(error) }, 'the cluster does not answer')
  }

  #logStatus (): void {
    const { lagRecords, lagSeconds } = this.settings.once ? { lagRecords: undefined, lagSeconds: undefined } : this.stats.lagTotals()
    const line = this.stats.statusLine(lagRecords === undefined ? undefined : BigInt(lagRecords), lagSeconds)
    this.#log.info(line.fields, line.text)
    this.emit('status', line)
  }

  #checkOnceDone (): void {
    if (this.#endOffsets === undefined || this.#state !== 'running') return
    const positions = new Map<string, bigint>()
    for (const w of this.#workers) {
      if (!w.idle) return
      for (const [k, v] of w.fetchPositions()) positions.set(k, v)
    }
    for (const [key, end] of this.#endOffsets) {
      const acked = this.stats.position(key)
      const planned = this.stats.plannedStart(key)
      // A fetch position past the end counts too (the last records may be transaction markers,
      // which are never delivered); fetchPositions() only reports workers with nothing buffered.
      const reached = (acked !== undefined && acked >= end) || (planned !== undefined && planned >= end) || (positions.get(key) ?? -1n) >= end
      if (!reached) return
    }
    this.#log.info('every partition reached the end offsets taken at start')
    this.#log.debug({ detail: [...this.#endOffsets].map(([k, e]) => `${k} end=${e} acked=${this.stats.position(k)} planned=${this.stats.plannedStart(k)} fetched=${positions.get(k)}`).join('; ') }, 'once: positions')
    this.stop().catch(() => {})
  }

  #failed (error: unknown): void {
    if (this.#fatal !== undefined || this.#state === 'stopped') return
    this.#fatal = error
    this.#log.error({ err: describeCause(error) }, 'the mirror stops on an error')
    this.stop().catch(() => {})
  }

  /**
   * Stops fetching, sends what was fetched, commits what the target acknowledged and closes every
   * client, all within STOP_TIMEOUT_MS whatever the clusters do: each step gets what is left of
   * the deadline, and what is not done by then is left (records not acknowledged are copied again
   * at the next start; nothing unacknowledged is ever committed). Past the deadline stop() rejects
   * with a StopDeadlineError.
   */
  async stop (): Promise<MirrorSummary> {
    const deadline = Date.now() + STOP_TIMEOUT_MS
    if (this.#state === 'starting' && !this.#stopRequested) {
      // The start goes no further than its current step; waiting for it (bounded) lets the stop
      // close what that step opens.
      this.#stopRequested = true
      await settlesBy(this.#starting!.catch(() => {}), Date.now() + START_CUT_WAIT_MS)
    }
    if (this.#state === 'stopped' || this.#state === 'stopping') return await this.#finished
    this.#state = 'stopping'
    for (const t of this.#timers) clearInterval(t)
    const late: string[] = []
    const step = async (what: string, work: Promise<unknown>, until: number): Promise<void> => {
      if (!await settlesBy(work, until)) late.push(what)
    }
    // Fetch answers that arrive after this are dropped: waiting for them only bounds the time.
    await step('fetches under way', Promise.all(this.#workers.map(async w => await w.stopFetching())), Math.min(deadline - 15_000, Date.now() + 2000))
    if (this.#fatal === undefined) {
      const drained = await Promise.all(this.#workers.map(async w => await w.drain(deadline - 6000)))
      if (drained.includes(false)) late.push('delivering what was fetched')
    } else {
      // After a failed send, later sends of the same worker may still be in flight: let them settle
      // so nothing is committed past the failure (their worker stopped sending after the failure).
      await Promise.all(this.#workers.map(async w => await w.drain(Math.min(deadline - 6000, Date.now() + 5000))))
    }
    // --once: partitions whose last records were control records get the end offset committed too.
    const extra = this.#onceEndCommits()
    const commit = (async () => {
      await this.#commitAll()
      if (extra.length > 0 && this.#workers.length > 0) await this.#workers[0].commit(extra)
    })()
    commit.catch((error: unknown) => { this.#log.warn({ err: describeCause(error) }, 'the final commit failed; the next start copies the uncommitted records again') })
    await step('the final offset commit', commit.catch(() => {}), deadline - 3000)
    await step('closing the connections', this.#closeAll(), deadline)
    this.#state = 'stopped'
    const summary = this.stats.summary()
    if (late.length > 0) {
      this.#log.warn({ unfinished: late.join(', ') }, `the stop deadline of ${STOP_TIMEOUT_MS / 1000} s passed; records not acknowledged by the target are copied again at the next start`)
      this.#fatal ??= new StopDeadlineError(STOP_TIMEOUT_MS, late)
    }
    if (this.#fatal !== undefined) this.#rejectFinished(this.#fatal)
    else this.#resolveFinished(summary)
    this.emit('stopped', summary)
    if (this.#fatal !== undefined) throw this.#fatal
    return summary
  }

  #onceEndCommits (): Array<{ topic: string, partition: number, offset: bigint, leaderEpoch: number }> {
    if (this.#endOffsets === undefined || this.#fatal !== undefined) return []
    const extra = []
    for (const [key, end] of this.#endOffsets) {
      const acked = this.stats.position(key)
      const planned = this.stats.plannedStart(key) ?? 0n
      if ((acked === undefined || acked < end) && planned < end) {
        const positions = this.#workers.map(w => w.fetchPositions().get(key) ?? -1n)
        if (positions.some(p => p >= end)) {
          const i = key.lastIndexOf(':')
          extra.push({ topic: key.slice(0, i), partition: Number(key.slice(i + 1)), offset: end, leaderEpoch: -1 })
        }
      }
    }
    return extra
  }

  async #closeAll (): Promise<void> {
    // (A consumer's leave-group request waits for a coordinator that may be gone: bounded by stop().)
    await Promise.all(this.#workers.map(async w => await w.close()))
    await this.#sourceAdmin?.close().catch(() => {})
    await this.#targetAdmin?.close().catch(() => {})
    await this.#lagProbe?.close().catch(() => {})
  }
}
