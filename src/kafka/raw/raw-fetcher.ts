// Fetches record batches as bytes from partition leaders, on connections of its own, so a
// long-polling fetch never delays the group's heartbeats and commits. Each leader is asked with the
// highest Fetch version both sides have (v12, Kafka 2.7+; v10, 2.1+, the first that zstd batches
// are sent to; v5, 0.11+), all answered in one shape.
import { Base, type BaseOptions, type ClusterMetadata } from '@platformatic/kafka'
import * as fetchV5 from './fetch-v5.ts'
import * as fetchV10 from './fetch-v10.ts'
import * as fetchV12 from './fetch-v12.ts'
import { checkApis, versionFor, type VersionedApi } from './versions.ts'

export const FETCH: VersionedApi<typeof fetchV12.api> = {
  name: 'Fetch',
  key: fetchV12.FETCH_API_KEY,
  versions: [
    { version: fetchV12.FETCH_VERSION, since: '2.7', api: fetchV12.api },
    { version: fetchV10.FETCH_VERSION, since: '2.1', api: fetchV10.api },
    { version: fetchV5.FETCH_VERSION, since: '0.11', api: fetchV5.api }
  ]
}

export interface RawFetchOptions {
  maxWaitMs: number
  minBytes: number
  maxBytes: number
  isolationLevel: fetchV12.IsolationLevel
}

export class RawFetcher {
  readonly client: Base
  #metadata: ClusterMetadata | undefined
  #closed = false

  constructor (options: BaseOptions) {
    this.client = new Base(options)
  }

  /** Checks the bootstrap broker serves a Fetch version kafka-mirror has (Kafka 0.11+ do). */
  async start (): Promise<void> {
    checkApis(await this.client.listApis(), [FETCH], 'the source broker')
  }

  /** The partition's leader from the last metadata, or undefined when none is known. */
  leaderOf (topic: string, partition: number): number | undefined {
    const leader = this.#metadata?.topics.get(topic)?.partitions[partition]?.leader
    return leader === undefined || leader < 0 || !this.#metadata!.brokers.has(leader) ? undefined : leader
  }

  /**
   * Fresh metadata for `topics`; other topics keep what was known of them, so that reads of many
   * topics at once (a reconciliation, a retry after a leader moved) do not make each other's
   * leaders unknown and ask again and again.
   */
  async refresh (topics: string[]): Promise<void> {
    const fresh = await this.client.metadata({ topics, forceUpdate: true })
    const kept = this.#metadata?.topics
    this.#metadata = kept === undefined ? fresh : { ...fresh, topics: new Map([...kept, ...fresh.topics]) }
  }

  async fetch (leader: number, options: RawFetchOptions, topics: fetchV12.RawFetchTopicRequest[]): Promise<fetchV12.RawFetchResponse> {
    if (this.#closed) throw new Error('the fetcher is closed')
    const broker = this.#metadata?.brokers.get(leader)
    if (broker === undefined) throw new Error(`broker ${leader} is not in the source metadata`)
    const connection = await this.client.connections.get(broker)
    const { api } = await versionFor(connection, FETCH, `source broker ${leader}`)
    return await api.async(connection, options.maxWaitMs, options.minBytes, options.maxBytes, options.isolationLevel, topics)
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.client.close().catch(() => {})
  }
}
