// Turns Kafka client properties into @platformatic/kafka connection options: brokers, TLS, SASL.
import { readFileSync } from 'node:fs'
import type { ConnectionOptions as TLSConnectionOptions } from 'node:tls'
import type { BaseOptions } from '@platformatic/kafka'
import type { ConfigProblem } from '../errors.ts'
import type { ConfigValue } from '../config/definition.ts'

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
  sasl?: BaseOptions['sasl']
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

function readPemOrPkcs12 (location: string, type: string, key: string, source: string, problems: ConfigProblem[]): Buffer | undefined {
  try {
    const data = readFileSync(location)
    if (type === 'JKS' && !data.subarray(0, 64).toString('latin1').includes('-----BEGIN')) {
      // JKS is Java's own format, which Node cannot read; a PEM file with type left at JKS is fine.
      const magic = data.readUInt32BE(0)
      if (magic === 0xfeedfeed || magic === 0xcececece) {
        problems.push({ source, key, message: `${location} is a JKS keystore, which only Java reads`, fix: `convert it: keytool -importkeystore -srckeystore ${location} -srcstoretype JKS -destkeystore store.p12 -deststoretype PKCS12, then set ${key.replace('location', 'type')}=PKCS12` })
        return undefined
      }
    }
    return data
  } catch (error) {
    problems.push({ source, key, message: `cannot read ${location}: ${(error as Error).message}`, fix: 'give the path of a readable file' })
    return undefined
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
    const tls: TLSConnectionOptions = {}
    const trustType = (str(values, 'ssl.truststore.type') ?? 'JKS').toUpperCase()
    const trustLocation = str(values, 'ssl.truststore.location')
    if (trustLocation !== undefined) {
      const data = readPemOrPkcs12(trustLocation, trustType, 'ssl.truststore.location', source, problems)
      if (data !== undefined) {
        if (trustType === 'PKCS12') tls.pfx = [{ buf: data, passphrase: str(values, 'ssl.truststore.password') }]
        else tls.ca = data
      }
    }
    const inlineCa = str(values, 'ssl.truststore.certificates')
    if (inlineCa !== undefined) tls.ca = inlineCa
    const keyType = (str(values, 'ssl.keystore.type') ?? 'JKS').toUpperCase()
    const keyLocation = str(values, 'ssl.keystore.location')
    if (keyLocation !== undefined) {
      const data = readPemOrPkcs12(keyLocation, keyType, 'ssl.keystore.location', source, problems)
      if (data !== undefined) {
        if (keyType === 'PKCS12') tls.pfx = [...(Array.isArray(tls.pfx) ? tls.pfx : []), { buf: data, passphrase: str(values, 'ssl.keystore.password') }]
        else { tls.cert = data; tls.key = data; tls.passphrase = str(values, 'ssl.key.password') }
      }
    }
    const chain = str(values, 'ssl.keystore.certificate.chain')
    const key = str(values, 'ssl.keystore.key')
    if (chain !== undefined) tls.cert = chain
    if (key !== undefined) { tls.key = key; tls.passphrase = str(values, 'ssl.key.password') }
    if (str(values, 'ssl.endpoint.identification.algorithm') === '') tls.checkServerIdentity = () => undefined
    connection.tls = tls
  }

  if (securityProtocol === 'SASL_PLAINTEXT' || securityProtocol === 'SASL_SSL') {
    const mechanism = (str(values, 'sasl.mechanism') ?? 'GSSAPI').toUpperCase()
    if (mechanism === 'GSSAPI') {
      problems.push({ source, key: 'sasl.mechanism', message: 'GSSAPI (Kerberos) is not supported', fix: 'use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER' })
    }
    const jaas = str(values, 'sasl.jaas.config')
    const { username, password } = jaas !== undefined ? parseJaas(jaas) : {}
    if (mechanism !== 'OAUTHBEARER' && mechanism !== 'GSSAPI' && (username === undefined || password === undefined)) {
      problems.push({ source, key: 'sasl.jaas.config', message: `${securityProtocol} with ${mechanism} needs a username and a password`, fix: 'set sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="…" password="…";' })
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
