// The mirror engine: finds the topics to copy, makes sure the target has them, runs --num.streams
// consumers in one group and one producer, and commits source offsets only after the target
// acknowledged every record before them. Tests and the CLI drive it the same way:
//   const mirror = new Mirror(settings); await mirror.start(); ...; await mirror.stop()
import { EventEmitter } from 'node:events'
import { Admin, Producer, type Message, type MessageToProduce } from '@platformatic/kafka'
import type { MirrorSettings } from '../config/mirror-config.ts'
import { topicMatches } from '../config/topic-filter.ts'
import { ConfigError, DataLossError, ErrorCodes, KafkaMirrorError, SendFailedError, describeCause } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { brokersFromZooKeeper } from '../kafka/bootstrap.ts'
import { accessError, checkMirrorAccess, explainAccess, reachCluster } from '../kafka/access.ts'
import { silentLogger, type Logger } from '../log.ts'
import { brokerCount, createTopic, describeTopics, listTopics, replicatedTopicConfigs } from '../admin/topics.ts'
import { TargetPartitioner } from './partitioner.ts'
import { StreamWorker, partitionKey, type PartitionBounds, type WorkerBatch } from './stream-worker.ts'
import { MirrorStats, type MirrorSummary } from './stats.ts'
import { CompressionCodecs } from '../kafka/raw/record-batch.ts'
import { brokersRefusePassthrough, fastPathBlockers } from './passthrough/eligibility.ts'
import { PassthroughWorker } from './passthrough/worker.ts'

export interface MirrorOptions extends MirrorSettings {
  logger?: Logger
}

const STOP_TIMEOUT_MS = 25_000

export class Mirror extends EventEmitter {
  readonly settings: MirrorSettings
  readonly stats: MirrorStats
  #log: Logger
  #sourceAdmin: Admin | undefined
  #targetAdmin: Admin | undefined
  #producer: Producer | undefined
  #workers: Array<StreamWorker | PassthroughWorker> = []
  #topics = new Set<string>()
  #targetPartitions = new Map<string, number>()
  /** Source topic ids: a new id under a known name means the topic was deleted and made again. */
  #topicIds = new Map<string, string>()
  #partitioner: TargetPartitioner
  /** --once: the end offset of every partition at start; records at or past it are not copied. */
  #endOffsets: Map<string, bigint> | undefined
  #timers: NodeJS.Timeout[] = []
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'
  #finished: Promise<MirrorSummary>
  #resolveFinished!: (summary: MirrorSummary) => void
  #rejectFinished!: (error: unknown) => void
  #fatal: unknown

  constructor (options: MirrorOptions) {
    super()
    const { logger, ...settings } = options
    this.settings = settings
    this.#log = logger ?? silentLogger
    this.#partitioner = new TargetPartitioner(settings.partitioning)
    this.stats = new MirrorStats()
    this.#finished = new Promise((resolve, reject) => {
      this.#resolveFinished = resolve
      this.#rejectFinished = reject
    })
    // A caller that only awaits start()/stop() must not see an unhandled rejection.
    this.#finished.catch(() => {})
  }

  /** Settles when the mirror stopped: by stop(), at the end of --once, or on a fatal error. */
  get finished (): Promise<MirrorSummary> {
    return this.#finished
  }

  get topics (): string[] {
    return [...this.#topics].sort()
  }

  async start (): Promise<void> {
    if (this.#state !== 'new') throw new Error('A Mirror starts once')
    this.#state = 'starting'
    try {
      await this.#connect()
      const topics = await this.#matchingSourceTopics()
      // A user without ACLs sees no topics: say which permission is missing instead of waiting.
      await checkMirrorAccess(this.#sourceAdmin!, this.#targetAdmin!, this.settings.source, this.settings.target, { filter: this.settings.topics, matched: topics })
      if (topics.length === 0) this.#log.warn({ include: this.settings.topics.description }, 'no source topic matches yet; checking again every topic.refresh.interval.ms')
      await this.#prepareTargets(topics)
      if (this.settings.once) await this.#takeEndOffsets(topics)
      await this.#startWorkers(topics)
      this.#state = 'running'
      this.#startTimers()
      this.#log.info({ topics: this.topics.join(','), streams: this.settings.numStreams, group: this.settings.source.groupId }, 'mirroring')
      if (this.settings.once) this.#checkOnceDone()
    } catch (error) {
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
    this.#producer = new Producer({
      ...baseClientOptions(target),
      idempotent: target.idempotent,
      acks: target.acks,
      compression: target.compression,
      retries: Math.max(1, Math.min(target.retries, Math.ceil(target.deliveryTimeoutMs / 1000))),
      retryDelay: 1000,
      autocreateTopics: false
    })
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
    for (const topic of sourceTopics) {
      if (existing.has(topic.name)) continue
      if (!this.settings.createTopics) {
        throw new KafkaMirrorError(ErrorCodes.TOPIC, `Topic ${topic.name} does not exist on the target and --create.topics is false: create it there first`)
      }
      const configs = Object.fromEntries(Object.entries(topic.configs).filter(([k]) => replicatedTopicConfigs.includes(k)))
      const replicationFactor = Math.min(topic.replicationFactor, brokers)
      if (configs['min.insync.replicas'] !== undefined && Number(configs['min.insync.replicas']) > replicationFactor) {
        configs['min.insync.replicas'] = String(replicationFactor)
      }
      const created = await createTopic(this.#targetAdmin!, { name: topic.name, partitions: topic.partitions.length, replicationFactor, configs })
        .catch((error: unknown) => { throw explainAccess(error, this.settings.target, ['Create']) })
      if (created) this.#log.info({ topic: topic.name, partitions: topic.partitions.length, replicationFactor, configs: Object.keys(configs).join(',') }, 'created the target topic')
    }
    const ids = await this.#sourceAdmin!.metadata({ topics, forceUpdate: true })
    for (const t of topics) { const id = ids.topics.get(t)?.id; if (id !== undefined) this.#topicIds.set(t, id) }
    const targets = await this.#waitForTargetMetadata(topics)
    const problems = []
    for (const topic of sourceTopics) {
      const count = targets.get(topic.name)!
      this.#targetPartitions.set(topic.name, count)
      if (this.settings.partitioning === 'source' && count < topic.partitions.length) {
        problems.push({ source: 'command line', key: '--partitioning', message: `source keeps partition numbers, but ${topic.name} has ${topic.partitions.length} partitions on the source and only ${count} on the target`, fix: 'add partitions to the target topic, or use --partitioning key' })
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
      send: async (batch: WorkerBatch) => await this.#send(batch),
      accept: (message: Message) => this.#accept(message),
      onFatal: (error: unknown) => { this.#failed(error instanceof KafkaMirrorError ? error : explainAccess(error, this.settings.source)) },
      bounds: async (partitions: Array<{ topic: string, partition: number }>) => await this.#bounds(partitions),
      onDataLoss: (topic: string, partition: number, from: bigint, deletedTo: bigint, resumeAt: bigint) => { this.#dataLoss(topic, partition, from, deletedTo, resumeAt) },
      onOffsetsWentBack: (topic: string, partition: number, from: bigint, to: bigint) => { this.#offsetsWentBack(topic, partition, from, to) },
      beforeRefetch: async (topics: string[]) => { await this.#checkTopicIds(topics) }
    }
    const limits = { maxPendingBytes: Math.max(1 << 20, Math.floor(target.bufferMemory / numStreams)), maxBatchBytes: Math.max(16 << 10, Math.floor(target.maxRequestSize * 0.9)) }
    if (await this.#fastPath()) {
      const passthroughHost = {
        endOffset: (topic: string, partition: number) => this.#endOffsets?.get(partitionKey(topic, partition)),
        delivered: (d: { topic: string, partition: number, records: number, bytes: number, nextOffset: bigint }) => {
          this.stats.recordDelivered(d.topic, d.partition, d.records, d.bytes, d.nextOffset)
          if (this.#endOffsets !== undefined) this.#checkOnceDone()
        },
        onFatal: host.onFatal,
        onDataLoss: host.onDataLoss,
        onOffsetsWentBack: host.onOffsetsWentBack
      }
      const passthroughLimits = { maxPendingBytes: limits.maxPendingBytes, maxRequestBytes: limits.maxBatchBytes }
      for (let i = 0; i < numStreams; i++) this.#workers.push(new PassthroughWorker(i, this.settings.source, target, passthroughHost, this.#log, passthroughLimits, { compression: CompressionCodecs[target.compression] }))
    } else {
      for (let i = 0; i < numStreams; i++) this.#workers.push(new StreamWorker(i, this.settings.source, host, this.#log, limits))
    }
    for (const t of topics) this.#topics.add(t)
    if (topics.length > 0) {
      await Promise.all(this.#workers.map(async w => await w.addTopics(topics)))
      await this.#waitForStableGroup()
    }
    for (const w of this.#workers) w.release()
  }

  /** --fast.path auto: whether the settings and both clusters allow copying record batches as they are. */
  async #fastPath (): Promise<boolean> {
    if (this.settings.fastPath === 'off') return false
    const blockers = fastPathBlockers(this.settings)
    if (blockers.length > 0) {
      this.#log.debug({ reasons: blockers.join('; ') }, 'fast path off: records are decoded and produced again')
      return false
    }
    const refused = await brokersRefusePassthrough(this.#sourceAdmin!, this.#targetAdmin!).catch((error: unknown) => describeCause(error))
    if (refused !== undefined) {
      this.#log.info({ reason: refused }, 'fast path off: records are decoded and produced again')
      return false
    }
    this.#log.info('fast path: record batches are copied as they are, without decoding')
    return true
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

  #accept (message: Message): boolean {
    if (this.#endOffsets === undefined) return true
    const end = this.#endOffsets.get(partitionKey(message.topic, message.partition))
    return end !== undefined && message.offset < end
  }

  async #send (batch: WorkerBatch): Promise<void> {
    const producer = this.#producer!
    // One send per target partition, all at once: the client sends a batch's records for one
    // broker to the leader of its first partition, and after a leader change it would keep
    // retrying all of them there (@platformatic/kafka 2.12). Order per partition is kept because
    // a worker has one batch in flight at a time.
    const byPartition = new Map<string, { messages: MessageToProduce[], sources: Message[] }>()
    for (const m of batch.messages) {
      const targetPartitions = this.#targetPartitions.get(m.topic) ?? 1
      const partition = this.#partitioner.partition(m.topic, m.partition, m.key, targetPartitions)
      const headers = new Map<Buffer, Buffer>()
      for (const [k, v] of m.headerEntries) headers.set(k, v)
      const key = partitionKey(m.topic, partition)
      let group = byPartition.get(key)
      if (group === undefined) byPartition.set(key, group = { messages: [], sources: [] })
      group.messages.push({ topic: m.topic, partition, key: m.key ?? undefined, value: m.value ?? undefined, headers, timestamp: m.timestamp })
      group.sources.push(m)
    }
    const started = Date.now()
    // acks goes with every send: the client reads it from the send's options, not its own.
    // A target that does not answer (down, cut off, disk full) makes sends wait for their retries:
    // say so while it lasts, instead of going quiet.
    const slow = setInterval(() => {
      this.#log.warn({ records: batch.messages.length, waitingMs: Date.now() - started }, 'the target has not acknowledged a send yet; retrying until delivery.timeout.ms')
    }, 10_000)
    slow.unref()
    const results = await Promise.allSettled([...byPartition.values()].map(async g => await producer.send({ messages: g.messages, acks: this.settings.target.acks })))
      .finally(() => { clearInterval(slow) })
    const groups = [...byPartition.values()]
    const failed = results.findIndex(r => r.status === 'rejected')
    if (failed >= 0) {
      const first = groups[failed].sources[0]
      const error = (results[failed] as PromiseRejectedResult).reason
      if (this.settings.abortOnSendFailure) throw accessError(error, this.settings.target, { operations: ['Write'] }) ?? new SendFailedError(first.topic, first.partition, first.offset, error)
      // --abort.on.send.failure false: the user chose to go on; the records are counted as lost.
      const lost = groups.filter((_, i) => results[i].status === 'rejected').reduce((n, g) => n + g.sources.length, 0)
      this.stats.recordFailed(lost)
      this.#log.error({ topic: first.topic, partition: first.partition, offset: String(first.offset), records: lost, err: describeCause(error) }, 'records were not delivered and are skipped (abort.on.send.failure=false)')
      return
    }
    this.stats.recordSent(batch.messages, batch.bytes, Date.now() - started)
    this.#log.debug({ records: batch.messages.length, bytes: batch.bytes, ms: Date.now() - started }, 'sent')
    if (this.#endOffsets !== undefined) this.#checkOnceDone()
  }

  async #bounds (partitions: Array<{ topic: string, partition: number }>): Promise<Map<string, PartitionBounds>> {
    const byTopic = new Map<string, number[]>()
    for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition])
    const request = [...byTopic].map(([name, ps]) => ({ name, partitions: ps.map(partitionIndex => ({ partitionIndex })) }))
    const [starts, ends] = await Promise.all([this.#listOffsets(request, -2n), this.#listOffsets(request, -1n)])
    const result = new Map<string, PartitionBounds>()
    for (const [key, logStart] of starts) result.set(key, { logStart, end: ends.get(key) ?? logStart })
    return result
  }

  /** Records the mirror had not copied are gone from the source: stop, or report and go on. */
  #dataLoss (topic: string, partition: number, from: bigint, deletedTo: bigint, resumeAt: bigint): void {
    const fields = { topic, partition, from: String(from), deletedTo: String(deletedTo), resumeAt: String(resumeAt) }
    const what = `records ${from} to ${deletedTo - 1n} of ${topic}-${partition} (${deletedTo - from}) were deleted from the source (retention) before they were copied`
    if (this.settings.onDataLoss === 'stop') {
      this.#log.error(fields, `${what}; stopping without committing past them (--on.data.loss stop). To go on from offset ${resumeAt}, restart with --on.data.loss continue`)
      throw new DataLossError(topic, partition, from, deletedTo)
    }
    this.stats.recordGap(topic, partition, from, deletedTo)
    this.#log.error(fields, `${what}; going on from offset ${resumeAt} (--on.data.loss continue)`)
    this.emit('gap', { topic, partition, from, to: deletedTo, resumeAt })
  }

  /** The source partition's offsets went back: the topic was deleted and created again, or truncated. */
  #offsetsWentBack (topic: string, partition: number, from: bigint, to: bigint): void {
    const fields = { topic, partition, from: String(from), to: String(to) }
    const what = `the offsets of ${topic}-${partition} went back from ${from} to ${to}: the topic was deleted and created again, or its log was truncated, so records of the old log from offset ${from} on were never copied`
    if (this.settings.onDataLoss === 'stop') {
      this.#log.error(fields, `${what}; stopping without committing (--on.data.loss stop). To copy the partition from offset ${to}, restart with --on.data.loss continue`)
      throw new DataLossError(topic, partition, from, from + 1n, what)
    }
    this.stats.recordGap(topic, partition, from, from)
    this.#log.error(fields, `${what}; copying from offset ${to} (--on.data.loss continue)`)
    this.emit('gap', { topic, partition, from, to: undefined, resumeAt: to })
  }

  #startTimers (): void {
    const { offsetCommitIntervalMs, topicRefreshIntervalMs, statusIntervalMs, once } = this.settings
    if (offsetCommitIntervalMs > 0) this.#timers.push(setInterval(() => { this.#commitAll().catch(error => this.#log.warn({ err: describeCause(error) }, 'committing source offsets failed; trying again at the next interval')) }, offsetCommitIntervalMs))
    if (!once) this.#timers.push(setInterval(() => { this.#refreshTopics().catch(error => this.#log.warn({ err: describeCause(error) }, 'checking for new topics failed')) }, topicRefreshIntervalMs))
    if (statusIntervalMs > 0) this.#timers.push(setInterval(() => { this.#logStatus().catch(() => {}) }, statusIntervalMs))
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
    const what = `source topic ${topic} was deleted and created again (its topic id changed): records of the old topic that were not copied yet are gone, and the new topic's offsets start over`
    if (this.settings.onDataLoss === 'stop') {
      this.#log.error({ topic }, `${what}; stopping (--on.data.loss stop). Restart with --on.data.loss continue to copy the new topic from its start`)
      this.#failed(new DataLossError(topic, -1, 0n, 1n, what))
      return
    }
    this.stats.recordGap(topic, -1, 0n, 0n)
    this.#log.error({ topic }, `${what}; copying the new topic from its start (--on.data.loss continue)`)
    for (const w of this.#workers) w.forgetTopic(topic)
    this.emit('gap', { topic, partition: -1, from: 0n, to: undefined, resumeAt: 0n })
  }

  async #refreshTopics (): Promise<void> {
    if (this.#state !== 'running') return
    await this.#checkTopicIds()
    const fresh = await this.#matchingSourceTopics()
    if (fresh.length === 0) return
    await this.#prepareTargets(fresh)
    for (const t of fresh) this.#topics.add(t)
    this.#log.info({ topics: fresh.join(',') }, 'new topics match; mirroring them too')
    await Promise.all(this.#workers.map(async w => await w.addTopics(fresh)))
    this.emit('topics', fresh)
  }

  async #commitAll (): Promise<void> {
    await Promise.all(this.#workers.map(async w => await w.commit()))
  }

  async #lag (): Promise<bigint | undefined> {
    if (this.#topics.size === 0) return 0n
    const metadata = await this.#sourceAdmin!.metadata({ topics: this.topics })
    const request = this.topics.map(name => ({ name, partitions: Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }))
    const ends = await this.#listOffsets(request, -1n)
    const committed = await this.#committedOffsets(this.topics)
    let lag = 0n
    for (const [key, end] of ends) {
      const done = this.stats.position(key) ?? committed.get(key) ?? 0n
      if (end > done) lag += end - done
    }
    return lag
  }

  async #logStatus (): Promise<void> {
    const lag = this.settings.once ? undefined : await this.#lag().catch(() => undefined)
    const line = this.stats.statusLine(lag)
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

  /** Stops fetching, sends what was fetched, commits it and closes every client. */
  async stop (): Promise<MirrorSummary> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return await this.#finished
    this.#state = 'stopping'
    for (const t of this.#timers) clearInterval(t)
    const deadline = Date.now() + STOP_TIMEOUT_MS
    await Promise.all(this.#workers.map(async w => await w.stopFetching()))
    if (this.#fatal === undefined) {
      const drained = await Promise.all(this.#workers.map(async w => await w.drain(deadline)))
      if (drained.includes(false)) this.#log.warn('some fetched records were not acknowledged before the stop deadline; they will be copied again at the next start')
    } else {
      // After a failed send, later sends of the same worker may still be in flight: let them settle
      // so nothing is committed past the failure (their worker stopped sending after the failure).
      await Promise.all(this.#workers.map(async w => await w.drain(Math.min(deadline, Date.now() + 5000))))
    }
    // --once: partitions whose last records were control records get the end offset committed too.
    const extra = this.#onceEndCommits()
    try {
      await this.#commitAll()
      if (extra.length > 0 && this.#workers.length > 0) await this.#workers[0].commit(extra)
    } catch (error) {
      this.#log.warn({ err: describeCause(error) }, 'the final commit failed; the next start copies the uncommitted records again')
    }
    await this.#closeAll()
    this.#state = 'stopped'
    const summary = this.stats.summary()
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
    await Promise.all(this.#workers.map(async w => await w.close()))
    await this.#producer?.close().catch(() => {})
    await this.#sourceAdmin?.close().catch(() => {})
    await this.#targetAdmin?.close().catch(() => {})
  }
}
