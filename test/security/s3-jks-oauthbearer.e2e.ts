// S3: the security setups users have. JKS key and trust stores (Kafka's default store type, made by
// keytool) over SSL and mTLS listeners, and SASL/OAUTHBEARER with a token endpoint (client
// credentials, as Kafka's OIDC login handler does) against a broker that checks tokens with Kafka's
// own OAuthBearerValidatorCallbackHandler and a JWKS endpoint (over SASL_PLAINTEXT, and SASL_SSL
// with a JKS truststore). Tokens live 20 s and the broker ends sessions with them, so a
// long-running mirror must re-authenticate with fresh tokens and go on.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, test } from 'node:test'
import { createCertificateAuthority, opensslAvailable, startCluster, type KafkaCluster } from '../../harness/cluster.ts'
import { runKafkaMirror, startCli } from '../helpers/cli.ts'
import { createTestTopic, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords } from '../helpers/records.ts'
import { jksKeystore, jksTruststore, keytoolAvailable, plainCluster, writeMirrorProperties } from '../helpers/security.ts'
import { oauthBrokerConfig, startIdentityProvider, type IdentityProvider } from './idp.ts'

const LIFETIME_S = 20
const CLIENT = 'mirror-client'
const SECRET = 'mirror-client-secret-4f9a2c'
const loginHandler = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler'

const skip = !opensslAvailable() ? 'openssl is not installed' : !keytoolAvailable() ? 'keytool (a JDK) is not installed' : false

describe('S3: JKS stores and OAUTHBEARER with a token endpoint', { skip }, () => {
  let cluster: KafkaCluster
  let plain: { bootstrap: string, stop: () => Promise<void> }
  let idp: IdentityProvider
  let dir: string

  before(async () => {
    // Given an identity provider on loopback (20 s tokens), one broker with SSL, mTLS and a
    // SASL_PLAINTEXT listener whose OAUTHBEARER tokens Kafka's OIDC validator checks against the
    // provider's JWKS, sessions ending after at most 10 s; and a plain cluster on the other side
    const started = Date.now()
    dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-s3-'))
    // One client id per test, so that each test counts its own tokens
    idp = await startIdentityProvider({ clients: { [CLIENT]: SECRET, [`${CLIENT}-source`]: SECRET, [`${CLIENT}-target`]: SECRET }, lifetimeSeconds: LIFETIME_S })
    const oauth = oauthBrokerConfig(idp, ['SASL_PLAINTEXT', 'SASL_SSL'], 10_000)
    ;[cluster, plain] = await Promise.all([
      startCluster({
        name: 's3-secured',
        brokers: 1,
        security: { listeners: ['SSL', 'MTLS', 'SASL_PLAINTEXT', 'SASL_SSL'], saslMechanisms: ['PLAIN'], users: { admin: 'admin-secret' } },
        serverProperties: { ...oauth.serverProperties, 'sasl.enabled.mechanisms': 'PLAIN,OAUTHBEARER' },
        jvmOptions: oauth.jvmOptions
      }),
      plainCluster('s3-plain')
    ])
    process.stderr.write(`S3 cluster up in ${Date.now() - started} ms: ${JSON.stringify(cluster.listeners)}\n`)
  })

  after(async () => {
    await Promise.all([cluster?.stop(), plain?.stop(), idp?.close()])
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  /** Client properties for the JKS tests: a JKS truststore, and for mTLS a JKS keystore whose key has its own password. */
  function jksProperties (listener: 'SSL' | 'MTLS'): Record<string, string> {
    const tls = cluster.tls!
    const props: Record<string, string> = {
      'bootstrap.servers': cluster.listeners[listener]!,
      'security.protocol': 'SSL',
      // ssl.truststore.type is left at Kafka's default, JKS
      'ssl.truststore.location': jksTruststore(tls.ca.cert, join(dir, `trust-${listener}.jks`), 'trust-pass'),
      'ssl.truststore.password': 'trust-pass'
    }
    if (listener === 'MTLS') {
      const cert = tls.issueClientCertificate('mirror-jks')
      Object.assign(props, {
        'ssl.keystore.location': jksKeystore(cert.p12, cert.password, 'mirror-jks', join(dir, 'client.jks'), 'store-pass', 'key-pass'),
        'ssl.keystore.password': 'store-pass',
        'ssl.key.password': 'key-pass'
      })
    }
    return props
  }

  const jksCases = [
    { listener: 'SSL', side: 'source', partitioning: 'key' },
    { listener: 'MTLS', side: 'target', partitioning: 'source' }
  ] as const

  for (const c of jksCases) {
    test(`JKS stores made by keytool, ${c.listener} listener, as the ${c.side} (--partitioning ${c.partitioning})`, async () => {
      // Given 1000 keyed records on the source
      const sourceBootstrap = c.side === 'source' ? cluster.bootstrap : plain.bootstrap
      const targetBootstrap = c.side === 'source' ? plain.bootstrap : cluster.bootstrap
      const topic = await createTestTopic(sourceBootstrap, { prefix: `s3-jks-${c.listener.toLowerCase()}`, partitions: 3 })
      const records = makeRecords(1000, { keys: 31, valueBytes: 100, tombstones: true })
      await produceRecords(sourceBootstrap, topic, records)
      const secure = jksProperties(c.listener)
      const files = c.side === 'source'
        ? writeMirrorProperties(secure, { 'bootstrap.servers': plain.bootstrap })
        : writeMirrorProperties({ 'bootstrap.servers': plain.bootstrap }, secure)
      // When the mirror copies it once through the JKS-secured listener
      const result = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic, '--once',
        '--partitioning', c.partitioning, '--status.interval.ms', '0'])
      // Then every record arrives byte-equal
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /Copied 1000 records/)
      assertMirrored(records, await kcatConsume(targetBootstrap, topic))
    })
  }

  test('JKS: wrong password, wrong store type, missing file: --validate names the key; an unknown CA is named at connect', async () => {
    const props = jksProperties('MTLS')
    const validate = async (consumer: Record<string, string>): Promise<{ code: number, out: string }> => {
      const files = writeMirrorProperties(consumer, { 'bootstrap.servers': plain.bootstrap })
      const run = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', 't', '--validate'])
      return { code: run.code, out: run.stdout + run.stderr }
    }
    const valid = await validate(props)
    assert.equal(valid.code, 0, valid.out)

    const wrongStore = await validate({ ...props, 'ssl.truststore.password': 'not-the-pass' })
    assert.equal(wrongStore.code, 2, wrongStore.out)
    assert.match(wrongStore.out, /ssl\.truststore\.location: cannot read the JKS store .*trust-MTLS\.jks: the password is wrong .*check ssl\.truststore\.password/)
    assert.doesNotMatch(wrongStore.out, /not-the-pass/)

    const wrongKey = await validate({ ...props, 'ssl.key.password': 'store-pass' })
    assert.equal(wrongKey.code, 2, wrongKey.out)
    assert.match(wrongKey.out, /ssl\.keystore\.location: cannot read the JKS store .*client\.jks: the password is wrong \(the private key "mirror-jks" cannot be decrypted with it\) \(check ssl\.keystore\.password and ssl\.key\.password\)/)

    const wrongType = await validate({ ...props, 'ssl.truststore.type': 'PEM' })
    assert.equal(wrongType.code, 2, wrongType.out)
    assert.match(wrongType.out, /ssl\.truststore\.type: is PEM, but .*trust-MTLS\.jks is a JKS store \(set ssl\.truststore\.type=JKS\)/)

    const pemDeclaredJks = await validate({ ...props, 'ssl.truststore.location': cluster.tls!.ca.cert })
    assert.equal(pemDeclaredJks.code, 2, pemDeclaredJks.out)
    assert.match(pemDeclaredJks.out, /ssl\.truststore\.type: is JKS \(Kafka's default\), but .* is a PEM file \(set ssl\.truststore\.type=PEM\)/)

    const missing = await validate({ ...props, 'ssl.keystore.location': join(dir, 'nowhere.jks') })
    assert.equal(missing.code, 2, missing.out)
    assert.match(missing.out, /ssl\.keystore\.location: cannot read .*nowhere\.jks: no such file/)

    const jceks = await validate({ ...props, 'ssl.truststore.location': jksTruststore(cluster.tls!.ca.cert, join(dir, 'trust.jceks'), 'trust-pass', 'JCEKS') })
    assert.equal(jceks.code, 2, jceks.out)
    assert.match(jceks.out, /ssl\.truststore\.location: .*trust\.jceks is a JCEKS keystore, which kafka-mirror does not read \(convert it: keytool -importkeystore/)

    // A JKS truststore that holds another CA: valid as a file, refused by TLS, named at once
    const other = createCertificateAuthority(join(dir, 'other'), 'other-ca')
    const untrusted = { ...props, 'ssl.truststore.location': jksTruststore(other.cert, join(dir, 'other.jks'), 'trust-pass') }
    const files = writeMirrorProperties(untrusted, { 'bootstrap.servers': plain.bootstrap })
    const run = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', 't', '--once', '--status.interval.ms', '0'])
    assert.notEqual(run.code, 0)
    assert.match(run.stderr, /The TLS certificate of the source cluster at .* is not trusted/)
    assert.ok(run.stderr.includes(`ssl.truststore.location (${join(dir, 'other.jks')})`), run.stderr)
  })

  /** OAUTHBEARER client properties, as Kafka's docs write them; over SASL_SSL with a JKS truststore. */
  function oauthProperties (secret = SECRET, clientId = CLIENT, listener: 'SASL_PLAINTEXT' | 'SASL_SSL' = 'SASL_PLAINTEXT'): Record<string, string> {
    const tls: Record<string, string> = listener === 'SASL_SSL'
      ? { 'ssl.truststore.location': jksTruststore(cluster.tls!.ca.cert, join(dir, 'trust-oauth.jks'), 'trust-pass'), 'ssl.truststore.password': 'trust-pass' }
      : {}
    return {
      'bootstrap.servers': cluster.listeners[listener]!,
      'security.protocol': listener,
      ...tls,
      'sasl.mechanism': 'OAUTHBEARER',
      'sasl.login.callback.handler.class': loginHandler,
      'sasl.oauthbearer.token.endpoint.url': idp.tokenUrl,
      'sasl.jaas.config': `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="${clientId}" clientSecret="${secret}" scope="kafka.mirror";`,
      // Short-lived test tokens: keep Kafka's refresh rule from waiting for its 60 s minimum
      'sasl.login.refresh.min.period.seconds': '5',
      'sasl.login.refresh.buffer.seconds': '5'
    }
  }

  const oauthCases = [
    { side: 'source', partitioning: 'key', listener: 'SASL_PLAINTEXT' },
    { side: 'target', partitioning: 'source', listener: 'SASL_SSL' }
  ] as const

  for (const c of oauthCases) {
    test(`OAUTHBEARER from a token endpoint over ${c.listener} as the ${c.side}: the copy goes on across token refreshes (--partitioning ${c.partitioning})`, async () => {
      // Given 3000 keyed records, half of them on the source before the mirror starts
      const sourceBootstrap = c.side === 'source' ? cluster.bootstrap : plain.bootstrap
      const targetBootstrap = c.side === 'source' ? plain.bootstrap : cluster.bootstrap
      const topic = await createTestTopic(sourceBootstrap, { prefix: `s3-oauth-${c.side}`, partitions: 3 })
      const records = makeRecords(3000, { keys: 37, valueBytes: 80, tombstones: true })
      await produceRecords(sourceBootstrap, topic, records.slice(0, 1500))
      const client = `${CLIENT}-${c.side}`
      const secure = oauthProperties(SECRET, client, c.listener)
      const files = c.side === 'source'
        ? writeMirrorProperties(secure, { 'bootstrap.servers': plain.bootstrap })
        : writeMirrorProperties({ 'bootstrap.servers': plain.bootstrap }, secure)
      const started = Date.now()

      // When the mirror runs, logged in with a 20 s token, and the rest is written after that token expired
      const mirror = startCli(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic,
        '--partitioning', c.partitioning, '--status.interval.ms', '0', '--offset.commit.interval.ms', '1000', '--log.level', 'trace'])
      try {
        await waitForRecords(targetBootstrap, topic, 1500, 60_000)
        const firstExpiry = idp.issued.find(t => t.subject === client)?.expiresAt ?? started + LIFETIME_S * 1000
        await sleep(Math.max(0, firstExpiry - Date.now()) + 3000)
        await produceRecords(sourceBootstrap, topic, records.slice(1500))
        await waitForRecords(targetBootstrap, topic, 3000, 60_000)
      } finally {
        mirror.interrupt()
      }
      const result = await mirror.finished

      // Then it stopped cleanly, had fetched new tokens before the old ones expired, and every
      // record is on the target once, byte-equal
      assert.equal(result.code, 0, result.stderr)
      const tokens = idp.issued.filter(t => t.subject === client)
      assert.ok(tokens.length >= 2, `${tokens.length} tokens issued in ${Date.now() - started} ms`)
      assert.ok(tokens.every(t => t.scope === 'kafka.mirror'))
      assert.ok(tokens[1].at < tokens[0].expiresAt, 'the second token was fetched before the first expired')
      assertMirrored(records, await kcatConsume(targetBootstrap, topic))
      // Neither the client secret nor a token (a bearer credential) is in the output, even at trace level
      const output = result.stdout + result.stderr
      assert.ok(!output.includes(SECRET) && tokens.every(t => !output.includes(t.token) && !output.includes(t.token.split('.')[2])), 'a secret or token in the output')
      process.stderr.write(`S3 OAUTHBEARER ${c.side}: ${tokens.length} tokens over ${Date.now() - started} ms\n`)
    })
  }

  test('OAUTHBEARER: a wrong client secret ends the mirror with the token endpoint\'s answer, never the secret', async () => {
    const wrong = 'wrong-secret-7d1e0b'
    const topic = await createTestTopic(plain.bootstrap, { prefix: 's3-oauth-wrong' })
    const files = writeMirrorProperties({ 'bootstrap.servers': plain.bootstrap }, oauthProperties(wrong))
    // --validate connects nowhere: the keys are all there, and it shows none of the secrets
    const validate = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic, '--validate'])
    assert.equal(validate.code, 0, validate.stderr)
    assert.doesNotMatch(validate.stdout + validate.stderr, new RegExp(wrong))
    // The mirror stops at start, naming the cluster, the endpoint, its answer and the keys to fix
    const refusedBefore = idp.refused
    const started = Date.now()
    const run = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic, '--once', '--status.interval.ms', '0', '--log.level', 'trace'])
    assert.notEqual(run.code, 0)
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`)
    assert.ok(idp.refused > refusedBefore)
    assert.match(run.stderr, new RegExp(`OAUTHBEARER login failed for the target cluster at ${cluster.listeners.SASL_PLAINTEXT!.replace(/\./g, '\\.')} \\(producer\\.properties: security\\.protocol=SASL_PLAINTEXT, sasl\\.mechanism=OAUTHBEARER, client "${CLIENT}"\\)`))
    assert.match(run.stderr, new RegExp(`the token endpoint ${idp.tokenUrl.replace(/\./g, '\\.')} refused the client credentials of client "${CLIENT}": HTTP 401 \\{"error":"invalid_client"`))
    assert.match(run.stderr, /check clientId and clientSecret in sasl\.jaas\.config of producer\.properties/)
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(wrong))
  })
})
