// Which source offsets of one source partition may be committed, when the records of one fetch go
// to the target in several batches (key partitioning fans a fetch out over the target partitions),
// acknowledged in any order across those partitions.
//
// Invariants (as Kafka Connect's SubmittedRecords keeps them per source partition):
// - A span is the source offsets [firstOffset, nextOffset) of one fetch answer (or one batch) and
//   the target batches carrying its records; it is done once every one of them was acknowledged.
//   A span with no batch (only transaction markers or aborted records) is done at once. A span
//   opened unsealed gets its batches one by one (addBatch) while a fetch answer is routed, and can
//   be done only once sealed.
// - Spans are opened in offset order; settle() hands out the end of the longest prefix of done
//   spans, and only that: a span done before an earlier one waits for it.
// - Nothing here knows about ownership: the caller keeps one queue per partition state and drops
//   the queue with the state when the partition moves, so an old ownership's spans never settle
//   into a commit.

export interface Span {
  firstOffset: bigint
  nextOffset: bigint
  leaderEpoch: number
  /** Target batches not acknowledged yet. */
  remaining: number
  /** No batch is added any more: done once `remaining` is 0. */
  sealed: boolean
  records: number
  bytes: number
  openedAt: number
}

/** What became committable: one past the last source offset of the done prefix, and what it held. */
export interface Settled {
  nextOffset: bigint
  leaderEpoch: number
  records: number
  bytes: number
  /** When the oldest of the settled spans was opened. */
  since: number
}

export class SpanQueue {
  #spans: Span[] = []
  #head = 0

  /**
   * Opens the next span of the partition, carried by `batches` target batches; unsealed, it takes
   * more (addBatch) and its end may still move, until seal().
   */
  open (firstOffset: bigint, nextOffset: bigint, leaderEpoch: number, batches: number, now = Date.now(), sealed = true): Span {
    const last = this.#spans.at(-1)
    if (last !== undefined && this.#head < this.#spans.length && !last.sealed) throw new Error(`span ${firstOffset} opened while the last one is not sealed`)
    if (last !== undefined && firstOffset < last.nextOffset) throw new Error(`span ${firstOffset}..${nextOffset} opened before the end of the last one (${last.nextOffset})`)
    const span: Span = { firstOffset, nextOffset, leaderEpoch, remaining: batches, records: 0, bytes: 0, openedAt: now, sealed }
    this.#spans.push(span)
    return span
  }

  /** One more target batch carries records of the unsealed `span`. */
  addBatch (span: Span): void {
    if (span.sealed) throw new Error(`span ${span.firstOffset}..${span.nextOffset} is sealed`)
    span.remaining++
  }

  seal (span: Span): void {
    span.sealed = true
  }

  /** Takes back the last span, opened for nothing (its fetch moved no offset). */
  cancel (span: Span): void {
    if (this.#spans.at(-1) !== span || this.#spans.length <= this.#head || span.remaining > 0) throw new Error(`span ${span.firstOffset} cannot be taken back`)
    this.#spans.pop()
  }

  /** One target batch of `span` was acknowledged, holding `records` records in `bytes` bytes. */
  acknowledged (span: Span, records: number, bytes: number): void {
    if (span.remaining <= 0) throw new Error(`span ${span.firstOffset}..${span.nextOffset} has no batch left to acknowledge`)
    span.remaining--
    span.records += records
    span.bytes += bytes
  }

  /** Takes the done spans at the head; undefined when the first open span is not done. */
  settle (): Settled | undefined {
    let settled: Settled | undefined
    while (this.#head < this.#spans.length && this.#spans[this.#head].sealed && this.#spans[this.#head].remaining === 0) {
      const span = this.#spans[this.#head++]
      if (settled === undefined) settled = { nextOffset: span.nextOffset, leaderEpoch: span.leaderEpoch, records: span.records, bytes: span.bytes, since: span.openedAt }
      else {
        settled.nextOffset = span.nextOffset
        settled.leaderEpoch = span.leaderEpoch
        settled.records += span.records
        settled.bytes += span.bytes
      }
    }
    if (this.#head > 64 && this.#head * 2 > this.#spans.length) {
      this.#spans.splice(0, this.#head)
      this.#head = 0
    }
    return settled
  }

  /** Spans opened and not settled yet. */
  get pending (): number {
    return this.#spans.length - this.#head
  }
}
