// Fetch v12 (Kafka 2.7+, still served by Kafka 4) with the records field left as bytes: the
// library's own fetch parser always decodes every record, which the copy loop exists to avoid.
// v12 is the last version that names topics (v13+ use topic ids), which keeps the request free of a
// topic-id lookup; fetch sessions are not used (session id 0, epoch -1: a full fetch each time).
import { createAPI, Writer, type Reader } from '@platformatic/kafka'

export const FETCH_API_KEY = 1
export const FETCH_VERSION = 12

/** READ_UNCOMMITTED (0) or READ_COMMITTED (1). */
export type IsolationLevel = 0 | 1

export interface RawFetchPartitionRequest {
  partition: number
  fetchOffset: bigint
  partitionMaxBytes: number
  /** -1: no leader epoch check. */
  currentLeaderEpoch?: number
}

export interface RawFetchTopicRequest {
  topic: string
  partitions: RawFetchPartitionRequest[]
}

export interface AbortedTransaction {
  producerId: bigint
  firstOffset: bigint
}

export interface RawFetchPartition {
  partitionIndex: number
  errorCode: number
  highWatermark: bigint
  lastStableOffset: bigint
  logStartOffset: bigint
  /** Transactions aborted in the returned range (read_committed only); null when none. */
  abortedTransactions: AbortedTransaction[] | null
  preferredReadReplica: number
  /** The record batches as the broker sent them; the last one may be cut short. */
  records: Buffer | null
  currentLeader: { leaderId: number, leaderEpoch: number }
}

export interface RawFetchTopic {
  topic: string
  partitions: RawFetchPartition[]
}

export interface RawFetchResponse {
  throttleTimeMs: number
  errorCode: number
  sessionId: number
  responses: RawFetchTopic[]
}

/*
  Fetch Request (Version: 12) => replica_id max_wait_ms min_bytes max_bytes isolation_level session_id session_epoch [topics] [forgotten_topics_data] rack_id TAG_BUFFER
    topics => topic [partitions] TAG_BUFFER
      topic => COMPACT_STRING
      partitions => partition current_leader_epoch fetch_offset last_fetched_epoch log_start_offset partition_max_bytes TAG_BUFFER
    forgotten_topics_data => topic [partitions] TAG_BUFFER
    rack_id => COMPACT_STRING
*/
export function createRequest (maxWaitMs: number, minBytes: number, maxBytes: number, isolationLevel: IsolationLevel, topics: RawFetchTopicRequest[], rackId = ''): Writer {
  return Writer.create()
    .appendInt32(-1) // replica_id: a consumer
    .appendInt32(maxWaitMs)
    .appendInt32(minBytes)
    .appendInt32(maxBytes)
    .appendInt8(isolationLevel)
    .appendInt32(0) // session_id
    .appendInt32(-1) // session_epoch: no fetch session
    .appendArray(topics, (w, t) => {
      w.appendString(t.topic).appendArray(t.partitions, (w, p) => {
        w.appendInt32(p.partition)
          .appendInt32(p.currentLeaderEpoch ?? -1)
          .appendInt64(p.fetchOffset)
          .appendInt32(-1) // last_fetched_epoch
          .appendInt64(-1n) // log_start_offset: only followers send it
          .appendInt32(p.partitionMaxBytes)
      })
    })
    .appendArray([], () => {}) // forgotten_topics_data
    .appendString(rackId)
    .appendTaggedFields()
}

/** Skips a tagged-field section, handing the fields in `handlers` their payload. */
function readTaggedFields (reader: Reader, handlers: Record<number, (reader: Reader) => void> = {}): void {
  const count = reader.readUnsignedVarInt()
  for (let i = 0; i < count; i++) {
    const tag = reader.readUnsignedVarInt()
    const size = reader.readUnsignedVarInt()
    const end = reader.position + size
    handlers[tag]?.(reader)
    reader.position = end
  }
}

/*
  Fetch Response (Version: 12) => throttle_time_ms error_code session_id [responses] TAG_BUFFER
    responses => topic [partitions] TAG_BUFFER
      topic => COMPACT_STRING
      partitions => partition_index error_code high_watermark last_stable_offset log_start_offset [aborted_transactions] preferred_read_replica records TAG_BUFFER
        aborted_transactions => producer_id first_offset TAG_BUFFER
        records => COMPACT_RECORDS
        TAG 0 diverging_epoch, TAG 1 current_leader (leader_id leader_epoch), TAG 2 snapshot_id
  Partition errors are returned, not thrown: the caller handles each partition on its own.
*/
export function parseResponse (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): RawFetchResponse {
  const throttleTimeMs = reader.readInt32()
  const errorCode = reader.readInt16()
  const sessionId = reader.readInt32()
  const responses = reader.readArray(r => ({
    topic: r.readString(),
    partitions: r.readArray(r => {
      const partition: RawFetchPartition = {
        partitionIndex: r.readInt32(),
        errorCode: r.readInt16(),
        highWatermark: r.readInt64(),
        lastStableOffset: r.readInt64(),
        logStartOffset: r.readInt64(),
        abortedTransactions: r.readNullableArray(r => ({ producerId: r.readInt64(), firstOffset: r.readInt64() })),
        preferredReadReplica: r.readInt32(),
        records: null,
        currentLeader: { leaderId: -1, leaderEpoch: -1 }
      }
      const size = r.readUnsignedVarInt() - 1
      if (size > 0) {
        // A view where the response arrived in one piece, a copy where it spans socket reads.
        partition.records = r.buffer.slice(r.position, r.position + size)
        r.skip(size)
      }
      readTaggedFields(r, { 1: r => { partition.currentLeader = { leaderId: r.readInt32(), leaderEpoch: r.readInt32() } } })
      return partition
    }, true, false)
  }))
  readTaggedFields(reader)
  return { throttleTimeMs, errorCode, sessionId, responses }
}

export const api = createAPI<[maxWaitMs: number, minBytes: number, maxBytes: number, isolationLevel: IsolationLevel, topics: RawFetchTopicRequest[], rackId?: string], RawFetchResponse>(
  FETCH_API_KEY, FETCH_VERSION, createRequest, parseResponse
)
