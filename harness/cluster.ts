// Real Apache Kafka clusters on loopback, for tests, the demo and the benchmarks.
// KRaft clusters run Kafka 4.x (or 3.9) with each node as broker and controller in one JVM; the
// ZooKeeper variant runs Kafka 3.9 (or an older line, for the broker-compatibility tests) beside a
// ZooKeeper server, for configs that still say `zookeeper.connect`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, createConnection, isIP } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'
import { ensureKafkaDist, javaBin, type KafkaDist, type KafkaFlavour } from './kafka-dist.ts'

export interface StartClusterOptions {
  /** Used in folder names and logs: "source", "target". */
  name?: string
  /**
   * Which Kafka line runs: startCluster (KRaft) takes 'kafka-4' (default) or 'kafka-3.9';
   * startZooKeeperCluster 'kafka-3.9' (default) or an older line ('kafka-2.8' ... 'kafka-0.11').
   */
  kafka?: KafkaFlavour
  /** JAVA_HOME of the JDK the JVMs run on. Default: JAVA_HOME, else `java` on the PATH. */
  javaHome?: string
  /** Number of nodes, each broker and controller. Default 1. */
  brokers?: number
  /** Heap of each broker JVM in MiB. Default 512: two 3-node clusters fit on 2 cores and 24 GB. */
  heapMb?: number
  /** Extra server.properties for every node. */
  serverProperties?: Record<string, string | number | boolean>
  /** Leave the JVMs running after this process exits (for `npm run kafka -- up`). */
  detached?: boolean
  /** Give up after this many milliseconds. Default 120 000. */
  startTimeoutMs?: number
  /**
   * Secured listeners beside the PLAINTEXT one (which the harness, inter-broker traffic and the
   * controller keep using), with a CA and broker certificate made with openssl, SASL users and an
   * optional authorizer. KRaft clusters only.
   */
  security?: ClusterSecurityOptions
  /**
   * More PLAINTEXT listeners, each on ports chosen by the caller (`ports[i]` for node i), that may
   * advertise other ports (`advertisedPorts[i]`): a fault proxy's, say, so clients that bootstrap
   * from the proxy reach the brokers only through it while `bootstrap` stays direct. KRaft only.
   */
  extraListeners?: ExtraListener[]
  /**
   * More JVM options for every broker, such as the system property Kafka 4 wants before its OAuth
   * validator may fetch a JWKS: -Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=http://127.0.0.1:…
   */
  jvmOptions?: string[]
}

export interface ExtraListener {
  /** Listener name, upper case: PROXIED. */
  name: string
  ports: number[]
  /** Default: `ports`. */
  advertisedPorts?: number[]
}

/** SSL: TLS; MTLS: TLS that requires a client certificate; SASL_PLAINTEXT; SASL_SSL. */
export type SecureListenerName = 'SSL' | 'MTLS' | 'SASL_PLAINTEXT' | 'SASL_SSL'
export type SaslMechanismName = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'

export interface ClusterSecurityOptions {
  /** Listeners to add; each gets its own port on every broker (see KafkaCluster.listeners). */
  listeners: SecureListenerName[]
  /** Mechanisms the SASL listeners accept. Default all three. */
  saslMechanisms?: SaslMechanismName[]
  /**
   * SASL users, name to password: each can log in with every enabled mechanism (PLAIN users in the
   * listeners' JAAS config, SCRAM credentials written at storage format time). Passwords are
   * letters, digits, '-' and '_' only.
   */
  users?: Record<string, string>
  /** Turns on KRaft's StandardAuthorizer; principals without ACLs are denied. Default false. */
  authorizer?: boolean
  /**
   * Principals (user names, without "User:") allowed everything. Default ANONYMOUS (the
   * PLAINTEXT and controller listeners, so the harness stays admin) and admin. A client
   * certificate's principal is its CN.
   */
  superUsers?: string[]
}

/** A certificate authority on disk, made with openssl. */
export interface CertificateAuthority {
  /** The CA certificate in PEM: a PEM truststore for clients. */
  cert: string
  /** Its private key (PEM, unencrypted). */
  key: string
  dir: string
}

/** A certificate signed by a CA, in every form a client properties file may point at. */
export interface IssuedCertificate {
  /** Certificate (PEM) followed by the CA's. */
  cert: string
  /** Private key, PEM PKCS#8, unencrypted. */
  key: string
  /** Key then certificate chain in one PEM file (ssl.keystore.type=PEM). */
  pem: string
  /** Key and chain in PKCS12, protected by `password` (ssl.keystore.type=PKCS12). */
  p12: string
  password: string
}

export interface ClusterTls {
  ca: CertificateAuthority
  /** The CA as a PKCS12 truststore protected by `password`, made with keytool when there is one. */
  truststoreP12: string
  password: string
  /** Issues a client certificate whose principal (its CN) is `name`, signed by the cluster's CA. */
  issueClientCertificate (name: string): IssuedCertificate
}

export interface BrokerNode {
  nodeId: number
  host: string
  port: number
  controllerPort: number
  dir: string
  pid: number | undefined
  /** Port of each secured listener of this node (ClusterSecurityOptions.listeners). */
  listenerPorts?: Partial<Record<SecureListenerName, number>>
}

export interface KafkaCluster {
  name: string
  /** Comma-separated host:port list, as `bootstrap.servers` wants it. */
  bootstrap: string
  brokers: BrokerNode[]
  dataDir: string
  kafkaVersion: string
  /** ZooKeeper connect string, for the ZooKeeper-mode variant only. */
  zookeeper?: string
  /**
   * bootstrap.servers of each listener: PLAINTEXT always (the same as `bootstrap`), and every
   * secured listener asked for in StartClusterOptions.security: `cluster.listeners.SASL_SSL`.
   */
  listeners: Partial<Record<'PLAINTEXT' | SecureListenerName, string>>
  /** The CA and certificates of the TLS listeners, when there are any. */
  tls?: ClusterTls
  stop (): Promise<void>
  killBroker (index: number): Promise<void>
  restartBroker (index: number): Promise<void>
  /** Every JVM of the cluster (brokers, and ZooKeeper where there is one). */
  processIds (): number[]
}

const liveProcesses = new Set<ChildProcess>()
const liveDataDirs = new Set<string>()
// Clusters this process started die with it, whoever forgot to stop them.
process.once('exit', () => {
  for (const child of liveProcesses) child.kill('SIGKILL')
  for (const dir of liveDataDirs) rmSync(dir, { recursive: true, force: true })
})

/**
 * Ports the kernel hands out for outgoing connections: a port picked from this range may be taken
 * by a client's socket between the check and the broker's bind ("Address already in use").
 */
function ephemeralRange (): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (low > 0 && high >= low) return [low, high]
  } catch {}
  return [32768, 60999]
}

const handedOut = new Set<number>()

async function canBind (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * A free loopback port for a broker or controller to listen on. Picked at random below the
 * ephemeral range (above it when that leaves too few), never twice in one process, and checked
 * by binding it: so no outgoing connection of a running test takes it before the broker starts.
 */
export async function freePort (): Promise<number> {
  const [low, high] = ephemeralRange()
  const [from, to] = low - 10000 >= 1024 ? [low - 10000, low - 1] : [high + 1, Math.min(65535, high + 4000)]
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from + 1))
    if (handedOut.has(port)) continue
    handedOut.add(port)
    if (await canBind(port)) return port
    handedOut.delete(port)
  }
  throw new Error(`no free port found between ${from} and ${to}`)
}

function clusterId (): string {
  // StorageTool reads an id that starts with '-' as a flag, so such ids (1 in 64) are drawn again.
  while (true) {
    const id = randomBytes(16).toString('base64url').slice(0, 22)
    if (!id.startsWith('-')) return id
  }
}

function propertiesText (props: Record<string, string | number | boolean>): string {
  return Object.entries(props).map(([k, v]) => `${k}=${String(v)}`).join('\n') + '\n'
}

const log4j2 = `status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = \${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`

const log4j1 = `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=\${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
`

function tail (file: string, lines = 40): string {
  if (!existsSync(file)) return `(no ${file})`
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
}

/** Kafka 4 logs through log4j 2; 3.9 and older lines through log4j 1 (reload4j). */
function usesLog4j2 (dist: KafkaDist): boolean {
  return dist.flavour === 'kafka-4' || dist.flavour === 'baselines'
}

function loggingArg (dist: KafkaDist, logConfig: string): string {
  return usesLog4j2(dist) ? `-Dlog4j2.configurationFile=${logConfig}` : `-Dlog4j.configuration=file:${logConfig}`
}

function jvmArgs (dist: KafkaDist, heapMb: number, logDir: string, logConfig: string): string[] {
  const logging = loggingArg(dist, logConfig)
  return [
    `-Xms${heapMb}m`, `-Xmx${heapMb}m`, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20',
    '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true',
    // ZooKeeper 3.4 (Kafka 1.1-2.3) registers log4j JMX beans that reload4j does not have.
    '-Dzookeeper.jmx.log4j.disable=true',
    // The ZooKeeper 3.4.13-14 client (Kafka 2.1-2.3) cannot resolve its SASL principal on Java 14+
    // (ZOOKEEPER-3779) and never connects; the harness's ZooKeeper has no SASL anyway.
    '-Dzookeeper.sasl.client=false',
    `-Dkafka.logs.dir=${logDir}`, logging, '-cp', join(dist.libs, '*')
  ]
}

interface NodeSpec {
  node: BrokerNode
  configFile: string
  logDir: string
  logConfig: string
}

class LocalCluster implements KafkaCluster {
  name: string
  bootstrap: string
  brokers: BrokerNode[]
  dataDir: string
  kafkaVersion: string
  zookeeper?: string
  listeners: Partial<Record<'PLAINTEXT' | SecureListenerName, string>>
  tls?: ClusterTls
  #dist: KafkaDist
  #specs: NodeSpec[]
  #heapMb: number
  #detached: boolean
  #java: string
  #children = new Map<number, ChildProcess>()
  #extra: Array<{ child: ChildProcess | undefined, pid: number | undefined }> = []
  #stopped = false
  jvmOptions: string[] = []

  constructor (name: string, dist: KafkaDist, specs: NodeSpec[], dataDir: string, heapMb: number, detached: boolean, java = javaBin()) {
    this.name = name
    this.#java = java
    this.#dist = dist
    this.#specs = specs
    this.brokers = specs.map(s => s.node)
    this.bootstrap = this.brokers.map(b => `${b.host}:${b.port}`).join(',')
    this.listeners = { PLAINTEXT: this.bootstrap }
    for (const name of Object.keys(this.brokers[0]?.listenerPorts ?? {}) as SecureListenerName[]) {
      this.listeners[name] = this.brokers.map(b => `${b.host}:${b.listenerPorts![name]!}`).join(',')
    }
    this.dataDir = dataDir
    this.kafkaVersion = dist.version
    this.#heapMb = heapMb
    this.#detached = detached
    if (!detached) liveDataDirs.add(dataDir)
  }

  spawnJava (mainClass: string, args: string[], logDir: string, logConfig: string, stdoutFile: string): ChildProcess {
    const out = openSync(stdoutFile, 'a')
    const child = spawn(this.#java, [...this.jvmOptions, ...jvmArgs(this.#dist, this.#heapMb, logDir, logConfig), mainClass, ...args], {
      stdio: ['ignore', out, out],
      detached: this.#detached
    })
    closeSync(out)
    // Unreferenced either way: a test process whose work is done exits, and its 'exit' handler
    // kills the JVMs it started (detached ones keep running for `npm run kafka -- up`).
    child.unref()
    if (!this.#detached) {
      liveProcesses.add(child)
      child.once('exit', () => liveProcesses.delete(child))
    }
    return child
  }

  processIds (): number[] {
    return [...this.brokers.map(b => b.pid), ...this.#extra.map(e => e.pid)].filter((p): p is number => p !== undefined)
  }

  addExtraProcess (child: ChildProcess): void {
    this.#extra.push({ child, pid: child.pid })
  }

  startNode (index: number): void {
    const spec = this.#specs[index]
    const child = this.spawnJava('kafka.Kafka', [spec.configFile], spec.logDir, spec.logConfig, join(spec.logDir, 'stdout.log'))
    spec.node.pid = child.pid
    this.#children.set(index, child)
  }

  async waitForNode (index: number, sinceBytes: number, deadline: number): Promise<void> {
    const spec = this.#specs[index]
    const logFile = join(spec.logDir, 'server.log')
    const child = this.#children.get(index)
    while (true) {
      if (child?.exitCode !== null && child?.exitCode !== undefined) {
        throw new Error(`Kafka node ${spec.node.nodeId} of cluster "${this.name}" exited with code ${child.exitCode} during start.\n` +
          `--- ${logFile} ---\n${tail(logFile)}\n--- stdout ---\n${tail(join(spec.logDir, 'stdout.log'))}`)
      }
      if (existsSync(logFile)) {
        const text = readFileSync(logFile, 'utf8').slice(sinceBytes)
        if (/Kafka ?Server.*started|\[KafkaServer id=\d+\] started/.test(text)) return
      }
      if (Date.now() > deadline) {
        throw new Error(`Kafka node ${spec.node.nodeId} of cluster "${this.name}" did not start in time.\n--- ${logFile} ---\n${tail(logFile)}`)
      }
      await sleep(200)
    }
  }

  async waitForMetadata (deadline: number): Promise<void> {
    const admin = new Admin({ clientId: 'harness', bootstrapBrokers: this.bootstrap.split(','), retries: 0, timeout: 5000 })
    let lastError: unknown
    try {
      while (Date.now() < deadline) {
        try {
          const metadata = await admin.metadata({ topics: [], forceUpdate: true })
          if (metadata.brokers.size === this.brokers.length) return
          lastError = new Error(`${metadata.brokers.size} of ${this.brokers.length} brokers registered`)
        } catch (error) {
          lastError = error
        }
        await sleep(250)
      }
    } finally {
      await admin.close().catch(() => {})
    }
    const logFile = join(this.#specs[0].logDir, 'server.log')
    throw new Error(`Cluster "${this.name}" did not answer metadata with every broker registered: ${String(lastError)}\n--- ${logFile} ---\n${tail(logFile)}`)
  }

  async killBroker (index: number): Promise<void> {
    const child = this.#children.get(index)
    if (child === undefined) throw new Error(`Broker ${index} of cluster "${this.name}" is not running`)
    this.#children.delete(index)
    if (child.exitCode === null) {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.ref() // keep the loop alive until the exit is seen
      child.kill('SIGKILL')
      await exited
    }
    this.#specs[index].node.pid = undefined
  }

  async restartBroker (index: number, timeoutMs = 120_000): Promise<void> {
    if (this.#children.has(index)) throw new Error(`Broker ${index} of cluster "${this.name}" is still running`)
    const logFile = join(this.#specs[index].logDir, 'server.log')
    const since = existsSync(logFile) ? readFileSync(logFile, 'utf8').length : 0
    this.startNode(index)
    const deadline = Date.now() + timeoutMs
    await this.waitForNode(index, since, deadline)
    await this.waitForMetadata(deadline)
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    const all = [...this.#children.values()]
    this.#children.clear()
    await Promise.all(all.map(async child => {
      if (child.exitCode !== null) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.ref() // keep the loop alive until the exit is seen
      child.kill('SIGKILL')
      await exited
    }))
    for (const { child, pid } of this.#extra) {
      if (child !== undefined && child.exitCode === null) {
        const exited = new Promise(resolve => child.once('exit', resolve))
        child.ref()
        child.kill('SIGKILL')
        await exited
      } else if (pid !== undefined) {
        try { process.kill(pid, 'SIGKILL') } catch {}
      }
    }
    rmSync(this.dataDir, { recursive: true, force: true })
    liveDataDirs.delete(this.dataDir)
  }
}

function openssl (args: string[], what: string): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (result.error !== undefined) throw new Error(`Cannot run openssl to ${what} (${result.error.message}): install it (apt-get install openssl)`)
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed to ${what}:\n${result.stderr}`)
}

/** Whether openssl is on the PATH: TLS listeners need it to make their certificates. */
export function opensslAvailable (): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0
}

/** Makes a self-signed CA (RSA 2048, ten years) in `dir`. */
export function createCertificateAuthority (dir: string, name = 'kafka-mirror-test-ca'): CertificateAuthority {
  mkdirSync(dir, { recursive: true })
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.pem`)
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '3650', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], `make the CA ${name}`)
  return { cert, key, dir }
}

/**
 * Issues a certificate with CN=`name`, signed by `ca`, for servers (`hosts` become its subject
 * alternative names) and clients alike; written as PEM files and a PKCS12 keystore into `dir`.
 */
export function issueCertificate (ca: CertificateAuthority, dir: string, name: string, options: { hosts?: string[], password?: string } = {}): IssuedCertificate {
  mkdirSync(dir, { recursive: true })
  const base = join(dir, name)
  const password = options.password ?? randomBytes(12).toString('hex')
  const hosts = options.hosts ?? []
  writeFileSync(`${base}.ext`, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    ...(hosts.length > 0 ? [`subjectAltName=${hosts.map(h => isIP(h) !== 0 ? `IP:${h}` : `DNS:${h}`).join(',')}`] : [])
  ].join('\n') + '\n')
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`], `make a key for ${name}`)
  openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(12).toString('hex')}`,
    '-days', '3650', '-sha256', '-extfile', `${base}.ext`, '-out', `${base}.leaf.pem`], `sign the certificate of ${name}`)
  const chain = readFileSync(`${base}.leaf.pem`, 'utf8') + readFileSync(ca.cert, 'utf8')
  writeFileSync(`${base}.crt`, chain)
  writeFileSync(`${base}.keystore.pem`, readFileSync(`${base}.key`, 'utf8') + chain)
  openssl(['pkcs12', '-export', '-in', `${base}.leaf.pem`, '-inkey', `${base}.key`, '-certfile', ca.cert, '-name', name,
    '-passout', `pass:${password}`, '-out', `${base}.p12`], `write the PKCS12 keystore of ${name}`)
  return { cert: `${base}.crt`, key: `${base}.key`, pem: `${base}.keystore.pem`, p12: `${base}.p12`, password }
}

/** Writes `ca` as a PKCS12 truststore, with keytool as Java users make them (openssl without a JDK). */
export function pkcs12Truststore (ca: CertificateAuthority, file: string, password: string): string {
  const keytool = process.env.JAVA_HOME !== undefined ? join(process.env.JAVA_HOME, 'bin', 'keytool') : 'keytool'
  rmSync(file, { force: true })
  const result = spawnSync(keytool, ['-importcert', '-noprompt', '-alias', 'ca', '-file', ca.cert, '-keystore', file, '-storetype', 'PKCS12', '-storepass', password], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (result.status === 0) return file
  openssl(['pkcs12', '-export', '-nokeys', '-in', ca.cert, '-name', 'ca', '-passout', `pass:${password}`, '-out', file], 'write a PKCS12 truststore')
  return file
}

function makeClusterTls (dir: string, name: string, host: string): { tls: ClusterTls, broker: IssuedCertificate } {
  const ca = createCertificateAuthority(dir, `${name}-ca`)
  const password = randomBytes(12).toString('hex')
  const broker = issueCertificate(ca, dir, `${name}-broker`, { hosts: [host, 'localhost'], password })
  const truststoreP12 = pkcs12Truststore(ca, join(dir, `${name}-truststore.p12`), password)
  return {
    broker,
    tls: { ca, truststoreP12, password, issueClientCertificate: (client: string) => issueCertificate(ca, join(dir, 'clients'), client, { password }) }
  }
}

const listenerProtocols: Record<SecureListenerName, string> = { SSL: 'SSL', MTLS: 'SSL', SASL_PLAINTEXT: 'SASL_PLAINTEXT', SASL_SSL: 'SASL_SSL' }

/** server.properties of the secured listeners, SASL users and authorizer. */
function securityProperties (security: ClusterSecurityOptions, broker: IssuedCertificate | undefined, ca: CertificateAuthority | undefined): Record<string, string> {
  const props: Record<string, string> = {}
  if (broker !== undefined && ca !== undefined) {
    Object.assign(props, {
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': broker.p12,
      'ssl.keystore.password': broker.password,
      'ssl.key.password': broker.password,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': ca.cert,
      // A client certificate's principal is its CN, so super.users can name it plainly.
      'ssl.principal.mapping.rules': 'RULE:^CN=([^,]+)$/$1/,DEFAULT'
    })
    if (security.listeners.includes('MTLS')) props['listener.name.mtls.ssl.client.auth'] = 'required'
  }
  const mechanisms = security.saslMechanisms ?? ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']
  const sasl = security.listeners.filter(l => l.startsWith('SASL_'))
  if (sasl.length > 0) {
    props['sasl.enabled.mechanisms'] = mechanisms.join(',')
    const users = Object.entries(security.users ?? {}).map(([user, password]) => `user_${user}="${password}"`).join(' ')
    for (const listener of sasl) {
      const prefix = `listener.name.${listener.toLowerCase()}`
      for (const mechanism of mechanisms) {
        props[`${prefix}.${mechanism.toLowerCase()}.sasl.jaas.config`] = mechanism === 'PLAIN'
          ? `org.apache.kafka.common.security.plain.PlainLoginModule required ${users};`
          : 'org.apache.kafka.common.security.scram.ScramLoginModule required;'
      }
    }
  }
  if (security.authorizer === true) {
    props['authorizer.class.name'] = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer'
    props['super.users'] = (security.superUsers ?? ['ANONYMOUS', 'admin']).map(u => `User:${u}`).join(';')
  }
  return props
}

/** StorageTool arguments that write each user's SCRAM credentials at format time. */
function scramFormatArgs (security: ClusterSecurityOptions | undefined): string[] {
  if (security === undefined || !security.listeners.some(l => l.startsWith('SASL_'))) return []
  const mechanisms = (security.saslMechanisms ?? ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']).filter(m => m.startsWith('SCRAM-'))
  return Object.entries(security.users ?? {}).flatMap(([user, password]) => {
    if (!/^[\w-]+$/.test(user) || !/^[\w-]+$/.test(password)) throw new Error(`SASL user ${user}: names and passwords of harness users are letters, digits, '-' and '_'`)
    return mechanisms.flatMap(m => ['--add-scram', `${m}=[name=${user},password=${password}]`])
  })
}

function makeDataDir (name: string): string {
  const base = process.env.KAFKA_MIRROR_CLUSTER_DIR ?? tmpdir()
  mkdirSync(base, { recursive: true })
  return mkdtempSync(join(base, `kafka-mirror-${name}-`))
}

/** The java binary of `javaHome`, or the default one. */
function javaOf (javaHome: string | undefined): string {
  return javaHome !== undefined ? join(javaHome, 'bin', 'java') : javaBin()
}

/** Starts a KRaft cluster of Kafka 4.x (or 3.9) on free loopback ports and waits until every broker is registered. */
export async function startCluster (options: StartClusterOptions = {}): Promise<KafkaCluster> {
  const name = options.name ?? 'kafka'
  const count = options.brokers ?? 1
  const heapMb = options.heapMb ?? 512
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000)
  const flavour = options.kafka ?? 'kafka-4'
  if (flavour !== 'kafka-4' && flavour !== 'kafka-3.9') throw new Error(`KRaft clusters run kafka-4 or kafka-3.9, not ${flavour} (older lines: startZooKeeperCluster)`)
  const dist = ensureKafkaDist(flavour)
  const java = javaOf(options.javaHome)
  const dataDir = makeDataDir(name)
  const host = '127.0.0.1'

  const security = options.security
  const secured = security?.listeners ?? []
  const nodes: BrokerNode[] = []
  for (let i = 0; i < count; i++) {
    const node: BrokerNode = { nodeId: i + 1, host, port: await freePort(), controllerPort: await freePort(), dir: join(dataDir, `node-${i + 1}`), pid: undefined }
    if (secured.length > 0) {
      node.listenerPorts = {}
      for (const listener of secured) node.listenerPorts[listener] = await freePort()
    }
    nodes.push(node)
  }
  const tlsNeeded = secured.some(l => l === 'SSL' || l === 'MTLS' || l === 'SASL_SSL')
  let made: { tls: ClusterTls, broker: IssuedCertificate } | undefined
  try {
    made = tlsNeeded ? makeClusterTls(join(dataDir, 'tls'), name, host) : undefined
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  const securityProps = security !== undefined ? securityProperties(security, made?.broker, made?.tls.ca) : {}
  const extra = options.extraListeners ?? []
  const protocolMap = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...secured.map(l => `${l}:${listenerProtocols[l]}`), ...extra.map(l => `${l.name}:PLAINTEXT`)].join(',')
  const voters = nodes.map(n => `${n.nodeId}@${host}:${n.controllerPort}`).join(',')
  const replication = Math.min(3, count)
  const specs: NodeSpec[] = nodes.map(node => {
    mkdirSync(node.dir, { recursive: true })
    const logDir = join(node.dir, 'logs')
    mkdirSync(logDir, { recursive: true })
    const configFile = join(node.dir, 'server.properties')
    const logConfig = join(node.dir, usesLog4j2(dist) ? 'log4j2.properties' : 'log4j.properties')
    writeFileSync(logConfig, usesLog4j2(dist) ? log4j2 : log4j1)
    writeFileSync(configFile, propertiesText({
      'process.roles': 'broker,controller',
      'node.id': node.nodeId,
      'controller.quorum.voters': voters,
      listeners: [`PLAINTEXT://${host}:${node.port}`, ...secured.map(l => `${l}://${host}:${node.listenerPorts![l]!}`), ...extra.map(l => `${l.name}://${host}:${l.ports[node.nodeId - 1]}`), `CONTROLLER://${host}:${node.controllerPort}`].join(','),
      'advertised.listeners': [`PLAINTEXT://${host}:${node.port}`, ...secured.map(l => `${l}://${host}:${node.listenerPorts![l]!}`), ...extra.map(l => `${l.name}://${host}:${(l.advertisedPorts ?? l.ports)[node.nodeId - 1]}`)].join(','),
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': protocolMap,
      'log.dirs': join(node.dir, 'data'),
      'num.partitions': 1,
      'default.replication.factor': replication,
      'offsets.topic.replication.factor': replication,
      'offsets.topic.num.partitions': 10,
      'transaction.state.log.replication.factor': replication,
      'transaction.state.log.min.isr': 1,
      'transaction.state.log.num.partitions': 10,
      'share.coordinator.state.topic.replication.factor': replication,
      'share.coordinator.state.topic.min.isr': 1,
      'group.initial.rebalance.delay.ms': 0,
      // The mirror must create target topics itself; brokers that invent them would hide a bug.
      'auto.create.topics.enable': false,
      'num.network.threads': 2,
      'num.io.threads': 4,
      ...securityProps,
      ...options.serverProperties
    }))
    return { node, configFile, logDir, logConfig }
  })

  // Each node's storage is formatted with the same cluster id before any node starts.
  const id = clusterId()
  await Promise.all(specs.map(async spec => await new Promise<void>((resolve, reject) => {
    const child = spawn(java, ['-Xmx256m', loggingArg(dist, spec.logConfig), `-Dkafka.logs.dir=${spec.logDir}`,
      '-cp', join(dist.libs, '*'), 'kafka.tools.StorageTool', 'format', '-t', id, '-c', spec.configFile, ...scramFormatArgs(security)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', d => { output += String(d) })
    child.stderr.on('data', d => { output += String(d) })
    child.once('error', reject)
    child.once('exit', code => code === 0 ? resolve() : reject(new Error(`Formatting storage of node ${spec.node.nodeId} failed (exit ${code}):\n${output}`)))
  })))

  const cluster = new LocalCluster(name, dist, specs, dataDir, heapMb, options.detached ?? false, java)
  cluster.jvmOptions = options.jvmOptions ?? []
  if (made !== undefined) cluster.tls = made.tls
  try {
    for (let i = 0; i < count; i++) cluster.startNode(i)
    for (let i = 0; i < count; i++) await cluster.waitForNode(i, 0, deadline)
    await cluster.waitForMetadata(deadline)
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}

async function waitForPort (port: number, deadline: number, what: string, logFile: string): Promise<void> {
  while (true) {
    const open = await new Promise<boolean>(resolve => {
      const socket = createConnection({ host: '127.0.0.1', port })
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`${what} did not open port ${port} in time.\n--- ${logFile} ---\n${tail(logFile)}`)
    await sleep(200)
  }
}

/**
 * Starts ZooKeeper and a Kafka cluster registered in it: Kafka 3.9 by default, for
 * `zookeeper.connect` configs, or an older line (`options.kafka`), each with its own ZooKeeper.
 */
export async function startZooKeeperCluster (options: StartClusterOptions = {}): Promise<KafkaCluster> {
  const name = options.name ?? 'zk-kafka'
  const count = options.brokers ?? 1
  const heapMb = options.heapMb ?? 384
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000)
  const flavour = options.kafka ?? 'kafka-3.9'
  if (flavour === 'kafka-4' || flavour === 'baselines') throw new Error(`Kafka 4 has no ZooKeeper mode: startZooKeeperCluster runs kafka-3.9 or older, not ${flavour}`)
  const dist = ensureKafkaDist(flavour)
  const dataDir = makeDataDir(name)
  const host = '127.0.0.1'
  const zkPort = await freePort()
  const zookeeper = `${host}:${zkPort}`

  const zkDir = join(dataDir, 'zookeeper')
  mkdirSync(join(zkDir, 'logs'), { recursive: true })
  const zkLogConfig = join(zkDir, 'log4j.properties')
  writeFileSync(zkLogConfig, log4j1)
  const zkConfig = join(zkDir, 'zookeeper.properties')
  writeFileSync(zkConfig, propertiesText({
    dataDir: join(zkDir, 'data'),
    clientPort: zkPort,
    clientPortAddress: host,
    maxClientCnxns: 0,
    'admin.enableServer': false,
    '4lw.commands.whitelist': '*'
  }))

  const nodes: BrokerNode[] = []
  for (let i = 0; i < count; i++) {
    nodes.push({ nodeId: i + 1, host, port: await freePort(), controllerPort: 0, dir: join(dataDir, `broker-${i + 1}`), pid: undefined })
  }
  const replication = Math.min(3, count)
  const specs: NodeSpec[] = nodes.map(node => {
    const logDir = join(node.dir, 'logs')
    mkdirSync(logDir, { recursive: true })
    const configFile = join(node.dir, 'server.properties')
    const logConfig = join(node.dir, 'log4j.properties')
    writeFileSync(logConfig, log4j1)
    writeFileSync(configFile, propertiesText({
      'broker.id': node.nodeId,
      'zookeeper.connect': zookeeper,
      listeners: `PLAINTEXT://${host}:${node.port}`,
      'advertised.listeners': `PLAINTEXT://${host}:${node.port}`,
      'log.dirs': join(node.dir, 'data'),
      'num.partitions': 1,
      'default.replication.factor': replication,
      'offsets.topic.replication.factor': replication,
      'offsets.topic.num.partitions': 10,
      'transaction.state.log.replication.factor': replication,
      'transaction.state.log.min.isr': 1,
      'group.initial.rebalance.delay.ms': 0,
      'auto.create.topics.enable': false,
      ...options.serverProperties
    }))
    return { node, configFile, logDir, logConfig }
  })

  const cluster = new LocalCluster(name, dist, specs, dataDir, heapMb, options.detached ?? false, javaOf(options.javaHome))
  cluster.zookeeper = zookeeper
  try {
    const zk = cluster.spawnJava('org.apache.zookeeper.server.quorum.QuorumPeerMain', [zkConfig], join(zkDir, 'logs'), zkLogConfig, join(zkDir, 'logs', 'stdout.log'))
    cluster.addExtraProcess(zk)
    await waitForPort(zkPort, deadline, 'ZooKeeper', join(zkDir, 'logs', 'server.log'))
    for (let i = 0; i < count; i++) cluster.startNode(i)
    for (let i = 0; i < count; i++) await cluster.waitForNode(i, 0, deadline)
    await cluster.waitForMetadata(deadline)
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}

/** Whether java is on the PATH; used to explain a missing JDK before anything else fails. */
export function javaAvailable (): boolean {
  return spawnSync(javaBin(), ['-version'], { stdio: 'ignore' }).status === 0
}
