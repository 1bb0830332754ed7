// Broker-compatibility runs shared by the reduced test (compat.test.ts, inside `npm test`) and the
// full matrix (matrix.ts, `npm run test:compat`): clusters of one Kafka line each, and one mirror
// run from a source to a target that counts every record on the target with kcat.
import { startCluster, startZooKeeperCluster, type KafkaCluster } from '../../harness/cluster.ts'
import { Producer } from '@platformatic/kafka'
import type { KafkaFlavour } from '../../harness/kafka-dist.ts'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { createLogger } from '../../src/log.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { createTestTopic } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, writeTutorialConfigs, type TestRecord } from '../helpers/records.ts'

export interface BrokerLine {
  /** As the results table names it: "2.4 (ZooKeeper)". */
  label: string
  flavour: KafkaFlavour
  mode: 'zookeeper' | 'kraft'
}

export const LINES: Record<string, BrokerLine> = {
  '0.11': { label: '0.11.0.3 (ZooKeeper)', flavour: 'kafka-0.11', mode: 'zookeeper' },
  1.1: { label: '1.1.1 (ZooKeeper)', flavour: 'kafka-1.1', mode: 'zookeeper' },
  2.1: { label: '2.1.1 (ZooKeeper)', flavour: 'kafka-2.1', mode: 'zookeeper' },
  2.4: { label: '2.4.1 (ZooKeeper)', flavour: 'kafka-2.4', mode: 'zookeeper' },
  2.8: { label: '2.8.2 (ZooKeeper)', flavour: 'kafka-2.8', mode: 'zookeeper' },
  3.9: { label: '3.9.1 (KRaft)', flavour: 'kafka-3.9', mode: 'kraft' },
  4.4: { label: '4.4.0 (KRaft)', flavour: 'kafka-4', mode: 'kraft' }
}

/** One broker of a line, with its own ZooKeeper where the line has one. */
export async function startLine (line: BrokerLine, javaHome?: string): Promise<KafkaCluster> {
  const options = { name: `compat-${line.flavour}`, kafka: line.flavour, brokers: 1, heapMb: 320, javaHome }
  return line.mode === 'kraft' ? await startCluster(options) : await startZooKeeperCluster(options)
}

export interface CompatOutcome {
  ok: boolean
  /** Records on the target, counted with kcat (-1 when the run failed before). */
  records: number
  ms: number
  /** Why the run failed or was refused. */
  error?: string
}

const logger = process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined

export type Compression = 'none' | 'lz4' | 'zstd'

async function produce (bootstrap: string, topic: string, records: TestRecord[], compression: Compression): Promise<void> {
  const producer = new Producer({ clientId: 'compat-producer', bootstrapBrokers: bootstrap.split(','), idempotent: true, compression })
  try {
    for (let i = 0; i < records.length; i += 250) {
      await producer.send({
        acks: -1,
        messages: records.slice(i, i + 250).map(r => ({ topic, key: r.key ?? undefined, value: r.value ?? undefined, headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'latin1')])), timestamp: r.timestamp }))
      })
    }
  } finally {
    await producer.close()
  }
}

/**
 * Given a new topic of 3 partitions on `source` holding `count` keyed records with headers, written
 * in `compression` batches, when kafka-mirror copies it with --once to `target` (creating the topic
 * there; compression.type the same, so `source` partitioning passes the batches on as they are and
 * `key` writes new ones in it), then the target holds every record once, byte-equal, in per-key
 * order (assertMirrored). Failures are returned, not thrown.
 */
export async function mirrorOnce (source: string, target: string, partitioning: 'key' | 'source', options: { count?: number, compression?: Compression } = {}): Promise<CompatOutcome> {
  const started = Date.now()
  let records = -1
  try {
    const topic = await createTestTopic(source, { prefix: `compat-${partitioning}`, partitions: 3 })
    const written = makeRecords(options.count ?? 2000, { keys: 37, tombstones: true })
    const compression = options.compression ?? 'lz4'
    await produce(source, topic, written, compression)
    // A target that cannot take the batches (zstd before Kafka 2.1) fails in 10 s, not the default 2 min.
    const files = writeTutorialConfigs(source, target, { producer: { 'compression.type': compression, 'delivery.timeout.ms': '10000', 'request.timeout.ms': '5000' } })
    const mirror = new Mirror({
      ...loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic],
        ['partitioning', partitioning], ['once', 'true'], ['status.interval.ms', '0']]).settings,
      logger
    })
    try {
      await mirror.start()
      await mirror.finished
    } finally {
      await mirror.stop().catch(() => {})
    }
    const read = await kcatConsume(target, topic)
    records = read.length
    assertMirrored(written, read)
    return { ok: true, records, ms: Date.now() - started }
  } catch (error) {
    return { ok: false, records, ms: Date.now() - started, error: (error as Error).message.split('\n')[0] }
  }
}
