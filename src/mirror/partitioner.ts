// Target partition choice. By key, as Kafka's Java producer's default partitioner does, so records
// with one key land in one target partition (and stay in order) whatever the partition counts,
// and a Java client producing the same keys to the target agrees on placement.

/** Kafka's murmur2 (Utils.murmur2 in the Java client), on 32-bit integers. */
export function murmur2 (data: Uint8Array): number {
  const length = data.length
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ length) | 0
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  switch (length & 3) {
    case 3: h ^= data[whole + 2] << 16 // falls through
    case 2: h ^= data[whole + 1] << 8 // falls through
    case 1:
      h ^= data[whole]
      h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** Java's Utils.toPositive(murmur2(key)) % numPartitions. */
export function partitionForKey (key: Uint8Array, numPartitions: number): number {
  return (murmur2(key) & 0x7fffffff) % numPartitions
}

/** Picks target partitions: by key, round-robin for keyless records, or the source's number. */
export class TargetPartitioner {
  #mode: 'key' | 'source'
  #roundRobin = new Map<string, number>()

  constructor (mode: 'key' | 'source') {
    this.#mode = mode
  }

  partition (topic: string, sourcePartition: number, key: Buffer | null | undefined, targetPartitions: number): number {
    if (this.#mode === 'source') return sourcePartition
    if (key !== null && key !== undefined) return partitionForKey(key, targetPartitions)
    const next = ((this.#roundRobin.get(topic) ?? -1) + 1) % targetPartitions
    this.#roundRobin.set(topic, next)
    return next
  }
}
