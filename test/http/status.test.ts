// /api/status's shape (CONTRACTS.md), /healthz and /readyz decisions, and the server's routes, on
// a stand-in for a Mirror (no Kafka): what the other pieces rely on, checked in milliseconds.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { test } from 'node:test'
import { rememberSecret } from '../../src/config/secrets.ts'
import { MirrorServer } from '../../src/http/server.ts'
import { describeConfig, health, readiness, statusDocument } from '../../src/http/status.ts'
import { RecentProblems } from '../../src/log.ts'
import type { Mirror, MirrorState } from '../../src/mirror/mirror.ts'
import { MirrorStats } from '../../src/mirror/stats.ts'
import { get, parseMetrics, sumOf } from './helpers.ts'

const SECRET = 'CANARY-status-unit-91f3'

function standIn (state: MirrorState = 'running'): Mirror & { stats: MirrorStats, setState: (s: MirrorState) => void, setFailure: (e: unknown) => void } {
  const emitter = new EventEmitter() as EventEmitter & Record<string, unknown>
  let current = state
  let failure: unknown
  Object.assign(emitter, {
    stats: new MirrorStats(),
    settings: {
      partitioning: 'key',
      source: { bootstrapServers: ['s1:9092', 's2:9092'], groupId: 'mirror-group' },
      target: { bootstrapServers: ['t1:9092'] }
    },
    bufferedBytes: 123,
    setState: (s: MirrorState) => { current = s },
    setFailure: (e: unknown) => { failure = e }
  })
  Object.defineProperty(emitter, 'state', { get: () => current })
  Object.defineProperty(emitter, 'failure', { get: () => failure })
  return emitter as unknown as ReturnType<typeof standIn>
}

test('/api/status has the shape of CONTRACTS.md, offsets as strings, secrets hidden', () => {
  const mirror = standIn()
  const { stats } = mirror
  stats.connected = { source: true, target: true }
  stats.recordDelivered('orders', 0, 100, 9000, 995n)
  stats.recordCommits([{ topic: 'orders', partition: 0, offset: 990n }])
  stats.lag = [{ topic: 'orders', partition: 0, sourceEndOffset: 1000n, committedOffset: 990n, position: 995n, lagRecords: 5, lagSeconds: 0.2 }]
  stats.lagAt = Date.now()
  stats.recordError('send', 'NOT_LEADER_OR_FOLLOWER', true)
  rememberSecret(SECRET)
  const problems = new RecentProblems()
  problems.add({ level: 'warn', time: '2026-12-06T20:01:00.000Z', msg: `login said ${SECRET}` })
  const config = describeConfig([['num.streams', '2'], ['http.listener', '9090']], {
    consumer: [['bootstrap.servers', 's1:9092'], ['sasl.jaas.config', `x password="${SECRET}";`]],
    producer: [['compression.type', 'lz4'], ['ssl.keystore.password', SECRET]]
  })
  const doc = statusDocument(mirror, { version: '0.2.0', config, problems })
  assert.deepEqual(Object.keys(doc), ['version', 'state', 'startedAt', 'now', 'group', 'partitioning', 'source', 'target', 'totals', 'partitions', 'errors', 'config'])
  assert.deepEqual(Object.keys(doc.totals), ['records', 'bytes', 'recordsPerSecond', 'bytesPerSecond', 'lagRecords', 'lagSeconds', 'sendErrors', 'fetchErrors', 'rebalances', 'gaps'])
  assert.equal(doc.state, 'running')
  assert.equal(doc.group, 'mirror-group')
  assert.deepEqual(doc.source, { bootstrap: 's1:9092,s2:9092', connected: true })
  assert.deepEqual(doc.partitions, [{ topic: 'orders', partition: 0, records: 100, bytes: 9000, sourceEndOffset: '1000', committedOffset: '990', position: '995', lagRecords: 5, lagSeconds: 0.2 }])
  assert.equal(doc.totals.lagRecords, 5)
  assert.equal(doc.totals.sendErrors, 1)
  assert.deepEqual(doc.config, { '--num.streams': '2', '--http.listener': '9090', 'source bootstrap.servers': 's1:9092', 'source sasl.jaas.config': '[hidden]', 'target compression.type': 'lz4', 'target ssl.keystore.password': '[hidden]' })
  assert.equal(doc.errors.length, 1)
  assert.ok(!JSON.stringify(doc).includes(SECRET))
})

test('/healthz: alive until a fatal error; /readyz: connected and copying, or caught up', () => {
  const mirror = standIn('starting')
  const { stats } = mirror
  assert.equal(readiness(mirror, 60_000).ready, false)
  mirror.setState('running')
  assert.match(readiness(mirror, 60_000).reason, /source cluster does not answer/)
  stats.connected = { source: true, target: false }
  assert.match(readiness(mirror, 60_000).reason, /target cluster does not answer \(t1:9092\)/)
  stats.connected = { source: true, target: true }
  stats.lag = [{ topic: 't', partition: 0, sourceEndOffset: 10n, committedOffset: 0n, position: undefined, lagRecords: 10, lagSeconds: 5 }]
  stats.lagAt = Date.now()
  stats.progressAt = Date.now()
  assert.deepEqual(readiness(mirror, 60_000), { ready: true, reason: 'ok: copying' })
  // Records wait and nothing moved for longer than the stall time: not ready
  stats.progressAt = Date.now() - 120_000
  assert.match(readiness(mirror, 60_000).reason, /no record copied for 120 s, lag 10 records/)
  // Idle with nothing to copy: ready
  stats.lag = [{ ...stats.lag[0], lagRecords: 0, lagSeconds: 0 }]
  assert.deepEqual(readiness(mirror, 60_000), { ready: true, reason: 'ok: caught up' })
  assert.equal(health(mirror).ok, true)
  mirror.setFailure(new Error('boom'))
  mirror.setState('failed')
  assert.equal(health(mirror).ok, false)
  assert.equal(readiness(mirror, 60_000).ready, false)
})

test('the server answers its routes; / is a placeholder until the dashboard exists; nothing outside the folder', async () => {
  const mirror = standIn()
  mirror.stats.recordDelivered('orders', 1, 7, 700, 7n)
  mirror.stats.connected = { source: true, target: true }
  const server = new MirrorServer(mirror, { version: '0.0.0-test', config: {} })
  const bound = await server.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${bound.port}`
  try {
    const metrics = await get(`${base}/metrics`)
    assert.equal(metrics.status, 200)
    assert.match(metrics.type, /^text\/plain; version=0\.0\.4/)
    const samples = parseMetrics(metrics.text)
    assert.equal(sumOf(samples, 'kafka_mirror_records_total', { topic: 'orders', partition: '1' }), 7)
    assert.equal(sumOf(samples, 'kafka_mirror_buffered_bytes'), 123)
    assert.equal(sumOf(samples, 'kafka_mirror_info', { version: '0.0.0-test', partitioning: 'key', group: 'mirror-group' }), 1)
    // Scraping twice gives the same counters (set from the stats, not added up)
    assert.equal(sumOf(parseMetrics((await get(`${base}/metrics`)).text), 'kafka_mirror_records_total'), 7)
    assert.equal((await get(`${base}/healthz`)).text, 'ok\n')
    // Connected, and within the stall time of the start: ready
    assert.equal((await get(`${base}/readyz`)).status, 200)
    const home = await get(`${base}/`)
    assert.equal(home.status, 200)
    assert.match(home.text, /\/metrics/)
    assert.equal((await get(`${base}/%2e%2e/server.ts`)).status, 404)
    assert.equal((await get(`${base}/no-such-file.js`)).status, 404)
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405)
  } finally {
    await server.close()
  }
})
