// Secured clusters for the security tests: one broker with SSL, mTLS, SASL_PLAINTEXT and SASL_SSL
// listeners beside PLAINTEXT, SASL users for PLAIN and both SCRAMs, and client properties written
// with Kafka's own ssl.* and sasl.* keys, as a user would write them.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, type KafkaCluster, type SaslMechanismName, type SecureListenerName } from '../../harness/cluster.ts'

/** Users of the secured clusters: admin is a super user (and alice where there is no authorizer); nobody has no ACLs. */
export const users = {
  admin: 'admin-secret',
  alice: 'alice-secret',
  reader: 'reader-secret',
  nobody: 'nobody-secret'
} as const

const propertiesDirs = new Set<string>()
process.once('exit', () => { for (const dir of propertiesDirs) rmSync(dir, { recursive: true, force: true }) })

export const allSecureListeners: SecureListenerName[] = ['SSL', 'MTLS', 'SASL_PLAINTEXT', 'SASL_SSL']

/** A 1-broker cluster with every secured listener and every SASL mechanism. */
export async function startSecuredCluster (name: string, options: { authorizer?: boolean, superUsers?: string[] } = {}): Promise<KafkaCluster> {
  return await startCluster({
    name,
    brokers: 1,
    security: { listeners: allSecureListeners, users: { ...users }, authorizer: options.authorizer, superUsers: options.superUsers }
  })
}

/**
 * A plain cluster to mirror to or from: the run's shared target when `npm test` started it,
 * otherwise a 1-broker cluster of this file's own, which `stop` ends (a no-op for the shared one).
 */
export async function plainCluster (name: string): Promise<{ bootstrap: string, stop: () => Promise<void> }> {
  const shared = process.env.KAFKA_MIRROR_TEST_CLUSTERS
  if (shared !== undefined) return { bootstrap: (JSON.parse(shared) as { target: string }).target, stop: async () => {} }
  const cluster = await startCluster({ name, brokers: 1 })
  return { bootstrap: cluster.bootstrap, stop: async () => await cluster.stop() }
}

export function jaasConfig (mechanism: SaslMechanismName, user: string, password: string): string {
  const module = mechanism === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule'
  return `${module} required username="${user}" password="${password}";`
}

/** Properties a client needs for `listener` of a secured cluster: bootstrap.servers and security keys. */
export function secureClientProperties (cluster: KafkaCluster, listener: SecureListenerName | 'PLAINTEXT', options: {
  mechanism?: SaslMechanismName
  user?: string
  password?: string
  /** PEM (default) or PKCS12 truststore. */
  truststore?: 'PEM' | 'PKCS12'
  /** mTLS keystore: PEM (key and chain in one file) or PKCS12; client principal `clientName`. */
  keystore?: 'PEM' | 'PKCS12'
  clientName?: string
} = {}): Record<string, string> {
  const props: Record<string, string> = {
    'bootstrap.servers': cluster.listeners[listener]!,
    'security.protocol': listener === 'MTLS' ? 'SSL' : listener
  }
  if (listener === 'SSL' || listener === 'MTLS' || listener === 'SASL_SSL') {
    const tls = cluster.tls!
    if ((options.truststore ?? 'PEM') === 'PEM') {
      Object.assign(props, { 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': tls.ca.cert })
    } else {
      Object.assign(props, { 'ssl.truststore.type': 'PKCS12', 'ssl.truststore.location': tls.truststoreP12, 'ssl.truststore.password': tls.password })
    }
    if (listener === 'MTLS') {
      const cert = tls.issueClientCertificate(options.clientName ?? 'admin')
      if ((options.keystore ?? 'PEM') === 'PEM') Object.assign(props, { 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': cert.pem })
      else Object.assign(props, { 'ssl.keystore.type': 'PKCS12', 'ssl.keystore.location': cert.p12, 'ssl.keystore.password': cert.password, 'ssl.key.password': cert.password })
    }
  }
  if (listener === 'SASL_PLAINTEXT' || listener === 'SASL_SSL') {
    const mechanism = options.mechanism ?? 'PLAIN'
    const user = options.user ?? 'alice'
    props['sasl.mechanism'] = mechanism
    props['sasl.jaas.config'] = jaasConfig(mechanism, user, options.password ?? (users as Record<string, string>)[user])
  }
  return props
}

/** Writes consumer.properties and producer.properties into a fresh folder; a unique group.id. */
export function writeMirrorProperties (consumer: Record<string, string>, producer: Record<string, string>): { dir: string, consumer: string, producer: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-security-'))
  propertiesDirs.add(dir)
  const lines = (o: Record<string, string>): string => Object.entries(o).map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
  const files = { dir, consumer: join(dir, 'consumer.properties'), producer: join(dir, 'producer.properties') }
  writeFileSync(files.consumer, lines({ 'group.id': `secure-${Math.random().toString(36).slice(2, 10)}`, ...consumer }))
  writeFileSync(files.producer, lines(producer))
  return files
}

const keytoolBin = process.env.JAVA_HOME !== undefined ? join(process.env.JAVA_HOME, 'bin', 'keytool') : 'keytool'

function keytool (args: string[]): void {
  const result = spawnSync(keytoolBin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (result.status !== 0) throw new Error(`keytool ${args[0]} failed: ${result.error?.message ?? result.stderr}${result.stdout}`)
}

/** Whether the JDK's keytool runs here. */
export const keytoolAvailable = (): boolean => spawnSync(keytoolBin, ['-help'], { stdio: 'ignore' }).status === 0

/** A JKS truststore holding `caCert` (PEM file), made with keytool as Java users make them. */
export function jksTruststore (caCert: string, file: string, password: string, storeType: 'JKS' | 'JCEKS' = 'JKS'): string {
  rmSync(file, { force: true })
  keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', caCert, '-keystore', file, '-storetype', storeType, '-storepass', password])
  return file
}

/** A JKS keystore made by keytool from a PKCS12 one (key and chain); the key protected by `keyPassword`. */
export function jksKeystore (p12: string, p12Password: string, alias: string, file: string, password: string, keyPassword = password): string {
  rmSync(file, { force: true })
  keytool(['-importkeystore', '-noprompt', '-srckeystore', p12, '-srcstoretype', 'PKCS12', '-srcstorepass', p12Password, '-srcalias', alias,
    '-destkeystore', file, '-deststoretype', 'JKS', '-deststorepass', password, '-destkeypass', keyPassword, '-destalias', alias])
  return file
}
