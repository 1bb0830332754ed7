// Keeps the benchmark harness (npm run bench) from rotting: one tiny run of W2 against clusters of its
// own, checking that the harness works, not the numbers. MirrorMaker 2's Connect start-up and stop
// add about 15 s and push the test past a minute on a busy 2-core machine, so it is left out unless
// KAFKA_MIRROR_BENCH_SMOKE_MM2=1. MirrorMaker 1 (Kafka 3.9) starts in a few seconds and stays in.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SystemId } from '../../bench/harness.ts'
import { runBench } from '../../bench/run.ts'

const withMm2 = process.env.KAFKA_MIRROR_BENCH_SMOKE_MM2 === '1'
const systems: SystemId[] = ['PIPE', ...(withMm2 ? ['MM2' as const] : []), 'MM1', 'kafka-mirror source', 'kafka-mirror key', 'kafka-mirror passthrough', 'REPLICATION']

test(`npm run bench at a tiny scale measures ${systems.join(', ')} and finds all N records on each target`, { timeout: 240_000 }, async () => {
  // Given 2,500 records of 1 KiB (W2 at --scale 0.0005)
  const result = await runBench({ scale: 0.0005, workloads: ['W2'], systems, log: () => {} })

  // Then the table has one row per system, each with the target count equal to N
  assert.deepEqual(result.cases.map(c => [c.id, c.records]), [['W2', 2500]])
  assert.deepEqual(result.rows.map(r => r.system), systems)
  for (const row of result.rows) {
    const why = `${row.system}: ${row.status}\n${row.errorTail ?? ''}`
    assert.equal(row.records, 2500, why)
    assert.equal(row.targetCount, row.records, why)
    assert.equal(row.complete, true, why)
    assert.ok(row.recordsPerSecond > 0 && row.megabytesPerSecond > 0, why)
    // The replication ceiling is the brokers' own work: no process of its own to sample.
    if (row.system === 'REPLICATION') continue
    assert.ok(row.cpuSeconds > 0 && Number.isFinite(row.cpuSecondsPerGb), why)
    assert.ok(row.peakRssBytes > 10 * 2 ** 20, why)
    // (NaN when the 100 ms count polling went from an empty target straight to a full one.)
    assert.ok(Number.isNaN(row.firstRecordSeconds) || (row.firstRecordSeconds > 0 && row.firstRecordSeconds <= row.wallSeconds), `${why}: first record at ${row.firstRecordSeconds} s`)
  }
  // And the Markdown has the workload's table and the ratios
  for (const name of ['PIPE (', ...(withMm2 ? ['MirrorMaker 2 ('] : []), 'MirrorMaker 1 (', 'kafka-mirror --partitioning source', 'kafka-mirror --partitioning key', 'kafka-mirror --partitioning source, raw']) {
    assert.match(result.markdown, new RegExp(`\\| ${name.replace(/[()]/g, '\\$&')}[^|]*\\| ok \\| 2,500 \\|`))
  }
  assert.match(result.markdown, /## Ratios[\s\S]*\| W2 \| source \| [^\n]*\d\.\d\d×/)
  assert.match(result.markdown, /\| Kafka replication [^|]*\| ok \| 2,500 \|/)
  assert.match(result.markdown, /## Goals \(issue 11\)[\s\S]*W2 passthrough ≥ 1\.0× replication/)
  assert.equal(result.file, undefined)
})
