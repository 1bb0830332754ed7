// Topic administration on one cluster: what the mirror needs to create target topics, and what
// the `topics` command shows (partitions, replication factor, configs).
import { Admin, ConfigResourceTypes, ConfigSources, findErrorBy } from '@platformatic/kafka'
import { ErrorCodes, KafkaMirrorError, describeCause } from '../errors.ts'
import { internalTopics } from '../config/topic-filter.ts'
import { brokerKnowsTopics } from '../kafka/raw/metadata.ts'

export interface PartitionDescription {
  partition: number
  leader: number
  replicas: number[]
  isr: number[]
}

export interface TopicDescription {
  name: string
  id: string
  partitions: PartitionDescription[]
  replicationFactor: number
  /** Configs set on the topic itself (not broker defaults). */
  configs: Record<string, string>
}

/** Topic configs worth carrying to the target: they decide what the copy keeps and for how long. */
export const replicatedTopicConfigs = [
  'cleanup.policy', 'retention.ms', 'retention.bytes', 'max.message.bytes', 'min.insync.replicas',
  'compression.type', 'delete.retention.ms', 'min.compaction.lag.ms', 'max.compaction.lag.ms',
  'min.cleanable.dirty.ratio', 'segment.bytes', 'segment.ms', 'message.timestamp.type',
  'message.timestamp.before.max.ms', 'message.timestamp.after.max.ms', 'local.retention.ms', 'local.retention.bytes'
]

export function isTopicExistsError (error: unknown): boolean {
  return findErrorBy(error as Error, 'apiId', 'TOPIC_ALREADY_EXISTS') !== null || /already exists/i.test(describeCause(error))
}

export async function listTopics (admin: Admin, includeInternal = false): Promise<string[]> {
  const topics = await admin.listTopics({ includeInternals: includeInternal })
  return topics.filter(t => includeInternal || !internalTopics.has(t)).sort()
}

export async function brokerCount (admin: Admin): Promise<number> {
  const metadata = await admin.metadata({ topics: [], forceUpdate: true })
  return metadata.brokers.size
}

export async function describeTopics (admin: Admin, topics: string[], withConfigs = true): Promise<TopicDescription[]> {
  if (topics.length === 0) return []
  const metadata = await admin.metadata({ topics, forceUpdate: true })
  const configs = new Map<string, Record<string, string>>()
  if (withConfigs) {
    const described = await admin.describeConfigs({ resources: topics.map(name => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: name })) })
    for (const resource of described) {
      const own: Record<string, string> = {}
      for (const c of resource.configs) {
        if (c.configSource === ConfigSources.DYNAMIC_TOPIC_CONFIG && typeof c.value === 'string' && !c.isSensitive) own[c.name] = c.value
      }
      configs.set(resource.resourceName, own)
    }
  }
  return topics.map(name => {
    const topic = metadata.topics.get(name)
    if (topic === undefined) throw new KafkaMirrorError(ErrorCodes.TOPIC, `Topic ${name} does not exist`)
    const partitions = topic.partitions.map((p, partition) => ({ partition, leader: p.leader, replicas: p.replicas, isr: p.isr }))
    return {
      name,
      id: topic.id,
      partitions,
      replicationFactor: partitions[0]?.replicas.length ?? 0,
      configs: configs.get(name) ?? {}
    }
  })
}

/**
 * Each topic's max.message.bytes as the broker applies it (the topic's own value, or the broker's
 * message.max.bytes): the largest record batch the topic takes. Topics the answer leaves out are
 * left out of the map.
 */
export async function maxMessageBytes (admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const result = new Map<string, number>()
  if (topics.length === 0) return result
  const described = await admin.describeConfigs({ resources: topics.map(name => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: name, configurationKeys: ['max.message.bytes'] })) })
  for (const resource of described) {
    const value = resource.configs.find(c => c.name === 'max.message.bytes')?.value
    if (typeof value === 'string' && /^\d+$/.test(value)) result.set(resource.resourceName, Number(value))
  }
  return result
}

export interface CreateTopicRequest {
  name: string
  /** -1: the brokers' num.partitions. */
  partitions: number
  /** -1: the brokers' default.replication.factor. */
  replicationFactor: number
  configs?: Record<string, string>
}

/** Creates a topic; returns false when it already existed (another mirror process may have made it). */
export async function createTopic (admin: Admin, request: CreateTopicRequest): Promise<boolean> {
  try {
    await admin.createTopics({
      topics: [request.name],
      partitions: request.partitions,
      replicas: request.replicationFactor,
      configs: Object.entries(request.configs ?? {}).map(([name, value]) => ({ name, value }))
    })
    return true
  } catch (error) {
    if (isTopicExistsError(error)) return false
    const shape = [request.partitions < 0 ? 'the brokers\' default partition count' : `${request.partitions} partitions`,
      request.replicationFactor < 0 ? 'the brokers\' default replication factor' : `replication factor ${request.replicationFactor}`]
    throw new KafkaMirrorError(ErrorCodes.TOPIC, `Cannot create topic ${request.name} (${shape.join(', ')}): ${describeCause(error)}`, { cause: error })
  }
}

/** Deletes topics; the brokers remove their data in the background. */
export async function deleteTopics (admin: Admin, topics: string[]): Promise<void> {
  if (topics.length === 0) return
  try {
    await admin.deleteTopics({ topics })
  } catch (error) {
    throw new KafkaMirrorError(ErrorCodes.TOPIC, `Cannot delete topic${topics.length > 1 ? 's' : ''} ${topics.join(', ')}: ${describeCause(error)}`, { cause: error })
  }
}

/** Raises a topic's partition count (Kafka never lowers it). */
export async function addPartitions (admin: Admin, topic: string, count: number): Promise<void> {
  try {
    await admin.createPartitions({ topics: [{ name: topic, count }] })
  } catch (error) {
    throw new KafkaMirrorError(ErrorCodes.TOPIC, `Cannot change topic ${topic} to ${count} partitions: ${describeCause(error)}`, { cause: error })
  }
}

/** Waits until every partition of the topics has a leader, so that a produce right after works. */
export async function waitForLeaders (admin: Admin, topics: string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      // Every broker, not just the one that answers: a tool run next (a list, a produce) may ask
      // another, and in ZooKeeper mode each broker learns of the topic on its own.
      const metadata = await admin.metadata({ topics, forceUpdate: true })
      const known = await Promise.all([...metadata.brokers.values()].map(async broker => await brokerKnowsTopics(await admin.connections.get(broker), topics)))
      if (known.length > 0 && known.every(Boolean)) return true
    } catch {
      // Not known to the broker that answered yet.
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return false
}
