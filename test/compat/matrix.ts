// The full broker-compatibility matrix (`npm run test:compat`): one cluster per Kafka line, started
// once and reused, then kafka-mirror --once from every line to every line in both partitionings,
// every record counted on the target. Writes test/compat/results/<date>.md.
//   node test/compat/matrix.ts [line ...]      lines: 0.11 1.1 2.4 2.8 3.9 4.4 (default: all)
// Run it under the shared lock: flock /tmp/kafka-heavy.lock npm run test:compat
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Base } from '@platformatic/kafka'
import type { KafkaCluster } from '../../harness/cluster.ts'
import { javaBin } from '../../harness/kafka-dist.ts'
import { OFFSET_COMMIT } from '../../src/kafka/raw/offset-commit.ts'
import { FETCH } from '../../src/kafka/raw/raw-fetcher.ts'
import { INIT_PRODUCER_ID, PRODUCE } from '../../src/kafka/raw/producer-versions.ts'
import { pickVersion, type VersionedApi } from '../../src/kafka/raw/versions.ts'
import { LINES, mirrorOnce, startLine, type CompatOutcome, type Compression } from './compat.ts'

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(LINES)
const count = Number(process.env.KAFKA_MIRROR_COMPAT_RECORDS ?? 2000)
const java = spawnSync(javaBin(), ['-version'], { encoding: 'utf8' }).stderr.split('\n')[0]

/** A line's cluster; Kafka 4.4 has two (a source and a target) so that 4.4 → 4.4 runs too. */
interface Started { name: string, asSource: string, asTarget: string, clusters: KafkaCluster[], apis: string, failed?: string }
const started: Started[] = []

async function apisOf (bootstrap: string): Promise<string> {
  const client = new Base({ clientId: 'compat', bootstrapBrokers: bootstrap.split(',') })
  try {
    const apis = await client.listApis()
    return ([FETCH, PRODUCE, OFFSET_COMMIT, INIT_PRODUCER_ID] as Array<VersionedApi<unknown>>).map(api => {
      const range = apis.find(a => a.apiKey === api.key)
      const picked = pickVersion(api, range)
      return `${api.name} v${range?.minVersion}-${range?.maxVersion} → ${picked === undefined ? 'none' : `v${picked.version}`}`
    }).join(', ')
  } finally {
    await client.close()
  }
}

const shared = process.env.KAFKA_MIRROR_TEST_CLUSTERS !== undefined ? JSON.parse(process.env.KAFKA_MIRROR_TEST_CLUSTERS) as { source: string, target: string } : undefined
try {
  for (const name of names) {
    const line = LINES[name]
    if (line === undefined) throw new Error(`unknown line ${name}: one of ${Object.keys(LINES).join(' ')}`)
    const t = Date.now()
    try {
      // The run's shared Kafka 4.4 clusters serve as the 4.4 line when there are some.
      const clusters = name === '4.4' && shared !== undefined ? [] : name === '4.4' ? [await startLine(line), await startLine(line)] : [await startLine(line)]
      const asSource = clusters[0]?.bootstrap ?? shared!.source
      const asTarget = clusters[1]?.bootstrap ?? (clusters.length === 0 ? shared!.target : asSource)
      started.push({ name, asSource, asTarget, clusters, apis: await apisOf(asSource) })
      process.stderr.write(`${line.label} up in ${Date.now() - t} ms at ${asSource}\n`)
    } catch (error) {
      started.push({ name, asSource: '', asTarget: '', clusters: [], apis: '', failed: (error as Error).message.split('\n').slice(0, 3).join(' ') })
      process.stderr.write(`${line.label} did not start: ${(error as Error).message.slice(0, 300)}\n`)
    }
  }
  const runs: Array<{ source: string, target: string, partitioning: string, compression: Compression, outcome: CompatOutcome }> = []
  const up = started.filter(s => s.failed === undefined)
  // lz4 batches (every line has lz4) between every pair; zstd batches (Kafka 2.1+) from 2.4 and 4.4
  // to every line, to show where zstd goes and where it is refused.
  const zstdSources = new Set(['2.4', '4.4'])
  for (const compression of ['lz4', 'zstd'] as const) {
    for (const s of up) {
      if (compression === 'zstd' && !zstdSources.has(s.name)) continue
      for (const t of up) {
        // One cluster per old line: a topic cannot be mirrored onto itself.
        if (s.asSource === t.asTarget) continue
        for (const partitioning of ['key', 'source'] as const) {
          const outcome = await mirrorOnce(s.asSource, t.asTarget, partitioning, { count, compression })
          runs.push({ source: s.name, target: t.name, partitioning, compression, outcome })
          process.stderr.write(`${s.name} → ${t.name} ${partitioning} ${compression}: ${outcome.ok ? `ok, ${outcome.records} records` : `FAILED: ${outcome.error}`} (${outcome.ms} ms)\n`)
        }
      }
    }
  }
  const date = new Date().toISOString().slice(0, 10)
  const cell = (o: CompatOutcome | undefined): string => o === undefined ? '— (same cluster)' : o.ok ? `works (${o.records})` : `fails: ${o.error?.replace(/\|/g, '\\|')}`
  const lines = [
    `# Broker compatibility, ${date}`,
    '',
    `\`npm run test:compat\` on this machine (2 cores): one single-broker cluster per Kafka line, JDK: ${java}.`,
    `Each cell: kafka-mirror --once copying a new 3-partition topic of ${count} keyed records with headers (every 97th a`,
    'tombstone), written in lz4 or zstd batches, from the source line to the target line (topic created there by the mirror,',
    'compression.type the same as the source batches\'); "works (n)" means kcat read all',
    'n records on the target once each, byte-equal keys, values and headers, timestamps kept, per-key order kept.',
    'Old lines run one cluster each, so their own diagonal cell is empty; Kafka 4.4 has a source and a target cluster.',
    '',
    '## Lines and the API versions kafka-mirror chose',
    '',
    '| line | started | ApiVersions → chosen |',
    '|---|---|---|',
    ...started.map(s => `| ${LINES[s.name].label} | ${s.failed === undefined ? 'yes' : `no: ${s.failed.replace(/\|/g, '\\|')}`} | ${s.apis} |`),
    '',
    ...(['lz4', 'zstd'] as const).flatMap(compression => (['key', 'source'] as const).flatMap(partitioning => [
      `## ${compression} batches, --partitioning ${partitioning} (rows: source, columns: target)`,
      '',
      `| source \\ target | ${up.map(t => LINES[t.name].label).join(' | ')} |`,
      `|---|${up.map(() => '---|').join('')}`,
      ...up.filter(s => compression === 'lz4' || zstdSources.has(s.name)).map(s => `| ${LINES[s.name].label} | ${up.map(t => cell(runs.find(r => r.source === s.name && r.target === t.name && r.partitioning === partitioning && r.compression === compression)?.outcome)).join(' | ')} |`),
      ''
    ])),
    `${runs.filter(r => r.outcome.ok).length} of ${runs.length} runs worked; total ${Math.round(runs.reduce((s, r) => s + r.outcome.ms, 0) / 1000)} s of mirror runs.`,
    ''
  ]
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${date}.md`)
  writeFileSync(file, lines.join('\n'))
  process.stderr.write(`wrote ${file}\n`)
  process.exitCode = runs.every(r => r.outcome.ok || r.compression === 'zstd') && started.every(s => s.failed === undefined) ? 0 : 1
} finally {
  await Promise.all(started.flatMap(s => s.clusters.map(async c => await c.stop())))
}
