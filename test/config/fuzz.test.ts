// 1,000 mutated consumer/producer properties pairs and flag sets through the config loader and the
// command line (--validate, so nothing connects). Each case must end in a valid settings object or a
// KafkaMirrorError with a message (exit code 2), never another exception and never a hang.
// KAFKA_MIRROR_FUZZ_SEED and KAFKA_MIRROR_FUZZ_CASES replay or widen a run.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Worker } from 'node:worker_threads'
import type { FuzzOptions, FuzzReport } from './fuzz-cases.ts'

const seed = Number(process.env.KAFKA_MIRROR_FUZZ_SEED ?? 20261125)
const cases = Number(process.env.KAFKA_MIRROR_FUZZ_CASES ?? 1000)
// A case normally takes a few milliseconds; the first one also loads the modules.
const CASE_TIMEOUT_MS = 5000
const dir = mkdtempSync(join(tmpdir(), 'kmfuzz-'))
after(() => rmSync(dir, { recursive: true, force: true }))

interface Outcome { valid: number, invalid: number, failures: string[], slowest: { index: number, ms: number } }

/** Runs cases [first, first+count) in a worker; a case silent for too long is a hang, and a failure. */
async function runWorker (first: number, count: number): Promise<Outcome> {
  const outcome: Outcome = { valid: 0, invalid: 0, failures: [], slowest: { index: -1, ms: 0 } }
  const worker = new Worker(new URL('./fuzz-cases.ts', import.meta.url), { workerData: { seed, first, count, dir } satisfies FuzzOptions })
  let current = { index: first, input: '(starting)' }
  let timer: NodeJS.Timeout | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      const watch = (): void => {
        clearTimeout(timer)
        timer = setTimeout(() => {
          outcome.failures.push(`case ${current.index} (seed ${seed}) did not finish within ${CASE_TIMEOUT_MS} ms: ${current.input}`)
          resolve()
        }, CASE_TIMEOUT_MS)
      }
      watch()
      worker.on('message', (report: FuzzReport) => {
        watch()
        if (report.type === 'start') current = report
        else if (report.type === 'case') {
          outcome[report.outcome]++
          if (report.ms > outcome.slowest.ms) outcome.slowest = { index: report.index, ms: report.ms }
        } else if (report.type === 'failure') outcome.failures.push(`case ${report.index} (seed ${seed}): ${report.input}\n${report.message}`)
        else { clearTimeout(timer); resolve() }
      })
      worker.on('error', error => { clearTimeout(timer); reject(error) })
      worker.on('exit', code => { clearTimeout(timer); if (code !== 0) reject(new Error(`the fuzz worker exited with ${code} at case ${current.index}: ${current.input}`)) })
    })
  } finally {
    clearTimeout(timer)
    await worker.terminate()
  }
  return outcome
}

test(`${cases} mutated configs and flag sets end in settings or a ConfigError, each within ${CASE_TIMEOUT_MS} ms`, async () => {
  const started = Date.now()
  const outcome = await runWorker(0, cases)
  assert.deepEqual(outcome.failures, [], outcome.failures.slice(0, 5).join('\n\n'))
  assert.equal(outcome.valid + outcome.invalid, cases)
  // Both paths must be exercised, or the mutations are too weak or too strong.
  assert.ok(outcome.valid >= cases * 0.05, `only ${outcome.valid} valid cases`)
  assert.ok(outcome.invalid >= cases * 0.5, `only ${outcome.invalid} invalid cases`)
  assert.ok(Date.now() - started < 30_000, `the fuzz took ${Date.now() - started} ms; slowest case ${outcome.slowest.index}: ${Math.round(outcome.slowest.ms)} ms`)
})
