// The shared source and target clusters of a test run, and unique names so tests never collide.
import { randomBytes } from 'node:crypto'
import { Admin } from '@platformatic/kafka'
import { startCluster, type KafkaCluster } from '../../harness/cluster.ts'

export interface TestClusters {
  source: string
  target: string
}

let own: Promise<TestClusters> | undefined

/** Bootstrap addresses of the run's source and target clusters. */
export async function testClusters (): Promise<TestClusters> {
  const shared = process.env.KAFKA_MIRROR_TEST_CLUSTERS
  if (shared !== undefined) return JSON.parse(shared) as TestClusters
  // A test file run alone (node --test test/x.test.ts) gets clusters of its own; the harness
  // stops them when the process exits.
  own ??= (async () => {
    const started: KafkaCluster[] = await Promise.all([
      startCluster({ name: 'source', brokers: 2 }),
      startCluster({ name: 'target', brokers: 2 })
    ])
    return { source: started[0].bootstrap, target: started[1].bootstrap }
  })()
  return await own
}

export function uniqueName (prefix = 'topic'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`
}

interface TopicOptions { prefix?: string, name?: string, partitions?: number, replicas?: number, configs?: Record<string, string> }

/** Creates a topic with a unique name (or `name`); tests never share topics. */
export async function createTestTopic (bootstrap: string, options: TopicOptions = {}): Promise<string> {
  const topic = options.name ?? uniqueName(options.prefix)
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: bootstrap.split(',') })
  try {
    await admin.createTopics({
      topics: [topic],
      partitions: options.partitions ?? 1,
      replicas: options.replicas ?? 1,
      configs: Object.entries(options.configs ?? {}).map(([name, value]) => ({ name, value }))
    })
  } finally {
    await admin.close()
  }
  return topic
}

/** The same new topic on the source and the target, as the fast path wants it (partitions kept). */
export async function createTopicPair (source: string, target: string, options: Omit<TopicOptions, 'name'> = {}): Promise<string> {
  const topic = await createTestTopic(source, options)
  await createTestTopic(target, { ...options, name: topic })
  return topic
}

/** Sum of a topic's end offsets: how many records it holds when nothing was deleted. */
export async function topicRecordCount (bootstrap: string, topic: string): Promise<bigint> {
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: bootstrap.split(',') })
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0
    const ends = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] })
    return ends[0].partitions.reduce((s, p) => s + p.offset, 0n)
  } catch {
    return -1n
  } finally {
    await admin.close()
  }
}

/** Polls until the topic holds at least `count` records; returns how many it has. */
export async function waitForRecords (bootstrap: string, topic: string, count: number, timeoutMs = 60_000): Promise<bigint> {
  const deadline = Date.now() + timeoutMs
  let n = -1n
  while (Date.now() < deadline) {
    n = await topicRecordCount(bootstrap, topic)
    if (n >= BigInt(count)) return n
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`${topic} has ${n} records, not ${count}, after ${timeoutMs} ms`)
}
