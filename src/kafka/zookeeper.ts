// Just enough of a ZooKeeper client to find Kafka's brokers, for old MirrorMaker configs that give
// `zookeeper.connect` instead of `bootstrap.servers`. It speaks the jute wire protocol itself so
// that supporting those configs costs no dependency.
import { connect as netConnect, type Socket } from 'node:net'
import { ErrorCodes, ExitCodes, KafkaMirrorError } from '../errors.ts'

export interface ZooKeeperBroker {
  id: number
  /** Address of the listener for the requested security protocol (PLAINTEXT by default). */
  host: string
  port: number
  /** As registered, e.g. "PLAINTEXT://127.0.0.1:9092" or "INTERNAL://broker-1:9093". */
  endpoints: string[]
  rack?: string
  /** Listener name to security protocol, when the broker registered one (Kafka 0.10.2+). */
  listenerSecurityProtocolMap?: Record<string, string>
}

const DEFAULT_TIMEOUT_MS = 15_000
const DEFAULT_PORT = 2181
// What we ask for; the server clamps it. Discovery takes well under this, so no pings are needed.
const SESSION_TIMEOUT_MS = 10_000
// A broker list is a few KiB; anything this big means the port is not ZooKeeper.
const MAX_FRAME_BYTES = 16 * 1024 * 1024
const SYNTAX = 'expected "host:port,host:port/optional/chroot"'

const OP_GET_DATA = 4
const OP_GET_CHILDREN = 8
const OP_CLOSE_SESSION = -11
const XID_WATCH_EVENT = -1
const XID_PING = -2
const ZOK = 0
const ZNONODE = -101

const errorNames: Record<number, string> = {
  [-1]: 'SYSTEMERROR',
  [-4]: 'CONNECTIONLOSS',
  [-5]: 'MARSHALLINGERROR',
  [-6]: 'UNIMPLEMENTED',
  [-7]: 'OPERATIONTIMEOUT',
  [-8]: 'BADARGUMENTS',
  [-101]: 'NONODE',
  [-102]: 'NOAUTH',
  [-112]: 'SESSIONEXPIRED',
  [-115]: 'AUTHFAILED',
  [-124]: 'QUOTAEXCEEDED',
  [-125]: 'THROTTLEDOP'
}

interface ZooKeeperServer { host: string, port: number }
interface ConnectString { servers: ZooKeeperServer[], chroot: string }

/** connect is Kafka's zookeeper.connect: "h1:2181,h2:2181/optional/chroot". */
export async function discoverBrokersFromZooKeeper (connect: string, options: { timeoutMs?: number, securityProtocol?: string } = {}): Promise<ZooKeeperBroker[]> {
  const { servers, chroot } = parseConnectString(connect)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new KafkaMirrorError(ErrorCodes.USAGE, `Invalid timeoutMs ${timeoutMs} for zookeeper.connect "${connect}": expected a positive number of milliseconds`, { exitCode: ExitCodes.BAD_INPUT })
  }
  // Retriable where waiting can help: servers and brokers that are still starting.
  const fail = (cause: string, retriable = false): KafkaMirrorError =>
    new KafkaMirrorError(ErrorCodes.ZOOKEEPER, `Cannot discover Kafka brokers from zookeeper.connect "${connect}": ${cause}`, { retriable })
  const idsPath = `${chroot}/brokers/ids`
  const deadline = Date.now() + timeoutMs
  const failures: string[] = []

  for (let i = 0; i < servers.length; i++) {
    const server = servers[i]
    const remaining = deadline - Date.now()
    if (remaining <= 0) {
      failures.push(`${formatAddress(server.host, server.port)}: not tried, time ran out`)
      continue
    }
    // Like ZooKeeper's own client, split the time between the servers left, so one that swallows
    // packets cannot use up the time the others would have answered in.
    const connectDeadline = Date.now() + Math.floor(remaining / (servers.length - i))
    const outcome = await queryServer(server, idsPath, connectDeadline, deadline)
    if (outcome.kind === 'unreachable') {
      failures.push(`${formatAddress(server.host, server.port)}: ${outcome.reason}`)
      continue
    }
    if (outcome.kind === 'invalid') throw fail(outcome.reason)
    if (outcome.kind === 'error') {
      if (outcome.code === ZNONODE) throw fail(`no Kafka brokers are registered under ${idsPath}; check the chroot in zookeeper.connect`)
      throw fail(`ZooKeeper at ${formatAddress(server.host, server.port)} answered ${errorName(outcome.code)} for ${outcome.path}`)
    }
    if (outcome.brokers.length === 0) throw fail(`${idsPath} exists but lists no brokers; are the Kafka brokers running?`, true)
    const brokers = outcome.brokers.map(b => withAddressFor(b, options.securityProtocol))
    if (options.securityProtocol !== undefined) {
      // Checked here as well so the message can name the zookeeper.connect the brokers came from.
      const picked = pickEndpoints(brokers, options.securityProtocol)
      if (picked.addresses.length === 0) throw fail(noListenerMessage(brokers, options.securityProtocol, picked.offered))
    }
    return brokers
  }
  throw fail(`no ZooKeeper server answered within ${timeoutMs} ms (${failures.join('; ')})`, true)
}

/** "host:port,host:port" of each broker's listener for securityProtocol (default PLAINTEXT). */
export function bootstrapFromZooKeeperBrokers (brokers: ZooKeeperBroker[], securityProtocol = 'PLAINTEXT'): string {
  const picked = pickEndpoints(brokers, securityProtocol)
  if (picked.addresses.length === 0) {
    if (brokers.length === 0) throw new KafkaMirrorError(ErrorCodes.ZOOKEEPER, 'No Kafka brokers were found in ZooKeeper, so there is no bootstrap.servers to use')
    throw new KafkaMirrorError(ErrorCodes.ZOOKEEPER, `Cannot build bootstrap.servers from ZooKeeper: ${noListenerMessage(brokers, securityProtocol, picked.offered)}`)
  }
  return picked.addresses.join(',')
}

function noListenerMessage (brokers: ZooKeeperBroker[], securityProtocol: string, offered: string[]): string {
  const ids = brokers.map(b => b.id).join(', ')
  return `none of the brokers (ids ${ids}) has a ${securityProtocol.toUpperCase()} listener; they offer ${offered.length > 0 ? offered.join(', ') : 'none'}`
}

function pickEndpoints (brokers: ZooKeeperBroker[], securityProtocol: string): { addresses: string[], offered: string[] } {
  const wanted = securityProtocol.toUpperCase()
  const addresses = new Set<string>()
  const offered = new Set<string>()
  for (const broker of brokers) {
    const endpoints = broker.endpoints.map(parseEndpoint).filter(e => e !== undefined)
    // Registrations older than Kafka 0.9 have only host and port, which are the PLAINTEXT listener.
    if (endpoints.length === 0 && broker.host !== '' && broker.port > 0) endpoints.push({ listener: 'PLAINTEXT', host: broker.host, port: broker.port })
    for (const endpoint of endpoints) {
      const protocol = securityProtocolOf(endpoint.listener, broker.listenerSecurityProtocolMap)
      offered.add(protocol)
      if (protocol === wanted) {
        addresses.add(formatAddress(endpoint.host, endpoint.port))
        break
      }
    }
  }
  return { addresses: [...addresses], offered: [...offered] }
}

function securityProtocolOf (listener: string, map: Record<string, string> | undefined): string {
  // Without a map (before Kafka 0.10.2), listener names were the security protocol names.
  const upper = listener.toUpperCase()
  for (const [name, protocol] of Object.entries(map ?? {})) {
    if (name.toUpperCase() === upper) return protocol.toUpperCase()
  }
  return upper
}

function parseEndpoint (endpoint: string): { listener: string, host: string, port: number } | undefined {
  // Kafka brackets IPv6 hosts, but accept them bare too: the port is whatever follows the last colon.
  const match = /^([^:/]+):\/\/\[?(.*?)\]?:(\d+)$/.exec(endpoint)
  if (match === null || match[2] === '') return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return { listener: match[1], host: match[2], port }
}

function withAddressFor (broker: ZooKeeperBroker, securityProtocol = 'PLAINTEXT'): ZooKeeperBroker {
  const picked = pickEndpoints([broker], securityProtocol).addresses[0]
  if (picked !== undefined) return { ...broker, ...splitAddress(picked) }
  // A broker with no PLAINTEXT listener registers host null and port -1; any address beats none.
  const first = broker.host === '' ? broker.endpoints.map(parseEndpoint).find(e => e !== undefined) : undefined
  return first === undefined ? broker : { ...broker, host: first.host, port: first.port }
}

function formatAddress (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

function splitAddress (address: string): { host: string, port: number } {
  const colon = address.lastIndexOf(':')
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)) }
}

function parseConnectString (connect: string): ConnectString {
  const badInput = (message: string): KafkaMirrorError => new KafkaMirrorError(ErrorCodes.CONFIG, message, { exitCode: ExitCodes.BAD_INPUT })
  const bad = (cause: string): KafkaMirrorError => badInput(`Invalid zookeeper.connect "${connect}": ${cause}; ${SYNTAX}`)
  if (typeof connect !== 'string' || connect.trim() === '') throw badInput(`zookeeper.connect is empty; ${SYNTAX}`)
  // As in ZooKeeper's ConnectStringParser, the chroot starts at the first slash.
  const slash = connect.indexOf('/')
  const hostList = slash === -1 ? connect : connect.slice(0, slash)
  let chroot = slash === -1 ? '' : connect.slice(slash).trim()
  if (chroot === '/') chroot = ''
  if (chroot !== '' && chroot.split('/').slice(1).some(part => part === '' || part === '.' || part === '..')) {
    throw bad(`chroot "${chroot}" is not a valid ZooKeeper path (no empty, "." or ".." parts, no trailing slash)`)
  }

  const servers: ZooKeeperServer[] = []
  for (const rawEntry of hostList.split(',')) {
    const entry = rawEntry.trim()
    if (entry === '') throw bad('it has an empty host entry')
    let host: string
    let portText: string | undefined
    if (entry.startsWith('[')) {
      const close = entry.indexOf(']')
      const rest = close === -1 ? '' : entry.slice(close + 1)
      if (close === -1 || (rest !== '' && !rest.startsWith(':'))) throw bad(`"${entry}" is not a valid [IPv6]:port address`)
      host = entry.slice(1, close)
      portText = rest === '' ? undefined : rest.slice(1)
    } else {
      const parts = entry.split(':')
      if (parts.length > 2) throw bad(`"${entry}" has more than one colon (write IPv6 addresses as [address]:port)`)
      host = parts[0]
      portText = parts[1]
    }
    if (host === '' || /\s/.test(host)) throw bad(`"${entry}" has no valid host name`)
    let port = DEFAULT_PORT
    if (portText !== undefined) {
      port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
      if (!(port >= 1 && port <= 65535)) throw bad(`port "${portText}" of "${entry}" is not a number from 1 to 65535`)
    }
    servers.push({ host, port })
  }
  return { servers, chroot }
}

type ServerOutcome =
  | { kind: 'brokers', brokers: ZooKeeperBroker[] }
  | { kind: 'error', code: number, path: string }
  | { kind: 'invalid', reason: string }
  | { kind: 'unreachable', reason: string }

async function queryServer (server: ZooKeeperServer, idsPath: string, connectDeadline: number, deadline: number): Promise<ServerOutcome> {
  const session = new ZooKeeperSession(server, connectDeadline)
  try {
    await session.opened
    session.extendDeadline(deadline)
    const children = await session.request(OP_GET_CHILDREN, concat(jString(idsPath), jBool(false)))
    if (children.err !== ZOK) return { kind: 'error', code: children.err, path: idsPath }
    const ids = readStringVector(children.body)
      .filter(name => /^\d+$/.test(name)) // anything else under ids is not a broker
      .map(Number)
      .sort((a, b) => a - b)
    // Pipelined: ZooKeeper answers a session's requests in order.
    const replies = await Promise.all(ids.map(async id => {
      const path = `${idsPath}/${id}`
      return { id, path, reply: await session.request(OP_GET_DATA, concat(jString(path), jBool(false))) }
    }))
    const brokers: ZooKeeperBroker[] = []
    for (const { id, path, reply } of replies) {
      // A broker that shut down between the two requests is simply gone.
      if (reply.err === ZNONODE) continue
      if (reply.err !== ZOK) return { kind: 'error', code: reply.err, path }
      const broker = parseBrokerRegistration(id, path, reply.body.buffer())
      if (typeof broker === 'string') return { kind: 'invalid', reason: broker }
      brokers.push(broker)
    }
    return { kind: 'brokers', brokers }
  } catch (error) {
    return { kind: 'unreachable', reason: (error as Error).message }
  } finally {
    await session.close()
  }
}

/** The broker, or why its registration cannot be used. */
function parseBrokerRegistration (id: number, path: string, data: Buffer | null): ZooKeeperBroker | string {
  const invalid = (cause: string): string => `the broker registration at ${path} ${cause}`
  let json: unknown
  try {
    json = JSON.parse((data ?? Buffer.alloc(0)).toString('utf8'))
  } catch {
    return invalid('is not valid JSON')
  }
  if (typeof json !== 'object' || json === null) return invalid('is not a JSON object')
  const record = json as Record<string, unknown>
  const endpoints = Array.isArray(record.endpoints) ? record.endpoints.filter((e): e is string => typeof e === 'string') : []
  const map = record.listener_security_protocol_map
  const broker: ZooKeeperBroker = {
    id,
    host: typeof record.host === 'string' ? record.host : '',
    port: typeof record.port === 'number' ? record.port : -1,
    endpoints
  }
  if (typeof record.rack === 'string') broker.rack = record.rack
  if (typeof map === 'object' && map !== null) {
    broker.listenerSecurityProtocolMap = Object.fromEntries(Object.entries(map).filter((e): e is [string, string] => typeof e[1] === 'string'))
  }
  if (broker.endpoints.length === 0 && broker.host === '') return invalid('has neither endpoints nor host')
  return broker
}

interface Reply { err: number, body: JuteReader }
interface Waiter<T> { resolve: (value: T) => void, reject: (error: Error) => void }

/** One connection and session; any transport trouble rejects everything outstanding. */
class ZooKeeperSession {
  readonly opened: Promise<void>
  readonly #socket: Socket
  readonly #address: string
  readonly #pending = new Map<number, Waiter<Reply>>()
  #handshake: Waiter<void> | undefined
  #received: Buffer = Buffer.alloc(0)
  #nextXid = 1
  #failure: Error | undefined
  #timer: NodeJS.Timeout | undefined
  #timerDeadline = 0

  constructor (server: ZooKeeperServer, deadline: number) {
    this.#address = formatAddress(server.host, server.port)
    this.opened = new Promise<void>((resolve, reject) => { this.#handshake = { resolve, reject } })
    this.opened.catch(() => {}) // observed by queryServer; this stops an unhandled rejection before then
    this.#armTimer(deadline)
    this.#socket = netConnect({ host: server.host, port: server.port })
    this.#socket.setNoDelay(true)
    this.#socket.on('connect', () => { this.#socket.write(connectRequest()) })
    this.#socket.on('data', (chunk: Buffer) => { this.#onData(chunk) })
    this.#socket.on('error', (error: NodeJS.ErrnoException) => { this.#fail(new Error(describeSocketError(error))) })
    this.#socket.on('close', () => {
      this.#fail(new Error(this.#handshake !== undefined
        ? 'closed the connection before opening a session (a ZooKeeper server without quorum refuses clients)'
        : 'closed the connection'))
    })
  }

  extendDeadline (deadline: number): void {
    this.#armTimer(deadline)
  }

  async request (type: number, body: Buffer): Promise<Reply> {
    if (this.#failure !== undefined) throw this.#failure
    const xid = this.#nextXid++
    const reply = new Promise<Reply>((resolve, reject) => { this.#pending.set(xid, { resolve, reject }) })
    this.#socket.write(frame(concat(jInt(xid), jInt(type), body)))
    return await reply
  }

  /** Ends the session at once rather than leaving it for the server to expire. */
  async close (): Promise<void> {
    if (this.#failure === undefined && this.#handshake === undefined) {
      this.#armTimer(Math.min(this.#timerDeadline, Date.now() + 1000))
      await this.request(OP_CLOSE_SESSION, Buffer.alloc(0)).catch(() => {})
    }
    this.#fail(new Error('session closed'))
  }

  #armTimer (deadline: number): void {
    clearTimeout(this.#timer)
    this.#timerDeadline = deadline
    const ms = Math.max(0, deadline - Date.now())
    this.#timer = setTimeout(() => {
      this.#fail(new Error(this.#handshake !== undefined ? `no session within ${ms} ms` : 'no answer before the timeout'))
    }, ms)
  }

  #fail (error: Error): void {
    if (this.#failure !== undefined) return
    this.#failure = error
    clearTimeout(this.#timer)
    this.#socket.destroy()
    this.#handshake?.reject(error)
    this.#handshake = undefined
    for (const waiter of this.#pending.values()) waiter.reject(error)
    this.#pending.clear()
  }

  #onData (chunk: Buffer): void {
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk])
    while (this.#received.length >= 4 && this.#failure === undefined) {
      const length = this.#received.readInt32BE(0)
      if (length < 0 || length > MAX_FRAME_BYTES) {
        this.#fail(new Error(`sent a frame of ${length} bytes; is ${this.#address} really ZooKeeper?`))
        return
      }
      if (this.#received.length < 4 + length) return
      const payload = this.#received.subarray(4, 4 + length)
      this.#received = this.#received.subarray(4 + length)
      try {
        this.#onFrame(new JuteReader(payload))
      } catch (error) {
        this.#fail(new Error(`sent a reply that could not be read (${(error as Error).message}); is ${this.#address} really ZooKeeper?`))
      }
    }
  }

  #onFrame (reader: JuteReader): void {
    if (this.#handshake !== undefined) {
      reader.int() // protocolVersion
      const negotiatedTimeout = reader.int()
      // A zero timeout is how the server says no to the session.
      if (negotiatedTimeout <= 0) throw new Error('refused the session')
      const handshake = this.#handshake
      this.#handshake = undefined
      handshake.resolve()
      return
    }
    const xid = reader.int()
    reader.long() // zxid
    const err = reader.int()
    if (xid === XID_WATCH_EVENT || xid === XID_PING) return
    const waiter = this.#pending.get(xid)
    if (waiter === undefined) return
    this.#pending.delete(xid)
    waiter.resolve({ err, body: reader })
  }
}

function describeSocketError (error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED': return 'connection refused (ECONNREFUSED)'
    case 'ENOTFOUND': return 'host name not found (ENOTFOUND)'
    case 'EAI_AGAIN': return 'host name lookup failed (EAI_AGAIN)'
    case 'ECONNRESET': return 'connection reset (ECONNRESET)'
    case 'EHOSTUNREACH': return 'host unreachable (EHOSTUNREACH)'
    case 'ENETUNREACH': return 'network unreachable (ENETUNREACH)'
    default: return error.message
  }
}

function errorName (code: number): string {
  return `${errorNames[code] ?? 'error'} (${code})`
}

function connectRequest (): Buffer {
  return frame(concat(
    jInt(0), // protocolVersion
    jLong(0n), // lastZxidSeen
    jInt(SESSION_TIMEOUT_MS),
    jLong(0n), // sessionId: a new session
    jBuffer(Buffer.alloc(16)), // password
    jBool(false) // readOnly
  ))
}

function frame (payload: Buffer): Buffer {
  return concat(jInt(payload.length), payload)
}

function concat (...parts: Buffer[]): Buffer {
  return Buffer.concat(parts)
}

function jInt (value: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(value)
  return b
}

function jLong (value: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(value)
  return b
}

function jBool (value: boolean): Buffer {
  return Buffer.from([value ? 1 : 0])
}

function jBuffer (value: Buffer): Buffer {
  return concat(jInt(value.length), value)
}

function jString (value: string): Buffer {
  return jBuffer(Buffer.from(value, 'utf8'))
}

function readStringVector (reader: JuteReader): string[] {
  const count = reader.int()
  const items: string[] = []
  for (let i = 0; i < count; i++) items.push(reader.string())
  return items
}

class JuteReader {
  readonly #data: Buffer
  #offset = 0

  constructor (data: Buffer) {
    this.#data = data
  }

  int (): number {
    this.#need(4)
    const value = this.#data.readInt32BE(this.#offset)
    this.#offset += 4
    return value
  }

  long (): bigint {
    this.#need(8)
    const value = this.#data.readBigInt64BE(this.#offset)
    this.#offset += 8
    return value
  }

  /** null for jute's length -1. */
  buffer (): Buffer | null {
    const length = this.int()
    if (length < 0) return null
    this.#need(length)
    const value = this.#data.subarray(this.#offset, this.#offset + length)
    this.#offset += length
    return value
  }

  string (): string {
    return (this.buffer() ?? Buffer.alloc(0)).toString('utf8')
  }

  #need (bytes: number): void {
    if (this.#offset + bytes > this.#data.length) throw new Error('reply is shorter than its fields')
  }
}
