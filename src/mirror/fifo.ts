/**
 * A first-in first-out queue with O(1) shift. Array#shift moves every element, so a worker that
 * buffers 100,000+ small records spent most of its CPU shifting them one by one.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = []
  #head = 0

  get length (): number {
    return this.#items.length - this.#head
  }

  push (item: T): void {
    this.#items.push(item)
  }

  peek (): T | undefined {
    return this.#items[this.#head]
  }

  shift (): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined
    // Compacts once the consumed half is the bigger one: amortised O(1) per item.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Keeps only the items `keep` accepts, in order; returns them. */
  retain (keep: (item: T) => boolean): T[] {
    const kept = (this.#items.slice(this.#head) as T[]).filter(keep)
    this.#items = kept.slice()
    this.#head = 0
    return kept
  }
}
