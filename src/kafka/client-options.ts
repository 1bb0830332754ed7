// Turns Kafka client properties into @platformatic/kafka connection options: brokers, TLS, SASL.
import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ConnectionOptions as TLSConnectionOptions } from 'node:tls'
import type { BaseOptions } from '@platformatic/kafka'
import type { ConfigProblem } from '../errors.ts'
import type { ConfigValue } from '../config/definition.ts'
import { readJks } from './jks.ts'
import { OAuthBearerLogin, oauthBearerSettings } from './oauth.ts'
import { pkcs12KeyAndChain, readPkcs12, type Pkcs12Contents } from './pkcs12.ts'

/** Connection settings for one cluster, read from a properties file. */
export interface ClusterConnection {
  /** "source" or "target", used in messages. */
  role: string
  /** Where the settings came from, for messages: "consumer.properties". */
  source: string
  bootstrapServers: string[]
  clientId: string
  securityProtocol: string
  requestTimeoutMs: number
  connectTimeoutMs: number
  metadataMaxAgeMs: number
  retryBackoffMs: number
  tls?: TLSConnectionOptions
  /** ssl.truststore.location, for messages about untrusted certificates. */
  truststore?: string
  sasl?: BaseOptions['sasl']
  /** The OAUTHBEARER login (token endpoint, current token) when sasl.mechanism=OAUTHBEARER. */
  oauth?: OAuthBearerLogin
}

function str (values: Map<string, ConfigValue>, key: string): string | undefined {
  const v = values.get(key)
  return v === undefined ? undefined : String(v)
}

/** Reads `username="…" password="…"` out of a JAAS login line. */
export function parseJaas (jaas: string): { username?: string, password?: string } {
  const pick = (name: string): string | undefined => new RegExp(`${name}\\s*=\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(jaas)?.[1]?.replace(/\\(.)/g, '$1')
  return { username: pick('username'), password: pick('password') }
}

/** UNKNOWN: none of the formats below; handed to node:tls as before, which reports it at connect time. */
type StoreFormat = 'PEM' | 'PKCS12' | 'JKS' | 'UNKNOWN'

/**
 * Reads a key or trust store file and tells its format from its content. JKS and PKCS12 stand for
 * each other as Java's keystore.type.compat has it (JDK 9+ reads a PKCS12 file declared JKS, the
 * default type, and the other way round); PEM against a binary store is a wrong ssl.*.type, which
 * Java refuses too.
 */
function readStore (location: string, key: string, declared: string, source: string, problems: ConfigProblem[]): { format: StoreFormat, data: Buffer } | undefined {
  let data: Buffer
  try {
    data = readFileSync(location)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    problems.push({ source, key, message: `cannot read ${location}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`, fix: 'give the path of a readable file' })
    return undefined
  }
  const typeKey = key.replace('location', 'type')
  const magic = data.length >= 4 ? data.readUInt32BE(0) : 0
  if (magic === 0xcececece) {
    problems.push({ source, key, message: `${location} is a JCEKS keystore, which kafka-mirror does not read`, fix: `convert it: keytool -importkeystore -srckeystore ${location} -srcstoretype JCEKS -destkeystore store.p12 -deststoretype PKCS12, then set ${key}=store.p12 and ${typeKey}=PKCS12` })
    return undefined
  }
  const format: StoreFormat = data.subarray(0, 4096).toString('latin1').includes('-----BEGIN')
    ? 'PEM'
    : magic === 0xfeedfeed ? 'JKS' : data[0] === 0x30 ? 'PKCS12' : 'UNKNOWN'
  if (format === 'PEM' && declared !== 'PEM') {
    problems.push({ source, key: typeKey, message: `is ${declared}${declared === 'JKS' ? ' (Kafka\'s default)' : ''}, but ${location} is a PEM file`, fix: `set ${typeKey}=PEM` })
    return undefined
  }
  if ((format === 'JKS' || format === 'PKCS12') && declared === 'PEM') {
    problems.push({ source, key: typeKey, message: `is PEM, but ${location} is a ${format} store`, fix: `set ${typeKey}=${format}` })
    return undefined
  }
  return { format, data }
}

/** The contents of a JKS or PKCS12 store, or a problem naming the key to fix. */
function readBinaryStore (store: { format: StoreFormat, data: Buffer }, location: string, key: string, password: string | undefined, keyPassword: string | undefined,
  passwordKeys: string, source: string, problems: ConfigProblem[]): Pkcs12Contents | undefined {
  try {
    return store.format === 'JKS' ? readJks(store.data, password, keyPassword ?? password) : readPkcs12(store.data, password, keyPassword ?? password)
  } catch (error) {
    const message = (error as Error).message
    const fix = /password/.test(message) ? `check ${passwordKeys}` : undefined
    problems.push({ source, key, message: `cannot read the ${store.format} store ${location}: ${message}`, ...(fix !== undefined ? { fix } : {}) })
    return undefined
  }
}

/** The TLS options of a SSL or SASL_SSL connection, from Kafka's ssl.* keys. */
function tlsOptions (values: Map<string, ConfigValue>, source: string, problems: ConfigProblem[]): TLSConnectionOptions {
  const tls: TLSConnectionOptions = {}
  const trustType = (str(values, 'ssl.truststore.type') ?? 'JKS').toUpperCase()
  const trustLocation = str(values, 'ssl.truststore.location')
  if (trustLocation !== undefined) {
    const store = readStore(trustLocation, 'ssl.truststore.location', trustType, source, problems)
    if (store?.format === 'PEM' || store?.format === 'UNKNOWN') tls.ca = store.data
    else if (store !== undefined) {
      // node:tls's pfx needs a private key; a truststore has only certificates, read here.
      const contents = readBinaryStore(store, trustLocation, 'ssl.truststore.location', str(values, 'ssl.truststore.password'), undefined, 'ssl.truststore.password', source, problems)
      if (contents !== undefined && contents.certificates.length === 0) {
        problems.push({ source, key: 'ssl.truststore.location', message: `${trustLocation} holds no certificate`, fix: `import the CA that signed the brokers' certificates: keytool -importcert -file ca.pem -keystore ${trustLocation} -storetype ${store.format}` })
      } else if (contents !== undefined) tls.ca = contents.certificates
    }
  }
  const inlineCa = str(values, 'ssl.truststore.certificates')
  if (inlineCa !== undefined) tls.ca = inlineCa

  const keyType = (str(values, 'ssl.keystore.type') ?? 'JKS').toUpperCase()
  const keyLocation = str(values, 'ssl.keystore.location')
  const keyPassword = str(values, 'ssl.key.password')
  if (keyLocation !== undefined) {
    const store = readStore(keyLocation, 'ssl.keystore.location', keyType, source, problems)
    if (store?.format === 'PEM') {
      const text = store.data.toString('utf8')
      if (!/-----BEGIN (?:ENCRYPTED |RSA |EC )?PRIVATE KEY-----/.test(text) || !text.includes('-----BEGIN CERTIFICATE-----')) {
        problems.push({ source, key: 'ssl.keystore.location', message: `${keyLocation} must hold this client's private key and its certificate chain, in PEM`, fix: 'cat client.key client.crt > keystore.pem, or give ssl.keystore.key and ssl.keystore.certificate.chain' })
      } else if (checkPrivateKey(text, keyPassword, 'ssl.keystore.location', source, problems)) {
        tls.cert = text
        tls.key = text
        if (keyPassword !== undefined) tls.passphrase = keyPassword
      }
    } else if (store?.format === 'UNKNOWN') {
      if (keyType === 'PKCS12') tls.pfx = [{ buf: store.data, passphrase: str(values, 'ssl.keystore.password') }]
      else { tls.cert = store.data; tls.key = store.data; if (keyPassword !== undefined) tls.passphrase = keyPassword }
    } else if (store !== undefined) {
      const passwordKeys = keyPassword !== undefined ? 'ssl.keystore.password and ssl.key.password' : 'ssl.keystore.password'
      const contents = readBinaryStore(store, keyLocation, 'ssl.keystore.location', str(values, 'ssl.keystore.password'), keyPassword, passwordKeys, source, problems)
      const found = contents !== undefined ? pkcs12KeyAndChain(contents) : undefined
      if (contents !== undefined && found === undefined) problems.push({ source, key: 'ssl.keystore.location', message: `${keyLocation} holds no private key with its certificate`, fix: 'a keystore holds this client\'s key and certificate; CA certificates go in ssl.truststore.location' })
      else if (found !== undefined) { tls.key = found.key; tls.cert = found.cert }
    }
  }
  const chain = str(values, 'ssl.keystore.certificate.chain')
  const key = str(values, 'ssl.keystore.key')
  if (chain !== undefined) tls.cert = chain
  if (key !== undefined && checkPrivateKey(key, keyPassword, 'ssl.keystore.key', source, problems)) {
    tls.key = key
    if (keyPassword !== undefined) tls.passphrase = keyPassword
  }
  if (str(values, 'ssl.endpoint.identification.algorithm') === '') tls.checkServerIdentity = () => undefined
  return tls
}

/** Whether the PEM private key opens (with ssl.key.password when it is encrypted); a problem if not. */
function checkPrivateKey (pem: string, passphrase: string | undefined, key: string, source: string, problems: ConfigProblem[]): boolean {
  try {
    createPrivateKey({ key: pem, format: 'pem', ...(passphrase !== undefined ? { passphrase } : {}) })
    return true
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(pem)
    problems.push({
      source,
      key,
      message: encrypted
        ? (passphrase === undefined ? 'the private key is encrypted and ssl.key.password is not set' : 'the private key does not open with ssl.key.password')
        : `the private key cannot be read: ${(error as Error).message}`,
      ...(encrypted ? { fix: 'set ssl.key.password to the key\'s password' } : {})
    })
    return false
  }
}

/** Builds the connection settings; problems are added to `problems`, never thrown. */
export function clusterConnection (role: string, source: string, values: Map<string, ConfigValue>, bootstrapServers: string[], defaultClientId: string, problems: ConfigProblem[]): ClusterConnection {
  const securityProtocol = (str(values, 'security.protocol') ?? 'PLAINTEXT').toUpperCase()
  const connection: ClusterConnection = {
    role,
    source,
    bootstrapServers,
    clientId: str(values, 'client.id') ?? defaultClientId,
    securityProtocol,
    requestTimeoutMs: Number(values.get('request.timeout.ms') ?? 30000),
    connectTimeoutMs: Number(values.get('socket.connection.setup.timeout.ms') ?? 10000),
    metadataMaxAgeMs: Number(values.get('metadata.max.age.ms') ?? 300000),
    retryBackoffMs: Number(values.get('retry.backoff.ms') ?? 100)
  }

  if (securityProtocol === 'SSL' || securityProtocol === 'SASL_SSL') {
    connection.tls = tlsOptions(values, source, problems)
    connection.truststore = str(values, 'ssl.truststore.location') ?? (str(values, 'ssl.truststore.certificates') !== undefined ? 'ssl.truststore.certificates' : undefined)
  }

  if (securityProtocol === 'SASL_PLAINTEXT' || securityProtocol === 'SASL_SSL') {
    const mechanism = (str(values, 'sasl.mechanism') ?? 'GSSAPI').toUpperCase()
    if (mechanism === 'GSSAPI') {
      problems.push({ source, key: 'sasl.mechanism', message: 'GSSAPI (Kerberos) is not supported', fix: 'use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER' })
    }
    if (mechanism === 'OAUTHBEARER') {
      const settings = oauthBearerSettings(values, source, problems)
      if (settings !== undefined) {
        const login = new OAuthBearerLogin(settings)
        connection.oauth = login
        connection.sasl = {
          mechanism: 'OAUTHBEARER',
          token: async () => await login.token(),
          ...(Object.keys(settings.extensions).length > 0 ? { oauthBearerExtensions: settings.extensions } : {})
        }
      }
      return connection
    }
    const jaas = str(values, 'sasl.jaas.config')
    const { username, password } = jaas !== undefined ? parseJaas(jaas) : {}
    if (mechanism !== 'GSSAPI' && (username === undefined || password === undefined)) {
      const loginModule = mechanism.startsWith('SCRAM-') ? 'org.apache.kafka.common.security.scram.ScramLoginModule' : 'org.apache.kafka.common.security.plain.PlainLoginModule'
      problems.push({ source, key: 'sasl.jaas.config', message: `${securityProtocol} with ${mechanism} needs a username and a password`, fix: `set sasl.jaas.config=${loginModule} required username="…" password="…";` })
    }
    connection.sasl = { mechanism: mechanism as 'PLAIN', username, password }
  }
  return connection
}

/** Options for any @platformatic/kafka client of this cluster. */
export function baseClientOptions (connection: ClusterConnection, clientId = connection.clientId): BaseOptions {
  return {
    clientId,
    bootstrapBrokers: connection.bootstrapServers,
    timeout: connection.requestTimeoutMs,
    requestTimeout: connection.requestTimeoutMs,
    connectTimeout: connection.connectTimeoutMs,
    metadataMaxAge: connection.metadataMaxAgeMs,
    // Kafka's clients back off exponentially from retry.backoff.ms to retry.backoff.max.ms (1 s);
    // ten tries ride out a coordinator move or a leader election.
    retries: 10,
    retryDelay: (_client: unknown, _operation: string, attempt: number) => Math.min(1000, connection.retryBackoffMs * 2 ** Math.max(0, attempt - 1)),
    ...(connection.tls !== undefined ? { tls: connection.tls } : {}),
    ...(connection.sasl !== undefined ? { sasl: connection.sasl } : {})
  }
}
