// docs/grafana-dashboard.json against what the mirror exports: every query is valid PromQL (parsed
// with Prometheus's own grammar, @prometheus-io/lezer-promql), every metric and label it queries is
// on the mirror's GET /metrics, and a real Prometheus scraping a mirror that copies records answers
// every query, the main panels with data. A renamed metric breaks this test, not a dashboard.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { Producer } from '@platformatic/kafka'
import { parser } from '@prometheus-io/lezer-promql'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { MirrorServer } from '../../src/http/server.ts'
import { metricDeclarations } from '../../src/metrics/metrics.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { startCli } from '../helpers/cli.ts'
import { createTestTopic, testClusters, waitForRecords } from '../helpers/clusters.ts'
import { makeRecords, writeTutorialConfigs } from '../helpers/records.ts'
import { freePort, get, startPrometheus, waitFor } from '../http/helpers.ts'

type SyntaxNode = ReturnType<typeof parser.parse>['topNode']

interface Panel { id?: number, type: string, title?: string, datasource?: { uid?: string }, gridPos?: { x: number, y: number, w: number, h: number }, targets?: Array<{ expr?: string, datasource?: { uid?: string } }>, panels?: Panel[] }
interface Dashboard { uid: string, title: string, panels: Panel[], templating: { list: Array<{ name: string, type: string, query?: string | { query: string } }> } }

const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as Dashboard

function allPanels (panels: Panel[]): Panel[] {
  return panels.flatMap(p => [p, ...allPanels(p.panels ?? [])])
}

/** Every PromQL expression of the dashboard, with where it is, Grafana's variables made concrete. */
function queries (intervals = { rateInterval: '1m', range: '5m' }): Array<{ where: string, expr: string }> {
  const found: Array<{ where: string, expr: string }> = []
  for (const panel of allPanels(dashboard.panels)) {
    for (const [i, t] of (panel.targets ?? []).entries()) if (t.expr !== undefined) found.push({ where: `panel "${panel.title}" query ${i + 1}`, expr: t.expr })
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue
    const text = typeof v.query === 'string' ? v.query : v.query?.query ?? ''
    // label_values(<selector>, <label>) is Grafana's, not PromQL: the selector inside is.
    const inner = /^label_values\((.*),\s*\w+\)$/.exec(text)?.[1] ?? text
    found.push({ where: `variable $${v.name}`, expr: inner })
  }
  // What Grafana fills in: the intervals, and the variables (inside label matcher strings) set to All.
  return found.map(q => ({
    ...q,
    expr: q.expr.replace(/\$__(rate_interval|interval)\b/g, intervals.rateInterval).replace(/\$__range\b/g, intervals.range).replace(/\$(job|instance|topic)\b/g, '.*')
  }))
}

/** Metric names the mirror's /metrics declares, each with the labels it may carry. */
async function exportedMetrics (): Promise<Map<string, Set<string>>> {
  const files = writeTutorialConfigs('127.0.0.1:1', '127.0.0.1:1')
  const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['include', 'grafana']])
  // A mirror that is never started: /metrics declares every metric all the same.
  const mirror = new Mirror(settings)
  const server = new MirrorServer(mirror, { version: '0.0.0-test', config: {} })
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  let text: string
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`)
    assert.equal(response.status, 200)
    text = await response.text()
  } finally {
    await server.close()
  }
  const metrics = new Map<string, Set<string>>()
  // Prometheus adds these to every series it scrapes.
  const scraped = ['job', 'instance']
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const names = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : type === 'summary' ? [name, `${name}_sum`, `${name}_count`] : [name]
    for (const n of names) metrics.set(n, new Set([...scraped, ...(n.endsWith('_bucket') ? ['le'] : []), ...(type === 'summary' && n === name ? ['quantile'] : [])]))
  }
  for (const [, name, labels] of text.matchAll(/^(\w+)\{([^}]*)\}/gm)) for (const [, label] of labels.matchAll(/(\w+)="/g)) metrics.get(name)?.add(label)
  for (const d of metricDeclarations) for (const n of [d.name, `${d.name}_bucket`, `${d.name}_sum`, `${d.name}_count`]) for (const label of d.labels) metrics.get(n)?.add(label)
  return metrics
}

function text (expr: string, node: SyntaxNode): string {
  return expr.slice(node.from, node.to)
}

function descendants (node: SyntaxNode, name: string): SyntaxNode[] {
  const found: SyntaxNode[] = []
  const cursor = node.cursor()
  do { if (cursor.name === name) found.push(cursor.node) } while (cursor.next() && cursor.from < node.to)
  return found.filter(n => n.from >= node.from && n.to <= node.to)
}

interface ParsedQuery { where: string, expr: string, top: SyntaxNode, syntaxErrors: number[] }

function parsedQueries (): ParsedQuery[] {
  return queries().map(({ where, expr }) => {
    const tree = parser.parse(expr)
    const syntaxErrors: number[] = []
    tree.iterate({ enter: node => { if (node.type.isError) syntaxErrors.push(node.from) } })
    return { where, expr, top: tree.topNode, syntaxErrors }
  })
}

test('docs/grafana-dashboard.json: every query is valid PromQL', () => {
  const all = parsedQueries()
  assert.ok(all.length > 20, `the dashboard has ${all.length} queries`)
  assert.deepEqual(all.filter(q => q.syntaxErrors.length > 0).map(q => `${q.where}: PromQL syntax error at ${q.syntaxErrors[0]} in ${q.expr}`), [])
})

test('docs/grafana-dashboard.json: every metric and label it queries is on the mirror\'s /metrics', async () => {
  const exported = await exportedMetrics()
  assert.ok(exported.has('kafka_mirror_records_total'), 'the mirror exports kafka_mirror_records_total')
  const problems: string[] = []
  const used = new Set<string>()
  for (const { where, expr, top } of parsedQueries()) {
    // Metric names of vector selectors, and the label names their matchers use
    for (const selector of descendants(top, 'VectorSelector')) {
      const id = selector.getChild('Identifier')
      if (id === null) { problems.push(`${where}: a selector without a metric name in ${expr}`); continue }
      const name = text(expr, id)
      used.add(name)
      const labels = exported.get(name)
      if (labels === undefined) { problems.push(`${where}: ${name} is not a metric the mirror exports`); continue }
      for (const m of descendants(selector, 'UnquotedLabelMatcher')) {
        const label = text(expr, m.getChild('LabelName')!)
        if (!labels.has(label)) problems.push(`${where}: ${name} has no label ${label}`)
      }
    }
    // by (...) and without (...): each label must be on every metric aggregated
    for (const grouping of descendants(top, 'GroupingLabels')) {
      const aggregate = grouping.parent?.parent
      if (aggregate?.name !== 'AggregateExpr') continue
      const names = descendants(aggregate, 'VectorSelector').map(s => s.getChild('Identifier')).filter(n => n !== null).map(n => text(expr, n))
      for (const label of descendants(grouping, 'LabelName').map(n => text(expr, n))) {
        for (const name of names) if (exported.get(name)?.has(label) === false) problems.push(`${where}: grouping by ${label}, which ${name} does not have`)
      }
    }
  }
  assert.deepEqual(problems, [])
  // The core metrics are on the dashboard
  for (const name of ['kafka_mirror_records_total', 'kafka_mirror_bytes_total', 'kafka_mirror_lag_records', 'kafka_mirror_lag_seconds', 'kafka_mirror_send_errors_total', 'kafka_mirror_fetch_errors_total']) {
    assert.ok(used.has(name), `the dashboard shows ${name}`)
  }
})

test('docs/grafana-dashboard.json: panels use the datasource variable, have unique ids and fit the 24-column grid', () => {
  assert.equal(dashboard.uid, 'kafka-mirror')
  assert.ok(dashboard.templating.list.some(v => v.name === 'datasource' && v.type === 'datasource'))
  const panels = allPanels(dashboard.panels)
  const ids = panels.map(p => p.id)
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  for (const p of panels) {
    assert.ok(p.gridPos !== undefined && p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `panel "${p.title}" fits the grid`)
    if (p.type === 'row') continue
    assert.equal(p.datasource?.uid, '${datasource}', `panel "${p.title}" uses $datasource`)
    for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, '${datasource}', `a query of "${p.title}" uses $datasource`)
  }
})

test('docs/grafana-dashboard.json against a real mirror scraped by Prometheus: every query answers, the main panels with data', async () => {
  const { source, target } = await testClusters()
  // Given a mirror copying records, scraped every second
  const topic = await createTestTopic(source, { prefix: 'grafana', partitions: 3 })
  const files = writeTutorialConfigs(source, target)
  const port = await freePort()
  const prometheus = await startPrometheus([`127.0.0.1:${port}`])
  const mirror = startCli(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic, '--http.listener', `127.0.0.1:${port}`, '--status.interval.ms', '1000'])
  const producer = new Producer({ clientId: 'grafana-test', bootstrapBrokers: source.split(','), idempotent: true })
  let written = 0
  try {
    await waitFor(async () => (await get(`http://127.0.0.1:${port}/readyz`)).status === 200, 60_000, 'the mirror to be ready')
    const until = Date.now() + 8000
    for (let batch = 0; Date.now() < until; batch++) {
      const records = makeRecords(200, { keys: 20 })
      await producer.send({ acks: -1, messages: records.map(r => ({ topic, key: Buffer.from(`${batch}-${r.key!.toString()}`), value: r.value!, timestamp: BigInt(Date.now()) })) })
      written += records.length
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    // When each query of the dashboard runs as Grafana would run it (every process, every topic)
    const answers = new Map<string, number>()
    const failures: string[] = []
    for (const { where, expr } of queries({ rateInterval: '5s', range: '30s' })) {
      if (where.startsWith('variable')) continue
      const answer = JSON.parse((await get(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`)).text) as { status: string, error?: string, data?: { result: unknown[] } }
      if (answer.status !== 'success') failures.push(`${where}: ${answer.error}`)
      answers.set(where, answer.data?.result.length ?? 0)
    }
    // Then Prometheus accepts every one, and the panels of throughput, lag and latency have data
    assert.deepEqual(failures, [])
    for (const panel of ['Records/s', 'Throughput', 'Lag', 'Lag, seconds', 'Source / target up', 'Records/s by topic', 'Lag by topic, records', 'Replication latency', 'Record age at fetch', 'CPU', 'Processes']) {
      assert.ok((answers.get(`panel "${panel}" query 1`) ?? 0) > 0, `panel "${panel}" has data`)
    }
    assert.equal(answers.get('panel "Lag per partition" query 1'), 3)
  } finally {
    await producer.close()
    mirror.interrupt()
    await prometheus.stop()
  }
  assert.equal((await mirror.finished).code, 0)
  await waitForRecords(target, topic, written)
})
