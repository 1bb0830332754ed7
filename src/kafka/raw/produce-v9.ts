// Produce v9 (Kafka 2.4+, the first flexible version, still served by Kafka 4) carrying record
// batches already encoded: the library's own produce request always builds batches from messages.
// Kafka takes exactly one record batch per partition in a request (v3 and later).
import { createAPI, Writer, type Reader } from '@platformatic/kafka'

export const PRODUCE_API_KEY = 0
export const PRODUCE_VERSION = 9

export interface RawProducePartition {
  partition: number
  /** One whole v2 record batch. */
  batch: Buffer
}

export interface RawProduceTopic {
  topic: string
  partitions: RawProducePartition[]
}

export interface RawProducePartitionResponse {
  index: number
  errorCode: number
  baseOffset: bigint
  logAppendTimeMs: bigint
  logStartOffset: bigint
  recordErrors: Array<{ batchIndex: number, message: string | null }>
  errorMessage: string | null
}

export interface RawProduceResponse {
  responses: Array<{ topic: string, partitions: RawProducePartitionResponse[] }>
  throttleTimeMs: number
}

/*
  Produce Request (Version: 9) => transactional_id acks timeout_ms [topic_data] TAG_BUFFER
    transactional_id => COMPACT_NULLABLE_STRING
    topic_data => name [partition_data] TAG_BUFFER
      partition_data => index records TAG_BUFFER
        records => COMPACT_RECORDS
*/
export function createRequest (acks: number, timeoutMs: number, topics: RawProduceTopic[], transactionalId: string | null = null): Writer {
  if (acks === 0) throw new Error('acks=0 gets no response; the raw produce needs one to know what was written')
  return Writer.create()
    .appendString(transactionalId)
    .appendInt16(acks)
    .appendInt32(timeoutMs)
    .appendArray(topics, (w, t) => {
      w.appendString(t.topic).appendArray(t.partitions, (w, p) => {
        w.appendInt32(p.partition).appendUnsignedVarInt(p.batch.length + 1).append(p.batch)
      })
    })
    .appendTaggedFields()
}

/*
  Produce Response (Version: 9) => [responses] throttle_time_ms TAG_BUFFER
    responses => name [partition_responses] TAG_BUFFER
      partition_responses => index error_code base_offset log_append_time_ms log_start_offset [record_errors] error_message TAG_BUFFER
        record_errors => batch_index batch_index_error_message TAG_BUFFER
  Partition errors are returned, not thrown: each partition is retried or failed on its own.
*/
export function parseResponse (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): RawProduceResponse {
  const responses = reader.readArray(r => ({
    topic: r.readString(),
    partitions: r.readArray(r => ({
      index: r.readInt32(),
      errorCode: r.readInt16(),
      baseOffset: r.readInt64(),
      logAppendTimeMs: r.readInt64(),
      logStartOffset: r.readInt64(),
      recordErrors: r.readArray(r => ({ batchIndex: r.readInt32(), message: r.readNullableString() })),
      errorMessage: r.readNullableString()
    }))
  }))
  const throttleTimeMs = reader.readInt32()
  reader.readTaggedFields()
  return { responses, throttleTimeMs }
}

export const api = createAPI<[acks: number, timeoutMs: number, topics: RawProduceTopic[], transactionalId?: string | null], RawProduceResponse>(
  PRODUCE_API_KEY, PRODUCE_VERSION, createRequest, parseResponse
)
