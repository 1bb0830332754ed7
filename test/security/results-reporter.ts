// The results file of `npm run test:security` (test/security/results/<date>.md): every S1-S3 case
// with its outcome and time, as the compat and image suites keep theirs, since these tests start
// secured clusters of their own and no longer run inside `npm test`.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpus } from 'node:os'
import { basename } from 'node:path'
import type { TestEvent } from 'node:test/reporters'

interface Row { file: string, name: string, outcome: string, seconds: string }

function javaVersion (): string {
  // java -version writes to stderr
  const run = spawnSync('java', ['-version'], { encoding: 'utf8' })
  return `${run.stderr ?? ''}`.split('\n')[0] || 'java unknown'
}

function commit (): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

export default async function * securityResults (source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const started = Date.now()
  const rows: Row[] = []
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue
    const data = event.data
    // Cases only: the describe blocks (one per file) are the files' totals
    if (data.details.type === 'suite' || data.file === undefined) continue
    const outcome = event.type === 'test:fail' ? 'FAILED' : data.skip !== undefined && data.skip !== false ? `skipped (${String(data.skip)})` : 'passed'
    rows.push({ file: basename(data.file), name: data.name, outcome, seconds: (data.details.duration_ms / 1000).toFixed(1) })
  }
  const passed = rows.filter(r => r.outcome === 'passed').length
  yield `# Security tests, ${new Date().toISOString().slice(0, 10)}\n\n`
  yield `\`npm run test:security\` (test/security/*.e2e.ts): Node ${process.version}, ${javaVersion()}, commit ${commit()}, ${cpus().length} cores; ${((Date.now() - started) / 1000).toFixed(1)} s in all.\n`
  yield `Each file starts a 1-broker cluster with SSL, mTLS, SASL_PLAINTEXT and SASL_SSL listeners (S3 also OAUTHBEARER against a token and JWKS endpoint on loopback) and mirrors to or from a plain cluster (${process.env.KAFKA_MIRROR_TEST_CLUSTERS !== undefined ? 'the target of KAFKA_MIRROR_TEST_CLUSTERS' : 'a 1-broker one of its own'}); records are read back with kcat and compared byte for byte.\n\n`
  yield `${passed} of ${rows.length} passed.\n\n| File | Case | Result | Time |\n|---|---|---|---|\n`
  for (const r of rows) yield `| ${r.file} | ${r.name.replace(/\|/g, '\\|')} | ${r.outcome} | ${r.seconds} s |\n`
}
