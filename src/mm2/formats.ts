// The records MirrorMaker 2 keeps in its internal topics, byte for byte as MM2 4.x writes them, so
// Kafka's own readers (RemoteClusterUtils.translateOffsets, MirrorClient, the console consumer's
// CheckpointFormatter / OffsetSyncFormatter / HeartbeatFormatter) read ours unchanged.
//
// MM2 writes them with Kafka's protocol Schema/Struct types (connect/mirror-client Checkpoint.java
// and Heartbeat.java, connect/mirror OffsetSync.java): fields in declaration order, no tags, no
// lengths around the struct; INT16/INT32/INT64 big-endian; STRING = INT16 byte length + UTF-8
// (not nullable, at most 32767 bytes). Checkpoint and Heartbeat values start with a version header
// (INT16, 0 today); OffsetSync values have none.
//
//   OffsetSync  key   topic:STRING partition:INT32            value upstreamOffset:INT64 offset:INT64
//   Checkpoint  key   group:STRING topic:STRING partition:INT32
//               value version:INT16 upstreamOffset:INT64 offset:INT64 metadata:STRING
//   Heartbeat   key   sourceClusterAlias:STRING targetClusterAlias:STRING
//               value version:INT16 timestamp:INT64
//
// A Checkpoint's topic is the downstream topic (as the target names it, e.g. `A.orders`); an
// OffsetSync's is the upstream one (as the source names it). `offset` is downstream in both.

export interface OffsetSync {
  topic: string
  partition: number
  upstreamOffset: bigint
  downstreamOffset: bigint
}

export interface Checkpoint {
  group: string
  topic: string
  partition: number
  upstreamOffset: bigint
  downstreamOffset: bigint
  metadata: string
}

export interface Heartbeat {
  sourceClusterAlias: string
  targetClusterAlias: string
  timestamp: bigint
}

/** The version header MM2 4.x writes before Checkpoint and Heartbeat values; the only one it reads. */
export const MM2_RECORD_VERSION = 0

/** A record that is not one of MM2's (MM2 skips it with a SchemaException). */
export class Mm2FormatError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'Mm2FormatError'
  }
}

class Writer {
  #parts: Buffer[] = []

  int16 (value: number): this {
    const b = Buffer.alloc(2)
    b.writeInt16BE(value)
    this.#parts.push(b)
    return this
  }

  int32 (value: number): this {
    const b = Buffer.alloc(4)
    b.writeInt32BE(value)
    this.#parts.push(b)
    return this
  }

  int64 (value: bigint): this {
    const b = Buffer.alloc(8)
    b.writeBigInt64BE(value)
    this.#parts.push(b)
    return this
  }

  string (value: string, field: string): this {
    const bytes = Buffer.from(value, 'utf8')
    // Kafka's Type.STRING: a longer string fails in Java with a SchemaException; refuse it here.
    if (bytes.length > 32767) throw new Mm2FormatError(`${field} is ${bytes.length} bytes in UTF-8; MirrorMaker 2's format holds at most 32767`)
    this.int16(bytes.length)
    this.#parts.push(bytes)
    return this
  }

  done (): Buffer {
    return Buffer.concat(this.#parts)
  }
}

class Reader {
  #buffer: Buffer
  #at = 0
  #what: string

  constructor (buffer: Buffer | null | undefined, what: string) {
    if (buffer === null || buffer === undefined) throw new Mm2FormatError(`${what} is null`)
    this.#buffer = buffer
    this.#what = what
  }

  #need (bytes: number, field: string): void {
    if (this.#at + bytes > this.#buffer.length) throw new Mm2FormatError(`${this.#what} ends inside ${field} (${this.#buffer.length} bytes)`)
  }

  int16 (field: string): number {
    this.#need(2, field)
    const v = this.#buffer.readInt16BE(this.#at)
    this.#at += 2
    return v
  }

  int32 (field: string): number {
    this.#need(4, field)
    const v = this.#buffer.readInt32BE(this.#at)
    this.#at += 4
    return v
  }

  int64 (field: string): bigint {
    this.#need(8, field)
    const v = this.#buffer.readBigInt64BE(this.#at)
    this.#at += 8
    return v
  }

  string (field: string): string {
    const length = this.int16(field)
    if (length < 0) throw new Mm2FormatError(`${this.#what}: ${field} is null, which MirrorMaker 2's STRING does not allow`)
    this.#need(length, field)
    const v = this.#buffer.toString('utf8', this.#at, this.#at + length)
    this.#at += length
    return v
  }

  version (): number {
    const version = this.int16('version')
    if (version !== MM2_RECORD_VERSION) throw new Mm2FormatError(`${this.#what} has version ${version}; MirrorMaker 2 4.x writes and reads version ${MM2_RECORD_VERSION}`)
    return version
  }
}

export function encodeOffsetSyncKey (sync: Pick<OffsetSync, 'topic' | 'partition'>): Buffer {
  return new Writer().string(sync.topic, 'topic').int32(sync.partition).done()
}

export function encodeOffsetSyncValue (sync: Pick<OffsetSync, 'upstreamOffset' | 'downstreamOffset'>): Buffer {
  return new Writer().int64(sync.upstreamOffset).int64(sync.downstreamOffset).done()
}

export function decodeOffsetSync (key: Buffer | null | undefined, value: Buffer | null | undefined): OffsetSync {
  const k = new Reader(key, 'offset sync key')
  const v = new Reader(value, 'offset sync value')
  return { topic: k.string('topic'), partition: k.int32('partition'), upstreamOffset: v.int64('upstreamOffset'), downstreamOffset: v.int64('offset') }
}

export function encodeCheckpointKey (checkpoint: Pick<Checkpoint, 'group' | 'topic' | 'partition'>): Buffer {
  return new Writer().string(checkpoint.group, 'group').string(checkpoint.topic, 'topic').int32(checkpoint.partition).done()
}

export function encodeCheckpointValue (checkpoint: Pick<Checkpoint, 'upstreamOffset' | 'downstreamOffset' | 'metadata'>): Buffer {
  return new Writer().int16(MM2_RECORD_VERSION).int64(checkpoint.upstreamOffset).int64(checkpoint.downstreamOffset).string(checkpoint.metadata, 'metadata').done()
}

export function decodeCheckpoint (key: Buffer | null | undefined, value: Buffer | null | undefined): Checkpoint {
  const k = new Reader(key, 'checkpoint key')
  const v = new Reader(value, 'checkpoint value')
  v.version()
  const upstreamOffset = v.int64('upstreamOffset')
  const downstreamOffset = v.int64('offset')
  const metadata = v.string('metadata')
  return { group: k.string('group'), topic: k.string('topic'), partition: k.int32('partition'), upstreamOffset, downstreamOffset, metadata }
}

export function encodeHeartbeatKey (heartbeat: Pick<Heartbeat, 'sourceClusterAlias' | 'targetClusterAlias'>): Buffer {
  return new Writer().string(heartbeat.sourceClusterAlias, 'sourceClusterAlias').string(heartbeat.targetClusterAlias, 'targetClusterAlias').done()
}

export function encodeHeartbeatValue (heartbeat: Pick<Heartbeat, 'timestamp'>): Buffer {
  return new Writer().int16(MM2_RECORD_VERSION).int64(heartbeat.timestamp).done()
}

export function decodeHeartbeat (key: Buffer | null | undefined, value: Buffer | null | undefined): Heartbeat {
  const k = new Reader(key, 'heartbeat key')
  const v = new Reader(value, 'heartbeat value')
  v.version()
  return { sourceClusterAlias: k.string('sourceClusterAlias'), targetClusterAlias: k.string('targetClusterAlias'), timestamp: v.int64('timestamp') }
}

// ---- kafka-mirror's own: the offset history (not MM2's; MM2 readers never look at it) ----
//
// Topic `kafka-mirror-offset-history.<target>.internal`, beside MM2's offset syncs (same cluster,
// compacted, one partition). One record per run of source offsets copied contiguously (see
// offset-history.ts), keyed by its first source offset so that compaction keeps every run; a run
// that grows is written again under the same key; a null value deletes a run (rewound, or its
// records gone from the source). Written with the same Struct rules as MM2's records:
//
//   key   topic:STRING partition:INT32 upstreamOffset:INT64
//   value version:INT16(0) upstreamEnd:INT64 offset:INT64 records:INT64

export interface OffsetRunRecord {
  topic: string
  partition: number
  upstreamOffset: bigint
  /** undefined: the run was deleted (a tombstone). */
  run?: { upstreamEnd: bigint, downstreamOffset: bigint, records: bigint }
}

export function encodeOffsetRunKey (record: Pick<OffsetRunRecord, 'topic' | 'partition' | 'upstreamOffset'>): Buffer {
  return new Writer().string(record.topic, 'topic').int32(record.partition).int64(record.upstreamOffset).done()
}

export function encodeOffsetRunValue (run: NonNullable<OffsetRunRecord['run']>): Buffer {
  return new Writer().int16(MM2_RECORD_VERSION).int64(run.upstreamEnd).int64(run.downstreamOffset).int64(run.records).done()
}

export function decodeOffsetRun (key: Buffer | null | undefined, value: Buffer | null | undefined): OffsetRunRecord {
  const k = new Reader(key, 'offset history key')
  const record: OffsetRunRecord = { topic: k.string('topic'), partition: k.int32('partition'), upstreamOffset: k.int64('upstreamOffset') }
  if (value === null || value === undefined || value.length === 0) return record
  const v = new Reader(value, 'offset history value')
  v.version()
  record.run = { upstreamEnd: v.int64('upstreamEnd'), downstreamOffset: v.int64('offset'), records: v.int64('records') }
  return record
}
