// Send-time merging against a target topic whose max.message.bytes is below the merged batch size
// (256 KiB): merged batches the target refuses as too large are split back into their units, and
// records still arrive once each, in per-key order.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { createLogger } from '../../src/log.ts'
import { createTestTopic, testClusters } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'

for (const partitioning of ['key', 'source'] as const) {
  test(`--partitioning ${partitioning}: a backlog of small keyed records merged past the target topic's max.message.bytes (65536) arrives once each, in per-key order`, async () => {
    const { source, target } = await testClusters()
    // Given a backlog of small keyed records in a source topic of 4 partitions, and its target topic
    // made with max.message.bytes 65536
    const topic = await createTestTopic(source, { prefix: 'merge-order', partitions: 4 })
    await createTestTopic(target, { name: topic, partitions: 4, replicas: 2, configs: { 'max.message.bytes': '65536' } })
    const records = makeRecords(40_000, { keys: 200, valueBytes: 60 })
    await produceRecords(source, topic, records)
    // When the mirror copies it, fetching at most 32 KiB a partition, so that every batch it plans
    // fits the target topic and only batches merged when sent (up to 256 KiB) can be refused
    const files = writeTutorialConfigs(source, target, { consumer: { 'max.partition.fetch.bytes': '32768', 'fetch.max.bytes': '49152' } })
    const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', topic], ['partitioning', partitioning], ['once', 'true'], ['status.interval.ms', '0']])
    const mirror = new Mirror({ ...settings, logger: process.env.KAFKA_MIRROR_TEST_LOG !== undefined ? createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG }) : undefined })
    await mirror.start()
    const summary = await mirror.finished
    // Then the target refused merged batches as too large, their units went again one by one,
    // and the target holds each record once, in per-key order, byte-equal
    const refused = mirror.stats.errors.get('send MESSAGE_TOO_LARGE') ?? 0
    process.stderr.write(`--partitioning ${partitioning}: ${refused} merged batches refused as too large; send errors ${JSON.stringify(Object.fromEntries(mirror.stats.errors))}\n`)
    assert.ok(refused > 0, 'no merged batch was refused: the test did not reach the split')
    assert.equal(summary.records, records.length)
    assert.equal(summary.failedRecords, 0)
    const read = await kcatConsume(target, topic)
    assert.equal(read.length, records.length)
    assertMirrored(records, read)
  })
}
