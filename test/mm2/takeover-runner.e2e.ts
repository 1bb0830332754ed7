// Taking over from REAL MirrorMaker 2 with the mm2 command's runner and MM2's own mm2.properties:
// DefaultReplicationPolicy, so both write the remote topic <alias>.<topic>, through the runner the
// command uses, with the plug-ins it registers (builtInFlowPlugins: the take-over, src/mm2/sync-plugins.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLogger } from '../../src/log.ts'
import { mm2ConfigFromProperties } from '../../src/mm2/config.ts'
import { Mm2Runner } from '../../src/mm2/runner.ts'
import { createTestTopic, testClusters, topicRecordCount, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords } from '../helpers/records.ts'
import { copyPartWithJava, mm2Properties, startMm2 } from './java-mirrors.ts'

const TOTAL = 20_000

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`kafka-mirror mm2 with MM2's own mm2.properties (DefaultReplicationPolicy) takes over from MirrorMaker 2 4.3.1 stopped with ${signal}: <alias>.<topic> gets every record, none lost${signal === 'SIGTERM' ? ', none duplicated' : ''}`, async t => {
    const { source, target } = await testClusters()
    const alias = uniqueName('src').replace(/-/g, '')
    const topic = await createTestTopic(source, { prefix: 'mm2runner', partitions: 3 })
    const remote = `${alias}.${topic}`
    const records = makeRecords(TOTAL, { keys: 30, valueBytes: 100, tombstones: true })
    const props = mm2Properties({ sourceAlias: alias, targetAlias: 'B', source, target, topics: topic, policy: 'default', extra: signal === 'SIGKILL' ? { 'B.offset.flush.interval.ms': 1000 } : {} })
    // Given MM2 copying the topic into <alias>.<topic> while it is written, stopped part-way
    const { javaCopied } = await copyPartWithJava(source, target, topic, remote, records, () => startMm2(props), signal)
    assert.ok(javaCopied > BigInt(TOTAL / 2) && javaCopied < BigInt(TOTAL), `MM2 copied ${javaCopied}`)
    // When kafka-mirror mm2 runs the same file
    const config = mm2ConfigFromProperties(Object.entries(props).map(([k, v]) => [k, String(v)]), 'mm2.properties')
    const runner = new Mm2Runner(config, { logger: createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG ?? 'warn' }) })
    await runner.start()
    try {
      await waitForRecords(target, remote, TOTAL, 120_000)
      await new Promise(resolve => setTimeout(resolve, 2000))
    } finally {
      await runner.stop()
    }
    // Then every record is in the remote topic: once after SIGTERM; after SIGKILL, MM2's unflushed copies twice
    const read = await kcatConsume(target, remote)
    const { duplicates } = assertMirrored(records, read, { allowDuplicates: signal === 'SIGKILL' })
    assert.ok(duplicates < Number(javaCopied), `${duplicates} duplicates: MM2's positions were taken`)
    assert.ok(await topicRecordCount(target, topic) <= 0n, 'nothing is written under the source topic\'s own name')
    process.stderr.write(`| MM2 4.3.1 → kafka-mirror mm2 | ${signal} | ${TOTAL} | ${javaCopied} | ${read.length} | 0 | ${duplicates} |\n`)
  })
}
