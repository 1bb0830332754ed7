// What the offset-sync, checkpoint, group-offset-sync and heartbeat plug-ins read of a flow: the
// runner's types (runner.ts, config.ts, policy.ts) narrowed to the parts they use, so their tests
// can give a flow of a few keys (settings.ts flowOf) and a policy of a few methods.
import type { Logger } from '../log.ts'
import type { Mm2Flow } from './config.ts'
import type { ReplicationPolicy } from './policy.ts'
import type { FlowContext as RunnerFlowContext, FlowPlugin as RunnerFlowPlugin } from './runner.ts'

/** The part of MM2's ReplicationPolicy these plug-ins use. */
export type ReplicationPolicyLike = Pick<ReplicationPolicy, 'formatRemoteTopic' | 'topicSource' | 'originalTopic' | 'heartbeatsTopic' | 'offsetSyncsTopic' | 'checkpointsTopic'>

/** One replication flow A->B: aliases, MM2's key lookup and, when there is one, the groups filter. */
export type FlowLike = Pick<Mm2Flow, 'source' | 'target' | 'get'> & Partial<Pick<Mm2Flow, 'groupFilter'>>

export type FlowContext = Pick<RunnerFlowContext, 'mirror' | 'sourceAdmin' | 'targetAdmin'> & {
  flow: FlowLike
  policy: ReplicationPolicyLike
  logger?: Logger
}

export type FlowPlugin = RunnerFlowPlugin<FlowContext>
