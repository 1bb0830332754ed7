// Metadata asked of one given broker, at the version it serves: the library's own request files
// (v12, Kafka 2.8+; v9, 2.4+; v5, 1.0+; v1, 0.10+), which take the same arguments. The clients'
// own metadata goes to whichever broker they pick; this is for the question "does every broker
// know this topic yet", which a topic just created needs answered before a tool says it exists
// (ZooKeeper-mode brokers learn of a new topic one by one, from the controller).
import { metadataV1, metadataV12, metadataV5, metadataV9, type Connection } from '@platformatic/kafka'
import { versionFor, type VersionedApi } from './versions.ts'

type MetadataApi = typeof metadataV12.api
type MetadataResponse = metadataV12.MetadataResponse

export const METADATA: VersionedApi<MetadataApi> = {
  name: 'Metadata',
  key: 3,
  versions: [
    { version: 12, since: '2.8', api: metadataV12.api },
    { version: 9, since: '2.4', api: metadataV9.api as unknown as MetadataApi },
    { version: 5, since: '1.0', api: metadataV5.api as unknown as MetadataApi },
    { version: 1, since: '0.10', api: metadataV1.api as unknown as MetadataApi }
  ]
}

/**
 * Whether the broker behind `connection` knows each of `topics`, with a leader for every
 * partition. Never creates a topic.
 */
export async function brokerKnowsTopics (connection: Connection, topics: string[]): Promise<boolean> {
  const { api } = await versionFor(connection, METADATA, 'the broker')
  let response: MetadataResponse
  try {
    response = await api.async(connection, topics, false, false)
  } catch (error) {
    // The library throws for any topic or partition error (UNKNOWN_TOPIC_OR_PARTITION,
    // LEADER_NOT_AVAILABLE) and keeps the parsed answer on the error.
    const answered = (error as { response?: MetadataResponse }).response
    if (answered?.topics === undefined) throw error
    response = answered
  }
  return topics.every(name => {
    const topic = response.topics.find(t => t.name === name)
    return topic !== undefined && topic.errorCode === 0 && topic.partitions.length > 0 && topic.partitions.every(p => p.errorCode === 0 && p.leaderId >= 0)
  })
}
