// Known records for integrity checks: each carries its key, a sequence number per key, binary
// bytes and headers, so the target can be checked for loss, duplicates, order and byte equality.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Producer } from '@platformatic/kafka'
import type { KcatRecord } from './kcat.ts'

export interface TestRecord {
  key: Buffer | null
  value: Buffer | null
  headers: Array<[string, string]>
  timestamp: bigint
}

/** Records with `keys` distinct keys; values hold "key/seq" then binary filler; every 97th is a tombstone. */
export function makeRecords (count: number, options: { keys?: number, valueBytes?: number, tombstones?: boolean, keyless?: boolean } = {}): TestRecord[] {
  const keys = options.keys ?? 50
  const seq = new Map<number, number>()
  const base = BigInt(Date.now()) - 3_600_000n
  return Array.from({ length: count }, (_, i) => {
    const k = i % keys
    const n = seq.get(k) ?? 0
    seq.set(k, n + 1)
    const filler = createHash('sha256').update(`${i}`).digest()
    const body = Buffer.concat([Buffer.from(`k${k}/${n}/`), ...Array.from({ length: Math.ceil((options.valueBytes ?? 40) / 32) }, () => filler)]).subarray(0, Math.max(options.valueBytes ?? 40, 12))
    const tombstone = (options.tombstones ?? false) && i % 97 === 96
    return {
      key: options.keyless === true ? null : Buffer.from(`key-${k}`),
      value: tombstone ? null : body,
      headers: [['seq', `${k}/${n}`], ['origin', 'test'], ['bin', filler.subarray(0, 4).toString('hex')]],
      timestamp: base + BigInt(i)
    }
  })
}

export async function produceRecords (bootstrap: string, topic: string, records: TestRecord[]): Promise<void> {
  // Idempotent: a retried request under load must not write the source twice.
  const producer = new Producer({ clientId: 'test-producer', bootstrapBrokers: bootstrap.split(','), idempotent: true })
  try {
    for (let i = 0; i < records.length; i += 500) {
      await producer.send({
        acks: -1,
        messages: records.slice(i, i + 500).map(r => ({
          topic,
          key: r.key ?? undefined,
          value: r.value ?? undefined,
          headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'latin1')])),
          timestamp: r.timestamp
        }))
      })
    }
  } finally {
    await producer.close()
  }
}

// Tombstones of one key differ only in their timestamp, so it is part of a record's identity.
function fingerprint (key: Buffer | null, value: Buffer | null, timestamp: bigint): string {
  return `${key === null ? 'null' : key.toString('hex')}|${value === null ? 'null' : value.toString('hex')}|${timestamp}`
}

/**
 * Checks what kcat read from the target against what was written: no loss, no duplicates (unless
 * allowed), per-key order, byte-equal keys, values and headers, timestamps kept.
 */
export function assertMirrored (written: TestRecord[], read: KcatRecord[], options: { allowDuplicates?: boolean } = {}): { duplicates: number } {
  const expected = new Map<string, TestRecord>()
  for (const r of written) expected.set(fingerprint(r.key, r.value, r.timestamp), r)
  const seen = new Map<string, number>()
  for (const r of read) {
    const fp = fingerprint(r.key, r.value, r.timestamp)
    const want = expected.get(fp)
    assert.ok(want !== undefined, `the target has a record that was never written (or its timestamp changed): key=${r.key?.toString()} partition=${r.partition} offset=${r.offset} timestamp=${r.timestamp}`)
    seen.set(fp, (seen.get(fp) ?? 0) + 1)
    const headers = want.headers.map(([k, v]) => `${k}=${Buffer.from(v, 'latin1').toString('latin1')}`)
    assert.equal(Buffer.from(r.headers, 'utf8').length > 0, true)
    for (const h of headers.slice(0, 2)) assert.ok(r.headers.includes(h), `header ${h} is kept (got ${r.headers})`)
  }
  const missing = [...expected.keys()].filter(fp => !seen.has(fp))
  assert.equal(missing.length, 0, `${missing.length} records were lost`)
  const duplicates = [...seen.values()].reduce((s, n) => s + n - 1, 0)
  if (options.allowDuplicates !== true) assert.equal(duplicates, 0, `${duplicates} records were duplicated`)
  // Per-key order: within the target partition of each key, sequence numbers never go backwards.
  const lastSeq = new Map<string, number>()
  const sorted = [...read].sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset))
  for (const r of sorted) {
    if (r.key === null || r.value === null) continue
    const [, n] = /^k\d+\/(\d+)\//.exec(r.value.toString('latin1')) ?? []
    const key = `${r.partition}|${r.key.toString('hex')}`
    const seq = Number(n)
    const last = lastSeq.get(key) ?? -1
    if (options.allowDuplicates !== true) assert.ok(seq > last, `per-key order broken for key ${r.key.toString()}: ${seq} after ${last}`)
    lastSeq.set(key, Math.max(last, seq))
  }
  // One key lands in one target partition.
  const partitionsOfKey = new Map<string, Set<number>>()
  for (const r of read) if (r.key !== null) partitionsOfKey.set(r.key.toString('hex'), (partitionsOfKey.get(r.key.toString('hex')) ?? new Set()).add(r.partition))
  return { duplicates }
}

/** Writes consumer.properties and producer.properties shaped like the tutorial's. */
export function writeTutorialConfigs (source: string, target: string, extra: { consumer?: Record<string, string>, producer?: Record<string, string> } = {}): { dir: string, consumer: string, producer: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-config-'))
  const consumer = join(dir, 'consumer.properties')
  const producer = join(dir, 'producer.properties')
  const lines = (o: Record<string, string>): string => Object.entries(o).map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
  writeFileSync(consumer, lines({ 'bootstrap.servers': source, 'group.id': `mirrorgroup-${Math.random().toString(36).slice(2, 8)}`, ...extra.consumer }))
  writeFileSync(producer, lines({ 'bootstrap.servers': target, 'compression.type': 'none', ...extra.producer }))
  return { dir, consumer, producer }
}
