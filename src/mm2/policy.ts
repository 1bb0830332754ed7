// MirrorMaker 2's replication policies: how a topic is named on the cluster it is copied to, and
// how a name tells where a topic came from. Same results as MM2 4.x's DefaultReplicationPolicy
// and IdentityReplicationPolicy (connect/mirror-client), so topic names, cycle detection and the
// names of MM2's internal topics agree with MM2 and with Kafka's RemoteClusterUtils/MirrorClient.

export interface ReplicationPolicy {
  /** The class name an mm2.properties names it by (replication.policy.class). */
  readonly className: string
  /** The name of `topic` of cluster `sourceAlias` on the cluster it is copied to. */
  formatRemoteTopic (sourceAlias: string, topic: string): string
  /** The alias of the cluster a remote topic came from; undefined when the name says it is not remote. */
  topicSource (topic: string): string | undefined
  /** The name of a remote topic one hop upstream; undefined when it is not remote. */
  upstreamTopic (topic: string): string | undefined
  /** The name of the topic where it was first written, however many hops ago. */
  originalTopic (topic: string): string
  heartbeatsTopic (): string
  offsetSyncsTopic (clusterAlias: string): string
  checkpointsTopic (clusterAlias: string): string
  isHeartbeatsTopic (topic: string): boolean
  isCheckpointsTopic (topic: string): boolean
  /** Topics MirrorMaker 2 itself keeps (names ending in `.internal`, or the separator's). */
  isMM2InternalTopic (topic: string): boolean
  /** Never mirrored: MM2's own topics, Kafka's (`__…`, `.…`) and Kafka Connect's (`…-internal`, `…​.internal`). */
  isInternalTopic (topic: string): boolean
  /**
   * Whether the names prove that `topic` of the flow's source is already a copy of a topic of
   * `targetAlias` (MirrorSourceConnector.isCycle): copying it there would make a cycle.
   */
  isCycle (topic: string, targetAlias: string): boolean
}

export interface PolicyOptions {
  /** replication.policy.separator; default ".". */
  separator?: string
  /** replication.policy.internal.topic.separator.enabled; default true. */
  internalTopicSeparatorEnabled?: boolean
  /** IdentityReplicationPolicy's source.cluster.alias: what topicSource answers for any topic. */
  sourceClusterAlias?: string
}

/**
 * Java's String.split(Pattern.quote(separator)): trailing empty strings are dropped, a leading
 * one is kept. topicSource depends on it ("A." is not remote, ".x" comes from "").
 */
function javaSplit (text: string, separator: string): string[] {
  const parts = text.split(separator)
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  return parts
}

export class DefaultReplicationPolicy implements ReplicationPolicy {
  readonly className: string = 'org.apache.kafka.connect.mirror.DefaultReplicationPolicy'
  readonly separator: string
  readonly internalTopicSeparatorEnabled: boolean

  constructor (options: PolicyOptions = {}) {
    this.separator = options.separator ?? '.'
    // As MM2: the flag only matters when a separator was given (configure() reads it only then).
    this.internalTopicSeparatorEnabled = options.separator === undefined ? true : options.internalTopicSeparatorEnabled ?? true
  }

  formatRemoteTopic (sourceAlias: string, topic: string): string {
    return sourceAlias + this.separator + topic
  }

  topicSource (topic: string): string | undefined {
    const parts = javaSplit(topic, this.separator)
    return parts.length < 2 ? undefined : parts[0]
  }

  upstreamTopic (topic: string): string | undefined {
    const source = this.topicSource(topic)
    return source === undefined ? undefined : topic.slice(source.length + this.separator.length)
  }

  originalTopic (topic: string): string {
    const upstream = this.upstreamTopic(topic)
    return upstream === undefined || upstream === topic ? topic : this.originalTopic(upstream)
  }

  #internalSeparator (): string {
    return this.internalTopicSeparatorEnabled ? this.separator : '.'
  }

  #internalSuffix (): string {
    return `${this.#internalSeparator()}internal`
  }

  #checkpointsSuffix (): string {
    return `${this.#internalSeparator()}checkpoints${this.#internalSuffix()}`
  }

  heartbeatsTopic (): string {
    return 'heartbeats'
  }

  offsetSyncsTopic (clusterAlias: string): string {
    return `mm2-offset-syncs${this.#internalSeparator()}${clusterAlias}${this.#internalSuffix()}`
  }

  checkpointsTopic (clusterAlias: string): string {
    return clusterAlias + this.#checkpointsSuffix()
  }

  isHeartbeatsTopic (topic: string): boolean {
    return this.heartbeatsTopic() === this.originalTopic(topic)
  }

  isCheckpointsTopic (topic: string): boolean {
    return topic.endsWith(this.#checkpointsSuffix())
  }

  isMM2InternalTopic (topic: string): boolean {
    return topic.endsWith(this.#internalSuffix())
  }

  isInternalTopic (topic: string): boolean {
    const kafkaInternal = topic.startsWith('__') || topic.startsWith('.')
    const connectInternal = topic.endsWith('-internal') || topic.endsWith('.internal')
    return this.isMM2InternalTopic(topic) || kafkaInternal || connectInternal
  }

  isCycle (topic: string, targetAlias: string): boolean {
    const source = this.topicSource(topic)
    if (source === undefined) return false
    if (source === targetAlias) return true
    const upstream = this.upstreamTopic(topic)
    // Identity names never prove a cycle: the upstream topic is the topic itself.
    if (upstream === undefined || upstream === topic) return false
    return this.isCycle(upstream, targetAlias)
  }
}

/**
 * Topic names are kept; heartbeats alone are renamed as the default policy does, so replication
 * hops can still be read. MM2 cannot prevent cycles with it; kafka-mirror does, with a provenance
 * header (src/mm2/provenance.ts).
 */
export class IdentityReplicationPolicy extends DefaultReplicationPolicy {
  override readonly className: string = 'org.apache.kafka.connect.mirror.IdentityReplicationPolicy'
  readonly sourceClusterAlias: string | undefined

  constructor (options: PolicyOptions = {}) {
    super(options)
    this.sourceClusterAlias = options.sourceClusterAlias
  }

  #looksLikeHeartbeat (topic: string): boolean {
    return topic.endsWith(this.heartbeatsTopic())
  }

  override formatRemoteTopic (sourceAlias: string, topic: string): string {
    return this.#looksLikeHeartbeat(topic) ? super.formatRemoteTopic(sourceAlias, topic) : topic
  }

  override topicSource (topic: string): string | undefined {
    return this.#looksLikeHeartbeat(topic) ? super.topicSource(topic) : this.sourceClusterAlias
  }

  override upstreamTopic (topic: string): string | undefined {
    return this.#looksLikeHeartbeat(topic) ? super.upstreamTopic(topic) : topic
  }
}

export const replicationPolicyClasses = {
  'org.apache.kafka.connect.mirror.DefaultReplicationPolicy': DefaultReplicationPolicy,
  'org.apache.kafka.connect.mirror.IdentityReplicationPolicy': IdentityReplicationPolicy
} as const

/** The policy a replication.policy.class names (full or simple class name); undefined for others. */
export function replicationPolicy (className: string, options: PolicyOptions = {}): ReplicationPolicy | undefined {
  const simple = className.trim().slice(className.trim().lastIndexOf('.') + 1)
  if (simple === 'DefaultReplicationPolicy') return new DefaultReplicationPolicy(options)
  if (simple === 'IdentityReplicationPolicy') return new IdentityReplicationPolicy(options)
  return undefined
}
