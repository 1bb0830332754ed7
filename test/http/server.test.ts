// The mirror's HTTP listener against the shared clusters, in both partitionings: the counters agree
// exactly with the records copied, lag reaches 0 when caught up, a real Prometheus scrapes it and
// answers the same numbers, `kafka-mirror status` reads it (and the clusters when no mirror runs),
// and a canary secret of the config shows up nowhere.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startCli } from '../helpers/cli.ts'
import { createTestTopic, createTopicPair, testClusters } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'
import { runKafkaMirror } from '../helpers/cli.ts'
import { freePort, get, parseMetrics, startPrometheus, sumOf, waitFor, type PrometheusProcess } from './helpers.ts'

const CANARY_PASSWORD = 'CANARY-keystore-5e1f9a'
const CANARY_JAAS = 'CANARY-jaas-77c2d0'

let port: number
let prometheus: PrometheusProcess | undefined

before(async () => {
  // One port for both runs, one after the other, so one Prometheus scrapes both.
  port = await freePort()
  prometheus = await startPrometheus([`127.0.0.1:${port}`])
})

after(async () => {
  await prometheus?.stop()
})

interface Status {
  state: string
  source: { connected: boolean }
  target: { connected: boolean }
  totals: { records: number, bytes: number, lagRecords: number | null, lagSeconds: number | null, rebalances: number }
  partitions: Array<{ topic: string, partition: number, records: number, bytes: number, sourceEndOffset: string | null, lagRecords: number | null, lagSeconds: number | null }>
  config: Record<string, string>
}

for (const partitioning of ['key', 'source'] as const) {
  test(`--http.listener (${partitioning}): exact counters, lag 0 when caught up, Prometheus scrapes it, status reads it, no secret anywhere`, async () => {
    const { source, target } = await testClusters()
    const topic = partitioning === 'source' ? await createTopicPair(source, target, { partitions: 3 }) : await createTestTopic(source, { partitions: 3 })
    const first = makeRecords(2000, { keys: 200, valueBytes: 100 })
    await produceRecords(source, topic, first)
    const files = writeTutorialConfigs(source, target, {
      consumer: {
        'ssl.keystore.password': CANARY_PASSWORD,
        'sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required username="mirror" password="${CANARY_JAAS}";`
      }
    })
    const json = partitioning === 'source'
    const argv = ['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic, '--partitioning', partitioning,
      '--http.listener', String(port), '--status.interval.ms', '1000', '--offset.commit.interval.ms', '1000', ...(json ? ['--log.format', 'json'] : [])]
    // Given a mirror with a listener, copying a topic of 2 000 records
    const mirror = startCli(argv)
    const base = `http://127.0.0.1:${port}`
    const status = async (): Promise<Status> => JSON.parse((await get(`${base}/api/status`)).text) as Status
    const outputs: string[] = []
    try {
      // Then the status says all of them and lag 0, once caught up
      await waitFor(async () => { const s = await status(); return s.totals.records === 2000 && s.totals.lagRecords === 0 }, 60_000, '2000 records and lag 0 in /api/status', async () => JSON.stringify(await status().catch(e => String(e))))
      const s1 = await status()
      assert.equal(s1.state, 'running')
      assert.ok(s1.source.connected && s1.target.connected)
      assert.equal(s1.totals.lagSeconds, 0)
      assert.equal(s1.partitions.length, 3)
      assert.equal(s1.partitions.reduce((n, p) => n + p.records, 0), 2000)
      assert.deepEqual(s1.partitions.map(p => p.lagRecords), [0, 0, 0])
      assert.equal(s1.partitions.reduce((n, p) => n + Number(p.sourceEndOffset), 0), 2000)
      assert.equal(s1.config['source ssl.keystore.password'], '[hidden]')
      assert.equal(s1.config['source sasl.jaas.config'], '[hidden]')

      // And /metrics agrees exactly: records per partition, bytes, lag
      const m1 = parseMetrics((await get(`${base}/metrics`)).text)
      assert.equal(sumOf(m1, 'kafka_mirror_records_total', { topic }), 2000)
      for (const p of s1.partitions) assert.equal(sumOf(m1, 'kafka_mirror_records_total', { topic, partition: String(p.partition) }), p.records)
      assert.equal(sumOf(m1, 'kafka_mirror_bytes_total', { topic }), s1.totals.bytes)
      assert.ok(s1.totals.bytes >= 2000 * 100, `bytes ${s1.totals.bytes}`)
      assert.equal(sumOf(m1, 'kafka_mirror_lag_records', { topic }), 0)
      assert.equal(sumOf(m1, 'kafka_mirror_lag_seconds', { topic }), 0)
      assert.ok(sumOf(m1, 'kafka_mirror_replication_latency_seconds_count', { topic }) > 0)
      assert.ok(sumOf(m1, 'kafka_mirror_record_age_seconds_count', { topic }) > 0)
      assert.equal(sumOf(m1, 'kafka_mirror_cluster_up'), 2)
      assert.ok(sumOf(m1, 'kafka_mirror_process_cpu_seconds_total') > 0)
      assert.ok(m1.some(x => x.name === 'kafka_mirror_nodejs_eventloop_lag_seconds'))
      assert.ok(m1.some(x => x.name === 'kafka_mirror_process_resident_memory_bytes'))

      // And the target holds exactly those records
      assertMirrored(first, await kcatConsume(target, topic))

      // When 500 more are written, the counters go up by exactly 500
      const second = makeRecords(500, { keys: 50, valueBytes: 100 }).map(r => ({ ...r, value: Buffer.concat([Buffer.from('second-'), r.value ?? Buffer.alloc(0)]) }))
      await produceRecords(source, topic, second)
      await waitFor(async () => { const s = await status(); return s.totals.records === 2500 && s.totals.lagRecords === 0 }, 60_000, '2500 records and lag 0')
      const m2 = parseMetrics((await get(`${base}/metrics`)).text)
      assert.equal(sumOf(m2, 'kafka_mirror_records_total', { topic }), 2500)
      await waitFor(async () => sumOf(parseMetrics((await get(`${base}/metrics`)).text), 'kafka_mirror_commits_total', { topic }) > 0, 10_000, 'a commit counted')

      // And Prometheus, scraping the listener, reads the same through its HTTP API
      await waitFor(async () => await prometheus!.query(`sum(kafka_mirror_records_total{topic="${topic}"})`) === 2500, 20_000, 'Prometheus to see 2500 records',
        async () => `Prometheus says ${await prometheus!.query(`sum(kafka_mirror_records_total{topic="${topic}"})`)}`)
      await waitFor(async () => await prometheus!.query(`sum(kafka_mirror_lag_records{topic="${topic}"})`) === 0, 20_000, 'Prometheus to see lag 0')
      assert.equal(await prometheus!.query(`max(kafka_mirror_lag_seconds{topic="${topic}"})`), 0)

      // And the probes say alive and ready; the dashboard's files are served
      assert.equal((await get(`${base}/healthz`)).status, 200)
      const ready = await get(`${base}/readyz`)
      assert.equal(ready.status, 200, ready.text)
      const home = await get(`${base}/`)
      assert.equal(home.status, 200)
      assert.match(home.type, /text\/html/)
      assert.match((await get(`${base}/assets/uPlot.iife.min.js`)).text, /uPlot/)
      assert.equal((await get(`${base}/assets/uPlot.min.css`)).status, 200)
      assert.equal((await get(`${base}/..%2f..%2fpackage.json`)).status, 404)
      outputs.push((await get(`${base}/metrics`)).text, (await get(`${base}/api/status`)).text)

      // And `kafka-mirror status --url` prints the partitions with lag 0
      const byUrl = await runKafkaMirror(['status', '--url', base])
      assert.equal(byUrl.code, 0, byUrl.stderr)
      assert.match(byUrl.stdout, new RegExp(`${topic}\\s+2\\s`))
      assert.match(byUrl.stdout, /TOTAL\s+0\s+0\.0/)
      const byUrlJson = await runKafkaMirror(['status', '--url', `127.0.0.1:${port}`, '--json'])
      assert.equal((JSON.parse(byUrlJson.stdout) as { totals: { lagRecords: number } }).totals.lagRecords, 0)
      outputs.push(byUrl.stdout, byUrlJson.stdout)
    } finally {
      mirror.interrupt()
    }
    const run = await mirror.finished
    assert.equal(run.code, 0, run.stderr.slice(-2000))
    outputs.push(run.stderr, run.stdout)

    // When no mirror runs, status reads the group's offsets and both clusters' end offsets
    const offline = await runKafkaMirror(['status', '--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic, '--json'])
    assert.equal(offline.code, 0, offline.stderr)
    const report = JSON.parse(offline.stdout) as { totals: { lagRecords: number, lagSeconds: number }, partitions: Array<{ sourceEndOffset: string, committedOffset: string, targetEndOffset: string | null, lagRecords: number }> }
    assert.deepEqual(report.totals, { lagRecords: 0, lagSeconds: 0 })
    assert.equal(report.partitions.length, 3)
    for (const p of report.partitions) assert.equal(p.committedOffset, p.sourceEndOffset)
    assert.equal(report.partitions.reduce((n, p) => n + Number(p.targetEndOffset), 0), 2500)
    const offlineTable = await runKafkaMirror(['status', '--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic])
    assert.match(offlineTable.stdout, /TOTAL\s+0\s+0\.0/)
    outputs.push(offline.stdout, offline.stderr, offlineTable.stdout)

    // No secret anywhere: metrics, status, logs, status output
    for (const text of outputs) {
      assert.ok(!text.includes(CANARY_PASSWORD) && !text.includes(CANARY_JAAS), `a canary secret leaked:\n${text.slice(0, 3000)}`)
    }

    // Logs: one line per state change, never one per record; JSON with level names and stable keys
    const lines = run.stderr.trim().split('\n')
    assert.ok(lines.length < 100, `${lines.length} log lines for 2500 records`)
    if (json) {
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>
        assert.ok(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(String(entry.level)), line)
        for (const key of Object.keys(entry)) assert.doesNotMatch(key, /[/%]/, line)
      }
      assert.ok(lines.some(l => l.includes('"msg":"partitions assigned"') && l.includes(`"topic":"${topic}"`)))
    } else {
      assert.ok(lines.some(l => /^\S+Z INFO partitions assigned cluster=source stream=0 topic=\S+ partitions=0,1,2$/.test(l)), lines.join('\n'))
      assert.ok(lines.some(l => / INFO status records=\d+ /.test(l)))
    }
  })
}
