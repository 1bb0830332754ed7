// Produce v7 (Kafka 2.1+, still served by Kafka 4) for target brokers of Kafka 2.1 to 2.7: the
// first version a broker takes zstd batches in (older ones answer UNSUPPORTED_COMPRESSION_TYPE), so
// zstd batches copied as they are reach those brokers too. The request is laid out as v3's.
import { createAPI, type Reader } from '@platformatic/kafka'
import { createRequest } from './produce-v3.ts'
import { PRODUCE_API_KEY, type RawProducePartitionResponse, type RawProduceResponse, type RawProduceTopic } from './produce-v9.ts'

export const PRODUCE_VERSION = 7

/*
  Produce Request (Version: 7) => transactional_id acks timeout_ms [topic_data]: as v3.

  Produce Response (Version: 7) => [responses] throttle_time_ms
    responses => name [partition_responses]
      partition_responses => index error_code base_offset log_append_time_ms log_start_offset
  Answered in the shape of Produce v9. Partition errors are returned, not thrown.
*/
export function parseResponse (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): RawProduceResponse {
  const responses = reader.readArray(r => ({
    topic: r.readString(false),
    partitions: r.readArray((r): RawProducePartitionResponse => ({
      index: r.readInt32(),
      errorCode: r.readInt16(),
      baseOffset: r.readInt64(),
      logAppendTimeMs: r.readInt64(),
      logStartOffset: r.readInt64(),
      recordErrors: [],
      errorMessage: null
    }), false, false)
  }), false, false)
  const throttleTimeMs = reader.readInt32()
  return { responses, throttleTimeMs }
}

export const api = createAPI<[acks: number, timeoutMs: number, topics: RawProduceTopic[]], RawProduceResponse>(
  PRODUCE_API_KEY, PRODUCE_VERSION, createRequest, parseResponse, false, false
)
