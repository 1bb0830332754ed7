// Kafka's read_committed rule over the record batches of one Fetch answer, as the Java consumer
// applies it: a transaction's records sit in batches of their own, from its producer, between its
// first offset (listed in the answer's aborted transactions) and its ABORT marker, so the batches
// of an aborted transaction are left out whole. The copy loop's plan (mirror/plan.ts) and every
// partition read (partition-reader.ts) use this one filter.
import type { AbortedTransaction } from './fetch-v12.ts'
import { ControlTypes, controlType, type RecordBatch } from './record-batch.ts'

export class ReadCommittedFilter {
  readonly #readCommitted: boolean
  /** Aborted transactions not yet reached, by first offset. */
  readonly #pending: AbortedTransaction[]
  /** Producers inside an aborted transaction at the current batch. */
  readonly #aborting = new Set<bigint>()

  /** `aborted`: the answer's aborted transactions; without `readCommitted` no batch is aborted. */
  constructor (aborted: AbortedTransaction[] | null, readCommitted: boolean) {
    this.#readCommitted = readCommitted
    this.#pending = readCommitted ? [...(aborted ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0)) : []
  }

  /**
   * Whether `batch`, the next one of the answer in offset order, holds records of an aborted
   * transaction. A control batch never does; an ABORT marker ends its producer's transaction.
   */
  aborted (batch: RecordBatch): boolean {
    if (!this.#readCommitted || batch.producerId < 0n) return false
    while (this.#pending.length > 0 && this.#pending[0].firstOffset <= batch.lastOffset) this.#aborting.add(this.#pending.shift()!.producerId)
    if (batch.control) {
      if (controlType(batch) === ControlTypes.ABORT) this.#aborting.delete(batch.producerId)
      return false
    }
    return batch.transactional && this.#aborting.has(batch.producerId)
  }
}
