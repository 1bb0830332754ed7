// Reads Kafka log segments (the *.log files of a partition folder) straight from disk: what a
// stopped broker holds, and will serve again once restarted. Record batches of format v2
// (magic 2), uncompressed; a batch cut short at the end of a file (a write that failed half
// way, say) is left out, as the broker's recovery would truncate it.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

export interface SegmentRecord {
  partition: number
  offset: bigint
  timestamp: bigint
}

function varint (buf: Buffer, at: number): [number, number] {
  let result = 0
  let shift = 0
  let pos = at
  while (true) {
    const b = buf[pos++]
    result += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) break
    shift += 7
  }
  // zigzag
  return [result % 2 === 0 ? result / 2 : -(result + 1) / 2, pos]
}

function varlong (buf: Buffer, at: number): [bigint, number] {
  let result = 0n
  let shift = 0n
  let pos = at
  while (true) {
    const b = buf[pos++]
    result |= BigInt(b & 0x7f) << shift
    if ((b & 0x80) === 0) break
    shift += 7n
  }
  return [(result >> 1n) ^ -(result & 1n), pos]
}

/** The records of one segment file; stops at a batch that runs past the end of the file. */
export function readSegment (file: string, partition: number): SegmentRecord[] {
  const buf = readFileSync(file)
  const records: SegmentRecord[] = []
  let at = 0
  while (at + 61 <= buf.length) {
    const baseOffset = buf.readBigInt64BE(at)
    const batchLength = buf.readInt32BE(at + 8)
    const end = at + 12 + batchLength
    if (batchLength <= 0 || end > buf.length) break
    const magic = buf.readInt8(at + 16)
    if (magic !== 2) throw new Error(`${file}: batch at byte ${at} has magic ${magic}, not 2`)
    const attributes = buf.readInt16BE(at + 21)
    const isControl = (attributes & 0x20) !== 0
    if ((attributes & 0x07) !== 0) throw new Error(`${file}: batch at byte ${at} is compressed (attributes ${attributes}); only uncompressed batches are read`)
    const baseTimestamp = buf.readBigInt64BE(at + 27)
    const count = buf.readInt32BE(at + 57)
    let pos = at + 61
    for (let i = 0; i < count; i++) {
      const [length, afterLength] = varint(buf, pos)
      let p = afterLength + 1 // attributes
      let timestampDelta: bigint
      ;[timestampDelta, p] = varlong(buf, p)
      const [offsetDelta] = varint(buf, p)
      if (!isControl) records.push({ partition, offset: baseOffset + BigInt(offsetDelta), timestamp: baseTimestamp + timestampDelta })
      pos = afterLength + length
    }
    at = end
  }
  return records
}

/** Every record of a topic in a broker's log dir (`log.dirs`), from its segment files. */
export function readTopicFromDisk (logDir: string, topic: string): SegmentRecord[] {
  const records: SegmentRecord[] = []
  if (!existsSync(logDir)) return records
  for (const entry of readdirSync(logDir)) {
    const dash = entry.lastIndexOf('-')
    if (entry.slice(0, dash) !== topic) continue
    const partition = Number(entry.slice(dash + 1))
    const files = readdirSync(join(logDir, entry)).filter(f => f.endsWith('.log')).sort()
    for (const f of files) records.push(...readSegment(join(logDir, entry, f), partition))
  }
  return records
}
