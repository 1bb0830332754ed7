// Helpers of the HTTP listener tests: free ports, reading /metrics and /api/status, and a real
// Prometheus (Debian's package) started on loopback with a temporary config and data folder.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

export async function waitFor<T> (check: () => Promise<T | undefined | false>, timeoutMs: number, what: string, describe?: () => Promise<string> | string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (error) {
      last = error
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? ` (last error: ${String(last)})` : ''}${describe !== undefined ? `\n${await describe()}` : ''}`)
}

export async function get (url: string): Promise<{ status: number, text: string, type: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') ?? '' }
}

export interface Sample { name: string, labels: Record<string, string>, value: number }

/** The samples of Prometheus's text format. */
export function parseMetrics (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const m of (match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2]
    samples.push({ name: match[1], labels, value: Number(match[3]) })
  }
  return samples
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function sumOf (samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0)
}

export interface PrometheusProcess {
  url: string
  /** A query's single value, or undefined when the result is empty. */
  query: (expr: string) => Promise<number | undefined>
  stop: () => Promise<void>
}

/** Prometheus scraping `targets` every second, on a free loopback port, with its data in a temp folder. */
export async function startPrometheus (targets: string[]): Promise<PrometheusProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-prometheus-'))
  const config = join(dir, 'prometheus.yml')
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: kafka-mirror\n    static_configs:\n      - targets: [${targets.map(t => `'${t}'`).join(', ')}]\n`)
  const port = await freePort()
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn', '--storage.tsdb.retention.time=1h'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr!.on('data', d => { log += String(d) })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  await waitFor(async () => (await get(`${url}/-/ready`)).status === 200, 30_000, 'Prometheus to be ready', () => log)
  return {
    url,
    query: async (expr: string) => {
      const answer = JSON.parse((await get(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).text) as { status: string, data: { result: Array<{ value: [number, string] }> } }
      if (answer.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(answer)}`)
      return answer.data.result.length === 0 ? undefined : Number(answer.data.result[0].value[1])
    },
    stop: async () => {
      child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
