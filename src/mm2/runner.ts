// Runs the flows of an mm2.properties: one Mirror per enabled flow whose target is among
// --clusters (all when absent), each with its own consumer group, keeping partition numbers as
// MM2 does (`partitioning: 'source'`), naming target topics with the flow's replication policy.
// Plug-ins (offset syncs, checkpoints, heartbeats, topic config and ACL sync, take-over from MM2)
// get each flow's Mirror, admin clients and policy; they start after their flow's Mirror and stop
// before it.
import { EventEmitter } from 'node:events'
import { Admin } from '@platformatic/kafka'
import { defaultTransactionalIdPrefix, type MirrorSettings } from '../config/mirror-config.ts'
import { describeCause } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { silentLogger, type Logger } from '../log.ts'
import { Mirror, settlesBy, type MirrorOptions } from '../mirror/mirror.ts'
import type { MirrorSummary } from '../mirror/stats.ts'
import { exactlyOnceOn, featureFallbacks, requestedFeatures, runningFlows, type Mm2Config, type Mm2Feature, type Mm2Flow } from './config.ts'
import { MIRROR_SOURCE_CONNECTOR, mm2OffsetsTopic } from './mm2-offsets.ts'
import { builtInFlowPlugins } from './plugins.ts'
import { IdentityReplicationPolicy, type ReplicationPolicy } from './policy.ts'
import { provenanceRewrite } from './provenance.ts'

/** What a plug-in gets for its flow. */
export interface FlowContext {
  flow: Mm2Flow
  mirror: Mirror
  /** Admin clients of the flow's clusters (MM2's source.admin.* and target.admin.* settings); closed by the runner. */
  sourceAdmin: Admin
  targetAdmin: Admin
  policy: ReplicationPolicy
  config: Mm2Config
  logger: Logger
}

/** `C`: the part of the context a plug-in reads (plugin-api.ts narrows it for the offset plug-ins). */
export interface FlowPlugin<C = FlowContext> {
  /** Before the flow's Mirror starts (a take-over reads MM2's positions here); the Mirror is built, not started. */
  beforeStart?: (ctx: C) => Promise<void>
  /** After the flow's Mirror started. */
  start: (ctx: C) => Promise<void>
  /** Before the flow's Mirror stops. */
  stop: () => Promise<void>
}

export interface FlowPluginRegistration {
  name: string
  /** The MM2 features it does; a flow asking for a feature no plug-in does gets a warning. */
  features: Mm2Feature[]
  /** A plug-in for this flow, or undefined when the flow does not need it (its feature is off). */
  create: (flow: Mm2Flow) => FlowPlugin | undefined
  /** Options the flow's Mirror needs from this plug-in (engine hooks), merged over the flow's settings. */
  mirrorOptions?: (flow: Mm2Flow) => Partial<MirrorOptions>
  /**
   * For a flow that is not enabled but whose target is among --clusters: MM2 still runs its
   * heartbeats connector (emitting heartbeats into the target), so hops can be read downstream.
   */
  createForDisabledFlow?: (flow: Mm2Flow) => DisabledFlowPlugin | undefined
}

/** What a plug-in of a flow that copies nothing gets: no Mirror. */
export type DisabledFlowContext = Omit<FlowContext, 'mirror'>

export interface DisabledFlowPlugin {
  start: (ctx: DisabledFlowContext) => Promise<void>
  stop: () => Promise<void>
}

export interface RunningFlow {
  flow: Mm2Flow
  mirror: Mirror
  context: FlowContext
  plugins: Array<{ name: string, plugin: FlowPlugin }>
}

export interface Mm2RunnerOptions {
  /** --clusters: run only the flows into these aliases. */
  onlyTargets?: string[]
  logger?: Logger
  /** Default: builtInFlowPlugins. */
  plugins?: FlowPluginRegistration[]
  /** Settings of every flow's Mirror to change (tests: shorter intervals). */
  mirrorOverrides?: Partial<MirrorOptions>
}

/** A refresh that never comes: setInterval's longest delay. */
const NEVER_MS = 2 ** 31 - 1
/** How long stopping a plug-in waits for its start under way to end (SIGTERM while starting). */
const PLUGIN_START_WAIT_MS = 5000

/**
 * How often a flow's transactions commit: Connect's transaction.boundary=interval gives it;
 * poll (a transaction per poll in Connect) keeps kafka-mirror's own default of a second.
 */
function transactionIntervalMs (flow: Mm2Flow): number {
  if (flow.get('transaction.boundary') !== 'interval') return 1000
  return Number(flow.get('transaction.boundary.interval.ms') ?? flow.get('offset.flush.interval.ms'))
}

/** The Mirror settings of a flow, as MM2 would run it. */
export function flowMirrorSettings (flow: Mm2Flow): MirrorSettings {
  const policy = flow.policy
  const seconds = (key: string): number => Number(flow.get(key)) * 1000
  const replicationFactor = Number(flow.get('replication.factor'))
  return {
    source: { ...flow.sourceConsumer },
    target: { ...flow.targetProducer },
    topics: flow.topics,
    // MM2's tasks split a flow's partitions; here the streams of one group do.
    numStreams: Math.min(256, Number(flow.get('tasks.max'))),
    // Committed only after the target acknowledged; more often than Connect's 60 s means fewer copies again after a crash.
    offsetCommitIntervalMs: Math.min(5000, Number(flow.get('offset.flush.interval.ms'))),
    abortOnSendFailure: true,
    onDataLoss: 'stop',
    topicRefreshIntervalMs: flow.get('refresh.topics.enabled') === true ? Math.min(NEVER_MS, seconds('refresh.topics.interval.seconds')) : NEVER_MS,
    once: false,
    partitioning: 'source',
    fastPath: 'auto',
    createTopics: true,
    statusIntervalMs: 5000,
    targetTopic: topic => policy.formatRemoteTopic(flow.source, topic),
    // Created as MM2 creates them: without the configs config.properties.exclude names.
    topicConfigFilter: flow.configPropertyFilter,
    replicationFactor: replicationFactor === -1 ? -1 : replicationFactor,
    // Names cannot show where an identity-named topic's records came from: a header does.
    ...(policy instanceof IdentityReplicationPolicy ? { rewriteRecord: provenanceRewrite(flow.source, flow.target) } : {}),
    // KIP-618's exactly-once source: the positions go where MM2's MirrorSourceTask keeps them, in
    // its format, so MM2 with exactly-once and kafka-mirror read each other's.
    ...(exactlyOnceOn(flow.get)
      ? {
          exactlyOnce: {
            transactionalIdPrefix: flow.targetProducer.transactionalId ?? defaultTransactionalIdPrefix(flow.groupId),
            positionsTopic: flow.get('offset.storage.topic') === undefined ? mm2OffsetsTopic(flow.source) : String(flow.get('offset.storage.topic')),
            connector: MIRROR_SOURCE_CONNECTOR,
            sourceAlias: flow.source,
            transactionIntervalMs: transactionIntervalMs(flow),
            transactionTimeoutMs: flow.targetProducer.transactionTimeoutMs
          }
        }
      : {})
  }
}

export class Mm2Runner extends EventEmitter {
  readonly config: Mm2Config
  readonly flows: RunningFlow[] = []
  /** Plug-ins of flows that are not enabled (heartbeats), with their contexts. */
  readonly disabledFlows: Array<{ context: DisabledFlowContext, plugins: Array<{ name: string, plugin: DisabledFlowPlugin }> }> = []
  #options: Mm2RunnerOptions
  #log: Logger
  #admins: Admin[] = []
  /** Each plug-in's start under way or done: stop() lets it end (bounded) before stopping the plug-in. */
  #pluginStarts = new Map<object, Promise<void>>()
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #finished: Promise<MirrorSummary[]>
  #resolve!: (summaries: MirrorSummary[]) => void
  #reject!: (error: unknown) => void
  #failure: unknown

  constructor (config: Mm2Config, options: Mm2RunnerOptions = {}) {
    super()
    this.config = config
    this.#options = options
    this.#log = options.logger ?? silentLogger
    this.#finished = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.#finished.catch(() => {})
  }

  /** Settles when every flow stopped; rejects with the first flow's error. */
  get finished (): Promise<MirrorSummary[]> {
    return this.#finished
  }

  /** Warnings for features the flows ask for that no plug-in of this build does, one per feature. */
  static missingFeatures (flows: Mm2Flow[], plugins: FlowPluginRegistration[]): string[] {
    // Exactly once is the engine's own (flowMirrorSettings), not a plug-in's.
    const done = new Set<Mm2Feature>([...plugins.flatMap(p => p.features), 'exactly-once'])
    const missing = new Map<Mm2Feature, { key: string, flows: string[] }>()
    for (const flow of flows) {
      for (const [feature, key] of requestedFeatures(flow)) {
        if (done.has(feature)) continue
        const entry = missing.get(feature) ?? { key, flows: [] }
        entry.flows.push(flow.name)
        missing.set(feature, entry)
      }
    }
    return [...missing].map(([feature, { key, flows }]) => `${key} is true for ${flows.join(', ')}, but kafka-mirror does not do ${feature} yet: ${featureFallbacks[feature]}`)
  }

  async start (): Promise<void> {
    if (this.#state !== 'new') throw new Error('An Mm2Runner starts once')
    this.#state = 'running'
    const plugins = this.#options.plugins ?? builtInFlowPlugins
    const flows = runningFlows(this.config, this.#options.onlyTargets)
    for (const warning of Mm2Runner.missingFeatures(flows, plugins)) this.#log.warn(warning)
    for (const flow of flows) {
      const logger = this.#log.child({ flow: flow.name })
      const hooks = Object.assign({}, ...plugins.map(p => p.mirrorOptions?.(flow) ?? {})) as Partial<MirrorOptions>
      const mirror = new Mirror({ ...flowMirrorSettings(flow), logger, ...hooks, ...this.#options.mirrorOverrides })
      const sourceConnection = flow.connection('source.admin')
      const targetConnection = flow.connection('target.admin')
      const sourceAdmin = new Admin(baseClientOptions(sourceConnection, `${flow.groupId}-source-admin`))
      const targetAdmin = new Admin(baseClientOptions(targetConnection, `${flow.groupId}-target-admin`))
      this.#admins.push(sourceAdmin, targetAdmin)
      const context: FlowContext = { flow, mirror, sourceAdmin, targetAdmin, policy: flow.policy, config: this.config, logger }
      const instances = plugins.flatMap(p => {
        const plugin = p.create(flow)
        return plugin === undefined ? [] : [{ name: p.name, plugin }]
      })
      this.flows.push({ flow, mirror, context, plugins: instances })
    }
    for (const flow of this.config.flows) {
      if (flow.enabled || (this.#options.onlyTargets !== undefined && !this.#options.onlyTargets.includes(flow.target))) continue
      const instances = plugins.flatMap(p => {
        const plugin = p.createForDisabledFlow?.(flow)
        return plugin === undefined ? [] : [{ name: p.name, plugin }]
      })
      if (instances.length === 0) continue
      const sourceAdmin = new Admin(baseClientOptions(flow.connection('source.admin'), `${flow.groupId}-source-admin`))
      const targetAdmin = new Admin(baseClientOptions(flow.connection('target.admin'), `${flow.groupId}-target-admin`))
      this.#admins.push(sourceAdmin, targetAdmin)
      this.disabledFlows.push({ context: { flow, sourceAdmin, targetAdmin, policy: flow.policy, config: this.config, logger: this.#log.child({ flow: flow.name }) }, plugins: instances })
    }
    try {
      // A stop asked meanwhile (SIGTERM while starting) ends the start: nothing more is started.
      await Promise.all(this.disabledFlows.map(async f => { for (const p of f.plugins) if (this.#state === 'running') await this.#startPlugin(p.plugin, async () => { await p.plugin.start(f.context) }) }))
      await Promise.all(this.flows.map(async f => {
        for (const p of f.plugins) await p.plugin.beforeStart?.(f.context)
        if (this.#state !== 'running') return
        await f.mirror.start()
        f.mirror.finished.catch((error: unknown) => { this.#flowFailed(f, error) })
        for (const p of f.plugins) {
          if (this.#state !== 'running') return
          await this.#startPlugin(p.plugin, async () => { await p.plugin.start(f.context) })
          f.context.logger.info({ plugin: p.name }, 'plug-in started')
        }
      }))
    } catch (error) {
      if (this.#state !== 'running') {
        // A stop came first and closed the clients under the start (SIGTERM while starting):
        // what failed then is the stop's doing, not the runner's.
        this.#log.debug({ err: describeCause(error) }, 'the start ended by the stop')
        return
      }
      this.#failure ??= error
      await this.stop().catch(() => {})
      throw error
    }
    if (this.#state === 'running') this.#log.info({ flows: this.flows.map(f => f.flow.name).join(',') }, 'mirroring every enabled flow')
  }

  async #startPlugin (plugin: object, start: () => Promise<void>): Promise<void> {
    const started = start()
    this.#pluginStarts.set(plugin, started)
    await started
  }

  /** Stops a plug-in once its start (if under way) ended, or PLUGIN_START_WAIT_MS passed. */
  async #stopPlugin (plugin: { stop: () => Promise<void> }, logger: Logger, name: string): Promise<void> {
    const starting = this.#pluginStarts.get(plugin)
    if (starting !== undefined) await settlesBy(starting, Date.now() + PLUGIN_START_WAIT_MS)
    await plugin.stop().catch((error: unknown) => { logger.warn({ plugin: name, err: describeCause(error) }, 'a plug-in did not stop cleanly') })
  }

  #flowFailed (flow: RunningFlow, error: unknown): void {
    if (this.#state !== 'running') return
    this.#failure ??= error
    this.#log.error({ flow: flow.flow.name, err: describeCause(error) }, 'a flow stopped on an error; stopping the others')
    this.stop().catch(() => {})
  }

  /** Stops the plug-ins, then every flow's Mirror (each within its stop deadline), then the admin clients. */
  async stop (): Promise<MirrorSummary[]> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return await this.#finished
    this.#state = 'stopping'
    await Promise.all(this.disabledFlows.map(async f => {
      for (const p of [...f.plugins].reverse()) await this.#stopPlugin(p.plugin, f.context.logger, p.name)
    }))
    await Promise.all(this.flows.map(async f => {
      for (const p of [...f.plugins].reverse()) await this.#stopPlugin(p.plugin, f.context.logger, p.name)
    }))
    const results = await Promise.allSettled(this.flows.map(async f => await f.mirror.stop()))
    await Promise.allSettled(this.#admins.map(async a => await a.close()))
    this.#state = 'stopped'
    for (const r of results) if (r.status === 'rejected') this.#failure ??= r.reason
    if (this.#failure !== undefined) {
      this.#reject(this.#failure)
      throw this.#failure
    }
    const summaries = results.map(r => (r as PromiseFulfilledResult<MirrorSummary>).value)
    this.#resolve(summaries)
    return summaries
  }
}
