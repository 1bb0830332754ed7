// The OAUTHBEARER login without a broker: which properties it needs (each missing one named with its
// fix, all at once, --validate included), what it sends the token endpoint, Kafka's refresh rule,
// retries, timeouts, and the claims a token must carry.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { after, before, describe, test } from 'node:test'
import type { ConfigValue } from '../../src/config/definition.ts'
import { consumerConfig } from '../../src/config/client-config.ts'
import type { ConfigProblem } from '../../src/errors.ts'
import { clusterConnection } from '../../src/kafka/client-options.ts'
import { OAuthBearerLogin, OAuthBearerLoginError, checkToken, jaasOptions, oauthBearerSettings, refreshTime, type OAuthBearerSettings } from '../../src/kafka/oauth.ts'
import { runKafkaMirror } from '../helpers/cli.ts'
import { writeMirrorProperties } from '../helpers/security.ts'
import { startIdentityProvider, type IdentityProvider } from './idp.ts'

const handler = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler'
const jaas = (options: string): string => `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ${options};`

/** Properties parsed as kafka-mirror parses consumer.properties (defaults filled in). */
function parse (props: Record<string, string>): Map<string, ConfigValue> {
  const parsed = consumerConfig.parse(Object.entries(props), 'consumer.properties')
  assert.deepEqual(parsed.problems, [])
  return parsed.values
}

function settingsOf (props: Record<string, string>): { settings?: OAuthBearerSettings, problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = []
  const settings = oauthBearerSettings(parse(props), 'consumer.properties', problems)
  return { settings, problems }
}

test('JAAS options: quoted with escapes, bare words, extensions', () => {
  const options = jaasOptions(jaas('clientId="my-client" clientSecret="s\\"e;c=r t" scope=kafka extension_logicalCluster="lkc-1"'))
  assert.equal(options.get('clientId'), 'my-client')
  assert.equal(options.get('clientSecret'), 's"e;c=r t')
  assert.equal(options.get('scope'), 'kafka')
  assert.equal(options.get('extension_logicalCluster'), 'lkc-1')
})

test('OIDC login settings: Kafka\'s defaults, the 4.1 keys before the JAAS options, extensions', () => {
  const { settings, problems } = settingsOf({
    'sasl.login.callback.handler.class': handler,
    'sasl.oauthbearer.token.endpoint.url': 'https://idp.example.com/token',
    'sasl.jaas.config': jaas('clientId="jaas-id" clientSecret="jaas-secret" scope="a b" extension_traceId="x"'),
    'sasl.oauthbearer.client.credentials.client.id': 'config-id'
  })
  assert.deepEqual(problems, [])
  assert.equal(settings!.clientId, 'config-id')
  assert.equal(settings!.clientSecret, 'jaas-secret')
  assert.equal(settings!.scope, 'a b')
  assert.deepEqual(settings!.extensions, { traceId: 'x' })
  assert.deepEqual([settings!.scopeClaimName, settings!.subClaimName, settings!.headerUrlencode], ['scope', 'sub', false])
  assert.deepEqual([settings!.retryBackoffMs, settings!.retryBackoffMaxMs, settings!.refreshWindowFactor, settings!.refreshWindowJitter, settings!.refreshMinPeriodSeconds, settings!.refreshBufferSeconds],
    [100, 10000, 0.8, 0.05, 60, 300])
  // The pre-3.4 class name still works
  assert.deepEqual(settingsOf({ 'sasl.login.callback.handler.class': 'org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler', 'sasl.oauthbearer.token.endpoint.url': 'http://127.0.0.1:1/t', 'sasl.jaas.config': jaas('clientId="a" clientSecret="b"') }).problems, [])
})

test('what OAUTHBEARER cannot do is refused, every problem at once, naming the key', () => {
  const none = settingsOf({ 'sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";' })
  assert.equal(none.settings, undefined)
  assert.deepEqual(none.problems.map(p => p.key), ['sasl.login.callback.handler.class', 'sasl.oauthbearer.token.endpoint.url', 'sasl.jaas.config', 'sasl.jaas.config'])
  assert.match(none.problems[0].message, /unsecured development tokens/)
  const other = settingsOf({ 'sasl.login.callback.handler.class': 'com.example.MyHandler', 'sasl.oauthbearer.token.endpoint.url': 'file:///tmp/token', 'sasl.jaas.config': jaas('clientId="a"'),
    'sasl.oauthbearer.jwt.retriever.class': 'org.apache.kafka.common.security.oauthbearer.JwtBearerJwtRetriever' })
  assert.deepEqual(other.problems.map(p => p.key), ['sasl.login.callback.handler.class', 'sasl.oauthbearer.token.endpoint.url', 'sasl.oauthbearer.jwt.retriever.class', 'sasl.jaas.config'])
  assert.match(other.problems[0].message, /com\.example\.MyHandler is a Java class/)
  assert.match(other.problems[1].message, /a file of tokens is not supported/)
  assert.match(other.problems[2].message, /JwtBearerJwtRetriever is not supported/)
  assert.match(other.problems[3].message, /the client secret is missing/)
})

test('--validate refuses OAUTHBEARER it cannot log in with, and shows no secret', async () => {
  const files = writeMirrorProperties({
    'bootstrap.servers': '127.0.0.1:1',
    'security.protocol': 'SASL_SSL',
    'sasl.mechanism': 'OAUTHBEARER',
    'sasl.jaas.config': jaas('clientId="c" clientSecret="very-secret-value-31"')
  }, { 'bootstrap.servers': '127.0.0.1:1' })
  const run = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', 't', '--validate'])
  assert.equal(run.code, 2, run.stderr)
  assert.match(run.stderr, /consumer\.properties: sasl\.login\.callback\.handler\.class: is not set/)
  assert.match(run.stderr, /consumer\.properties: sasl\.oauthbearer\.token\.endpoint\.url: is missing/)
  assert.doesNotMatch(run.stdout + run.stderr, /very-secret-value-31/)
})

test('refresh time: Kafka\'s window, jitter, minimum period and buffer', () => {
  const defaults = { refreshWindowFactor: 0.8, refreshWindowJitter: 0.05, refreshMinPeriodSeconds: 60, refreshBufferSeconds: 300 }
  const hour = 3_600_000
  assert.equal(refreshTime(defaults, 0, hour, 0), 0.8 * hour)
  assert.equal(refreshTime(defaults, 0, hour, 1), 0.85 * hour)
  // Within the buffer before expiry, and never sooner than the minimum period
  assert.equal(refreshTime({ ...defaults, refreshWindowFactor: 1 }, 0, hour, 0), hour - 300_000)
  assert.equal(refreshTime({ ...defaults, refreshWindowFactor: 0.5 }, 0, 500_000, 0), 200_000)
  // A token too short for both buffers: at half its life
  assert.equal(refreshTime(defaults, 1000, 31_000, 0.5), 16_000)
})

test('a token must carry exp and its subject claim', () => {
  const jwt = (claims: object): string => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`
  const where = { subClaimName: 'sub', scopeClaimName: 'scope', tokenEndpointUrl: 'http://idp/token' }
  assert.deepEqual(checkToken(jwt({ sub: 'a', exp: 10 }), where), { expiresAtMs: 10_000, subject: 'a' })
  assert.throws(() => checkToken('opaque-token', where), /the access token from http:\/\/idp\/token is not a JWT/)
  assert.throws(() => checkToken(jwt({ sub: 'a' }), where), /has no exp/)
  assert.throws(() => checkToken(jwt({ exp: 10 }), where), /has no "sub" claim/)
  assert.throws(() => checkToken(jwt({ client: 'a', exp: 10 }), { ...where, subClaimName: 'azp' }), /has no "azp" claim/)
})

describe('the login against a token endpoint', () => {
  let idp: IdentityProvider
  let flaky: Server
  let flakyUrl: string
  let flakyCalls = 0

  before(async () => {
    idp = await startIdentityProvider({ clients: { 'c-1': 'secret:with&odd=chars' }, lifetimeSeconds: 3600 })
    // Answers 503 twice, then hangs: retries, then the read timeout
    flaky = createServer((_req, res) => { if (++flakyCalls <= 2) res.writeHead(503).end('busy') })
    await new Promise<void>(resolve => flaky.listen(0, '127.0.0.1', resolve))
    const address = flaky.address()
    flakyUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/token`
  })
  after(async () => {
    flaky.closeAllConnections()
    await Promise.all([idp.close(), new Promise(resolve => flaky.close(resolve))])
  })

  const login = (props: Record<string, string>): OAuthBearerLogin => {
    const problems: ConfigProblem[] = []
    const c = clusterConnection('source', 'consumer.properties', parse({
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'OAUTHBEARER',
      'sasl.login.callback.handler.class': handler,
      'sasl.oauthbearer.token.endpoint.url': idp.tokenUrl,
      'sasl.jaas.config': jaas('clientId="c-1" clientSecret="secret:with&odd=chars" scope="kafka produce"'),
      ...props
    }), ['127.0.0.1:9092'], 'test', problems)
    assert.deepEqual(problems, [])
    assert.equal(c.sasl?.mechanism, 'OAUTHBEARER')
    return c.oauth!
  }

  test('a client credentials POST; the token is kept until its refresh time', async () => {
    const l = login({})
    const forms = idp.forms.length
    const first = await l.token()
    assert.equal(await l.token(), first)
    assert.equal(l.fetched, 1)
    assert.deepEqual(idp.forms.slice(forms), ['grant_type=client_credentials&scope=kafka%20produce'])
    assert.equal(checkToken(first, l.settings).subject, 'c-1')
    l.close()
  })

  test('a wrong secret: the endpoint\'s answer, the keys to check, never the secret; no retry', async () => {
    const l = login({ 'sasl.jaas.config': jaas('clientId="c-1" clientSecret="not-the-right-one"') })
    const refused = idp.refused
    await assert.rejects(l.token(), (error: Error) => {
      assert.ok(error instanceof OAuthBearerLoginError)
      assert.match(error.message, /the token endpoint http:\/\/127\.0\.0\.1:\d+\/oauth2\/token refused the client credentials of client "c-1": HTTP 401 \{"error":"invalid_client","error_description":"Client authentication failed"\}; check clientId and clientSecret in sasl\.jaas\.config of consumer\.properties/)
      assert.doesNotMatch(error.message, /not-the-right-one/)
      return true
    })
    assert.equal(idp.refused, refused + 1)
  })

  test('sasl.oauthbearer.header.urlencode=true encodes the id and secret in the header', async () => {
    // The provider compares the raw secret, so an encoded one is refused: proof that it was encoded
    const l = login({ 'sasl.oauthbearer.header.urlencode': 'true' })
    await assert.rejects(l.token(), /HTTP 401/)
  })

  test('a busy endpoint is retried with backoff; one that never answers ends at sasl.login.read.timeout.ms', async () => {
    const l = login({ 'sasl.oauthbearer.token.endpoint.url': flakyUrl, 'sasl.login.retry.backoff.ms': '50', 'sasl.login.retry.backoff.max.ms': '2000', 'sasl.login.read.timeout.ms': '300' })
    const started = Date.now()
    await assert.rejects(l.token(), /did not answer within 300 ms \(sasl\.login\.read\.timeout\.ms\)/)
    assert.ok(flakyCalls >= 3, `${flakyCalls} calls`)
    assert.ok(Date.now() - started < 5000)
  })

  test('an endpoint nobody listens on: named with its key', async () => {
    const l = login({ 'sasl.oauthbearer.token.endpoint.url': 'http://127.0.0.1:1/token', 'sasl.login.retry.backoff.max.ms': '0' })
    await assert.rejects(l.token(), /cannot reach the token endpoint http:\/\/127\.0\.0\.1:1\/token \(sasl\.oauthbearer\.token\.endpoint\.url\): connect ECONNREFUSED/)
  })

  test('the endpoint away at refresh time: the current token serves until it expires, then the login fails', async () => {
    const shortLived = await startIdentityProvider({ clients: { 'c-2': 'secret-two' }, lifetimeSeconds: 4 })
    const l = login({
      'sasl.oauthbearer.token.endpoint.url': shortLived.tokenUrl,
      'sasl.jaas.config': jaas('clientId="c-2" clientSecret="secret-two"'),
      'sasl.login.refresh.min.period.seconds': '0',
      'sasl.login.refresh.buffer.seconds': '2',
      'sasl.login.retry.backoff.max.ms': '300'
    })
    const first = await l.token()
    const expiresAt = checkToken(first, l.settings).expiresAtMs
    await shortLived.close()
    // Past the refresh time (2 s before expiry), the endpoint gone: the valid token still serves
    await new Promise(resolve => setTimeout(resolve, Math.max(0, expiresAt - 1500 - Date.now())))
    assert.equal(await l.token(), first)
    // Once it has expired, there is nothing to log in with
    await new Promise(resolve => setTimeout(resolve, Math.max(0, expiresAt + 100 - Date.now())))
    await assert.rejects(l.token(), /cannot reach the token endpoint/)
    l.close()
  })
})
