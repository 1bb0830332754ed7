// What the offset-sync, checkpoint, group-offset-sync and heartbeat plug-ins need from the mm2
// runner (mm2-config's src/mm2/runner.ts and policy.ts, CONTRACTS.md), declared here as the
// smallest structural types so the plug-ins build and test before the runner is merged: the
// runner's FlowPlugin context and ReplicationPolicy satisfy them as they are.
import type { Admin } from '@platformatic/kafka'
import type { Mirror } from '../mirror/mirror.ts'

/** The part of MM2's ReplicationPolicy these plug-ins use (src/mm2/policy.ts has all of it). */
export interface ReplicationPolicyLike {
  formatRemoteTopic (sourceAlias: string, topic: string): string
  topicSource (topic: string): string | undefined
  originalTopic (topic: string): string
  heartbeatsTopic (): string
  offsetSyncsTopic (clusterAlias: string): string
  checkpointsTopic (clusterAlias: string): string
}

/** One replication flow A->B, as the runner resolves it: aliases, and MM2's key lookup (`A->B.key` over `A.key` over `key`). */
export interface FlowLike {
  source: string
  target: string
  get (key: string): string | undefined
  /** The flow's `groups` / `groups.exclude` filter, when the runner has one. */
  groupMatches? (group: string): boolean
}

export interface FlowContext {
  flow: FlowLike
  mirror: Mirror
  sourceAdmin: Admin
  targetAdmin: Admin
  policy: ReplicationPolicyLike
}

export interface FlowPlugin {
  start (ctx: FlowContext): Promise<void>
  stop (): Promise<void>
}

/** MM2's DefaultReplicationPolicy with the default separator: enough for tests and a flow without a policy. */
export const defaultPolicy: ReplicationPolicyLike = {
  formatRemoteTopic: (sourceAlias, topic) => `${sourceAlias}.${topic}`,
  topicSource: topic => { const i = topic.indexOf('.'); return i <= 0 || i === topic.length - 1 ? undefined : topic.slice(0, i) },
  originalTopic (topic) {
    let t = topic
    while (this.topicSource(t) !== undefined) t = t.slice(t.indexOf('.') + 1)
    return t
  },
  heartbeatsTopic: () => 'heartbeats',
  offsetSyncsTopic: alias => `mm2-offset-syncs.${alias}.internal`,
  checkpointsTopic: alias => `${alias}.checkpoints.internal`
}
