// The metric declarations, their docs, the alert rules and the log formats, without Kafka.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { listenAddress } from '../../src/config/mirror-config.ts'
import { createLogger, RecentProblems } from '../../src/log.ts'
import { metricsMarkdown } from '../../src/metrics/docs.ts'
import { metricDeclarations } from '../../src/metrics/metrics.ts'
import { MirrorStats } from '../../src/mirror/stats.ts'
import { runKafkaMirror } from '../helpers/cli.ts'
import { writeTutorialConfigs } from '../helpers/records.ts'

test('docs/metrics.md is current (run npm run docs) and names every metric', async () => {
  const onDisk = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8')
  assert.equal(onDisk, await metricsMarkdown())
  for (const d of metricDeclarations) assert.ok(onDisk.includes(`\`${d.name}\``), d.name)
})

test('metric names follow Prometheus conventions; labels stay low-cardinality', () => {
  for (const d of metricDeclarations) {
    assert.match(d.name, /^kafka_mirror_[a-z_]+$/, d.name)
    if (d.type === 'counter') assert.match(d.name, /_total$/, d.name)
    else assert.doesNotMatch(d.name, /_total$/, d.name)
    if (d.type === 'histogram') assert.match(d.name, /_seconds$/, d.name)
    for (const label of d.labels) assert.ok(['topic', 'partition', 'error', 'operation', 'cluster', 'version', 'partitioning', 'group'].includes(label), `${d.name} {${label}}`)
  }
  const mm2 = metricDeclarations.map(d => d.mm2 ?? '').join(' ')
  for (const name of ['record-count', 'byte-rate', 'record-age-ms', 'replication-latency-ms']) assert.ok(mm2.includes(name), name)
})

test('promtool check rules passes on docs/prometheus-rules.yml', () => {
  const rules = fileURLToPath(new URL('../../docs/prometheus-rules.yml', import.meta.url))
  const out = execFileSync('promtool', ['check', 'rules', rules], { encoding: 'utf8' })
  assert.match(out, /SUCCESS: \d+ rules found/)
})

test('--http.listener: a bare port binds loopback, host:port as given, anything else is refused', () => {
  assert.deepEqual(listenAddress('9090'), { host: '127.0.0.1', port: 9090 })
  assert.deepEqual(listenAddress('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 })
  assert.deepEqual(listenAddress('[::1]:9090'), { host: '::1', port: 9090 })
  for (const bad of ['', 'abc', '9090:', ':9090x', '70000', 'host:99999', 'a b:1']) assert.equal(listenAddress(bad), undefined, bad)
})

function capture (): { out: PassThrough, text: () => string } {
  const out = new PassThrough()
  let text = ''
  out.on('data', d => { text += String(d) })
  return { out, text: () => text }
}

test('text logs: zoned timestamp, level, message, each field once, values with spaces quoted', () => {
  const { out, text } = capture()
  const log = createLogger({ format: 'text', stream: out })
  log.info({ cluster: 'source', topic: 'orders', partitions: '0,1', reason: 'the broker said no', empty: '' }, 'partitions assigned')
  const line = text().trim()
  assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO partitions assigned cluster=source topic=orders partitions=0,1 reason="the broker said no" empty=""$/)
})

test('JSON logs: level names, ISO time, problems kept for /api/status', () => {
  const { out, text } = capture()
  const problems = new RecentProblems(2)
  const log = createLogger({ format: 'json', stream: out, problems })
  log.info({ records: 1 }, 'status')
  log.warn({ cluster: 'target' }, 'the cluster does not answer')
  log.error('one')
  log.error('two')
  const lines = text().trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
  assert.deepEqual(lines.map(l => l.level), ['info', 'warn', 'error', 'error'])
  assert.match(String(lines[0].time), /^\d{4}-\d\d-\d\dT.*Z$/)
  assert.deepEqual(problems.list().map(p => p.message), ['one', 'two'])
  assert.equal(problems.list()[0].level, 'error')
})

test('the status line has stable keys: none per topic, none with / or %', () => {
  const stats = new MirrorStats()
  stats.planPartition('orders', 'orders:0', 0n, 100n)
  stats.planPartition('payments', 'payments:0', 0n, 10n)
  stats.recordDelivered('orders', 0, 50, 5000, 50n)
  const line = stats.statusLine(50n, 1.5)
  for (const key of Object.keys(line.fields)) assert.match(key, /^[a-zA-Z]+$/, key)
  assert.equal(line.fields.records, 50)
  assert.equal(line.fields.lagRecords, 50)
  assert.equal(line.fields.topicsPercent, 'orders=50.0,payments=0.0')
  assert.ok(!line.text.includes('50'), 'values are fields, not repeated in the message')
})

test('--log.format json: the error that ends the process is a JSON line too', async () => {
  const files = writeTutorialConfigs('127.0.0.1:1', '127.0.0.1:1', { consumer: { 'socket.connection.setup.timeout.ms': '1000' } })
  const run = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', 't', '--log.format', 'json'])
  assert.equal(run.code, 1)
  const lines = run.stderr.trim().split('\n').filter(l => l.startsWith('{'))
  const last = JSON.parse(lines.at(-1)!) as Record<string, unknown>
  assert.equal(last.level, 'fatal')
  assert.match(String(last.err), /Cannot reach the source cluster at 127\.0\.0\.1:1/)
})
