// Fetch v10 (Kafka 2.1+, still served by Kafka 4) with the records field left as bytes, for source
// brokers of Kafka 2.1 to 2.6. It is the first version a broker sends zstd batches to (older ones
// get UNSUPPORTED_COMPRESSION_TYPE), so v5 alone would leave zstd topics of those brokers uncopied.
// Fetch sessions are not used (session id 0, epoch -1: a full fetch each time), as with v12.
import { createAPI, Writer, type Reader } from '@platformatic/kafka'
import { readTopicResponses } from './fetch-v5.ts'
import { FETCH_API_KEY, type IsolationLevel, type RawFetchResponse, type RawFetchTopicRequest } from './fetch-v12.ts'

export const FETCH_VERSION = 10

/*
  Fetch Request (Version: 10) => replica_id max_wait_ms min_bytes max_bytes isolation_level session_id session_epoch [topics] [forgotten_topics_data]
    topics => topic [partitions]
      topic => STRING
      partitions => partition current_leader_epoch fetch_offset log_start_offset partition_max_bytes
    forgotten_topics_data => topic [partitions]
*/
export function createRequest (maxWaitMs: number, minBytes: number, maxBytes: number, isolationLevel: IsolationLevel, topics: RawFetchTopicRequest[], _rackId = ''): Writer {
  return Writer.create()
    .appendInt32(-1) // replica_id: a consumer
    .appendInt32(maxWaitMs)
    .appendInt32(minBytes)
    .appendInt32(maxBytes)
    .appendInt8(isolationLevel)
    .appendInt32(0) // session_id
    .appendInt32(-1) // session_epoch: no fetch session
    .appendArray(topics, (w, t) => {
      w.appendString(t.topic, false).appendArray(t.partitions, (w, p) => {
        w.appendInt32(p.partition)
          .appendInt32(p.currentLeaderEpoch ?? -1)
          .appendInt64(p.fetchOffset)
          .appendInt64(-1n) // log_start_offset: only followers send it
          .appendInt32(p.partitionMaxBytes)
      }, false, false)
    }, false, false)
    .appendArray([], () => {}, false, false) // forgotten_topics_data
}

/*
  Fetch Response (Version: 10) => throttle_time_ms error_code session_id [responses]
    responses => topic [partitions]
      topic => STRING
      partitions => partition_index error_code high_watermark last_stable_offset log_start_offset [aborted_transactions] records
        aborted_transactions => producer_id first_offset
        records => RECORDS
  The responses are laid out as v5's (read by fetch-v5.ts). Answered in the shape of Fetch v12.
  Partition errors are returned, not thrown.
*/
export function parseResponse (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): RawFetchResponse {
  const throttleTimeMs = reader.readInt32()
  const errorCode = reader.readInt16()
  const sessionId = reader.readInt32()
  return { throttleTimeMs, errorCode, sessionId, responses: readTopicResponses(reader) }
}

export const api = createAPI<[maxWaitMs: number, minBytes: number, maxBytes: number, isolationLevel: IsolationLevel, topics: RawFetchTopicRequest[], rackId?: string], RawFetchResponse>(
  FETCH_API_KEY, FETCH_VERSION, createRequest, parseResponse, false, false
)
