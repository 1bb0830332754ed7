// The mirror engine: finds the topics to copy, makes sure the target has them, runs --num.streams
// consumers in one group and one producer, and commits source offsets only after the target
// acknowledged every record before them. Tests and the CLI drive it the same way:
//   const mirror = new Mirror(settings); await mirror.start(); ...; await mirror.stop()
import { EventEmitter } from 'node:events'
import { Admin, Producer, type Message, type MessageToProduce } from '@platformatic/kafka'
import type { MirrorSettings } from '../config/mirror-config.ts'
import { topicMatches } from '../config/topic-filter.ts'
import { ConfigError, ErrorCodes, KafkaMirrorError, SendFailedError, describeCause } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { brokersFromZooKeeper } from '../kafka/bootstrap.ts'
import { silentLogger, type Logger } from '../log.ts'
import { brokerCount, createTopic, describeTopics, listTopics, replicatedTopicConfigs } from '../admin/topics.ts'
import { TargetPartitioner } from './partitioner.ts'
import { StreamWorker, partitionKey, type WorkerBatch } from './stream-worker.ts'
import { MirrorStats, type MirrorSummary } from './stats.ts'

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
  #workers: StreamWorker[] = []
  #topics = new Set<string>()
  #targetPartitions = new Map<string, number>()
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
    await Promise.all([
      this.#reach(this.#sourceAdmin, 'source', source.bootstrapServers, source.source),
      this.#reach(this.#targetAdmin, 'target', target.bootstrapServers, target.source)
    ])
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

  /** Fails fast, naming the cluster and file, when a cluster cannot be reached. */
  async #reach (admin: Admin, role: string, brokers: string[], file: string): Promise<void> {
    try {
      await admin.metadata({ topics: [] })
    } catch (error) {
      throw new KafkaMirrorError(ErrorCodes.CONNECTION, `Cannot reach the ${role} cluster at ${brokers.join(',')} (bootstrap.servers in ${file}): ${describeCause(error)}`, { cause: error })
    }
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
      if (created) this.#log.info({ topic: topic.name, partitions: topic.partitions.length, replicationFactor, configs: Object.keys(configs).join(',') }, 'created the target topic')
    }
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
      const from = committed.get(key) ?? (this.settings.source.autoOffsetReset === 'latest' ? end : starts.get(key) ?? 0n)
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
      onFatal: (error: unknown) => { this.#failed(error) }
    }
    const limits = { maxPendingBytes: Math.max(1 << 20, Math.floor(target.bufferMemory / numStreams)), maxBatchBytes: Math.max(16 << 10, Math.floor(target.maxRequestSize * 0.9)) }
    for (let i = 0; i < numStreams; i++) this.#workers.push(new StreamWorker(i, this.settings.source, host, this.#log, limits))
    for (const t of topics) this.#topics.add(t)
    if (topics.length > 0) {
      await Promise.all(this.#workers.map(async w => await w.addTopics(topics)))
      await this.#waitForStableGroup()
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
        if (String(group?.state).toUpperCase() === 'STABLE' && [...current].every(id => id !== null && members.has(id))) return
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
    const messages: MessageToProduce[] = batch.messages.map(m => {
      const targetPartitions = this.#targetPartitions.get(m.topic) ?? 1
      const headers = new Map<Buffer, Buffer>()
      for (const [k, v] of m.headerEntries) headers.set(k, v)
      return {
        topic: m.topic,
        partition: this.#partitioner.partition(m.topic, m.partition, m.key, targetPartitions),
        key: m.key ?? undefined,
        value: m.value ?? undefined,
        headers,
        timestamp: m.timestamp
      }
    })
    const started = Date.now()
    try {
      // acks goes with every send: the client reads it from the send's options, not its own.
      await producer.send({ messages, acks: this.settings.target.acks })
    } catch (error) {
      const first = batch.messages[0]
      const failure = new SendFailedError(first.topic, first.partition, first.offset, error)
      if (this.settings.abortOnSendFailure) throw failure
      // --abort.on.send.failure false: the user chose to go on; the records are counted as lost.
      this.stats.recordFailed(batch.messages.length)
      this.#log.error({ topic: first.topic, partition: first.partition, offset: String(first.offset), records: batch.messages.length, err: describeCause(error) }, 'records were not delivered and are skipped (abort.on.send.failure=false)')
      return
    }
    this.stats.recordSent(batch.messages, batch.bytes, Date.now() - started)
    this.#log.debug({ records: batch.messages.length, bytes: batch.bytes, ms: Date.now() - started }, 'sent')
    if (this.#endOffsets !== undefined) this.#checkOnceDone()
  }

  #startTimers (): void {
    const { offsetCommitIntervalMs, topicRefreshIntervalMs, statusIntervalMs, once } = this.settings
    if (offsetCommitIntervalMs > 0) this.#timers.push(setInterval(() => { this.#commitAll().catch(error => this.#log.warn({ err: describeCause(error) }, 'committing source offsets failed; trying again at the next interval')) }, offsetCommitIntervalMs))
    if (!once) this.#timers.push(setInterval(() => { this.#refreshTopics().catch(error => this.#log.warn({ err: describeCause(error) }, 'checking for new topics failed')) }, topicRefreshIntervalMs))
    if (statusIntervalMs > 0) this.#timers.push(setInterval(() => { this.#logStatus().catch(() => {}) }, statusIntervalMs))
    if (once) this.#timers.push(setInterval(() => this.#checkOnceDone(), 250))
    for (const t of this.#timers) t.unref()
  }

  async #refreshTopics (): Promise<void> {
    if (this.#state !== 'running') return
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
