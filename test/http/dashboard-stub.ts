// A stand-in for the mirror's HTTP listener, for working on the dashboard without Kafka: it serves
// src/http/dashboard/ and the uPlot assets as the real server does, and a made-up GET /api/status
// (CONTRACTS.md shape) whose numbers move. `node test/http/dashboard-stub.ts [port]` runs it by hand.
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

const dashboard = fileURLToPath(new URL('../../src/http/dashboard/', import.meta.url))
const uplot = fileURLToPath(new URL('../../node_modules/uplot/dist/', import.meta.url))

const types: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', png: 'image/png', svg: 'image/svg+xml' }
const assets: Record<string, string> = { '/assets/uPlot.iife.min.js': `${uplot}uPlot.iife.min.js`, '/assets/uPlot.min.css': `${uplot}uPlot.min.css` }

export type Status = ReturnType<typeof fakeStatus>

const topics = [
  { topic: 'orders', partitions: 8, share: 0.55 },
  { topic: 'payments.eu-west-1', partitions: 3, share: 0.15 },
  { topic: 'clickstream', partitions: 12, share: 0.3 }
]

/** A status as the mirror would give it `seconds` after its start, copying a wavy load. */
export function fakeStatus (seconds: number, startedAt: number): {
  version: string, state: string, startedAt: string, now: string, group: string, partitioning: string,
  source: { bootstrap: string, connected: boolean }, target: { bootstrap: string, connected: boolean },
  totals: Record<string, number | null>,
  partitions: Array<{ topic: string, partition: number, records: number, bytes: number, sourceEndOffset: string | null, committedOffset: string | null, position: string | null, lagRecords: number | null, lagSeconds: number | null }>,
  errors: Array<{ at: string, level: string, message: string }>,
  config: Record<string, string>
} {
  const recordSize = 480
  const rate = 12_000 + 5_000 * Math.sin(seconds / 15) + 1_500 * Math.sin(seconds / 2.3)
  const copied = Math.round(12_000 * seconds - 75_000 * (Math.cos(seconds / 15) - 1))
  const partitions = topics.flatMap(t => Array.from({ length: t.partitions }, (_, partition) => {
    const records = Math.round(copied * t.share / t.partitions * (1 + ((partition * 7) % 5) / 20))
    const lagRecords = Math.round(Math.abs(Math.sin(seconds / 9 + partition)) * 400 * t.share * (partition % 3 === 0 ? 8 : 1))
    const committed = 1_000_000 * (partition + 1) + records
    return {
      topic: t.topic, partition, records, bytes: records * recordSize,
      sourceEndOffset: String(committed + lagRecords), committedOffset: String(committed), position: String(committed + Math.floor(lagRecords / 2)),
      lagRecords, lagSeconds: Number((lagRecords / (rate * t.share / t.partitions)).toFixed(2))
    }
  }))
  const totalRecords = partitions.reduce((s, p) => s + p.records, 0)
  const lagRecords = partitions.reduce((s, p) => s + (p.lagRecords ?? 0), 0)
  const now = startedAt + seconds * 1000
  return {
    version: '0.2.0',
    state: 'running',
    startedAt: new Date(startedAt).toISOString(),
    now: new Date(now).toISOString(),
    group: 'mirror-group',
    partitioning: 'key',
    source: { bootstrap: '10.0.1.11:9092,10.0.1.12:9092,10.0.1.13:9092', connected: true },
    target: { bootstrap: 'kafka-dr-0.kafka:9092,kafka-dr-1.kafka:9092', connected: true },
    totals: {
      records: totalRecords, bytes: totalRecords * recordSize,
      recordsPerSecond: Number(rate.toFixed(1)), bytesPerSecond: Number((rate * recordSize).toFixed(1)),
      lagRecords, lagSeconds: Math.max(...partitions.map(p => p.lagSeconds ?? 0)),
      sendErrors: 0, fetchErrors: 2, rebalances: 1, gaps: 0
    },
    partitions,
    errors: [
      { at: new Date(startedAt + 4_000).toISOString(), level: 'warn', message: 'fetch from broker 2 failed (ECONNRESET); retrying' },
      { at: new Date(startedAt + 9_000).toISOString(), level: 'warn', message: 'the group rebalanced: 3 partitions assigned to this process, 2 revoked' }
    ],
    config: {
      '--consumer.config': 'consumer.properties',
      '--producer.config': 'producer.properties',
      '--include': 'orders|payments\\..*|clickstream',
      '--num.streams': '4',
      'source bootstrap.servers': '10.0.1.11:9092,10.0.1.12:9092,10.0.1.13:9092',
      'source group.id': 'mirror-group',
      'source security.protocol': 'SASL_SSL',
      'source sasl.mechanism': 'SCRAM-SHA-512',
      'source sasl.jaas.config': '[hidden]',
      'target bootstrap.servers': 'kafka-dr-0.kafka:9092,kafka-dr-1.kafka:9092',
      'target compression.type': 'lz4',
      'target ssl.truststore.password': '[hidden]'
    }
  }
}

export interface DashboardStub {
  url: string
  /** While true, GET /api/status answers 503, as a mirror that went away. */
  down: boolean
  close: () => Promise<void>
}

/** Starts the stand-in on 127.0.0.1 (a free port unless one is given); `edit` may change each status. */
export async function startDashboardStub (options: { port?: number, edit?: (status: Status) => Status } = {}): Promise<DashboardStub> {
  const startedAt = Date.now() - 95_000
  const stub: DashboardStub = { url: '', down: false, close: async () => {} }
  const server: Server = createServer((request, response) => {
    void (async () => {
      const path = new URL(request.url ?? '/', 'http://stub').pathname
      if (request.method !== 'GET') return send(response, 405, 'text/plain', 'GET only')
      if (path === '/api/status') {
        if (stub.down) return send(response, 503, 'text/plain', 'stub is down')
        const status = fakeStatus((Date.now() - startedAt) / 1000, startedAt)
        return send(response, 200, 'application/json', JSON.stringify(options.edit?.(status) ?? status))
      }
      const file = assets[path] ?? (path === '/' ? `${dashboard}index.html` : /^\/[\w.-]+$/.test(path) ? `${dashboard}${path.slice(1)}` : undefined)
      if (file === undefined) return send(response, 404, 'text/plain', 'not found')
      const body = await readFile(file).catch(() => undefined)
      if (body === undefined) return send(response, 404, 'text/plain', 'not found')
      send(response, 200, types[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream', body)
    })()
  })
  await new Promise<void>(resolve => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  stub.close = async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  return stub
}

function send (response: import('node:http').ServerResponse, code: number, type: string, body: string | Buffer): void {
  response.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' })
  response.end(body)
}

if (import.meta.main === true) {
  const stub = await startDashboardStub({ port: Number(process.argv[2] ?? 0) })
  process.stdout.write(`dashboard stub at ${stub.url}\n`)
}
