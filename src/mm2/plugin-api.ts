// What the offset-sync, checkpoint, group-offset-sync and heartbeat plug-ins need from the mm2
// runner (mm2-config's src/mm2/runner.ts and policy.ts, CONTRACTS.md), declared here as the
// smallest structural types so the plug-ins build and test before the runner is merged: the
// runner's FlowPlugin context and ReplicationPolicy satisfy them as they are.
import type { Admin } from '@platformatic/kafka'
import type { Logger } from '../log.ts'
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

/** One replication flow A->B, as the runner resolves it: aliases, and MM2's key lookup (`A->B.key` over `key` over MM2's default). */
export interface FlowLike {
  source: string
  target: string
  /** A key's value: text, or already typed (number, boolean, list) by the runner's declarations. */
  get (key: string): unknown
  /** The flow's `groups` / `groups.exclude` filter (MM2's DefaultGroupFilter), when the runner has one. */
  groupFilter?: (group: string) => boolean
}

export interface FlowContext {
  flow: FlowLike
  mirror: Mirror
  sourceAdmin: Admin
  targetAdmin: Admin
  policy: ReplicationPolicyLike
  logger?: Logger
}

export interface FlowPlugin {
  /** Before the flow's Mirror starts (the Mirror is built, not started). */
  beforeStart? (ctx: FlowContext): Promise<void>
  /** After the flow's Mirror started. */
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
