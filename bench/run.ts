// `npm run bench -- [--scale 1] [--workloads W1,W2,W3,W4,W5] [--brokers 1|3] [--systems ...] [--out file]`
// Measures kafka-mirror beside MirrorMaker 2 and Kafka's perf tools and writes bench/results/<date>.md.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { allSystems, repoRoot, runBench, type SystemId } from './harness.ts'
import { workloadIds, type WorkloadId } from './workloads.ts'

export { runBench } from './harness.ts'
export type { BenchOptions, BenchResult, Row, SystemId } from './harness.ts'

const usage = `Usage: npm run bench -- [options]

  --scale <factor>        multiplies every workload's record count (default 1: W1 20 M, W2 5 M,
                          W3 5 M per codec, W4 1 M records; W5 produces for 600 s × scale, 15..300 s)
  --workloads W1,W2,...   which workloads (default W1,W2,W3,W4,W5)
  --brokers 1|3           brokers per cluster (default 1)
  --systems a,b           PIPE, MM2, MM1, kafka-mirror-source, kafka-mirror-key, kafka-mirror-passthrough
                          (default all)
  --partitions <n>        partitions of every topic (default 4)
  --out <file>            results file (default bench/results/<YYYY-MM-DD>.md)
`

function systemOf (name: string): SystemId {
  const found = allSystems.find(s => s.replace(' ', '-').toLowerCase() === name.trim().toLowerCase() || s.toLowerCase() === name.trim().toLowerCase())
  if (found === undefined) throw new Error(`unknown system "${name}"; one of ${allSystems.map(s => s.replace(' ', '-')).join(', ')}`)
  return found
}

export async function main (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string' },
      workloads: { type: 'string' },
      brokers: { type: 'string' },
      systems: { type: 'string' },
      partitions: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' }
    },
    strict: true
  })
  if (values.help === true) {
    process.stdout.write(usage)
    return 0
  }
  const workloads = (values.workloads ?? workloadIds.join(',')).split(',').map(w => w.trim().toUpperCase())
  const unknown = workloads.filter(w => !(workloadIds as string[]).includes(w))
  if (unknown.length > 0) throw new Error(`unknown workload ${unknown.join(', ')}; one of ${workloadIds.join(', ')}`)
  const out = values.out ?? join(repoRoot, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}.md`)
  const result = await runBench({
    scale: values.scale !== undefined ? Number(values.scale) : 1,
    workloads: workloads as WorkloadId[],
    brokers: values.brokers !== undefined ? Number(values.brokers) : 1,
    systems: values.systems?.split(',').map(systemOf),
    partitions: values.partitions !== undefined ? Number(values.partitions) : undefined,
    out
  })
  process.stdout.write(result.markdown)
  const failed = result.rows.some(r => !r.complete)
  return failed ? 1 : 0
}

if (import.meta.main) {
  // Ctrl+C: exit through process.exit so the 'exit' handlers kill the clusters and tools started.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  try {
    process.exitCode = await main(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n\n${usage}`)
    process.exitCode = 2
  }
}
