// Fetches record batches as bytes from partition leaders (Fetch v12, see fetch-v12.ts), on
// connections of its own, so a long-polling fetch never delays the group's heartbeats and commits.
import { Base, type BaseOptions, type ClusterMetadata } from '@platformatic/kafka'
import * as fetchV12 from './fetch-v12.ts'

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

  /** Checks the brokers serve Fetch v12 (Kafka 2.7+). */
  async start (): Promise<void> {
    const apis = await this.client.listApis()
    const fetch = apis.find(a => a.apiKey === fetchV12.FETCH_API_KEY)
    if (fetch === undefined || fetch.minVersion > fetchV12.FETCH_VERSION || fetch.maxVersion < fetchV12.FETCH_VERSION) {
      throw new Error(`the source brokers do not serve Fetch v${fetchV12.FETCH_VERSION} (Kafka 2.7+ do): they serve v${fetch?.minVersion}..v${fetch?.maxVersion}`)
    }
  }

  /** The partition's leader from the last metadata, or undefined when none is known. */
  leaderOf (topic: string, partition: number): number | undefined {
    const leader = this.#metadata?.topics.get(topic)?.partitions[partition]?.leader
    return leader === undefined || leader < 0 || !this.#metadata!.brokers.has(leader) ? undefined : leader
  }

  async refresh (topics: string[]): Promise<void> {
    this.#metadata = await this.client.metadata({ topics, forceUpdate: true })
  }

  async fetch (leader: number, options: RawFetchOptions, topics: fetchV12.RawFetchTopicRequest[]): Promise<fetchV12.RawFetchResponse> {
    if (this.#closed) throw new Error('the fetcher is closed')
    const broker = this.#metadata?.brokers.get(leader)
    if (broker === undefined) throw new Error(`broker ${leader} is not in the source metadata`)
    const connection = await this.client.connections.get(broker)
    return await fetchV12.api.async(connection, options.maxWaitMs, options.minBytes, options.maxBytes, options.isolationLevel, topics)
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.client.close().catch(() => {})
  }
}
