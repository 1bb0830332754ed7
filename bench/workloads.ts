// The benchmark workloads of issue 5. Record counts are for --scale 1; every run multiplies them.
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6'
export const workloadIds: WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6']

/** One source topic of a workload; W3 has two (lz4 and zstd). */
export interface Case {
  workload: WorkloadId
  /** "W1", "W3-lz4", ... */
  id: string
  title: string
  /** Records at --scale 1. */
  baseRecords: number
  valueBytes: number
  /** Values from a payload file of half-random, half-repeated lines (W3); random values otherwise. */
  halfCompressible: boolean
  /** Producer compression of the pre-load, of PIPE's producer, of MirrorMaker 2's and of kafka-mirror's. */
  compression: 'none' | 'lz4' | 'zstd'
  /** Producer properties of the pre-load besides bootstrap.servers, acks and compression. */
  preloadProps: Record<string, string | number>
  /**
   * Keyed records (16-byte keys, 100,000 distinct), written by the harness's own batch producer in
   * batches of about 256 KiB placed round-robin over the partitions: each source batch holds keys of
   * every target partition, so key partitioning must split every batch (its worst case). Keyless
   * cases are pre-loaded with ProducerPerformance.
   */
  keyed?: boolean
}

const tuned = { 'linger.ms': 5, 'batch.size': 262144 }

export function casesOf (workload: WorkloadId): Case[] {
  switch (workload) {
    case 'W1':
      return [{ workload, id: 'W1', title: '100 B values, 16 B keys spread over every partition', baseRecords: 20_000_000, valueBytes: 100, halfCompressible: false, compression: 'none', preloadProps: tuned, keyed: true }]
    case 'W2':
      return [{ workload, id: 'W2', title: '1 KiB values, 16 B keys spread over every partition', baseRecords: 5_000_000, valueBytes: 1024, halfCompressible: false, compression: 'none', preloadProps: tuned, keyed: true }]
    case 'W3':
      return (['lz4', 'zstd'] as const).map(codec => ({
        workload, id: `W3-${codec}`, title: `1 KiB half-compressible values, producer-compressed ${codec}`, baseRecords: 5_000_000, valueBytes: 1024, halfCompressible: true, compression: codec, preloadProps: tuned
      }))
    case 'W4':
      return [{ workload, id: 'W4', title: '100 B values in one-record batches (pre-loaded with linger.ms=0, batch.size=1)', baseRecords: 1_000_000, valueBytes: 100, halfCompressible: false, compression: 'none', preloadProps: { 'linger.ms': 0, 'batch.size': 1 } }]
    case 'W5':
    case 'W6':
      return []
  }
}

export function recordsAt (c: Case, scale: number): number {
  return Math.max(1, Math.round(c.baseRecords * scale))
}

/** W6: many partitions, a fixed size (not scaled): --once into a fresh target. */
export const manyPartitionsWorkload = { topics: 200, partitions: 8, recordsPerTopic: 500, valueBytes: 100 }

/** W5: fixed-rate latency. */
export const latencyWorkload = {
  recordsPerSecond: 20_000,
  valueBytes: 100,
  /** Seconds of producing at --scale 1; runs take max(15, min(300, this × scale)). */
  baseSeconds: 600,
  /** Records appended in the first seconds of producing are left out of the percentiles (JIT warm-up). */
  warmupSeconds: 3
}

export function latencySeconds (scale: number): number {
  return Math.max(15, Math.min(300, Math.round(latencyWorkload.baseSeconds * scale)))
}

/**
 * A ProducerPerformance payload file of `lines` values of `size` bytes, each half printable random
 * ASCII and half one repeated character: lz4 and zstd shrink such values to a bit over half.
 * Enough distinct lines that a 256 KiB batch rarely holds one twice.
 */
export function writeHalfCompressiblePayload (dir: string, size: number, lines = 20_000): string {
  const file = join(dir, `payload-${size}.txt`)
  const randomPart = Math.floor(size / 2)
  const repeated = 'x'.repeat(size - randomPart)
  const out: string[] = []
  const bytes = randomBytes(randomPart * lines)
  for (let i = 0; i < lines; i++) {
    let s = ''
    // Printable ASCII 0x21..0x7e (94 symbols): one byte each in UTF-8, never the newline delimiter.
    for (let j = 0; j < randomPart; j++) s += String.fromCharCode(0x21 + (bytes[i * randomPart + j] % 94))
    out.push(s + repeated)
  }
  writeFileSync(file, out.join('\n'))
  return file
}
