// The Mirror with --partitioning source: the same promises as with key partitioning (every record
// once, bytes and timestamps kept, stop and restart, shared groups), with partition numbers and,
// on a fresh target, offsets kept.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Producer } from '@platformatic/kafka'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { createLogger } from '../../src/log.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { createTopicPair, testClusters, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, writeTutorialConfigs, type TestRecord } from '../helpers/records.ts'
import { assertGroupShared } from '../helpers/mirrors.ts'

const logger = process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined

async function produce (bootstrap: string, topic: string, records: TestRecord[], compression: 'lz4' | 'zstd' | 'none'): Promise<void> {
  const producer = new Producer({ clientId: 'test-producer', bootstrapBrokers: bootstrap.split(','), idempotent: true, compression })
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

function flagsFor (files: { consumer: string, producer: string }, topic: string, extra: Array<[string, string]> = []): Array<[string, string]> {
  return [['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['partitioning', 'source'], ['fast.path', 'auto'], ['status.interval.ms', '0'], ['offset.commit.interval.ms', '1000'], ...extra]
}

/**
 * Given 4,000 records written to the source in lz4 batches, when a --once mirror with --partitioning
 * source copies them with the producer's `compression.type` and the extra flags, then every record
 * lands once, bytes and headers kept, at its source partition and offset.
 */
async function copyOnceKeepingOffsets (prefix: string, compression: string, extra: Array<[string, string]>): Promise<void> {
  const { source, target } = await testClusters()
  const topic = await createTopicPair(source, target, { prefix, partitions: 4, replicas: 2 })
  const records = makeRecords(4000, { keys: 40, valueBytes: 200, tombstones: true })
  await produce(source, topic, records, 'lz4')
  const files = writeTutorialConfigs(source, target, { producer: { 'compression.type': compression } })
  const mirror = new Mirror({ ...loadMirrorConfig(flagsFor(files, topic, [['once', 'true'], ['num.streams', '2'], ...extra])).settings, logger })
  await mirror.start()
  const summary = await mirror.finished
  assert.equal(summary.records, records.length)
  const read = await kcatConsume(target, topic)
  assertMirrored(records, read)
  const sourceRead = await kcatConsume(source, topic)
  assert.deepEqual(read.map(r => `${r.partition}/${r.offset}/${r.key?.toString()}`).sort(), sourceRead.map(r => `${r.partition}/${r.offset}/${r.key?.toString()}`).sort())
}

test('--partitioning source with --once copies every record once into the same partitions, lz4 batches still lz4', async () => {
  await copyOnceKeepingOffsets('fastpath', 'lz4', [])
})

test('given lz4 source batches, when --partitioning source --fast.path off copies them into an uncompressed target, then every record lands once at its partition and offset, bytes and headers kept', async () => {
  await copyOnceKeepingOffsets('fastpath-off', 'none', [['fast.path', 'off']])
})

test('with --partitioning source a stop and a restart with the same group copy nothing twice and lose nothing', async () => {
  const { source, target } = await testClusters()
  const topic = await createTopicPair(source, target, { prefix: 'fastpath', partitions: 3, replicas: 2 })
  const files = writeTutorialConfigs(source, target, { producer: { 'compression.type': 'zstd' } })
  const all = makeRecords(3000, { keys: 30 })
  await produce(source, topic, all.slice(0, 1500), 'zstd')
  const one = new Mirror({ ...loadMirrorConfig(flagsFor(files, topic)).settings, logger })
  await one.start()
  await waitForRecords(target, topic, 1500)
  await one.stop()
  await produce(source, topic, all.slice(1500), 'zstd')
  const two = new Mirror({ ...loadMirrorConfig(flagsFor(files, topic, [['once', 'true']])).settings, logger })
  await two.start()
  const summary = await two.finished
  assert.equal(summary.records, 1500)
  assertMirrored(all, await kcatConsume(target, topic))
})

test('two mirror processes with --partitioning source share the partitions and copy each record once', async () => {
  const { source, target } = await testClusters()
  const topic = await createTopicPair(source, target, { prefix: 'fastpath', partitions: 6, replicas: 2 })
  const files = writeTutorialConfigs(source, target)
  const one = new Mirror({ ...loadMirrorConfig(flagsFor(files, topic)).settings, logger })
  const two = new Mirror({ ...loadMirrorConfig(flagsFor(files, topic)).settings, logger })
  await assertGroupShared(one, two, target, topic, async records => { await produce(source, topic, records, 'none') })
})
