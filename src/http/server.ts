// The HTTP listener of --http.listener (CONTRACTS.md): /metrics for Prometheus, /healthz and
// /readyz for Kubernetes probes, /api/status as JSON, and the dashboard's static files. node:http,
// no framework: six routes do not need one. Answers only GET and HEAD; reads nothing from the
// request but its path, so there is nothing to inject.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { FlowsMetrics, MirrorMetrics } from '../metrics/metrics.ts'
import type { Mirror } from '../mirror/mirror.ts'
import { health, readiness, statusDocument, type StatusContext } from './status.ts'

/** The dashboard's folder, beside this module in src/ and in the built dist/src/. */
const dashboardDir = fileURLToPath(new URL('./dashboard/', import.meta.url))

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8'
}

const placeholder = `<!doctype html>
<html><head><meta charset="utf-8"><title>kafka-mirror</title></head>
<body><h1>kafka-mirror</h1><p>Prometheus metrics: <a href="/metrics">/metrics</a>. Status as JSON: <a href="/api/status">/api/status</a>.
Probes: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>.</p></body></html>
`

/** uPlot's files from its npm package, at the paths the dashboard loads them from. */
function uplotAssets (): Map<string, string> {
  const assets = new Map<string, string>()
  try {
    const require = createRequire(import.meta.url)
    const dist = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'))
    assets.set('/assets/uPlot.iife.min.js', join(dist, 'uPlot.iife.min.js'))
    assets.set('/assets/uPlot.min.css', join(dist, 'uPlot.min.css'))
  } catch {}
  return assets
}

export interface ListenAddress {
  host: string
  port: number
}

export interface MirrorServerOptions extends StatusContext {
  /** /readyz turns not-ready when nothing was copied for this long while lag is above 0. Default 60 s. */
  stallMs?: number
}

/** One of several Mirrors served together (the mm2 command's flows), by name (`A->B`). */
export interface ServedFlow {
  name: string
  mirror: Mirror
}

export class MirrorServer {
  readonly metrics: MirrorMetrics | FlowsMetrics
  #server: Server
  #flows: ServedFlow[]
  #options: MirrorServerOptions
  #assets = uplotAssets()

  /**
   * One Mirror (the mirror command), or several flows: then every metric series has a `flow`
   * label, /healthz and /readyz answer for all of them (naming the first flow that is not), and
   * /api/status is `{ version, flows: [{ flow, ...one mirror's document }] }`.
   */
  constructor (mirror: Mirror | ServedFlow[], options: MirrorServerOptions) {
    this.#flows = Array.isArray(mirror) ? mirror : [{ name: '', mirror }]
    this.#options = options
    this.metrics = Array.isArray(mirror) ? new FlowsMetrics(mirror, { version: options.version }) : new MirrorMetrics(mirror, { version: options.version })
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch(() => {
        if (!response.headersSent) this.#send(response, 500, 'text/plain; charset=utf-8', 'internal error\n')
        else response.destroy()
      })
    })
    // Probes and scrapes are short; a client that holds a connection open gets it closed.
    this.#server.keepAliveTimeout = 5000
    this.#server.requestTimeout = 10_000
  }

  /** Listens; resolves with the address bound (port 0 picks a free one). */
  async listen (address: ListenAddress): Promise<ListenAddress> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(address.port, address.host, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    const bound = this.#server.address()
    return typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : address
  }

  async close (): Promise<void> {
    this.metrics.close()
    this.#server.closeAllConnections()
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
  }

  #send (response: ServerResponse, status: number, type: string, body: string | Buffer, head = false): void {
    response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(body) })
    response.end(head ? undefined : body)
  }

  async #handle (request: IncomingMessage, response: ServerResponse): Promise<void> {
    const head = request.method === 'HEAD'
    if (request.method !== 'GET' && !head) {
      response.setHeader('allow', 'GET, HEAD')
      this.#send(response, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', head)
      return
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname
    const flows = this.#flows
    const single = flows.length === 1 && flows[0].name === ''
    const named = (flow: ServedFlow, reason: string): string => single ? reason : `${flow.name}: ${reason}`
    switch (path) {
      case '/metrics':
        this.#send(response, 200, this.metrics.contentType, await this.metrics.text(), head)
        return
      case '/healthz': {
        const sick = flows.map(f => ({ f, h: health(f.mirror) })).find(x => !x.h.ok)
        this.#send(response, sick === undefined ? 200 : 503, 'text/plain; charset=utf-8', `${sick === undefined ? 'ok' : named(sick.f, sick.h.reason)}\n`, head)
        return
      }
      case '/readyz': {
        const answers = flows.map(f => ({ f, r: readiness(f.mirror, this.#options.stallMs ?? 60_000) }))
        const not = answers.find(x => !x.r.ready)
        const reason = not !== undefined ? named(not.f, not.r.reason) : single ? answers[0].r.reason : 'ok'
        this.#send(response, not === undefined ? 200 : 503, 'text/plain; charset=utf-8', `${reason}\n`, head)
        return
      }
      case '/api/status': {
        const body = single
          ? statusDocument(flows[0].mirror, this.#options)
          : { version: this.#options.version, flows: flows.map(f => ({ flow: f.name, ...statusDocument(f.mirror, this.#options) })) }
        this.#send(response, 200, 'application/json', `${JSON.stringify(body, null, 2)}\n`, head)
        return
      }
    }
    const asset = this.#assets.get(path)
    if (asset !== undefined) {
      this.#send(response, 200, contentTypes[extname(asset)] ?? 'application/octet-stream', await readFile(asset), head)
      return
    }
    await this.#static(path, response, head)
  }

  /** A file of the dashboard folder; `/` is its index.html, or a placeholder while there is none. */
  async #static (path: string, response: ServerResponse, head: boolean): Promise<void> {
    const relative = path === '/' ? 'index.html' : decodeURIComponent(path).replace(/^\/+/, '')
    const file = normalize(join(dashboardDir, relative))
    // Never outside the folder (../ in the path).
    if (!file.startsWith(dashboardDir.endsWith(sep) ? dashboardDir : dashboardDir + sep) || relative.includes('\0')) {
      this.#send(response, 404, 'text/plain; charset=utf-8', 'not found\n', head)
      return
    }
    const found = await stat(file).then(s => s.isFile(), () => false)
    if (!found) {
      if (path === '/') this.#send(response, 200, 'text/html; charset=utf-8', placeholder, head)
      else this.#send(response, 404, 'text/plain; charset=utf-8', 'not found\n', head)
      return
    }
    this.#send(response, 200, contentTypes[extname(file)] ?? 'application/octet-stream', await readFile(file), head)
  }
}

/**
 * --http.listener of a command: serves `served` at `address` and logs the URL; a port that cannot
 * be bound is a ConfigError naming the flag.
 */
export async function serveHttp (served: Mirror | ServedFlow[], address: ListenAddress, options: MirrorServerOptions, log: Logger): Promise<MirrorServer> {
  const server = new MirrorServer(served, options)
  const bound = await server.listen(address).catch(async (error: NodeJS.ErrnoException) => {
    await server.close().catch(() => {})
    throw new ConfigError([{ source: 'command line', key: '--http.listener', message: `cannot listen on ${address.host}:${address.port}: ${error.code ?? error.message}`, fix: 'pick a free port, or an address of this host' }])
  })
  log.info({ url: `http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}/` }, 'serving metrics and status')
  return server
}
