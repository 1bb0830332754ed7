// The offsets a worker may commit, and the one commit request it has in flight. Both workers (the
// decoding one and the batch passthrough) fill it only with offsets the target acknowledged.
import type { Consumer } from '@platformatic/kafka'

export interface CommittableOffset {
  topic: string
  partition: number
  /** The next offset to read: one past the last record the target acknowledged. */
  offset: bigint
  leaderEpoch: number
}

export const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`

export class OffsetCommitter {
  /** Acknowledged offsets not committed yet, keyed "topic:partition". */
  readonly pending = new Map<string, CommittableOffset>()
  #consumer: Consumer
  #committing: Promise<void> | undefined

  constructor (consumer: Consumer) {
    this.#consumer = consumer
  }

  set (offset: CommittableOffset): void {
    this.pending.set(partitionKey(offset.topic, offset.partition), offset)
  }

  /**
   * Commits the pending offsets (less those `hold` keeps back) and `extra`; concurrent calls
   * share one request. An offset set again while the request was out stays pending.
   */
  async commit (extra: CommittableOffset[] = [], hold?: (key: string) => boolean): Promise<void> {
    if (this.#committing !== undefined) await this.#committing.catch(() => {})
    const offsets = [...[...this.pending.entries()].filter(([key]) => hold === undefined || !hold(key)).map(([, o]) => o), ...extra]
    if (offsets.length === 0) return
    const run = (async () => {
      await this.#consumer.commit({ offsets })
      for (const o of offsets) {
        const key = partitionKey(o.topic, o.partition)
        if (this.pending.get(key) === o) this.pending.delete(key)
      }
    })()
    this.#committing = run
    try {
      await run
    } finally {
      if (this.#committing === run) this.#committing = undefined
    }
  }
}
