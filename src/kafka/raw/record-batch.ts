// Kafka's record batch (magic v2) read and rewritten without decoding its records, so fetched
// batches can be produced again as they are, still compressed. Layout (big-endian):
//
//   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8
//   17 crc uint32 (CRC-32C of byte 21 to the end) | 21 attributes int16 | 23 lastOffsetDelta int32
//   27 baseTimestamp int64 | 35 maxTimestamp int64 | 43 producerId int64 | 51 producerEpoch int16
//   53 baseSequence int32 | 57 recordCount int32 | 61 records (compressed as a whole when attributes say so)
//
// Only what the target needs changes: the producer id, epoch and base sequence (the idempotent
// producer state belongs to the target's writer, not to the source's), the transactional bit, and
// the CRC over them. A batch that must lose records (before the fetch offset, after a --once end,
// gaps left by compaction) is decoded and encoded again with decodeRecords/encodeRecordBatch.
import { createRequire } from 'node:module'
import { compressionsAlgorithmsByBitmask, crc32c } from '@platformatic/kafka'

/**
 * CRC-32C straight from @node-rs/crc32 (SSE4.2/ARM CRC instructions), the native code the client's
 * own crc32c calls after copying its input into a new Uint8Array: every batch we send is
 * checksummed once, so that copy was about a seventh of key partitioning's CPU. The client's
 * function stays the fallback where the native package is not installed.
 */
const fastCrc32c: (data: Uint8Array) => number = ((): (data: Uint8Array) => number => {
  try {
    const native = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: (data: Uint8Array) => number }).crc32c
    if (native(Buffer.from('123456789')) === 0xe3069283) return native
  } catch {}
  return data => crc32c(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
})()

/** Bytes before batchLength counts: baseOffset and batchLength itself. */
export const LOG_OVERHEAD = 12
/** Bytes of the batch header, up to the first record. */
export const RECORD_BATCH_OVERHEAD = 61

const BASE_OFFSET = 0
const BATCH_LENGTH = 8
const PARTITION_LEADER_EPOCH = 12
const MAGIC = 16
const CRC = 17
const ATTRIBUTES = 21
const LAST_OFFSET_DELTA = 23
const BASE_TIMESTAMP = 27
const MAX_TIMESTAMP = 35
const PRODUCER_ID = 43
const PRODUCER_EPOCH = 51
const BASE_SEQUENCE = 53
const RECORD_COUNT = 57

export const CompressionCodecs = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const
export type CompressionCodec = (typeof CompressionCodecs)[keyof typeof CompressionCodecs]

export const Attributes = {
  COMPRESSION_MASK: 0x07,
  /** Set: every record's timestamp is the batch's maxTimestamp, the time the broker appended it. */
  LOG_APPEND_TIME: 0x08,
  TRANSACTIONAL: 0x10,
  CONTROL: 0x20,
  /** Set by the log cleaner: baseTimestamp holds the delete horizon of tombstones. */
  DELETE_HORIZON: 0x40
} as const

/** Control record types (the second int16 of a control record's key). */
export const ControlTypes = { ABORT: 0, COMMIT: 1 } as const

export const NO_PRODUCER_ID = -1n
export const NO_PRODUCER_EPOCH = -1
export const NO_SEQUENCE = -1

export interface RecordBatch {
  /** The whole batch, baseOffset to its last byte: a view into the buffer it was read from. */
  bytes: Buffer
  baseOffset: bigint
  /** baseOffset + lastOffsetDelta: the offset of the batch's last record, even if compaction removed it. */
  lastOffset: bigint
  lastOffsetDelta: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  compression: number
  transactional: boolean
  control: boolean
  logAppendTime: boolean
  deleteHorizon: boolean
  baseTimestamp: bigint
  maxTimestamp: bigint
  producerId: bigint
  producerEpoch: number
  baseSequence: number
  recordCount: number
}

export interface RecordBatches {
  batches: RecordBatch[]
  /**
   * Bytes after the last whole batch: a batch the broker cut at the fetch size limit. Its start
   * is the next fetch offset's batch; it is fetched again, never used.
   */
  truncatedBytes: number
}

/**
 * Reads the header of the batch at `at`. Older message formats (magic 0 and 1) share the
 * baseOffset, length and magic positions, so `magic` tells them apart; their other fields are
 * not meaningful.
 */
export function readRecordBatch (buffer: Buffer, at = 0): RecordBatch {
  const length = buffer.readInt32BE(at + BATCH_LENGTH)
  const bytes = buffer.subarray(at, at + LOG_OVERHEAD + length)
  const magic = bytes.readInt8(MAGIC)
  const baseOffset = bytes.readBigInt64BE(BASE_OFFSET)
  if (magic < 2 || bytes.length < RECORD_BATCH_OVERHEAD) {
    return {
      bytes, baseOffset, lastOffset: baseOffset, lastOffsetDelta: 0, partitionLeaderEpoch: -1, magic, crc: 0, attributes: 0,
      compression: 0, transactional: false, control: false, logAppendTime: false, deleteHorizon: false, baseTimestamp: -1n,
      maxTimestamp: -1n, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH, baseSequence: NO_SEQUENCE, recordCount: 0
    }
  }
  const attributes = bytes.readInt16BE(ATTRIBUTES)
  const lastOffsetDelta = bytes.readInt32BE(LAST_OFFSET_DELTA)
  return {
    bytes,
    baseOffset,
    lastOffset: baseOffset + BigInt(lastOffsetDelta),
    lastOffsetDelta,
    partitionLeaderEpoch: bytes.readInt32BE(PARTITION_LEADER_EPOCH),
    magic,
    crc: bytes.readUInt32BE(CRC),
    attributes,
    compression: attributes & Attributes.COMPRESSION_MASK,
    transactional: (attributes & Attributes.TRANSACTIONAL) !== 0,
    control: (attributes & Attributes.CONTROL) !== 0,
    logAppendTime: (attributes & Attributes.LOG_APPEND_TIME) !== 0,
    deleteHorizon: (attributes & Attributes.DELETE_HORIZON) !== 0,
    baseTimestamp: bytes.readBigInt64BE(BASE_TIMESTAMP),
    maxTimestamp: bytes.readBigInt64BE(MAX_TIMESTAMP),
    producerId: bytes.readBigInt64BE(PRODUCER_ID),
    producerEpoch: bytes.readInt16BE(PRODUCER_EPOCH),
    baseSequence: bytes.readInt32BE(BASE_SEQUENCE),
    recordCount: bytes.readInt32BE(RECORD_COUNT)
  }
}

/** Every whole batch of a fetched records field; a cut last batch is left out and counted. */
export function readRecordBatches (records: Buffer): RecordBatches {
  const batches: RecordBatch[] = []
  let at = 0
  while (records.length - at >= LOG_OVERHEAD) {
    const length = records.readInt32BE(at + BATCH_LENGTH)
    if (length <= 0 || records.length - at - LOG_OVERHEAD < length) break
    batches.push(readRecordBatch(records, at))
    at += LOG_OVERHEAD + length
  }
  return { batches, truncatedBytes: records.length - at }
}

/** The CRC-32C Kafka keeps in a v2 batch: attributes to the end. */
export function batchCrc (bytes: Buffer): number {
  return fastCrc32c(bytes.subarray(ATTRIBUTES))
}

export function crcIsValid (bytes: Buffer): boolean {
  return bytes.readUInt32BE(CRC) === batchCrc(bytes)
}

export interface ProducerFields {
  producerId: bigint
  producerEpoch: number
  baseSequence: number
  /** Set the transactional bit: the batch belongs to the producer's open transaction (exactly-once mode). */
  transactional?: boolean
}

/**
 * Makes a fetched batch one our producer sends: our producer id, epoch and base sequence, the
 * transactional bit cleared unless `transactional` (the target sees plain idempotent writes; only committed data is
 * copied), baseOffset 0 and no leader epoch as a producer writes them, and the CRC recomputed.
 * Changes `bytes` in place.
 */
export function rewriteProducerFields (bytes: Buffer, fields: ProducerFields): void {
  bytes.writeBigInt64BE(0n, BASE_OFFSET)
  bytes.writeInt32BE(-1, PARTITION_LEADER_EPOCH)
  bytes.writeInt16BE((bytes.readInt16BE(ATTRIBUTES) & ~Attributes.TRANSACTIONAL) | (fields.transactional === true ? Attributes.TRANSACTIONAL : 0), ATTRIBUTES)
  bytes.writeBigInt64BE(fields.producerId, PRODUCER_ID)
  bytes.writeInt16BE(fields.producerEpoch, PRODUCER_EPOCH)
  bytes.writeInt32BE(fields.baseSequence, BASE_SEQUENCE)
  bytes.writeUInt32BE(batchCrc(bytes), CRC)
}

/** Kafka's sequence arithmetic: sequences wrap from 2^31 - 1 to 0. */
export function incrementSequence (sequence: number, increment: number): number {
  if (sequence > 0x7fffffff - increment) return increment - (0x7fffffff - sequence) - 1
  return sequence + increment
}

// ---- Varints (zigzag, as in the records of a v2 batch) ----

/** Where the last readVarIntFast/readVarLongNumber ended: saves an array per read on the hot path. */
let cursorEnd = 0

function readVarInt (buffer: Buffer, at: number): [number, number] {
  const value = readVarIntFast(buffer, at)
  return [value, cursorEnd]
}

function readVarLong (buffer: Buffer, at: number): [bigint, number] {
  let value = 0n
  let shift = 0n
  let i = at
  while (true) {
    const byte = buffer[i++]
    if (byte === undefined) throw new RangeError('varlong runs past the end of the record')
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) break
    shift += 7n
    if (shift > 63n) throw new RangeError('varlong is longer than 10 bytes')
  }
  return [(value >> 1n) ^ -(value & 1n), i]
}

function varIntSize (value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0
  let size = 1
  while (v >= 0x80) { v >>>= 7; size++ }
  return size
}

function writeVarInt (buffer: Buffer, at: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0
  while (v >= 0x80) {
    buffer[at++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  buffer[at++] = v
  return at
}

function zigzag64 (value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n))
}

function varLongSize (value: bigint): number {
  let v = zigzag64(value)
  let size = 1
  while (v >= 0x80n) { v >>= 7n; size++ }
  return size
}

function writeVarLong (buffer: Buffer, at: number, value: bigint): number {
  let v = zigzag64(value)
  while (v >= 0x80n) {
    buffer[at++] = Number(v & 0x7fn) | 0x80
    v >>= 7n
  }
  buffer[at++] = Number(v)
  return at
}

// ---- Records, for the batches that must be cut or repaired ----

export interface DecodedRecord {
  offset: bigint
  timestamp: bigint
  attributes: number
  key: Buffer | null
  value: Buffer | null
  /** In order, duplicates kept: Kafka allows a header name more than once. */
  headers: Array<[Buffer, Buffer | null]>
}

/** The records of a batch, with absolute offsets and timestamps as a Kafka consumer sees them. */
export function decodeRecords (batch: RecordBatch): DecodedRecord[] {
  if (batch.magic !== 2) throw new Error(`record batch at offset ${batch.baseOffset} has magic ${batch.magic}; only v2 is supported`)
  let data = batch.bytes.subarray(RECORD_BATCH_OVERHEAD)
  if (batch.compression !== 0) {
    const algorithm = compressionsAlgorithmsByBitmask[batch.compression as keyof typeof compressionsAlgorithmsByBitmask]
    if (algorithm === undefined) throw new Error(`record batch at offset ${batch.baseOffset} uses unknown compression ${batch.compression}`)
    data = algorithm.decompressSync(data)
  }
  const records: DecodedRecord[] = []
  let at = 0
  for (let i = 0; i < batch.recordCount; i++) {
    let length: number
    [length, at] = readVarInt(data, at)
    const end = at + length
    if (end > data.length) throw new RangeError(`record ${i} of the batch at offset ${batch.baseOffset} runs past the batch`)
    const attributes = data.readInt8(at)
    let p = at + 1
    let timestampDelta: bigint
    let offsetDelta: number
    let keyLength: number
    let valueLength: number
    let headerCount: number;
    [timestampDelta, p] = readVarLong(data, p);
    [offsetDelta, p] = readVarInt(data, p);
    [keyLength, p] = readVarInt(data, p)
    const key = keyLength < 0 ? null : data.subarray(p, p + keyLength)
    p += Math.max(0, keyLength);
    [valueLength, p] = readVarInt(data, p)
    const value = valueLength < 0 ? null : data.subarray(p, p + valueLength)
    p += Math.max(0, valueLength);
    [headerCount, p] = readVarInt(data, p)
    const headers: Array<[Buffer, Buffer | null]> = []
    for (let h = 0; h < headerCount; h++) {
      let nameLength: number
      let headerValueLength: number;
      [nameLength, p] = readVarInt(data, p)
      const name = data.subarray(p, p + Math.max(0, nameLength))
      p += Math.max(0, nameLength);
      [headerValueLength, p] = readVarInt(data, p)
      headers.push([name, headerValueLength < 0 ? null : data.subarray(p, p + headerValueLength)])
      p += Math.max(0, headerValueLength)
    }
    records.push({
      offset: batch.baseOffset + BigInt(offsetDelta),
      timestamp: batch.logAppendTime ? batch.maxTimestamp : batch.baseTimestamp + timestampDelta,
      attributes,
      key,
      value,
      headers
    })
    at = end
  }
  return records
}

export interface EncodeOptions extends Partial<ProducerFields> {
  /** Bitmask of CompressionCodecs; default none. */
  compression?: number
  baseOffset?: bigint
  partitionLeaderEpoch?: number
}

/**
 * Encodes records as one v2 batch with offset deltas 0..n-1 and CreateTime timestamps, compressed
 * with `compression`. Record attributes are kept; header order and duplicate names too.
 */
export function encodeRecordBatch (records: DecodedRecord[], options: EncodeOptions = {}): Buffer {
  if (records.length === 0) throw new Error('a record batch needs at least one record')
  const baseTimestamp = records[0].timestamp
  let maxTimestamp = baseTimestamp
  const sizes: number[] = []
  let total = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp
    let size = 1 + varLongSize(r.timestamp - baseTimestamp) + varIntSize(i)
    size += r.key === null ? varIntSize(-1) : varIntSize(r.key.length) + r.key.length
    size += r.value === null ? varIntSize(-1) : varIntSize(r.value.length) + r.value.length
    size += varIntSize(r.headers.length)
    for (const [name, value] of r.headers) {
      size += varIntSize(name.length) + name.length
      size += value === null ? varIntSize(-1) : varIntSize(value.length) + value.length
    }
    sizes.push(size)
    total += varIntSize(size) + size
  }
  let body: Buffer = Buffer.allocUnsafe(total)
  let at = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    at = writeVarInt(body, at, sizes[i])
    body.writeInt8(r.attributes, at++)
    at = writeVarLong(body, at, r.timestamp - baseTimestamp)
    at = writeVarInt(body, at, i)
    for (const field of [r.key, r.value]) {
      if (field === null) {
        at = writeVarInt(body, at, -1)
      } else {
        at = writeVarInt(body, at, field.length)
        at += field.copy(body, at)
      }
    }
    at = writeVarInt(body, at, r.headers.length)
    for (const [name, value] of r.headers) {
      at = writeVarInt(body, at, name.length)
      at += name.copy(body, at)
      if (value === null) {
        at = writeVarInt(body, at, -1)
      } else {
        at = writeVarInt(body, at, value.length)
        at += value.copy(body, at)
      }
    }
  }
  const compression = options.compression ?? 0
  if (compression !== 0) {
    const algorithm = compressionsAlgorithmsByBitmask[compression as keyof typeof compressionsAlgorithmsByBitmask]
    if (algorithm === undefined) throw new Error(`unknown compression ${compression}`)
    body = algorithm.compressSync(body)
  }
  const batch = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + body.length)
  batch.writeBigInt64BE(options.baseOffset ?? 0n, BASE_OFFSET)
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH)
  batch.writeInt32BE(options.partitionLeaderEpoch ?? -1, PARTITION_LEADER_EPOCH)
  batch.writeInt8(2, MAGIC)
  batch.writeInt16BE(compression & Attributes.COMPRESSION_MASK, ATTRIBUTES)
  batch.writeInt32BE(records.length - 1, LAST_OFFSET_DELTA)
  batch.writeBigInt64BE(baseTimestamp, BASE_TIMESTAMP)
  batch.writeBigInt64BE(maxTimestamp, MAX_TIMESTAMP)
  batch.writeBigInt64BE(options.producerId ?? NO_PRODUCER_ID, PRODUCER_ID)
  batch.writeInt16BE(options.producerEpoch ?? NO_PRODUCER_EPOCH, PRODUCER_EPOCH)
  batch.writeInt32BE(options.baseSequence ?? NO_SEQUENCE, BASE_SEQUENCE)
  batch.writeInt32BE(records.length, RECORD_COUNT)
  body.copy(batch, RECORD_BATCH_OVERHEAD)
  batch.writeUInt32BE(batchCrc(batch), CRC)
  return batch
}

/**
 * Several batches as one, records renumbered 0..n-1 and timestamps kept: for runs of small batches,
 * which would otherwise each need a Produce request of their own (Kafka takes one batch per
 * partition per request). Records are spliced as bytes (keys, values and headers copied, not
 * decoded); compressed batches are decompressed first, and the result is compressed with
 * `compression`.
 */
export function mergeRecordBatches (batches: RecordBatch[], compression: number): Buffer {
  const builder = new BatchBuilder()
  for (const batch of batches) {
    const cursor = new RecordCursor(batch)
    while (cursor.next()) builder.add(cursor.data, cursor.tailStart, cursor.end, cursor.timestamp, cursor.attributes)
  }
  if (builder.count === 0) throw new Error('a record batch needs at least one record')
  return builder.build(compression, batches[0].baseOffset)
}

// ---- Records moved between batches as bytes, without an object per record ----

/** The records of a batch as bytes, decompressed when the batch is compressed. */
export function recordsData (batch: RecordBatch): Buffer {
  const data = batch.bytes.subarray(RECORD_BATCH_OVERHEAD)
  if (batch.compression === 0) return data
  const algorithm = compressionsAlgorithmsByBitmask[batch.compression as keyof typeof compressionsAlgorithmsByBitmask]
  if (algorithm === undefined) throw new Error(`record batch at offset ${batch.baseOffset} uses unknown compression ${batch.compression}`)
  return algorithm.decompressSync(data)
}

/** A zigzag varlong as a number: exact for timestamps and their deltas (below 2^53). */
function readVarLongNumber (buffer: Buffer, at: number): number {
  let value = 0
  let scale = 1
  let i = at
  while (true) {
    const byte = buffer[i++]
    if (byte === undefined) throw new RangeError('varlong runs past the end of the record')
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) break
    scale *= 128
    if (i - at > 10) throw new RangeError('varlong is longer than 10 bytes')
  }
  cursorEnd = i
  return value % 2 === 1 ? -(value + 1) / 2 : value / 2
}

function readVarIntFast (buffer: Buffer, at: number): number {
  let value = 0
  let shift = 0
  let i = at
  while (true) {
    const byte = buffer[i++]
    if (byte === undefined) throw new RangeError('varint runs past the end of the record')
    value |= (byte & 0x7f) << shift
    if ((byte & 0x80) === 0) break
    shift += 7
    if (shift > 28) throw new RangeError('varint is longer than 5 bytes')
  }
  cursorEnd = i
  return (value >>> 1) ^ -(value & 1)
}

function varLongNumberSize (value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1
  let size = 1
  while (v >= 128) { v = Math.floor(v / 128); size++ }
  return size
}

function writeVarLongNumber (buffer: Buffer, at: number, value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1
  while (v >= 128) {
    buffer[at++] = (v % 128) | 0x80
    v = Math.floor(v / 128)
  }
  buffer[at++] = v
  return at
}

/**
 * Walks the records of one batch, one `next()` at a time, exposing where each record's parts are
 * in `data` (the batch's records, decompressed). Nothing is allocated per record.
 */
export class RecordCursor {
  readonly data: Buffer
  readonly batch: RecordBatch
  /** The record's offset minus the batch's base offset. */
  offsetDelta = 0
  /** Absolute, in ms (the batch's max timestamp for LogAppendTime batches). */
  timestamp = 0
  attributes = 0
  /** Where the key's bytes start; keyLength -1 for a null key. */
  keyStart = 0
  keyLength = -1
  /** Where the record's key length starts: key, value and headers run from here to `end`. */
  tailStart = 0
  end = 0
  #at = 0
  #left: number
  #baseTimestamp: number
  #appendTime: number | undefined

  constructor (batch: RecordBatch, data: Buffer = recordsData(batch)) {
    if (batch.magic !== 2) throw new Error(`record batch at offset ${batch.baseOffset} has magic ${batch.magic}; only v2 is supported`)
    this.batch = batch
    this.data = data
    this.#left = batch.recordCount
    this.#baseTimestamp = Number(batch.baseTimestamp)
    this.#appendTime = batch.logAppendTime ? Number(batch.maxTimestamp) : undefined
  }

  next (): boolean {
    if (this.#left <= 0) return false
    this.#left--
    const data = this.data
    const length = readVarIntFast(data, this.#at)
    const start = cursorEnd
    const end = start + length
    if (end > data.length) throw new RangeError(`a record of the batch at offset ${this.batch.baseOffset} runs past the batch`)
    this.attributes = data.readInt8(start)
    const timestampDelta = readVarLongNumber(data, start + 1)
    this.timestamp = this.#appendTime ?? this.#baseTimestamp + timestampDelta
    this.offsetDelta = readVarIntFast(data, cursorEnd)
    this.tailStart = cursorEnd
    this.keyLength = readVarIntFast(data, cursorEnd)
    this.keyStart = cursorEnd
    this.end = end
    this.#at = end
    return true
  }
}

/**
 * Collects records as byte ranges (from RecordCursor) and writes them as one v2 batch, offset
 * deltas renumbered 0..n-1, timestamps as CreateTime relative to the first record's. Keys, values
 * and headers are copied as they are.
 */
export class BatchBuilder {
  count = 0
  /** The batch's size uncompressed, as it stands. */
  bytes = RECORD_BATCH_OVERHEAD
  #sources: Buffer[] = []
  #starts: number[] = []
  #ends: number[] = []
  #timestamps: number[] = []
  #attributes: number[] = []

  add (data: Buffer, tailStart: number, end: number, timestamp: number, attributes: number): void {
    this.#sources.push(data)
    this.#starts.push(tailStart)
    this.#ends.push(end)
    this.#timestamps.push(timestamp)
    this.#attributes.push(attributes)
    // Upper bound of the record's header: length (5), attributes (1), timestamp delta (10), offset delta (5).
    this.bytes += 21 + end - tailStart
    this.count++
  }

  build (compression: number, baseOffset = 0n): Buffer {
    const n = this.count
    if (n === 0) throw new Error('a record batch needs at least one record')
    const timestamps = this.#timestamps
    const baseTimestamp = timestamps[0]
    let maxTimestamp = baseTimestamp
    const sizes = new Array<number>(n)
    let total = 0
    for (let i = 0; i < n; i++) {
      const ts = timestamps[i]
      if (ts > maxTimestamp) maxTimestamp = ts
      const size = 1 + varLongNumberSize(ts - baseTimestamp) + varIntSize(i) + this.#ends[i] - this.#starts[i]
      sizes[i] = size
      total += varIntSize(size) + size
    }
    const header = compression === 0 ? RECORD_BATCH_OVERHEAD : 0
    let body: Buffer = Buffer.allocUnsafe(header + total)
    let at = header
    for (let i = 0; i < n; i++) {
      at = writeVarInt(body, at, sizes[i])
      body[at++] = this.#attributes[i] & 0xff
      at = writeVarLongNumber(body, at, timestamps[i] - baseTimestamp)
      at = writeVarInt(body, at, i)
      at += this.#sources[i].copy(body, at, this.#starts[i], this.#ends[i])
    }
    let batch: Buffer
    if (compression === 0) {
      batch = body
    } else {
      const algorithm = compressionsAlgorithmsByBitmask[compression as keyof typeof compressionsAlgorithmsByBitmask]
      if (algorithm === undefined) throw new Error(`unknown compression ${compression}`)
      body = algorithm.compressSync(body)
      batch = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + body.length)
      body.copy(batch, RECORD_BATCH_OVERHEAD)
    }
    batch.writeBigInt64BE(baseOffset, BASE_OFFSET)
    batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH)
    batch.writeInt32BE(-1, PARTITION_LEADER_EPOCH)
    batch.writeInt8(2, MAGIC)
    batch.writeInt16BE(compression & Attributes.COMPRESSION_MASK, ATTRIBUTES)
    batch.writeInt32BE(n - 1, LAST_OFFSET_DELTA)
    batch.writeBigInt64BE(BigInt(baseTimestamp), BASE_TIMESTAMP)
    batch.writeBigInt64BE(BigInt(maxTimestamp), MAX_TIMESTAMP)
    batch.writeBigInt64BE(NO_PRODUCER_ID, PRODUCER_ID)
    batch.writeInt16BE(NO_PRODUCER_EPOCH, PRODUCER_EPOCH)
    batch.writeInt32BE(NO_SEQUENCE, BASE_SEQUENCE)
    batch.writeInt32BE(n, RECORD_COUNT)
    batch.writeUInt32BE(batchCrc(batch), CRC)
    return batch
  }
}

/**
 * The records of `batch` with offsets in [from, to), encoded again as one batch with the same
 * compression; null when none is in range. For the first batch of a fetch, which can start before
 * the fetch offset, and the last one before a --once end offset.
 */
export function sliceRecordBatch (batch: RecordBatch, from: bigint, to?: bigint): { bytes: Buffer, records: number } | null {
  const kept = decodeRecords(batch).filter(r => r.offset >= from && (to === undefined || r.offset < to))
  if (kept.length === 0) return null
  return { bytes: encodeRecordBatch(kept, { compression: batch.compression, baseOffset: kept[0].offset }), records: kept.length }
}

/** The type of a control batch's marker (ControlTypes), or -1 when it cannot be read. */
export function controlType (batch: RecordBatch): number {
  if (!batch.control || batch.recordCount < 1) return -1
  try {
    const [record] = decodeRecords(batch)
    return record.key !== null && record.key.length >= 4 ? record.key.readInt16BE(2) : -1
  } catch {
    return -1
  }
}
