// The heartbeats plug-in (MM2's MirrorHeartbeatConnector): every emit.heartbeats.interval.seconds
// a Heartbeat(source alias, target alias, now) into `heartbeats` (policy.heartbeatsTopic()) on the
// target, created compacted with one partition and heartbeats.topic.replication.factor. Flows
// that copy a cluster's `heartbeats` topic onward (the policy names it `A.heartbeats`) let
// MirrorClient.replicationHops and RemoteClusterUtils.upstreamClusters read the topology on any cluster.
// `emitHeartbeats` stands alone, so a runner can emit for a pair whose flow is not enabled, as MM2 does.
import type { Admin, Producer } from '@platformatic/kafka'
import type { ClusterConnection } from '../kafka/client-options.ts'
import { describeCause } from '../errors.ts'
import type { Logger } from '../log.ts'
import { silentLogger } from '../log.ts'
import { encodeHeartbeatKey, encodeHeartbeatValue } from './formats.ts'
import { ensureCompactedTopic, internalProducer } from './internal-topics.ts'
import type { FlowContext, FlowPlugin } from './plugin-api.ts'
import { heartbeatsSettings, type HeartbeatsSettings } from './settings.ts'

export interface HeartbeatsOptions {
  logger?: Logger
  settings?: Partial<HeartbeatsSettings>
}

export class HeartbeatsPlugin implements FlowPlugin {
  readonly counts = { heartbeatsWritten: 0, failures: 0 }
  #log: Logger
  #overrides: Partial<HeartbeatsSettings>
  #producer: Producer | undefined
  #timer: NodeJS.Timeout | undefined
  #beat: (() => Promise<void>) | undefined

  constructor (options: HeartbeatsOptions = {}) {
    this.#log = options.logger ?? silentLogger
    this.#overrides = options.settings ?? {}
  }

  async start (ctx: FlowContext): Promise<void> {
    this.#log = ctx.logger ?? this.#log
    await this.emitHeartbeats(ctx.flow.source, ctx.flow.target, ctx.targetAdmin, ctx.mirror.settings.target, ctx.policy.heartbeatsTopic(), { ...heartbeatsSettings(ctx.flow), ...this.#overrides })
  }

  /** Starts emitting heartbeats of the pair source->target into `topic` on the target cluster. */
  async emitHeartbeats (source: string, target: string, targetAdmin: Admin, connection: ClusterConnection, topic: string, settings: HeartbeatsSettings): Promise<void> {
    if (!settings.emitHeartbeatsEnabled) return
    await ensureCompactedTopic(targetAdmin, 'target', topic, settings.heartbeatsTopicReplicationFactor, 'heartbeats.topic.replication.factor')
    const producer = this.#producer = internalProducer(connection, `${connection.clientId}-mm2-heartbeats`)
    const key = encodeHeartbeatKey({ sourceClusterAlias: source, targetClusterAlias: target })
    let failing = false
    this.#beat = async () => {
      const now = Date.now()
      try {
        await producer.send({ messages: [{ topic, partition: 0, key, value: encodeHeartbeatValue({ timestamp: BigInt(now) }), timestamp: BigInt(now) }], acks: -1 })
        this.counts.heartbeatsWritten++
        if (failing) this.#log.info({ topic }, 'heartbeats are written again')
        failing = false
      } catch (error) {
        this.counts.failures++
        if (!failing) this.#log.warn({ topic, err: describeCause(error) }, 'writing a heartbeat failed; trying again at the next interval')
        failing = true
      }
    }
    await this.#beat()
    this.#timer = setInterval(() => { void this.#beat?.() }, settings.emitHeartbeatsIntervalMs)
    this.#timer.unref()
    this.#log.info({ topic, source, target, intervalMs: settings.emitHeartbeatsIntervalMs }, 'emitting heartbeats')
  }

  async stop (): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#producer?.close().catch(() => {})
    this.#producer = undefined
  }
}


/** What a flow that is not enabled gets from the runner: no Mirror, its connections through the flow. */
export interface DisabledFlowContextLike {
  flow: FlowContext['flow'] & { connection (role: 'target.producer'): ClusterConnection }
  targetAdmin: Admin
  policy: FlowContext['policy']
  logger?: Logger
}

/**
 * Heartbeats of a pair whose flow is not enabled: MM2 runs its heartbeat connector for every pair
 * of clusters unless emit.heartbeats.enabled is false for it, so that (for a flow A->B) B->A's
 * heartbeats land in A's `heartbeats` and A->B carries them to B as `A.heartbeats`.
 */
export class DisabledFlowHeartbeatsPlugin {
  #heartbeats: HeartbeatsPlugin
  #overrides: Partial<HeartbeatsSettings>

  constructor (options: HeartbeatsOptions = {}) {
    this.#heartbeats = new HeartbeatsPlugin(options)
    this.#overrides = options.settings ?? {}
  }

  get counts (): HeartbeatsPlugin['counts'] {
    return this.#heartbeats.counts
  }

  async start (ctx: DisabledFlowContextLike): Promise<void> {
    await this.#heartbeats.emitHeartbeats(ctx.flow.source, ctx.flow.target, ctx.targetAdmin, ctx.flow.connection('target.producer'), ctx.policy.heartbeatsTopic(), { ...heartbeatsSettings(ctx.flow), ...this.#overrides })
  }

  async stop (): Promise<void> {
    await this.#heartbeats.stop()
  }
}
