// SASL/OAUTHBEARER the way Kafka's Java client does it with OIDC (KIP-768): the login callback
// handler asks the token endpoint for an access token with the client credentials grant, checks the
// claims the client checks (ClientJwtValidator: exp, sub, scope), and refreshes the token before it
// expires (ExpiringCredentialRefreshingLogin's rule). @platformatic/kafka takes the token as a
// provider function, called at every authentication and re-authentication (KIP-368), so each new or
// re-authenticated connection gets the current token.
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ConfigValue } from '../config/definition.ts'
import { ErrorCodes, KafkaMirrorError, type ConfigProblem } from '../errors.ts'

/** Kafka's login callback handler for OIDC, and its name before Kafka 3.4 (still in many configs). */
export const oidcLoginHandlers = [
  'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler',
  'org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler'
]
/** Kafka 4.1's token retrievers that, given an http(s) token endpoint, use the client credentials grant. */
const clientCredentialsRetrievers = [
  'org.apache.kafka.common.security.oauthbearer.DefaultJwtRetriever',
  'org.apache.kafka.common.security.oauthbearer.ClientCredentialsJwtRetriever'
]
export const oauthLoginModule = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule'

export interface OAuthBearerSettings {
  /** "consumer.properties", for messages. */
  source: string
  tokenEndpointUrl: string
  clientId: string
  clientSecret: string
  /** Where the credentials came from, for messages: "clientId and clientSecret in sasl.jaas.config". */
  credentialKeys: string
  scope?: string
  scopeClaimName: string
  subClaimName: string
  headerUrlencode: boolean
  connectTimeoutMs: number
  readTimeoutMs: number
  retryBackoffMs: number
  retryBackoffMaxMs: number
  refreshWindowFactor: number
  refreshWindowJitter: number
  refreshMinPeriodSeconds: number
  refreshBufferSeconds: number
  /** SASL extensions, from the JAAS options extension_<name>="value". */
  extensions: Record<string, string>
}

/** A failed login: the token endpoint refused, could not be reached, or sent a token the client cannot use. */
export class OAuthBearerLoginError extends KafkaMirrorError {
  constructor (message: string, options: { cause?: unknown, retriable?: boolean } = {}) {
    super(ErrorCodes.CONNECTION, message, options)
    this.name = 'OAuthBearerLoginError'
  }
}

/** Every `name="value"` (or `name=value`) option of a JAAS login line, unescaped. */
export function jaasOptions (jaas: string): Map<string, string> {
  const options = new Map<string, string>()
  // After the module name and control flag; values are quoted strings or bare words.
  const body = jaas.replace(/^\s*[\w$.]+\s+\w+/, '')
  for (const m of body.matchAll(/([\w.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))/g)) {
    options.set(m[1], m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3])
  }
  return options
}

const str = (values: Map<string, ConfigValue>, key: string): string | undefined => values.get(key) === undefined ? undefined : String(values.get(key))
const num = (values: Map<string, ConfigValue>, key: string, fallback: number): number => values.get(key) === undefined ? fallback : Number(values.get(key))

/**
 * The OAUTHBEARER login of a client properties file, or undefined with the problems added: every
 * key the OIDC login needs, named with the fix. Nothing is fetched here (--validate connects nowhere).
 */
export function oauthBearerSettings (values: Map<string, ConfigValue>, source: string, problems: ConfigProblem[]): OAuthBearerSettings | undefined {
  const before = problems.length
  const handler = str(values, 'sasl.login.callback.handler.class')
  const url = str(values, 'sasl.oauthbearer.token.endpoint.url')
  if (handler === undefined) {
    problems.push({
      source,
      key: 'sasl.login.callback.handler.class',
      message: 'is not set, so OAUTHBEARER would use Kafka\'s unsecured development tokens, which kafka-mirror does not make',
      fix: `set sasl.login.callback.handler.class=${oidcLoginHandlers[0]} and sasl.oauthbearer.token.endpoint.url to your identity provider's token endpoint`
    })
  } else if (!oidcLoginHandlers.includes(handler)) {
    problems.push({ source, key: 'sasl.login.callback.handler.class', message: `${handler} is a Java class, which cannot run in kafka-mirror`, fix: `use ${oidcLoginHandlers[0]} with sasl.oauthbearer.token.endpoint.url` })
  }
  if (url === undefined) {
    problems.push({ source, key: 'sasl.oauthbearer.token.endpoint.url', message: 'is missing: OAUTHBEARER needs the identity provider\'s token endpoint', fix: 'set sasl.oauthbearer.token.endpoint.url=https://idp.example.com/oauth2/token' })
  } else {
    let protocol: string | undefined
    try { protocol = new URL(url).protocol } catch {}
    if (protocol === 'file:') problems.push({ source, key: 'sasl.oauthbearer.token.endpoint.url', message: 'a file of tokens is not supported by kafka-mirror', fix: 'give the token endpoint\'s http or https URL' })
    else if (protocol !== 'http:' && protocol !== 'https:') problems.push({ source, key: 'sasl.oauthbearer.token.endpoint.url', message: `"${url}" is not an http or https URL`, fix: 'set sasl.oauthbearer.token.endpoint.url=https://idp.example.com/oauth2/token' })
  }
  const retriever = str(values, 'sasl.oauthbearer.jwt.retriever.class')
  if (retriever !== undefined && !clientCredentialsRetrievers.includes(retriever)) {
    problems.push({ source, key: 'sasl.oauthbearer.jwt.retriever.class', message: `${retriever} is not supported: kafka-mirror gets tokens with the client credentials grant only`, fix: `remove it, or set it to ${clientCredentialsRetrievers[0]}` })
  }
  const jaas = str(values, 'sasl.jaas.config')
  const options = jaas !== undefined ? jaasOptions(jaas) : new Map<string, string>()
  if (jaas !== undefined && !jaas.trim().startsWith(oauthLoginModule)) {
    problems.push({ source, key: 'sasl.jaas.config', message: 'OAUTHBEARER takes Kafka\'s OAuthBearerLoginModule', fix: `set sasl.jaas.config=${oauthLoginModule} required clientId="…" clientSecret="…";` })
  }
  // As in Kafka 4.1+: the sasl.oauthbearer.client.credentials.* keys first, then the JAAS options.
  const configId = str(values, 'sasl.oauthbearer.client.credentials.client.id')
  const configSecret = str(values, 'sasl.oauthbearer.client.credentials.client.secret')
  const clientId = configId ?? options.get('clientId')
  const clientSecret = configSecret ?? options.get('clientSecret')
  const credentialKeys = configId !== undefined || configSecret !== undefined
    ? 'sasl.oauthbearer.client.credentials.client.id and .client.secret'
    : 'clientId and clientSecret in sasl.jaas.config'
  if (clientId === undefined || clientId === '' || clientSecret === undefined || clientSecret === '') {
    problems.push({
      source,
      key: jaas !== undefined || configId === undefined ? 'sasl.jaas.config' : 'sasl.oauthbearer.client.credentials.client.secret',
      message: `OAUTHBEARER with a token endpoint needs a client id and a client secret (the client credentials grant); ${clientId === undefined || clientId === '' ? 'the client id' : 'the client secret'} is missing`,
      fix: `set sasl.jaas.config=${oauthLoginModule} required clientId="…" clientSecret="…" scope="…";`
    })
  }
  const extensions: Record<string, string> = {}
  for (const [name, value] of options) if (name.startsWith('extension_')) extensions[name.slice('extension_'.length)] = value
  if (problems.length > before) return undefined
  return {
    source,
    tokenEndpointUrl: url!,
    clientId: clientId!,
    clientSecret: clientSecret!,
    credentialKeys,
    scope: str(values, 'sasl.oauthbearer.scope') ?? options.get('scope'),
    scopeClaimName: str(values, 'sasl.oauthbearer.scope.claim.name') ?? 'scope',
    subClaimName: str(values, 'sasl.oauthbearer.sub.claim.name') ?? 'sub',
    headerUrlencode: values.get('sasl.oauthbearer.header.urlencode') === true,
    connectTimeoutMs: num(values, 'sasl.login.connect.timeout.ms', 10_000),
    readTimeoutMs: num(values, 'sasl.login.read.timeout.ms', 30_000),
    retryBackoffMs: num(values, 'sasl.login.retry.backoff.ms', 100),
    retryBackoffMaxMs: num(values, 'sasl.login.retry.backoff.max.ms', 10_000),
    refreshWindowFactor: num(values, 'sasl.login.refresh.window.factor', 0.8),
    refreshWindowJitter: num(values, 'sasl.login.refresh.window.jitter', 0.05),
    refreshMinPeriodSeconds: num(values, 'sasl.login.refresh.min.period.seconds', 60),
    refreshBufferSeconds: num(values, 'sasl.login.refresh.buffer.seconds', 300),
    extensions
  }
}

export interface AccessToken {
  value: string
  /** The token's exp claim, in ms. */
  expiresAtMs: number
  /** When to fetch the next one. */
  refreshAtMs: number
  subject: string
}

/**
 * When to refresh a token fetched at `nowMs` that expires at `expiresAtMs`: Kafka's rule. At the
 * window factor (plus jitter) of its remaining life, but no sooner than the minimum period and no
 * later than the buffer before expiry; a token too short-lived for both buffers is refreshed at half
 * its remaining life.
 */
export function refreshTime (settings: Pick<OAuthBearerSettings, 'refreshWindowFactor' | 'refreshWindowJitter' | 'refreshMinPeriodSeconds' | 'refreshBufferSeconds'>, nowMs: number, expiresAtMs: number, random = Math.random()): number {
  const life = expiresAtMs - nowMs
  const minPeriodMs = settings.refreshMinPeriodSeconds * 1000
  const bufferMs = settings.refreshBufferSeconds * 1000
  if (nowMs + minPeriodMs + bufferMs > expiresAtMs) return nowMs + Math.floor(life / 2)
  const proposed = nowMs + Math.round(life * (settings.refreshWindowFactor + settings.refreshWindowJitter * random))
  return Math.min(Math.max(proposed, nowMs + minPeriodMs), expiresAtMs - bufferMs)
}

/** The answer of the token endpoint, quoted for a message: short, one line, without the secret. */
function quote (body: string, secret: string): string {
  const line = body.replace(/\s+/g, ' ').trim()
  const safe = secret.length > 0 ? line.split(secret).join('[hidden]') : line
  return safe.length > 300 ? `${safe.slice(0, 300)}…` : safe
}

/** Reads the claims of a JWT as the Java client does (no signature check: that is the broker's job). */
export function checkToken (token: string, settings: Pick<OAuthBearerSettings, 'subClaimName' | 'scopeClaimName' | 'tokenEndpointUrl'>): { expiresAtMs: number, subject: string } {
  const where = `the access token from ${settings.tokenEndpointUrl}`
  const parts = token.split('.')
  if (parts.length !== 3) throw new OAuthBearerLoginError(`${where} is not a JWT (it has ${parts.length} parts, a JWT three)`)
  let claims: Record<string, unknown>
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>
  } catch {
    throw new OAuthBearerLoginError(`${where} is not a JWT (its payload is not JSON)`)
  }
  const exp = claims.exp
  if (typeof exp !== 'number') throw new OAuthBearerLoginError(`${where} has no exp (expiration) claim`)
  const subject = claims[settings.subClaimName]
  if (typeof subject !== 'string' || subject.trim() === '') {
    throw new OAuthBearerLoginError(`${where} has no "${settings.subClaimName}" claim naming its subject (sasl.oauthbearer.sub.claim.name)`)
  }
  const scope = claims[settings.scopeClaimName]
  if (scope !== undefined && typeof scope !== 'string' && !Array.isArray(scope)) throw new OAuthBearerLoginError(`${where} has a "${settings.scopeClaimName}" claim that is neither a string nor a list (sasl.oauthbearer.scope.claim.name)`)
  return { expiresAtMs: exp * 1000, subject }
}

/**
 * The login of one client properties file: fetches access tokens from the token endpoint and keeps
 * the current one fresh. Every client of the cluster shares it, so one token serves them all.
 */
export class OAuthBearerLogin {
  readonly settings: OAuthBearerSettings
  /** Tokens fetched so far; for tests and the status line. */
  fetched = 0
  #token: AccessToken | undefined
  #pending: Promise<AccessToken> | undefined
  #timer: NodeJS.Timeout | undefined
  /** Whether a connection asked for the token since the last fetch: an unused login stops refreshing. */
  #used = false

  constructor (settings: OAuthBearerSettings) {
    this.settings = settings
  }

  /** The token to authenticate with: the current one, or a new one once its refresh time has come. */
  async token (): Promise<string> {
    this.#used = true
    const current = this.#token
    const now = Date.now()
    if (current !== undefined && now < current.refreshAtMs) return current.value
    // A refresh under way (perhaps retrying an endpoint that is away) does not hold up a connection
    // while the current token is still valid.
    if (current !== undefined && now < current.expiresAtMs && this.#pending !== undefined) return current.value
    try {
      return (await this.#refresh()).value
    } catch (error) {
      // A token still valid serves while the endpoint is away, as the Java client keeps its
      // credential until the refresh succeeds.
      if (current !== undefined && Date.now() < current.expiresAtMs) return current.value
      throw error
    }
  }

  /** Stops the background refresh. */
  close (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  async #refresh (): Promise<AccessToken> {
    this.#pending ??= this.#fetchWithRetries().finally(() => { this.#pending = undefined })
    const token = await this.#pending
    this.#token = token
    this.#used = false
    this.#schedule(token)
    return token
  }

  /**
   * Refreshes in the background at the refresh time, as Kafka's refresh thread does, so that a
   * connection made later finds a fresh token and a token endpoint away for a while is retried while
   * the current token still serves. Only while the token is in use: a mirror that stopped (or whose
   * broker never asks to re-authenticate) fetches nothing more; its next connection fetches anew.
   */
  #schedule (token: AccessToken): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      if (!this.#used) return
      this.#refresh().catch(() => {
        if (Date.now() < token.expiresAtMs) this.#schedule({ ...token, refreshAtMs: Math.min(token.expiresAtMs, Date.now() + this.settings.retryBackoffMaxMs) })
      })
    }, Math.max(0, token.refreshAtMs - Date.now()))
    this.#timer.unref()
  }

  /** Kafka's Retry: exponential backoff from sasl.login.retry.backoff.ms for up to sasl.login.retry.backoff.max.ms; a refusal (4xx) is final. */
  async #fetchWithRetries (): Promise<AccessToken> {
    const s = this.settings
    const endMs = Date.now() + s.retryBackoffMaxMs
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#fetch()
      } catch (error) {
        if (!(error instanceof OAuthBearerLoginError) || !error.retriable) throw error
        const wait = Math.min(s.retryBackoffMs * 2 ** (attempt - 1), endMs - Date.now())
        if (wait <= 0) throw error
        await sleep(wait)
      }
    }
  }

  async #fetch (): Promise<AccessToken> {
    const s = this.settings
    const encode = (v: string): string => s.headerUrlencode ? encodeURIComponent(v) : v
    const body = `grant_type=client_credentials${s.scope !== undefined && s.scope !== '' ? `&scope=${encodeURIComponent(s.scope)}` : ''}`
    const headers = {
      Authorization: `Basic ${Buffer.from(`${encode(s.clientId)}:${encode(s.clientSecret)}`).toString('base64')}`,
      Accept: 'application/json',
      'Cache-Control': 'no-cache',
      'Content-Type': 'application/x-www-form-urlencoded',
      'Content-Length': String(Buffer.byteLength(body))
    }
    const url = new URL(s.tokenEndpointUrl)
    const { status, text } = await new Promise<{ status: number, text: string }>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'POST', headers })
      const connectTimer = setTimeout(() => req.destroy(new OAuthBearerLoginError(`the token endpoint ${s.tokenEndpointUrl} did not accept a connection within ${s.connectTimeoutMs} ms (sasl.login.connect.timeout.ms)`, { retriable: true })), s.connectTimeoutMs)
      const connected = (): void => {
        clearTimeout(connectTimer)
        req.setTimeout(s.readTimeoutMs, () => req.destroy(new OAuthBearerLoginError(`the token endpoint ${s.tokenEndpointUrl} did not answer within ${s.readTimeoutMs} ms (sasl.login.read.timeout.ms)`, { retriable: true })))
      }
      req.once('socket', socket => {
        // A kept-alive socket is connected already. With https, the read timeout covers the handshake.
        if (!socket.connecting) connected()
        else socket.once('connect', connected)
      })
      req.once('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.once('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
        res.once('error', reject)
      })
      req.once('error', error => {
        clearTimeout(connectTimer)
        reject(error instanceof OAuthBearerLoginError ? error : new OAuthBearerLoginError(`cannot reach the token endpoint ${s.tokenEndpointUrl} (sasl.oauthbearer.token.endpoint.url): ${(error as Error).message}`, { cause: error, retriable: true }))
      })
      req.once('close', () => clearTimeout(connectTimer))
      req.end(body)
    })
    if (status < 200 || status > 299) {
      // Kafka treats a refusal as final: the credentials will not get better by asking again.
      const refused = status >= 400 && status < 500 && status !== 408 && status !== 429
      const hint = status === 401 || status === 403 || /invalid_client|unauthorized_client/.test(text)
        ? `; check ${s.credentialKeys} of ${s.source}`
        : /invalid_scope/.test(text) ? `; check the scope in ${s.source}` : ''
      throw new OAuthBearerLoginError(`the token endpoint ${s.tokenEndpointUrl} refused the client credentials of client "${s.clientId}": HTTP ${status} ${quote(text, s.clientSecret)}${hint}`, { retriable: !refused })
    }
    let value: unknown
    try {
      const json = JSON.parse(text) as Record<string, unknown>
      value = json.access_token ?? json.id_token
    } catch {}
    if (typeof value !== 'string' || value === '') {
      throw new OAuthBearerLoginError(`the token endpoint ${s.tokenEndpointUrl} answered without an access_token: ${quote(text, s.clientSecret)}`)
    }
    const { expiresAtMs, subject } = checkToken(value, s)
    const now = Date.now()
    if (expiresAtMs <= now) throw new OAuthBearerLoginError(`the access token from ${s.tokenEndpointUrl} expired at ${new Date(expiresAtMs).toISOString()}, before it arrived: check the clocks`)
    this.fetched++
    return { value, expiresAtMs, subject, refreshAtMs: refreshTime(s, now, expiresAtMs) }
  }
}
