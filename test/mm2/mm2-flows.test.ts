// MirrorMaker 2's flows against real brokers: Kafka's own sample mm2.properties (on two
// single-node clusters of its own: the file copies every topic, and the shared clusters hold other
// tests' topics), and active/active A<->B with each replication policy (A is the shared source
// cluster, B the shared target cluster). MM2 keeps partition numbers, so every flow runs with source partitioning (the
// mm2 command has no --partitioning); records are compared partition by partition, in order.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { mm2ConfigFromProperties } from '../../src/mm2/config.ts'
import { Mm2Runner, type FlowPluginRegistration } from '../../src/mm2/runner.ts'
import { PROVENANCE_HEADER } from '../../src/mm2/provenance.ts'
import { freePort, startCluster } from '../../harness/cluster.ts'
import { startCli, type CliRun } from '../helpers/cli.ts'
import { createTestTopic, createTopicPair, testClusters, topicRecordCount, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume, type KcatRecord } from '../helpers/kcat.ts'
import { makeRecords, produceRecords } from '../helpers/records.ts'

const fixture = new URL('./fixtures/connect-mirror-maker.properties', import.meta.url)

async function topicsOf (bootstrap: string): Promise<Set<string>> {
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: bootstrap.split(',') })
  try {
    return new Set(await admin.listTopics({ includeInternals: false }))
  } finally {
    await admin.close()
  }
}

/** Deletes what a test made: topics that were not there before, and the flows' groups. */
async function cleanUp (bootstrap: string, before: Set<string>, groups: string[]): Promise<void> {
  const admin = new Admin({ clientId: 'test-helper', bootstrapBrokers: bootstrap.split(',') })
  try {
    const made = (await admin.listTopics({ includeInternals: false })).filter(t => !before.has(t))
    if (made.length > 0) await admin.deleteTopics({ topics: made }).catch(() => {})
    await admin.deleteGroups({ groups }).catch(() => {})
  } finally {
    await admin.close()
  }
}

const line = (r: KcatRecord): string => `${r.partition}|${r.key?.toString('hex')}|${r.value?.toString('hex')}|${r.timestamp}|${r.headers}`

/** The target topic holds the source topic's records, byte for byte, in the same partitions and order. */
async function assertCopiedAsIs (sourceBootstrap: string, sourceTopic: string, targetBootstrap: string, targetTopic: string): Promise<void> {
  const [from, to] = await Promise.all([kcatConsume(sourceBootstrap, sourceTopic), kcatConsume(targetBootstrap, targetTopic)])
  const byPartition = (records: KcatRecord[]): string[] => [...records].sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset)).map(line)
  assert.equal(to.length, from.length, `${targetTopic} has ${to.length} records, ${sourceTopic} ${from.length}`)
  assert.deepEqual(byPartition(to), byPartition(from))
}

/** Waits for `copied`, failing with the command's output if the command ends first. */
async function whileRunning (run: { finished: Promise<CliRun> }, copied: Promise<unknown>): Promise<void> {
  const ended = run.finished.then(r => { throw new Error(`kafka-mirror mm2 exited ${r.code} before the records were copied:\n${r.stderr}`) })
  await Promise.race([copied, ended])
}

test('given Kafka\'s own config/connect-mirror-maker.properties with only the bootstrap addresses changed, when kafka-mirror mm2 runs it, stops and runs it again, then each cluster\'s topics reach the other as <alias>.<topic>, each record once, byte-equal, and nothing comes back', async t => {
  const clusters = await Promise.all([startCluster({ name: 'mm2-a', brokers: 1 }), startCluster({ name: 'mm2-b', brokers: 1 })])
  t.after(async () => { await Promise.all(clusters.map(async c => { await c.stop() })) })
  const [source, target] = clusters.map(c => c.bootstrap)
  const text = readFileSync(fixture, 'utf8')
    .replace(/^A\.bootstrap\.servers = .*$/m, `A.bootstrap.servers = ${source}`)
    .replace(/^B\.bootstrap\.servers = .*$/m, `B.bootstrap.servers = ${target}`)
  const file = join(mkdtempSync(join(tmpdir(), 'kafka-mirror-mm2-')), 'connect-mirror-maker.properties')
  writeFileSync(file, text)

  // Given a topic on each cluster, with records.
  const onA = await createTestTopic(source, { prefix: 'mm2-sample-a', partitions: 3 })
  const onB = await createTestTopic(target, { prefix: 'mm2-sample-b', partitions: 2 })
  await produceRecords(source, onA, makeRecords(300, { keys: 20 }))
  await produceRecords(target, onB, makeRecords(200, { keys: 10 }))

  // When the file runs unchanged.
  const first = startCli(['mm2', file])
  await whileRunning(first, Promise.all([waitForRecords(target, `A.${onA}`, 300), waitForRecords(source, `B.${onB}`, 200)]))
  first.interrupt()
  const firstRun = await first.finished
  assert.equal(firstRun.code, 0, firstRun.stderr)

  // And again, with more records and the remote topics now there for the other flow to see,
  // serving metrics and status.
  await produceRecords(source, onA, makeRecords(100, { keys: 20 }))
  const port = await freePort()
  const second = startCli(['mm2', file, '--http.listener', `127.0.0.1:${port}`])
  await whileRunning(second, waitForRecords(target, `A.${onA}`, 400))
  // The listener: each flow's series under one HELP and TYPE, labelled by flow; this run's 100
  // records counted for A->B; both flows healthy; one status document per flow.
  const get = async (path: string): Promise<{ status: number, text: string }> => {
    const deadline = Date.now() + 20_000
    while (true) {
      try {
        const answer = await fetch(`http://127.0.0.1:${port}${path}`)
        return { status: answer.status, text: await answer.text() }
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
  }
  let metrics = ''
  const countedBy = Date.now() + 20_000
  const copied = (text: string): number => text.split('\n').filter(l => l.startsWith(`kafka_mirror_records_total{topic="${onA}",`) && l.includes('flow="A->B"')).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
  do metrics = (await get('/metrics')).text
  while (copied(metrics) < 100 && Date.now() < countedBy && await new Promise(resolve => setTimeout(resolve, 500, true)))
  assert.equal(copied(metrics), 100, metrics.split('\n').filter(l => l.startsWith('kafka_mirror_records_total')).join('\n'))
  assert.equal(metrics.split('\n').filter(l => l === '# TYPE kafka_mirror_records_total counter').length, 1)
  assert.match(metrics, /kafka_mirror_info\{[^}]*flow="B->A"[^}]*\} 1/)
  assert.match(metrics, /^kafka_mirror_process_cpu_seconds_total \d/m, 'process metrics once, without a flow label')
  assert.deepEqual(await get('/healthz'), { status: 200, text: 'ok\n' })
  const status = JSON.parse((await get('/api/status')).text) as { flows: Array<{ flow: string, state: string }> }
  assert.deepEqual(status.flows.map(f => f.flow).sort(), ['A->B', 'B->A'])
  // A few fetch rounds more, for any copy back or copy twice to show.
  await new Promise(resolve => setTimeout(resolve, 3000))
  second.interrupt()
  const secondRun = await second.finished
  assert.equal(secondRun.code, 0, secondRun.stderr)

  // Then every record is on the other side once, as it was written.
  assert.equal(await topicRecordCount(target, `A.${onA}`), 400n)
  assert.equal(await topicRecordCount(source, `B.${onB}`), 200n)
  await assertCopiedAsIs(source, onA, target, `A.${onA}`)
  await assertCopiedAsIs(target, onB, source, `B.${onB}`)
  // No cycle: A.<topic> on B is never copied back to A, nor B.<topic> to B. Each cluster holds
  // what MirrorMaker 2 leaves there: its heartbeats, the other's mirrored, the other's
  // checkpoints, the offset syncs of the flow it is the source of (and kafka-mirror's offset history).
  const internal = (other: string): string[] => ['heartbeats', `${other}.heartbeats`, `${other}.checkpoints.internal`, `mm2-offset-syncs.${other}.internal`, `kafka-mirror-offset-history.${other}.internal`]
  assert.deepEqual([...await topicsOf(source)].sort(), [onA, `B.${onB}`, ...internal('B')].sort())
  assert.deepEqual([...await topicsOf(target)].sort(), [onB, `A.${onA}`, ...internal('A')].sort())
  assert.doesNotMatch(secondRun.stderr, /does not do checkpoints/)
})

for (const policy of ['DefaultReplicationPolicy', 'IdentityReplicationPolicy'] as const) {
  test(`given active/active flows A->B and B->A with ${policy} over one topic name on both clusters, when both run, then every record is once on the other side, nothing cycles back, and counts stay put`, async t => {
    const { source: a, target: b } = await testClusters()
    const before = { A: await topicsOf(a), B: await topicsOf(b) }
    const groups = { ab: uniqueName('mm2-ab'), ba: uniqueName('mm2-ba') }
    t.after(async () => { await Promise.all([cleanUp(a, before.A, [groups.ab]), cleanUp(b, before.B, [groups.ba])]) })
    // Given the same topic on A and B, each with records of its own.
    const topic = await createTopicPair(a, b, { prefix: 'mm2-aa', partitions: 2 })
    const writtenOnA = makeRecords(250, { keys: 25 })
    const writtenOnB = makeRecords(150, { keys: 15 })
    await produceRecords(a, topic, writtenOnA)
    await produceRecords(b, topic, writtenOnB)
    const identity = policy === 'IdentityReplicationPolicy'
    // With the default policy the remote topics match too, so only the cycle check keeps them home.
    const topics = identity ? topic : `${topic}, A\\.${topic}, B\\.${topic}`
    const config = mm2ConfigFromProperties([
      ['clusters', 'A, B'],
      ['A.bootstrap.servers', a],
      ['B.bootstrap.servers', b],
      ['A->B.enabled', 'true'],
      ['B->A.enabled', 'true'],
      ['topics', topics],
      ['replication.factor', '1'],
      ['replication.policy.class', `org.apache.kafka.connect.mirror.${policy}`],
      ['A->B.consumer.group.id', groups.ab],
      ['B->A.consumer.group.id', groups.ba]
    ], 'mm2.properties')

    // When both flows run, looking for new topics every half second.
    // A plug-in that writes down what it is given and when.
    const calls: string[] = []
    const recorder: FlowPluginRegistration = {
      name: 'recorder',
      features: [],
      create: flow => ({
        beforeStart: async ctx => { calls.push(`${flow.name} beforeStart mirror=${ctx.mirror.state} policy=${ctx.policy.className.split('.').pop()}`) },
        start: async ctx => { calls.push(`${flow.name} start mirror=${ctx.mirror.state} admins=${ctx.sourceAdmin !== ctx.targetAdmin}`) },
        stop: async () => { calls.push(`${flow.name} stop`) }
      })
    }
    const runner = new Mm2Runner(config, { plugins: [recorder], mirrorOverrides: { topicRefreshIntervalMs: 500 } })
    t.after(async () => { await runner.stop().catch(() => {}) })
    await runner.start()
    const onB = identity ? topic : `A.${topic}`
    const onA = identity ? topic : `B.${topic}`
    await waitForRecords(b, onB, identity ? 400 : 250)
    await waitForRecords(a, onA, identity ? 400 : 150)
    // Several refreshes and fetch rounds: a cycle would show as growing counts or new topics.
    await new Promise(resolve => setTimeout(resolve, 4000))
    await runner.stop()
    assert.deepEqual(calls.filter(c => c.startsWith('A->B')), [`A->B beforeStart mirror=starting policy=${policy}`, 'A->B start mirror=running admins=true', 'A->B stop'])
    assert.equal(calls.filter(c => c.startsWith('B->A')).length, 3)

    // Then: counted exactly.
    assert.equal(await topicRecordCount(b, onB), identity ? 400n : 250n)
    assert.equal(await topicRecordCount(a, onA), identity ? 400n : 150n)
    const [topicsA, topicsB] = await Promise.all([topicsOf(a), topicsOf(b)])
    assert.deepEqual([...topicsA].filter(t => t.includes(topic)).sort(), identity ? [topic] : [topic, `B.${topic}`].sort())
    assert.deepEqual([...topicsB].filter(t => t.includes(topic)).sort(), identity ? [topic] : [topic, `A.${topic}`].sort())
    if (!identity) {
      // Byte-equal keys, values, headers and timestamps, partition by partition.
      await assertCopiedAsIs(a, topic, b, `A.${topic}`)
      await assertCopiedAsIs(b, topic, a, `B.${topic}`)
      return
    }
    // Identity: each cluster's topic holds its own records as written, and the other's once,
    // with the provenance header added after their own headers.
    for (const [cluster, own, other, from] of [[a, writtenOnA, writtenOnB, 'B'], [b, writtenOnB, writtenOnA, 'A']] as const) {
      const read = await kcatConsume(cluster, topic)
      const local = read.filter(r => !r.headers.includes(PROVENANCE_HEADER))
      const copied = read.filter(r => r.headers.includes(PROVENANCE_HEADER))
      assert.equal(local.length, own.length)
      assert.equal(copied.length, other.length)
      const expected = other.map(r => `${r.key?.toString('hex')}|${r.value?.toString('hex')}|${r.timestamp}|${r.headers.map(([k, v]) => `${k}=${v}`).join(',')},${PROVENANCE_HEADER}=${from}`).sort()
      assert.deepEqual(copied.map(r => `${r.key?.toString('hex')}|${r.value?.toString('hex')}|${r.timestamp}|${r.headers}`).sort(), expected)
    }
  })
}
