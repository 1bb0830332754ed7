// Security failures explained: a wrong password, a certificate nobody trusts, a listener that wants
// a client certificate, an ACL that denies. Each becomes one error that names the cluster (source
// or target, its properties file, bootstrap.servers), the cause, and the key to fix, at the first
// attempt: retrying a rejected password or an untrusted certificate only hides the cause.
import { X509Certificate } from 'node:crypto'
import { Admin } from '@platformatic/kafka'
import type { TopicFilter } from '../config/topic-filter.ts'
import { ErrorCodes, KafkaMirrorError, describeCause } from '../errors.ts'
import { baseClientOptions, type ClusterConnection } from './client-options.ts'
import { OAuthBearerLoginError } from './oauth.ts'
import { nestedErrors } from './retriable.ts'

export type AccessFailureKind =
  | 'authentication' | 'sasl-mechanism'
  | 'untrusted-certificate' | 'certificate-name' | 'certificate-dates' | 'client-certificate' | 'not-tls' | 'tls-required'
  | 'authorization' | 'oauth-login'

export interface AccessFailure {
  kind: AccessFailureKind
  /** For authorization: the kind of resource denied. */
  resource?: 'topic' | 'group' | 'cluster' | 'transactional id' | 'delegation token'
  /** For authorization: the names of the resources denied, where the answer gives them. */
  names: string[]
  /** The broker's or the TLS layer's own words. */
  detail: string
  /** For sasl-mechanism: the mechanisms the listener offers. */
  offered?: string[]
}

/** Every error inside `error` (itself, what it aggregates, their causes), down to eight levels. */
const nested = (error: unknown): Generator<unknown> => nestedErrors(error, 8)

const untrustedCodes = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'CERT_CHAIN_TOO_LONG'
])
const dateCodes = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])
// Alerts a broker sends when it wants a client certificate, or does not trust the one it got.
const clientCertificateAlert = /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|DECRYPT_ERROR)/
// What a TLS client reads from a listener that does not speak TLS.
const notTlsCodes = /^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE|HTTP_REQUEST|UNEXPECTED_EOF)/

const authorizationResources: Record<string, AccessFailure['resource']> = {
  TOPIC_AUTHORIZATION_FAILED: 'topic',
  GROUP_AUTHORIZATION_FAILED: 'group',
  CLUSTER_AUTHORIZATION_FAILED: 'cluster',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'transactional id',
  DELEGATION_TOKEN_AUTHORIZATION_FAILED: 'delegation token'
}

/** Names of the resources an answer denied: entries with the error's code and a name, key or group id. */
function deniedNames (error: unknown, apiCode: number): string[] {
  const names = new Set<string>()
  const visit = (value: unknown, depth: number): void => {
    if (value === null || typeof value !== 'object' || depth > 6 || Buffer.isBuffer(value)) return
    if (Array.isArray(value)) { for (const v of value) visit(v, depth + 1); return }
    const o = value as Record<string, unknown>
    if (o.errorCode === apiCode) {
      for (const k of ['name', 'key', 'groupId', 'topic']) if (typeof o[k] === 'string' && o[k] !== '') names.add(o[k] as string)
    }
    for (const v of Object.values(o)) visit(v, depth + 1)
  }
  for (const e of nested(error)) visit((e as { response?: unknown }).response, 0)
  return [...names]
}

/** What kind of security failure `error` is, if it is one; `extra` holds errors seen on the connections. */
export function classifyAccessFailure (error: unknown, extra: unknown[] = []): AccessFailure | undefined {
  const all = [...nested(error), ...extra.flatMap(e => [...nested(e)])]
  // The token endpoint's refusal, which the client wraps as "the token provider threw".
  const login = all.find(e => e instanceof OAuthBearerLoginError) as OAuthBearerLoginError | undefined
  if (login !== undefined) return { kind: 'oauth-login', names: [], detail: login.message }
  for (const e of all) {
    const x = e as { apiId?: string, apiCode?: number, serverErrorMessage?: string | null, code?: string, message?: string, response?: { mechanisms?: string[] } }
    if (x.apiId === 'SASL_AUTHENTICATION_FAILED') return { kind: 'authentication', names: [], detail: x.serverErrorMessage ?? x.message ?? 'SASL authentication failed' }
    if (x.apiId !== undefined && authorizationResources[x.apiId] !== undefined) {
      return { kind: 'authorization', resource: authorizationResources[x.apiId], names: deniedNames(error, x.apiCode ?? -1), detail: (x.serverErrorMessage ?? '') !== '' ? x.serverErrorMessage! : x.message ?? x.apiId }
    }
  }
  for (const e of all) {
    const x = e as { apiId?: string, code?: string, message?: string, response?: { mechanisms?: string[] } }
    if (x.apiId === 'UNSUPPORTED_SASL_MECHANISM' || x.apiId === 'ILLEGAL_SASL_STATE') {
      const offered = all.map(o => (o as { response?: { mechanisms?: unknown } }).response?.mechanisms).find(Array.isArray) as string[] | undefined
      return { kind: 'sasl-mechanism', names: [], detail: x.message ?? x.apiId, offered: offered ?? [] }
    }
    const code = typeof x.code === 'string' ? x.code : ''
    if (untrustedCodes.has(code)) return { kind: 'untrusted-certificate', names: [], detail: `${x.message ?? code} (${code})` }
    if (dateCodes.has(code)) return { kind: 'certificate-dates', names: [], detail: `${x.message ?? code} (${code})` }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { kind: 'certificate-name', names: [], detail: x.message ?? code }
    if (clientCertificateAlert.test(code)) return { kind: 'client-certificate', names: [], detail: (x as { reason?: string }).reason ?? x.message ?? code }
    if (notTlsCodes.test(code) || (code === 'PLT_KFK_USER' && /TLS handshake failed/.test(x.message ?? ''))) return { kind: 'not-tls', names: [], detail: x.message ?? code }
    if (code === 'PLT_KFK_USER' && /requires TLS/.test(x.message ?? '')) return { kind: 'tls-required', names: [], detail: x.message ?? code }
    if (code === 'PLT_KFK_AUTHENTICATION' && /suitable SASL mechanism/.test(x.message ?? '')) {
      const offered = all.map(o => (o as { response?: { mechanisms?: unknown } }).response?.mechanisms).find(Array.isArray) as string[] | undefined
      return { kind: 'sasl-mechanism', names: [], detail: x.message ?? code, offered: offered ?? [] }
    }
  }
  return undefined
}

/** The subject of the client certificate, for messages: "CN=mirror". */
function certificateSubject (connection: ClusterConnection): string | undefined {
  const cert = connection.tls?.cert
  const text = Array.isArray(cert) ? cert[0] : cert
  if (text === undefined) return undefined
  try {
    return new X509Certificate(typeof text === 'string' ? text : Buffer.from(text)).subject.replace(/\n/g, ',')
  } catch {
    return undefined
  }
}

function principal (connection: ClusterConnection): string {
  if (connection.sasl?.username !== undefined) return `user "${connection.sasl.username}"`
  if (connection.oauth !== undefined) return `the token of OAuth client "${connection.oauth.settings.clientId}"`
  const subject = certificateSubject(connection)
  if (subject !== undefined) return `the client certificate ${subject}`
  return 'the anonymous user'
}

function where (connection: ClusterConnection): string {
  const how = [`security.protocol=${connection.securityProtocol}`]
  if (connection.sasl !== undefined) how.push(`sasl.mechanism=${connection.sasl.mechanism}`)
  if (connection.sasl?.username !== undefined) how.push(`user "${connection.sasl.username}"`)
  if (connection.oauth !== undefined) how.push(`client "${connection.oauth.settings.clientId}"`)
  return `the ${connection.role} cluster at ${connection.bootstrapServers.join(',')} (${connection.source}: ${how.join(', ')})`
}

/** Operations a mirror needs on each kind of resource, for the ACL hint. */
function neededOperations (role: string, resource: AccessFailure['resource']): string[] {
  if (resource === 'group') return ['Read']
  if (resource === 'topic') return role === 'target' ? ['Describe', 'Write', 'Create'] : ['Describe', 'Read']
  if (resource === 'cluster') return role === 'target' ? ['Create'] : ['Describe']
  return ['Describe']
}

/** The message for a classified failure. */
export function describeAccessFailure (failure: AccessFailure, connection: ClusterConnection, context: { operations?: string[] } = {}): string {
  const at = where(connection)
  const file = connection.source
  switch (failure.kind) {
    case 'oauth-login':
      return `OAUTHBEARER login failed for ${at}: ${failure.detail}.`
    case 'authentication':
      if (connection.oauth !== undefined) {
        return `Authentication failed on ${at}: the broker rejected the access token from ${connection.oauth.settings.tokenEndpointUrl} (${failure.detail}). ` +
          `Check that the token's audience, issuer and signing key are what the listener's sasl.oauthbearer.expected.audience, expected.issuer and jwks.endpoint.url expect.`
      }
      return `Authentication failed on ${at}: the broker rejected the username or password (${failure.detail}). ` +
        `Check username and password in sasl.jaas.config of ${file}, and that the user exists for ${connection.sasl?.mechanism ?? 'this mechanism'}.`
    case 'sasl-mechanism':
      return `SASL failed on ${at}: the listener does not accept ${connection.sasl?.mechanism ?? 'this mechanism'}` +
        (failure.offered !== undefined && failure.offered.length > 0 ? ` (it accepts ${failure.offered.join(', ')}); set sasl.mechanism in ${file} to one of them.` : `; check security.protocol and sasl.mechanism in ${file} against the listener at bootstrap.servers.`)
    case 'untrusted-certificate': {
      const store = connection.truststore
      return `The TLS certificate of ${at} is not trusted: ${failure.detail}. ` +
        (store !== undefined
          ? `${store === 'ssl.truststore.certificates' ? store : `ssl.truststore.location (${store})`} in ${file} must hold the CA that signed the brokers' certificates.`
          : `${file} sets no ssl.truststore.location, so only the system's CAs are trusted: set it to a file with the CA that signed the brokers' certificates.`)
    }
    case 'certificate-name':
      return `The TLS certificate of ${at} does not name the host connected to: ${failure.detail}. ` +
        `Use a host name in bootstrap.servers that the certificate names, or set ssl.endpoint.identification.algorithm= (empty) in ${file} to skip the check.`
    case 'certificate-dates':
      return `The TLS certificate of ${at} is not valid now: ${failure.detail}.`
    case 'client-certificate': {
      const subject = certificateSubject(connection)
      return `${capitalize(at)} refused the TLS connection: the broker requires a client certificate it trusts (ssl.client.auth=required) and ` +
        (subject !== undefined ? `did not accept ${subject} (${failure.detail}); check that the brokers' truststore holds the CA that signed it.` : `none was given (${failure.detail}); set ssl.keystore.location (with ssl.keystore.type and ssl.keystore.password) in ${file}.`)
    }
    case 'not-tls':
      return `TLS failed with ${at}: the listener does not speak TLS (${failure.detail}). Check security.protocol in ${file} and the port in bootstrap.servers.`
    case 'tls-required':
      return `${capitalize(at)}: the listener requires TLS. Set security.protocol=SSL (or SASL_SSL) in ${file}, with ssl.truststore.location.`
    case 'authorization': {
      const resource = failure.resource ?? 'resource'
      const names = failure.names.length > 0 ? ` ${failure.names.map(n => `"${n}"`).join(', ')}` : ''
      const operations = context.operations ?? neededOperations(connection.role, failure.resource)
      const user = connection.sasl?.username !== undefined ? `User:${connection.sasl.username}` : 'User:<principal>'
      const aclTarget = resource === 'cluster' ? '--cluster' : failure.names.length > 0 ? `--${resource === 'transactional id' ? 'transactional-id' : resource} ${failure.names[0]}` : `--${resource} <name>`
      const needed = operations.length > 1 ? `${operations.slice(0, -1).join(', ')} and ${operations[operations.length - 1]}` : operations[0]
      return `Authorization denied on ${at}: ${principal(connection)} may not use the ${resource}${names} (${failure.detail.replace(/\.$/, '')}). ` +
        `The mirror needs ${needed} on it; grant ${operations.length > 1 ? 'them' : 'it'} with an ACL, for example: kafka-acls.sh --bootstrap-server ${connection.bootstrapServers[0]} --add --allow-principal ${user} ${operations.map(o => `--operation ${o}`).join(' ')} ${aclTarget}`
    }
  }
}

function capitalize (text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/**
 * A KafkaMirrorError explaining `error` when it is a security failure (authentication, TLS,
 * authorization) on the cluster of `connection`; undefined for anything else, which the caller
 * handles as before.
 */
export function accessError (error: unknown, connection: ClusterConnection, context: { extra?: unknown[], operations?: string[] } = {}): KafkaMirrorError | undefined {
  if (error instanceof KafkaMirrorError && (error as { accessFailure?: AccessFailure }).accessFailure !== undefined) return error
  const failure = classifyAccessFailure(error, context.extra)
  if (failure === undefined) return undefined
  const explained = new KafkaMirrorError(ErrorCodes.CONNECTION, describeAccessFailure(failure, connection, context), { cause: error, retriable: false })
  Object.assign(explained, { accessFailure: failure })
  return explained
}

/** `error` explained when it is a security failure on `connection`'s cluster, else `error` itself. */
export function explainAccess (error: unknown, connection: ClusterConnection, operations?: string[]): unknown {
  return accessError(error, connection, { operations }) ?? error
}

type BrokerConnection = { on: (event: 'error', listener: (error: unknown) => void) => unknown, off: (event: 'error', listener: (error: unknown) => void) => unknown }

/** Causes of a failed request, each once: "Connection refused; Connection closed". */
function uniqueCauses (error: unknown): string {
  return [...new Set(describeCause(error).split('; '))].join('; ')
}

/**
 * Makes sure `admin` reaches its cluster. A first attempt is made once, by a client of its own
 * without retries: a security failure (rejected password, untrusted certificate, missing client
 * certificate, wrong protocol) ends here with its explanation. Anything else (a broker starting, a
 * network blip) gets `admin`'s retries, then "Cannot reach the <role> cluster at <servers>
 * (bootstrap.servers in <file>): <cause>".
 */
export async function reachCluster (admin: Admin, connection: ClusterConnection): Promise<void> {
  const probe = new Admin({ ...baseClientOptions(connection, `${connection.clientId}-probe`), retries: 0 })
  // A broker that refuses the client certificate says so in a TLS alert after the handshake; the
  // request then only sees "Connection closed", so the connections' own errors are kept too.
  const seen: unknown[] = []
  const watched: BrokerConnection[] = []
  const onError = (error: unknown): void => { seen.push(error) }
  const onConnect = (payload: { connection?: BrokerConnection }): void => {
    if (payload?.connection === undefined) return
    payload.connection.on('error', onError)
    watched.push(payload.connection)
  }
  probe.on('client:broker:connect', onConnect)
  admin.on('client:broker:connect', onConnect)
  try {
    try {
      await probe.metadata({ topics: [], retries: 0 })
      return
    } catch (first) {
      const explained = accessError(first, connection, { extra: seen })
      if (explained !== undefined) throw explained
    } finally {
      await probe.close().catch(() => {})
    }
    try {
      await admin.metadata({ topics: [] })
    } catch (error) {
      const explained = accessError(error, connection, { extra: seen })
      if (explained !== undefined) throw explained
      const causes = uniqueCauses(error)
      const hint = /^(?:Connection closed(?:; )?)+$/.test(causes)
        ? `. The brokers closed every connection before answering: check that security.protocol=${connection.securityProtocol} is what the listener at bootstrap.servers expects`
        : ''
      throw new KafkaMirrorError(ErrorCodes.CONNECTION, `Cannot reach the ${connection.role} cluster at ${connection.bootstrapServers.join(',')} (bootstrap.servers in ${connection.source}): ${causes}${hint}`, { cause: error })
    }
  } finally {
    admin.off('client:broker:connect', onConnect)
    for (const c of watched) c.off('error', onError)
  }
}

/** Topic names an include filter spells out (no regex beyond "." and "\."), which can be asked for by name. */
export function literalTopicNames (filter: TopicFilter): string[] {
  const match = /^\^\(\?:(.*)\)\$$/.exec(filter.include.source)
  if (match === null || filter.include.flags.includes('i')) return []
  const names: string[] = []
  for (const alternative of match[1].split('|')) {
    const name = alternative.replace(/\\\./g, '.')
    if (!/^[A-Za-z0-9._-]+$/.test(name)) return []
    names.push(name)
  }
  return names.filter(n => filter.exclude === undefined || !filter.exclude.test(n))
}

/** Metadata of `topics` asked for by name, once; the topics' own errors come back as a rejection. */
async function describeByName (admin: Admin, topics: string[]): Promise<void> {
  await admin.metadata({ topics, retries: 0, forceUpdate: true, autocreateTopics: false })
}

function isUnknownTopic (error: unknown): boolean {
  for (const e of nested(error)) if ((e as { apiId?: string }).apiId === 'UNKNOWN_TOPIC_OR_PARTITION') return true
  return false
}

/**
 * Checks, before copying, that the mirror's principals may do what it needs, so that a missing ACL
 * is named at start rather than met as an empty topic list or a failure later:
 * - source: Describe on the topics the include filter names (a topic the principal may not describe
 *   is simply missing from listings), and Read on group.id;
 * - target: Describe on the topics to mirror.
 * Throws the explained KafkaMirrorError; other failures are left to the steps that follow.
 */
export async function checkMirrorAccess (
  sourceAdmin: Admin, targetAdmin: Admin,
  source: ClusterConnection & { groupId: string }, target: ClusterConnection,
  options: { filter: TopicFilter, matched: string[] }
): Promise<void> {
  const hidden = literalTopicNames(options.filter).filter(n => !options.matched.includes(n))
  if (hidden.length > 0) {
    try {
      await describeByName(sourceAdmin, hidden)
    } catch (error) {
      // A named topic that does not exist (yet) is fine: the mirror waits for it.
      if (!isUnknownTopic(error) || classifyAccessFailure(error)?.kind === 'authorization') {
        const explained = accessError(error, source, { operations: ['Describe', 'Read'] })
        if (explained !== undefined) throw explained
      }
    }
  }
  try {
    await sourceAdmin.listConsumerGroupOffsets({ groups: [source.groupId] })
  } catch (error) {
    const explained = accessError(error, source, { operations: ['Read'] })
    if (explained !== undefined) throw explained
  }
  if (options.matched.length > 0) {
    try {
      await describeByName(targetAdmin, options.matched)
    } catch (error) {
      const explained = accessError(error, target, { operations: ['Describe', 'Write', 'Create'] })
      if (explained !== undefined) throw explained
    }
  }
}
