// Lag and readiness while the target is cut off, in both partitionings: lag is 0 when caught up,
// rises in records and seconds while the target cannot be reached (records keep coming on the
// source), /readyz turns 503 naming the target, and both come back when the network does.
// The target is a 1-broker cluster of its own behind a fault proxy (test/tools/fault-proxy.ts);
// the source is the shared one.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startCli } from '../helpers/cli.ts'
import { createTestTopic, testClusters } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'
import { startProxiedCluster, type ProxiedCluster } from '../tools/fault-scenarios.ts'
import { freePort, get, parseMetrics, sumOf, waitFor } from '../http/helpers.ts'

let target: ProxiedCluster | undefined

before(async () => {
  target = await startProxiedCluster({ name: 'h3-lag-target', brokers: 1 })
})

after(async () => {
  await target?.stop()
})

interface Status {
  totals: { records: number, lagRecords: number | null, lagSeconds: number | null }
  target: { connected: boolean }
}

for (const partitioning of ['key', 'source'] as const) {
  test(`lag rises while the target is cut off and returns to 0; /readyz follows (${partitioning})`, async () => {
    const { source } = await testClusters()
    const tgt = target!
    const topic = await createTestTopic(source, { partitions: 2 })
    if (partitioning === 'source') await createTestTopic(tgt.cluster.bootstrap, { name: topic, partitions: 2 })
    const first = makeRecords(1000, { keys: 100, valueBytes: 100 })
    await produceRecords(source, topic, first)
    const files = writeTutorialConfigs(source, tgt.viaProxy, { producer: { 'request.timeout.ms': '5000' } })
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const mirror = startCli(['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic, '--partitioning', partitioning,
      '--http.listener', String(port), '--status.interval.ms', '1000', '--offset.commit.interval.ms', '1000'])
    const status = async (): Promise<Status> => JSON.parse((await get(`${base}/api/status`)).text) as Status
    const metrics = async (): Promise<ReturnType<typeof parseMetrics>> => parseMetrics((await get(`${base}/metrics`)).text)
    const second = makeRecords(1000, { keys: 100, valueBytes: 100 }).map(r => ({ ...r, value: Buffer.concat([Buffer.from('second-'), r.value ?? Buffer.alloc(0)]) }))
    try {
      // Given a mirror caught up with the source: lag 0, ready
      await waitFor(async () => { const s = await status(); return s.totals.records === 1000 && s.totals.lagRecords === 0 }, 60_000, 'caught up', async () => JSON.stringify(await status().catch(e => String(e))))
      await waitFor(async () => (await get(`${base}/readyz`)).status === 200, 10_000, 'ready')
      const caughtUp = await metrics()
      assert.equal(sumOf(caughtUp, 'kafka_mirror_lag_records', { topic }), 0)
      assert.equal(sumOf(caughtUp, 'kafka_mirror_lag_seconds', { topic }), 0)

      // When the target is cut off and 1 000 more records arrive on the source
      await tgt.set({ cut: 'blackhole' })
      await produceRecords(source, topic, second)

      // Then /readyz says not ready, naming the target, and the lag rises in records and seconds
      const notReady = await waitFor(async () => { const r = await get(`${base}/readyz`); return r.status === 503 ? r : undefined }, 20_000, '/readyz 503')
      assert.match(notReady.text, /target/)
      assert.equal((await get(`${base}/healthz`)).status, 200, 'alive all the same')
      const behind = await waitFor(async () => { const s = await status(); return s.totals.lagRecords !== null && s.totals.lagRecords > 0 && s.totals.lagSeconds !== null && s.totals.lagSeconds > 0 ? s : undefined }, 20_000, 'lag above 0')
      assert.equal(behind.target.connected, false)
      const m = await metrics()
      assert.ok(sumOf(m, 'kafka_mirror_lag_records', { topic }) > 0)
      assert.equal(sumOf(m, 'kafka_mirror_cluster_up', { cluster: 'target' }), 0)
      const older = await waitFor(async () => { const s = await status(); return s.totals.lagSeconds! > behind.totals.lagSeconds! + 1 ? s : undefined }, 20_000, 'lag seconds to grow')
      assert.ok(older.totals.lagRecords! > 0)

      // When the network returns, the lag goes back to 0 and the mirror is ready again
      await tgt.heal()
      await waitFor(async () => { const s = await status(); return s.totals.lagRecords === 0 && s.totals.lagSeconds === 0 }, 90_000, 'lag back to 0', async () => JSON.stringify(await status().catch(e => String(e))))
      await waitFor(async () => (await get(`${base}/readyz`)).status === 200, 30_000, 'ready again', async () => (await get(`${base}/readyz`)).text)
    } finally {
      await tgt.heal()
      mirror.interrupt()
    }
    const run = await mirror.finished
    assert.equal(run.code, 0, run.stderr.slice(-2000))
    assert.match(run.stderr, /WARN the cluster does not answer cluster=target/)
    assert.match(run.stderr, /INFO the cluster answers again cluster=target/)
    // Every record arrived (a resend after the cut may have doubled some)
    assertMirrored([...first, ...second], await kcatConsume(tgt.cluster.bootstrap, topic), { allowDuplicates: true })
  })
}
