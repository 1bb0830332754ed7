// mm2-sync's plug-ins as the mm2 command's runner registers them (src/mm2/plugins.ts adds one line
// each): topic config sync, topic ACL sync, and the take-over from a running MirrorMaker 2. The
// runner's types (src/mm2/runner.ts, config.ts) are declared here as the smallest structural types
// they satisfy, so this file builds before the runner is merged.
import type { ClusterConnection } from '../kafka/client-options.ts'
import { describeCause } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { MirrorOptions } from '../mirror/mirror.ts'
import { AclSync, aclSyncOptions } from './acl-sync.ts'
import { Mm2Takeover, mm2OffsetsTopic } from './mm2-offsets.ts'
import { TopicConfigSync, targetTopicConfigs, topicConfigSyncOptions, type FlowContext, type FlowPlugin, type FlowValue } from './topic-sync.ts'

/** The runner's Mm2Flow, as far as these plug-ins use it. */
export interface SyncFlow {
  source: string
  target: string
  name: string
  get: (key: string) => FlowValue
  /** MirrorSourceConnector.shouldReplicateTopic: the flow's topic filter, no internal topics, no cycles. */
  shouldReplicateTopic: (topic: string) => boolean
  connection: (role: 'target.admin') => ClusterConnection
}

export interface SyncPluginRegistration {
  name: string
  features: Array<'topic-configs' | 'topic-acls'>
  create: (flow: SyncFlow) => FlowPlugin & { beforeStart?: (ctx: FlowContext & { logger?: Logger }) => Promise<void> } | undefined
  mirrorOptions?: (flow: SyncFlow) => Partial<MirrorOptions>
}

export const topicConfigSyncRegistration: SyncPluginRegistration = {
  name: 'topic-config-sync',
  features: ['topic-configs'],
  create: flow => {
    const options = topicConfigSyncOptions(flow.source, flow.get)
    return options.enabled ? new TopicConfigSync(options) : undefined
  },
  // New remote topics are created with the flow's configs (MirrorSourceConnector.createNewTopics),
  // whether or not later changes are synced.
  mirrorOptions: flow => ({ targetTopicConfigs: targetTopicConfigs(topicConfigSyncOptions(flow.source, flow.get).filter) })
}

export const aclSyncRegistration: SyncPluginRegistration = {
  name: 'topic-acl-sync',
  features: ['topic-acls'],
  create: flow => {
    const options = aclSyncOptions(flow.source, flow.get)
    return options.enabled ? new AclSync({ ...options, shouldReplicateTopic: flow.shouldReplicateTopic }) : undefined
  }
}

/**
 * The take-over: every flow's Mirror starts its partitions at MM2's positions where they are
 * further than its group's commits. Reading finds nothing where MM2 never ran the flow, so it is
 * always on. Before the Mirror starts it reads the positions (logged) and warns when MM2's Connect
 * group for the flow still has members: both copying at once would copy records twice.
 */
export class Mm2TakeoverPlugin implements FlowPlugin {
  readonly takeover: Mm2Takeover
  #flow: SyncFlow

  constructor (flow: SyncFlow, takeover: Mm2Takeover) {
    this.#flow = flow
    this.takeover = takeover
  }

  async beforeStart (ctx: FlowContext & { logger?: Logger }): Promise<void> {
    // MirrorMakerConfig.workerConfig: the herder of A->B is Connect group `A-mm2` on B.
    const group = `${this.#flow.source}-mm2`
    try {
      // ListGroups, not DescribeGroups: the client decodes every member's metadata as a consumer's,
      // and a Connect worker's is not one (it throws outside the promise).
      const state = (await ctx.targetAdmin.listGroups()).get(group)?.state
      if (state !== undefined && !['EMPTY', 'DEAD'].includes(String(state).toUpperCase())) ctx.logger?.warn({ group, state, cluster: 'target' }, `MirrorMaker 2 seems to be running for ${this.#flow.source}: its Connect group has members (or a killed worker's, until its session times out). Stop it before kafka-mirror takes over the flow ${this.#flow.name}, or both copy the same records`)
    } catch (error) {
      ctx.logger?.debug({ group, err: describeCause(error) }, 'could not describe MirrorMaker 2\'s Connect group')
    }
    const read = await this.takeover.read()
    if (read.found) ctx.logger?.info({ topic: this.takeover.topic, positions: read.positions.size }, read.positions.size > 0 ? 'taking over from MirrorMaker 2: partitions start after the last record it copied, or at the group\'s commit where that is further' : 'MirrorMaker 2\'s offsets topic holds no position of this flow')
  }

  async start (): Promise<void> {}
  async stop (): Promise<void> {}
}

const takeovers = new WeakMap<SyncFlow, Mm2Takeover>()
function takeoverOf (flow: SyncFlow): Mm2Takeover {
  let t = takeovers.get(flow)
  if (t === undefined) {
    const topic = flow.get('offset.storage.topic')
    t = new Mm2Takeover(flow.connection('target.admin'), { sourceAlias: flow.source, topic: topic === undefined ? mm2OffsetsTopic(flow.source) : String(topic) })
    takeovers.set(flow, t)
  }
  return t
}

export const mm2TakeoverRegistration: SyncPluginRegistration = {
  name: 'mm2-takeover',
  features: [],
  create: flow => new Mm2TakeoverPlugin(flow, takeoverOf(flow)),
  mirrorOptions: flow => ({ externalPositions: takeoverOf(flow).positions })
}

export const syncFlowPlugins = [mm2TakeoverRegistration, topicConfigSyncRegistration, aclSyncRegistration]
