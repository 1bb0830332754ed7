// A fault-injecting TCP proxy for the network tests (R7, R8 of issue 6), in Node so it runs
// wherever the tests run (CI has Node, a JDK, Maven and kcat; no Go, no Toxiproxy, no tc/netem).
// Each accepted connection is piped to the upstream broker through two lanes (client → broker,
// broker → client) that can be cut, delayed, slowed or reset while traffic flows:
//
//   cut 'blackhole': a network partition. No byte passes either way; existing connections stay
//                    open (as TCP connections do across a partition: the kernel retransmits) and
//                    new ones are accepted but never reach the broker. What was in flight is held
//                    and delivered after the heal, as TCP delivers it after retransmitting.
//   cut 'reset':     every connection is reset (RST) and new ones are reset at once: the far
//                    side is unreachable and says so.
//   latencyMs:       added to every chunk in each direction (order kept per connection).
//   lossRate:        the share of chunks "lost" on the wire: TCP never loses bytes, it resends
//                    them after a retransmission timeout, so a lost chunk (and everything behind
//                    it on that connection) arrives retransmitMs later.
//   bandwidth:       bytes per second per direction, shared by all connections of the proxy.
//   resetRate:       probability per second that each open connection is reset.
//
// In a test: const proxy = await ProxyProcess.start({ upstream: { host, port } }); await proxy.set({ cut: 'blackhole' }); await proxy.heal()
//            (a process of its own, so the test's own work never slows the network it fakes;
//            FaultProxy.start runs the same proxy inside the calling process)
// By hand:   node test/tools/fault-proxy.ts --listen 19092 --upstream 127.0.0.1:9092
//            then type commands on stdin: `cut blackhole`, `cut reset`, `latency 100`, `loss 0.05`,
//            `bandwidth 262144`, `resets 0.1`, `heal`, `stats`.
import { fork, type ChildProcess } from 'node:child_process'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'

export type CutMode = 'none' | 'blackhole' | 'reset'

export interface Faults {
  cut: CutMode
  /** Added delay of each chunk, each way, in ms. */
  latencyMs: number
  /** Share (0..1) of chunks that arrive retransmitMs late, as after a lost TCP segment. */
  lossRate: number
  retransmitMs: number
  /** Bytes per second per direction over all connections; 0: unlimited. */
  bandwidth: number
  /** Probability per second that an open connection is reset; 0: never. */
  resetRate: number
}

export const noFaults: Faults = { cut: 'none', latencyMs: 0, lossRate: 0, retransmitMs: 200, bandwidth: 0, resetRate: 0 }

export interface ProxyStats {
  accepted: number
  /** Connections reset by the proxy: cut 'reset', resetRate. */
  reset: number
  /** Connections accepted during a blackhole, held until the heal. */
  held: number
  open: number
  bytesUp: number
  bytesDown: number
  /** Chunks delayed as lost-and-retransmitted. */
  lostChunks: number
}

/** Bytes a lane takes from its source before it stops reading (like a TCP window). */
const WINDOW = 256 * 1024

type Direction = 'up' | 'down'

class Lane {
  #queue: Array<{ chunk: Buffer, due: number }> = []
  #queuedBytes = 0
  #lastDue = 0
  #timer: NodeJS.Timeout | undefined
  #ended = false
  /** The connection starts with both sockets paused; pump() lets reading start. */
  #readingPaused = true
  readonly from: Socket
  readonly to: Socket
  readonly direction: Direction
  #proxy: FaultProxy

  constructor (proxy: FaultProxy, from: Socket, to: Socket, direction: Direction) {
    this.#proxy = proxy
    this.from = from
    this.to = to
    this.direction = direction
    from.on('data', (chunk: Buffer) => { this.#push(chunk) })
    from.on('end', () => { this.#ended = true; this.pump() })
    to.on('drain', () => { this.#updateReading() })
  }

  #push (chunk: Buffer): void {
    const faults = this.#proxy.faults
    let due = Date.now()
    if (faults.bandwidth > 0) due = this.#proxy.takeBandwidth(this.direction, chunk.length, due)
    due += faults.latencyMs
    if (faults.lossRate > 0 && Math.random() < faults.lossRate) {
      due += faults.retransmitMs
      this.#proxy.stats.lostChunks++
    }
    // Bytes of one connection never overtake each other.
    due = Math.max(due, this.#lastDue)
    this.#lastDue = due
    this.#queue.push({ chunk, due })
    this.#queuedBytes += chunk.length
    this.#updateReading()
    this.pump()
  }

  /** Delivers every chunk that is due, unless the network is cut; schedules the next one. */
  pump (): void {
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.to.destroyed) return
    if (this.#proxy.faults.cut !== 'none') { this.#updateReading(); return }
    const now = Date.now()
    while (this.#queue.length > 0 && this.#queue[0].due <= now) {
      const { chunk } = this.#queue.shift()!
      this.#queuedBytes -= chunk.length
      if (this.direction === 'up') this.#proxy.stats.bytesUp += chunk.length
      else this.#proxy.stats.bytesDown += chunk.length
      this.to.write(chunk)
    }
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => { this.#timer = undefined; this.pump() }, Math.max(1, this.#queue[0].due - now))
    } else if (this.#ended) {
      this.to.end()
    }
    this.#updateReading()
  }

  /** Reads from the source only while the network passes bytes and the window has room. */
  #updateReading (): void {
    const stop = this.#proxy.faults.cut !== 'none' || this.#queuedBytes >= WINDOW || this.to.writableNeedDrain
    if (stop && !this.#readingPaused) { this.#readingPaused = true; this.from.pause() } else if (!stop && this.#readingPaused) { this.#readingPaused = false; this.from.resume() }
  }

  dispose (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue = []
  }
}

class Connection {
  readonly client: Socket
  upstream: Socket | undefined
  lanes: Lane[] = []
  #proxy: FaultProxy
  #closed = false

  constructor (proxy: FaultProxy, client: Socket) {
    this.#proxy = proxy
    this.client = client
    client.pause()
    client.setNoDelay(true)
    client.on('error', () => { this.close() })
    client.on('close', () => { if (this.upstream === undefined) this.close() })
  }

  /** Connects to the broker and starts piping. */
  open (host: string, port: number): void {
    if (this.#closed) return
    const upstream = connect({ host, port })
    this.upstream = upstream
    upstream.setNoDelay(true)
    upstream.pause()
    upstream.on('error', () => { this.close() })
    upstream.once('connect', () => {
      if (this.#closed) return
      this.lanes = [new Lane(this.#proxy, this.client, upstream, 'up'), new Lane(this.#proxy, upstream, this.client, 'down')]
      for (const lane of this.lanes) lane.pump()
    })
    // Once both directions ended (or one side went away), the connection is done.
    const done = (): void => { if (this.client.destroyed && upstream.destroyed) this.close() }
    this.client.on('close', done)
    upstream.on('close', done)
  }

  pump (): void {
    for (const lane of this.lanes) lane.pump()
  }

  reset (): void {
    if (this.#closed) return
    this.#proxy.stats.reset++
    this.client.resetAndDestroy()
    this.upstream?.resetAndDestroy()
    this.close()
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    for (const lane of this.lanes) lane.dispose()
    this.client.destroy()
    this.upstream?.destroy()
    this.#proxy.forget(this)
  }
}

export class FaultProxy {
  readonly name: string
  readonly port: number
  readonly stats: ProxyStats = { accepted: 0, reset: 0, held: 0, open: 0, bytesUp: 0, bytesDown: 0, lostChunks: 0 }
  #faults: Faults = { ...noFaults }
  #server: Server
  #upstream: { host: string, port: number } | undefined
  #connections = new Set<Connection>()
  /** Connections waiting for the network to come back, or for the upstream to be known. */
  #waiting: Connection[] = []
  #nextFree: Record<Direction, number> = { up: 0, down: 0 }
  #resetTimer: NodeJS.Timeout | undefined

  private constructor (name: string, server: Server, port: number, upstream: { host: string, port: number } | undefined) {
    this.name = name
    this.#server = server
    this.port = port
    this.#upstream = upstream
  }

  /**
   * Listens on 127.0.0.1:`port` (0: any free port). Without `upstream`, connections wait until
   * setUpstream() says where the broker is (so the broker can advertise the proxy before it starts).
   */
  static async start (options: { port?: number, upstream?: { host: string, port: number }, name?: string } = {}): Promise<FaultProxy> {
    const server = createServer({ noDelay: true })
    let proxy: FaultProxy | undefined
    server.on('connection', socket => { proxy?.accept(socket) })
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        const address = server.address()
        resolve(typeof address === 'object' && address !== null ? address.port : 0)
      })
    })
    server.unref()
    proxy = new FaultProxy(options.name ?? `proxy:${port}`, server, port, options.upstream)
    return proxy
  }

  get faults (): Readonly<Faults> {
    return this.#faults
  }

  get address (): string {
    return `127.0.0.1:${this.port}`
  }

  setUpstream (host: string, port: number): void {
    this.#upstream = { host, port }
    this.#release()
  }

  accept (socket: Socket): void {
    this.stats.accepted++
    if (this.#faults.cut === 'reset') {
      this.stats.reset++
      socket.on('error', () => {})
      socket.resetAndDestroy()
      return
    }
    const connection = new Connection(this, socket)
    this.#connections.add(connection)
    this.stats.open = this.#connections.size
    if (this.#faults.cut === 'blackhole' || this.#upstream === undefined) {
      if (this.#faults.cut === 'blackhole') this.stats.held++
      this.#waiting.push(connection)
    } else {
      connection.open(this.#upstream.host, this.#upstream.port)
    }
  }

  forget (connection: Connection): void {
    this.#connections.delete(connection)
    this.#waiting = this.#waiting.filter(c => c !== connection)
    this.stats.open = this.#connections.size
  }

  /** Changes the faults; what is not given stays as it is. */
  set (faults: Partial<Faults>): void {
    this.#faults = { ...this.#faults, ...faults }
    if (this.#faults.cut === 'reset') for (const c of [...this.#connections]) c.reset()
    if (this.#resetTimer !== undefined) { clearInterval(this.#resetTimer); this.#resetTimer = undefined }
    if (this.#faults.resetRate > 0) {
      this.#resetTimer = setInterval(() => {
        for (const c of [...this.#connections]) if (c.upstream !== undefined && Math.random() < this.#faults.resetRate) c.reset()
      }, 1000)
      this.#resetTimer.unref()
    }
    if (this.#faults.bandwidth === 0) this.#nextFree = { up: 0, down: 0 }
    this.#release()
    for (const c of this.#connections) c.pump()
  }

  /** No faults any more: what was held flows again. */
  heal (): void {
    this.set({ ...noFaults })
  }

  /** When a chunk of `bytes` sent at `now` has passed the shared link of this direction. */
  takeBandwidth (direction: Direction, bytes: number, now: number): number {
    const start = Math.max(now, this.#nextFree[direction])
    this.#nextFree[direction] = start + bytes * 1000 / this.#faults.bandwidth
    return this.#nextFree[direction]
  }

  #release (): void {
    if (this.#faults.cut !== 'none' || this.#upstream === undefined) return
    const waiting = this.#waiting
    this.#waiting = []
    for (const c of waiting) c.open(this.#upstream.host, this.#upstream.port)
  }

  async close (): Promise<void> {
    if (this.#resetTimer !== undefined) clearInterval(this.#resetTimer)
    for (const c of [...this.#connections]) c.close()
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
  }
}

type Request = { id: number, set?: Partial<Faults>, heal?: true, stats?: true }
type Reply = { id: number, stats: ProxyStats, faults: Faults } | { ready: true, port: number }

const children = new Set<ChildProcess>()
process.once('exit', () => { for (const child of children) child.kill('SIGKILL') })

/** The proxy in a child process of its own, driven over IPC. */
export class ProxyProcess {
  readonly name: string
  readonly port: number
  #child: ChildProcess
  #next = 0
  #waiting = new Map<number, (reply: Reply & { id: number }) => void>()

  private constructor (name: string, child: ChildProcess, port: number) {
    this.name = name
    this.#child = child
    this.port = port
    child.on('message', (reply: Reply) => {
      if ('id' in reply) { this.#waiting.get(reply.id)?.(reply); this.#waiting.delete(reply.id) }
    })
  }

  static async start (options: { upstream: { host: string, port: number }, port?: number, name?: string }): Promise<ProxyProcess> {
    const child = fork(fileURLToPath(import.meta.url), ['--listen', String(options.port ?? 0), '--upstream', `${options.upstream.host}:${options.upstream.port}`, '--ipc'],
      { execPath: process.execPath, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.add(child)
    child.once('exit', () => children.delete(child))
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', code => reject(new Error(`the fault proxy exited with ${code} before it listened`)))
      child.on('message', (m: Reply) => { if ('ready' in m) resolve(m.port) })
    })
    child.removeAllListeners('exit')
    child.once('exit', () => children.delete(child))
    child.unref()
    child.channel?.unref()
    return new ProxyProcess(options.name ?? `proxy:${port}`, child, port)
  }

  get address (): string {
    return `127.0.0.1:${this.port}`
  }

  async #ask (request: Omit<Request, 'id'>): Promise<{ stats: ProxyStats, faults: Faults }> {
    const id = ++this.#next
    const reply = new Promise<Reply & { id: number }>((resolve, reject) => {
      this.#waiting.set(id, resolve)
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) reject(new Error(`the fault proxy ${this.name} is gone`))
    })
    this.#child.send({ ...request, id })
    const answer = await reply
    if (!('stats' in answer)) throw new Error('unexpected reply')
    return answer
  }

  /** Changes the faults; what is not given stays as it is. Settles once the proxy applied them. */
  async set (faults: Partial<Faults>): Promise<void> {
    await this.#ask({ set: faults })
  }

  async heal (): Promise<void> {
    await this.#ask({ heal: true })
  }

  async stats (): Promise<ProxyStats> {
    return (await this.#ask({ stats: true })).stats
  }

  async close (): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = new Promise(resolve => this.#child.once('exit', resolve))
    this.#child.kill('SIGTERM')
    await exited
  }
}

// By hand: node test/tools/fault-proxy.ts --listen PORT --upstream HOST:PORT, commands on stdin.
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined }
  const [host, upstreamPort] = (arg('--upstream') ?? '').split(':')
  if (host === '' || upstreamPort === undefined) {
    process.stderr.write('usage: node test/tools/fault-proxy.ts --listen PORT --upstream HOST:PORT\n')
    process.exit(2)
  }
  const proxy = await FaultProxy.start({ port: Number(arg('--listen') ?? 0), upstream: { host, port: Number(upstreamPort) } })
  if (process.argv.includes('--ipc') && process.send !== undefined) {
    // Driven by ProxyProcess: requests in, replies out; the proxy ends with its parent.
    process.on('message', (request: Request) => {
      if (request.set !== undefined) proxy.set(request.set)
      if (request.heal === true) proxy.heal()
      process.send!({ id: request.id, stats: proxy.stats, faults: proxy.faults })
    })
    process.on('disconnect', () => process.exit(0))
    process.send({ ready: true, port: proxy.port })
  } else {
    process.stdout.write(`listening on ${proxy.address}, forwarding to ${host}:${upstreamPort}\n`)
    startConsole(proxy)
  }
}

function startConsole (proxy: FaultProxy): void {
  process.stdin.setEncoding('utf8')
  let buffered = ''
  process.stdin.on('data', (text: string) => {
    buffered += text
    let newline
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const [command, value] = buffered.slice(0, newline).trim().split(/\s+/)
      buffered = buffered.slice(newline + 1)
      if (command === 'cut') proxy.set({ cut: (value ?? 'blackhole') as CutMode })
      else if (command === 'latency') proxy.set({ latencyMs: Number(value) })
      else if (command === 'loss') proxy.set({ lossRate: Number(value) })
      else if (command === 'bandwidth') proxy.set({ bandwidth: Number(value) })
      else if (command === 'resets') proxy.set({ resetRate: Number(value) })
      else if (command === 'heal') proxy.heal()
      else if (command !== 'stats' && command !== '') { process.stdout.write(`unknown command ${command}\n`); continue }
      process.stdout.write(`${JSON.stringify({ faults: proxy.faults, stats: proxy.stats })}\n`)
    }
  })
}
