// Target partition choice. By key, as Kafka's Java producer's default partitioner does, so records
// with one key land in one target partition (and stay in order) whatever the partition counts,
// and a Java client producing the same keys to the target agrees on placement.

/**
 * Kafka's murmur2 (Utils.murmur2 in the Java client), on 32-bit integers, over `length` bytes of
 * `data` from `start` (a key inside a fetched batch, without a copy).
 */
export function murmur2 (data: Uint8Array, start = 0, length = data.length - start): number {
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ length) | 0
  const whole = start + (length & ~3)
  for (let i = start; i < whole; i += 4) {
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
export function partitionForKey (key: Uint8Array, numPartitions: number, start = 0, length = key.length - start): number {
  return (murmur2(key, start, length) & 0x7fffffff) % numPartitions
}
