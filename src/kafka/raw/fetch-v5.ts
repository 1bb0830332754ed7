// Fetch v5 (Kafka 0.11+, still served by Kafka 4) with the records field left as bytes, for source
// brokers older than Kafka 2.1 (which serve neither Fetch v10 nor v12). v5 is the first version with both
// read_committed (v4) and the partition's log start offset (v5), all the copy loop reads; it has no
// leader epoch, rack or preferred read replica, which the copy loop does without.
// Brokers that have zstd (2.1+) are fetched from with v10 or v12: they send zstd batches only to v10+.
import { createAPI, Writer, type Reader } from '@platformatic/kafka'
import { FETCH_API_KEY, type IsolationLevel, type RawFetchPartition, type RawFetchResponse, type RawFetchTopicRequest } from './fetch-v12.ts'

export const FETCH_VERSION = 5

/*
  Fetch Request (Version: 5) => replica_id max_wait_ms min_bytes max_bytes isolation_level [topics]
    topics => topic [partitions]
      topic => STRING
      partitions => partition fetch_offset log_start_offset partition_max_bytes
*/
export function createRequest (maxWaitMs: number, minBytes: number, maxBytes: number, isolationLevel: IsolationLevel, topics: RawFetchTopicRequest[], _rackId = ''): Writer {
  return Writer.create()
    .appendInt32(-1) // replica_id: a consumer
    .appendInt32(maxWaitMs)
    .appendInt32(minBytes)
    .appendInt32(maxBytes)
    .appendInt8(isolationLevel)
    .appendArray(topics, (w, t) => {
      w.appendString(t.topic, false).appendArray(t.partitions, (w, p) => {
        w.appendInt32(p.partition)
          .appendInt64(p.fetchOffset)
          .appendInt64(-1n) // log_start_offset: only followers send it
          .appendInt32(p.partitionMaxBytes)
      }, false, false)
    }, false, false)
}

/*
  Fetch Response (Version: 5) => throttle_time_ms [responses]
    responses => topic [partitions]
      topic => STRING
      partitions => partition_index error_code high_watermark last_stable_offset log_start_offset [aborted_transactions] records
        aborted_transactions => producer_id first_offset
        records => RECORDS
  Answered in the shape of Fetch v12 (no top-level error, no session, no leader hints), so the copy
  loop reads one shape whatever the broker.
*/
export function parseResponse (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): RawFetchResponse {
  const throttleTimeMs = reader.readInt32()
  return { throttleTimeMs, errorCode: 0, sessionId: 0, responses: readTopicResponses(reader) }
}

/** The responses array of Fetch v4 to v11 (laid out alike), in the shape of Fetch v12's. */
export function readTopicResponses (reader: Reader): RawFetchResponse['responses'] {
  return reader.readArray(r => ({
    topic: r.readString(false),
    partitions: r.readArray(r => {
      const partition: RawFetchPartition = {
        partitionIndex: r.readInt32(),
        errorCode: r.readInt16(),
        highWatermark: r.readInt64(),
        lastStableOffset: r.readInt64(),
        logStartOffset: r.readInt64(),
        abortedTransactions: r.readNullableArray(r => ({ producerId: r.readInt64(), firstOffset: r.readInt64() }), false, false),
        preferredReadReplica: -1,
        records: null,
        currentLeader: { leaderId: -1, leaderEpoch: -1 }
      }
      const size = r.readInt32() // -1: null
      if (size > 0) {
        // A view where the response arrived in one piece, a copy where it spans socket reads.
        partition.records = r.buffer.slice(r.position, r.position + size)
        r.skip(size)
      }
      return partition
    }, false, false)
  }), false, false)
}

export const api = createAPI<[maxWaitMs: number, minBytes: number, maxBytes: number, isolationLevel: IsolationLevel, topics: RawFetchTopicRequest[], rackId?: string], RawFetchResponse>(
  FETCH_API_KEY, FETCH_VERSION, createRequest, parseResponse, false, false
)
