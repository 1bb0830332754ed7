// A target topic whose max.message.bytes (64 KiB) is below the batches the mirror makes and merges
// (up to 256 KiB): the mirror reads the limit and keeps every batch under it, so the target refuses
// none, and records arrive once each, in per-key order. (A merged batch refused anyway is split
// back into its units: test/kafka/raw/raw-producer.test.ts.)
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { createLogger } from '../../src/log.ts'
import { createTestTopic, testClusters } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'

for (const partitioning of ['key', 'source'] as const) {
  test(`--partitioning ${partitioning}: a backlog of small keyed records into a target topic with max.message.bytes 65536 arrives once each, in per-key order, no batch refused`, async () => {
    const { source, target } = await testClusters()
    // Given a backlog of small keyed records in a source topic of 4 partitions, and its target topic
    // made with max.message.bytes 65536 (key partitioning: three target partitions, so that the
    // records of the 4 source partitions of a fetch answer are split and routed into three batches)
    const topic = await createTestTopic(source, { prefix: 'merge-order', partitions: 4 })
    await createTestTopic(target, { name: topic, partitions: partitioning === 'key' ? 3 : 4, replicas: 2, configs: { 'max.message.bytes': '65536' } })
    const records = makeRecords(40_000, { keys: 200, valueBytes: 60 })
    await produceRecords(source, topic, records)
    // When the mirror copies it, fetching at most 32 KiB (source) or 128 KiB (key) a partition and
    // 1 MiB an answer: source batches fit the target topic as they are, but a key batch routed from
    // one answer (two source partitions a leader: about 85 KiB) or batches merged when sent (up to
    // 256 KiB) would not
    const partitionBytes = partitioning === 'key' ? '131072' : '32768'
    const files = writeTutorialConfigs(source, target, { consumer: { 'max.partition.fetch.bytes': partitionBytes, 'fetch.max.bytes': '1048576' } })
    const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['partitioning', partitioning], ['once', 'true'], ['status.interval.ms', '0']])
    const mirror = new Mirror({ ...settings, logger: process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined })
    await mirror.start()
    const summary = await mirror.finished
    // Then the target refused no batch as too large, and holds each record once, in per-key
    // order, byte-equal
    assert.deepEqual(Object.fromEntries(mirror.stats.errors), {}, 'send or fetch errors')
    if (partitioning === 'key') assert.ok(mirror.counts.reencoded > 0, 'no record was routed into a batch of the mirror\'s making: the test did not reach the limit')
    assert.equal(summary.records, records.length)
    assert.equal(summary.failedRecords, 0)
    const read = await kcatConsume(target, topic)
    assert.equal(read.length, records.length)
    assertMirrored(records, read)
  })
}

for (const partitioning of ['key', 'source'] as const) {
  test(`--partitioning ${partitioning}: source batches of about 500 KiB into a target topic with max.message.bytes 65536 are cut to fit and arrive once each, in per-key order`, async () => {
    const { source, target } = await testClusters()
    // Given source batches of 500 records of 1 KiB (about 500 KiB each, as the producer sends them),
    // and a target topic that takes batches of at most 64 KiB
    const topic = await createTestTopic(source, { prefix: 'big-batch', partitions: 2 })
    await createTestTopic(target, { name: topic, partitions: 2, replicas: 2, configs: { 'max.message.bytes': '65536' } })
    const records = makeRecords(3000, { keys: 50, valueBytes: 1000 })
    await produceRecords(source, topic, records)
    // When the mirror copies them (the default fetch sizes take a whole source batch)
    const files = writeTutorialConfigs(source, target)
    const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['partitioning', partitioning], ['once', 'true'], ['status.interval.ms', '0']])
    const mirror = new Mirror({ ...settings, logger: process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined })
    await mirror.start()
    const summary = await mirror.finished
    // Then no batch was refused, and the target holds each record once, in per-key order, byte-equal
    assert.deepEqual(Object.fromEntries(mirror.stats.errors), {}, 'send or fetch errors')
    assert.ok(mirror.counts.reencoded > 0, 'every batch went as it was: the test did not reach the limit')
    assert.equal(summary.records, records.length)
    assert.equal(summary.failedRecords, 0)
    const read = await kcatConsume(target, topic)
    assert.equal(read.length, records.length)
    assertMirrored(records, read)
  })
}
