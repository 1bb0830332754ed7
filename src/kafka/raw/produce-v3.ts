// Produce v3 (Kafka 0.11+, the first to carry record-batch v2, still served by Kafka 4) for target
// brokers older than Kafka 2.1 (which take neither Produce v7 nor v9). Its answer has no log start
// offset and no per-record error message; the partition's error code is all a refusal says.
import { createAPI, Writer, type Reader } from '@platformatic/kafka'
import { PRODUCE_API_KEY, type RawProducePartitionResponse, type RawProduceResponse, type RawProduceTopic } from './produce-v9.ts'

export const PRODUCE_VERSION = 3

/*
  Produce Request (Version: 3) => transactional_id acks timeout_ms [topic_data]
    transactional_id => NULLABLE_STRING
    topic_data => name [partition_data]
      partition_data => index records
        records => RECORDS
*/
export function createRequest (acks: number, timeoutMs: number, topics: RawProduceTopic[], transactionalId: string | null = null): Writer {
  if (acks === 0) throw new Error('acks=0 gets no response; the raw produce needs one to know what was written')
  return Writer.create()
    .appendString(transactionalId, false)
    .appendInt16(acks)
    .appendInt32(timeoutMs)
    .appendArray(topics, (w, t) => {
      w.appendString(t.topic, false).appendArray(t.partitions, (w, p) => {
        w.appendInt32(p.partition).appendInt32(p.batch.length).append(p.batch)
      }, false, false)
    }, false, false)
}

/*
  Produce Response (Version: 3) => [responses] throttle_time_ms
    responses => name [partition_responses]
      partition_responses => index error_code base_offset log_append_time_ms
  Answered in the shape of Produce v9. Partition errors are returned, not thrown.
*/
export function parseResponse (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): RawProduceResponse {
  return readProduceResponse(reader, false)
}

/** The answer of Produce v3 to v7 (v5+ add log_start_offset), in the shape of Produce v9's. */
export function readProduceResponse (reader: Reader, withLogStartOffset: boolean): RawProduceResponse {
  const responses = reader.readArray(r => ({
    topic: r.readString(false),
    partitions: r.readArray((r): RawProducePartitionResponse => ({
      index: r.readInt32(),
      errorCode: r.readInt16(),
      baseOffset: r.readInt64(),
      logAppendTimeMs: r.readInt64(),
      logStartOffset: withLogStartOffset ? r.readInt64() : -1n,
      recordErrors: [],
      errorMessage: null
    }), false, false)
  }), false, false)
  const throttleTimeMs = reader.readInt32()
  return { responses, throttleTimeMs }
}

export const api = createAPI<[acks: number, timeoutMs: number, topics: RawProduceTopic[], transactionalId?: string | null], RawProduceResponse>(
  PRODUCE_API_KEY, PRODUCE_VERSION, createRequest, parseResponse, false, false
)
