// Taking over from REAL MirrorMaker 2 with the mm2 command's runner and MM2's own mm2.properties:
// DefaultReplicationPolicy, so both write the remote topic <alias>.<topic>. The runner (mm2-config's
// src/mm2/runner.ts, config.ts) is imported at run time: until it is merged this file skips; once it
// is, it checks that builtInFlowPlugins registers the take-over (src/mm2/sync-plugins.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLogger } from '../../src/log.ts'
import { createTestTopic, testClusters, topicRecordCount, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords } from '../helpers/records.ts'
import { copyPartWithJava, mm2Properties, startMm2 } from './java-mirrors.ts'

const TOTAL = 20_000

interface Runner { start: () => Promise<void>, stop: () => Promise<unknown> }
interface RunnerModules {
  mm2ConfigFromProperties: (input: Array<[string, string]>, file: string) => unknown
  Mm2Runner: new (config: unknown, options: { logger: unknown }) => Runner
}

async function runnerModules (): Promise<RunnerModules | undefined> {
  const config = '../../src/mm2/config.ts'
  const runner = '../../src/mm2/runner.ts'
  try {
    const [c, r] = await Promise.all([import(config), import(runner)])
    return { mm2ConfigFromProperties: c.mm2ConfigFromProperties, Mm2Runner: r.Mm2Runner }
  } catch (error) {
    // Only a runner that is not there yet skips; one that fails to load fails the test.
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw error
  }
}

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`kafka-mirror mm2 with MM2's own mm2.properties (DefaultReplicationPolicy) takes over from MirrorMaker 2 4.3.1 stopped with ${signal}: <alias>.<topic> gets every record, none lost${signal === 'SIGTERM' ? ', none duplicated' : ''}`, async t => {
    const modules = await runnerModules()
    if (modules === undefined) {
      t.skip('the mm2 runner (src/mm2/runner.ts) is not in this build yet')
      return
    }
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
    const config = modules.mm2ConfigFromProperties(Object.entries(props).map(([k, v]) => [k, String(v)]), 'mm2.properties')
    const runner = new modules.Mm2Runner(config, { logger: createLogger({ level: process.env.KAFKA_MIRROR_TEST_LOG ?? 'warn' }) })
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
