// An in-process fake Kafka broker for the raw producer and the code above it: it keeps Kafka's
// idempotence checks (per producer id: the next sequence, duplicates of recent batches) and
// injects the failures that are hard to cause on a real cluster: a leader move, a request that
// timed out after the append, a lost connection, producer state the broker forgot.
import { Reader, type ClusterMetadata } from '@platformatic/kafka'
import type { RawProducer } from '../../src/kafka/raw/raw-producer.ts'
import { decodeRecords, encodeRecordBatch, incrementSequence, readRecordBatch } from '../../src/kafka/raw/record-batch.ts'

export type Fault = 'network' | 'append-then-timeout' | number | undefined

interface PartitionLog {
  /** What was appended: the unit ids, from the first record's key. */
  ids: number[]
  /** The offset the next record gets. */
  next: bigint
  producers: Map<bigint, { epoch: number, lastSequence: number, recent: Array<{ first: number, last: number }> }>
}

/** One broker leading every partition; faults decided per request and partition. */
export class FakeBroker {
  logs = new Map<string, PartitionLog>()
  requests: Array<Array<{ partition: number, sequence: number, ids: number[] }>> = []
  nextProducerId = 1000n
  fault: (request: number, partition: number) => Fault = () => undefined
  inFlight = new Map<number, number>()
  maxInFlightSeen = 0
  /** Hand out connections on a later turn of the event loop, as a pool connecting does: a request waits between being built and written. */
  deferConnections = false

  log (topic: string, partition: number): PartitionLog {
    const key = `${topic}:${partition}`
    let log = this.logs.get(key)
    if (log === undefined) {
      log = { ids: [], next: 0n, producers: new Map() }
      this.logs.set(key, log)
    }
    return log
  }

  /**
   * What the broker answers a batch of a producer id it holds no state for on the partition (never
   * seen, or expired) whose sequence is not 0: Kafka 2.5+ (KIP-360) appends it whatever its
   * sequence ('accept', ProducerAppendInfo.checkSequence); Kafka 2.4 answered UNKNOWN_PRODUCER_ID.
   */
  unknownProducer: 'accept' | 'unknown-producer-id' = 'accept'

  /** Kafka's checks, simplified: in sequence after the last batch, or a duplicate of one of the last 5. */
  append (topic: string, partition: number, batch: Buffer): number {
    const b = readRecordBatch(batch)
    const log = this.log(topic, partition)
    const state = log.producers.get(b.producerId)
    const last = incrementSequence(b.baseSequence, b.lastOffsetDelta)
    if (state !== undefined && state.recent.some(r => r.first === b.baseSequence && r.last === last)) return 46
    const expected = state === undefined ? 0 : incrementSequence(state.lastSequence, 1)
    if (b.baseSequence !== expected && !(state === undefined && this.unknownProducer === 'accept')) return state === undefined ? 59 : 45
    const next = state ?? { epoch: b.producerEpoch, lastSequence: -1, recent: [] }
    next.lastSequence = last
    next.recent = [...next.recent, { first: b.baseSequence, last }].slice(-5)
    log.producers.set(b.producerId, next)
    return 0
  }

  connection (): unknown {
    let queue = Promise.resolve()
    return {
      send: (apiKey: number, _version: number, createPayload: () => { buffer: Buffer }, _parser: unknown, _a: boolean, _b: boolean, callback: (error: Error | null, response?: unknown) => void) => {
        if (apiKey === 18) {
          // ApiVersions, asked once per connection to choose the Produce version: a Kafka 4 broker's ranges.
          setImmediate(() => callback(null, { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 11 }, { apiKey: 22, minVersion: 0, maxVersion: 5 }], throttleTimeMs: 0 }))
          return
        }
        const payload = createPayload().buffer
        if (apiKey === 22) {
          setImmediate(() => callback(null, { throttleTimeMs: 0, errorCode: 0, producerId: this.nextProducerId++, producerEpoch: 0 }))
          return
        }
        const index = this.requests.length
        const reader = Reader.from(payload)
        reader.readNullableString()
        reader.readInt16()
        reader.readInt32()
        const topics = reader.readArray(r => ({ topic: r.readString(), partitions: r.readArray(r => ({ partition: r.readInt32(), batch: r.readBytes() })) }))
        const seen: Array<{ partition: number, sequence: number, ids: number[] }> = []
        for (const t of topics) for (const p of t.partitions) seen.push({ partition: p.partition, sequence: readRecordBatch(p.batch).baseSequence, ids: idsOf(p.batch) })
        this.requests.push(seen)
        for (const s of seen) {
          const n = (this.inFlight.get(s.partition) ?? 0) + 1
          this.inFlight.set(s.partition, n)
          this.maxInFlightSeen = Math.max(this.maxInFlightSeen, n)
        }
        // The broker serves one connection's requests in order.
        queue = queue.then(async () => {
          await new Promise(resolve => setTimeout(resolve, 1))
          for (const s of seen) this.inFlight.set(s.partition, this.inFlight.get(s.partition)! - 1)
          let network = false
          const responses = topics.map(t => ({
            topic: t.topic,
            partitions: t.partitions.map(p => {
              const fault = this.fault(index, p.partition)
              if (fault === 'network') network = true
              let code = typeof fault === 'number' ? fault : 0
              let baseOffset = -1n
              if (fault === undefined || fault === 'append-then-timeout' || fault === 'network') {
                const result = this.append(t.topic, p.partition, p.batch)
                if (result === 0) {
                  const log = this.log(t.topic, p.partition)
                  log.ids.push(...idsOf(p.batch))
                  baseOffset = log.next
                  log.next += BigInt(readRecordBatch(p.batch).recordCount)
                }
                code = fault === 'append-then-timeout' && result === 0 ? 7 : result
              }
              return { index: p.partition, errorCode: code, baseOffset, logAppendTimeMs: -1n, logStartOffset: 0n, recordErrors: [], errorMessage: null }
            })
          }))
          if (network) callback(new Error('Connection closed'))
          else callback(null, { responses, throttleTimeMs: 0 })
        })
      }
    }
  }
}

/**
 * What the broker logs of a batch: the unit ids it carries (several once the producer merged
 * batches), from its records' keys `u<id>` (unitBatch); other records are logged by timestamp.
 */
export function idsOf (batch: Buffer): number[] {
  const ids: number[] = []
  for (const r of decodeRecords(readRecordBatch(batch))) {
    const unit = r.key !== null ? /^u(\d+)$/.exec(r.key.toString()) : null
    const id = unit !== null ? Number(unit[1]) : Number(r.timestamp)
    if (ids.at(-1) !== id) ids.push(id)
  }
  return ids
}

/** A batch of `records` records whose max timestamp carries the unit id (what the fake broker logs). */
export function unitBatch (id: number, records = 3): Buffer {
  return encodeRecordBatch(Array.from({ length: records }, (_, i) => ({ offset: BigInt(i), timestamp: BigInt(id) - BigInt(records - 1 - i), attributes: 0, key: Buffer.from(`u${id}`), value: Buffer.from(`v${i}`), headers: [] })))
}

/** Points the producer's client at the fake broker: it leads every partition of topic "t". */
export function wireToFakeBroker (producer: RawProducer<unknown>, broker: FakeBroker, partitions: number, topics = ['t']): void {
  const metadata: ClusterMetadata = {
    id: 'fake', controllerId: 1, lastUpdate: Date.now(),
    brokers: new Map([[1, { host: '127.0.0.1', port: 1, rack: null }]]),
    topics: new Map(topics.map(t => [t, { id: 'x', partitionsCount: partitions, lastUpdate: Date.now(), partitions: Array.from({ length: partitions }, () => ({ leader: 1, leaderEpoch: 0, replicas: [1], isr: [1], offlineReplicas: [] })) }]))
  }
  const connection = broker.connection()
  const client = producer.client as unknown as Record<string | symbol, unknown>
  client.listApis = async () => [{ apiKey: 0, name: 'Produce', minVersion: 3, maxVersion: 11 }, { apiKey: 22, name: 'InitProducerId', minVersion: 0, maxVersion: 5 }]
  client.metadata = async () => metadata
  // The producer reaches brokers through the client's public connection pool: every broker is the fake.
  Object.defineProperty(client, 'connections', {
    value: {
      get: (_broker: unknown, callback?: (error: Error | null, connection: unknown) => void) => {
        if (callback === undefined) return Promise.resolve(connection)
        if (broker.deferConnections) setImmediate(() => { callback(null, connection) })
        else callback(null, connection)
      }
    }
  })
}
