// Produce v7 (Kafka 2.1+, still served by Kafka 4) for target brokers of Kafka 2.1 to 2.7: the
// first version a broker takes zstd batches in (older ones answer UNSUPPORTED_COMPRESSION_TYPE), so
// zstd batches copied as they are reach those brokers too. The request is laid out as v3's.
import { createAPI, type Reader } from '@platformatic/kafka'
import { createRequest, readProduceResponse } from './produce-v3.ts'
import { PRODUCE_API_KEY, type RawProduceResponse, type RawProduceTopic } from './produce-v9.ts'

export const PRODUCE_VERSION = 7

/*
  Produce Request (Version: 7) => transactional_id acks timeout_ms [topic_data]: as v3.

  Produce Response (Version: 7) => [responses] throttle_time_ms
    responses => name [partition_responses]
      partition_responses => index error_code base_offset log_append_time_ms log_start_offset
  Read as v3's plus log_start_offset (produce-v3.ts). Answered in the shape of Produce v9.
  Partition errors are returned, not thrown.
*/
export function parseResponse (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): RawProduceResponse {
  return readProduceResponse(reader, true)
}

export const api = createAPI<[acks: number, timeoutMs: number, topics: RawProduceTopic[], transactionalId?: string | null], RawProduceResponse>(
  PRODUCE_API_KEY, PRODUCE_VERSION, createRequest, parseResponse, false, false
)
