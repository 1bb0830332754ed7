// S2: a wrong password, a certificate signed by a CA the client does not trust, a listener that
// wants a client certificate, and ACLs that deny: each ends the mirror within 30 s with a non-zero
// exit and one error naming the cluster (source or target, its properties file, bootstrap.servers)
// and the cause, instead of retrying without end.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Admin, AclOperations, AclPermissionTypes, ResourcePatternTypes, ResourceTypes } from '@platformatic/kafka'
import { createCertificateAuthority, opensslAvailable, pkcs12Truststore, type CertificateAuthority, type KafkaCluster } from '../../harness/cluster.ts'
import { runKafkaMirror } from '../helpers/cli.ts'
import { createTestTopic } from '../helpers/clusters.ts'
import { makeRecords, produceRecords } from '../helpers/records.ts'
import { plainCluster, secureClientProperties, startSecuredCluster, writeMirrorProperties } from '../helpers/security.ts'

const LIMIT_MS = 30_000

describe('S2: security failures end the mirror at once with a clear error', { skip: opensslAvailable() ? false : 'openssl is not installed' }, () => {
  let secured: KafkaCluster
  let plain: { bootstrap: string, stop: () => Promise<void> }
  let otherCa: CertificateAuthority
  let otherDir: string
  /** A topic on the secured cluster, with records. */
  let securedTopic: string
  /** A topic on the plain cluster, with records. */
  let plainTopic: string

  before(async () => {
    // Given a 1-broker cluster with secured listeners and an authorizer (admin and the harness's
    // PLAINTEXT listener are super users; nobody has no ACLs; reader may only read one topic),
    // a plain cluster on the other side, and a CA that signed none of the brokers' certificates
    const started = Date.now()
    ;[secured, plain] = await Promise.all([startSecuredCluster('s2-secured', { authorizer: true }), plainCluster('s2-plain')])
    otherDir = mkdtempSync(join(tmpdir(), 'kafka-mirror-other-ca-'))
    otherCa = createCertificateAuthority(otherDir, 'other-ca')
    securedTopic = await createTestTopic(secured.bootstrap, { prefix: 's2-secured', partitions: 2 })
    await produceRecords(secured.bootstrap, securedTopic, makeRecords(50))
    plainTopic = await createTestTopic(plain.bootstrap, { prefix: 's2-plain', partitions: 2 })
    await produceRecords(plain.bootstrap, plainTopic, makeRecords(50))
    const admin = new Admin({ clientId: 's2-acls', bootstrapBrokers: secured.bootstrap.split(',') })
    try {
      await admin.createAcls({
        creations: [AclOperations.READ, AclOperations.DESCRIBE].map(operation => ({
          resourceType: ResourceTypes.TOPIC,
          resourceName: securedTopic,
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:reader',
          host: '*',
          operation,
          permissionType: AclPermissionTypes.ALLOW
        }))
      })
    } finally {
      await admin.close()
    }
    process.stderr.write(`S2 clusters up in ${Date.now() - started} ms\n`)
  })

  after(async () => {
    await Promise.all([secured?.stop(), plain?.stop()])
    if (otherDir !== undefined) rmSync(otherDir, { recursive: true, force: true })
  })

  /** Runs the mirror once with `side` talking to the secured cluster with `props`; returns its result and time. */
  async function mirrorWith (side: 'source' | 'target', props: Record<string, string>): Promise<{ code: number, stderr: string, ms: number }> {
    const files = side === 'source'
      ? writeMirrorProperties(props, { 'bootstrap.servers': plain.bootstrap })
      : writeMirrorProperties({ 'bootstrap.servers': plain.bootstrap }, props)
    const started = Date.now()
    const result = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer,
      '--include', side === 'source' ? securedTopic : plainTopic, '--once', '--status.interval.ms', '0'])
    return { code: result.code, stderr: result.stderr, ms: Date.now() - started }
  }

  function assertFailedFast (run: { code: number, stderr: string, ms: number }, what: string): void {
    assert.notEqual(run.code, 0, `${what}: exit code\n${run.stderr}`)
    assert.ok(run.ms < LIMIT_MS, `${what}: took ${run.ms} ms\n${run.stderr}`)
    // One cause, said once: not the same connection failure for every retry.
    assert.doesNotMatch(run.stderr, /(Connection to [\d.:]+ failed\.; ){2}/, what)
    process.stderr.write(`S2 ${what}: exit ${run.code} after ${run.ms} ms\n`)
  }

  const at = (listener: string): string => secured.listeners[listener as 'SSL']!.replace(/\./g, '\\.')

  test('a wrong password (SASL_SSL, PLAIN) on the source', async () => {
    // When the consumer's sasl.jaas.config has a wrong password
    const run = await mirrorWith('source', secureClientProperties(secured, 'SASL_SSL', { mechanism: 'PLAIN', user: 'alice', password: 'not-her-password' }))
    // Then the mirror stops at once, naming the source, its file, bootstrap and the cause
    assertFailedFast(run, 'wrong PLAIN password on the source')
    assert.match(run.stderr, new RegExp(`Authentication failed on the source cluster at ${at('SASL_SSL')} \\(consumer\\.properties: security\\.protocol=SASL_SSL, sasl\\.mechanism=PLAIN, user "alice"\\)`))
    assert.match(run.stderr, /rejected the username or password/)
    assert.match(run.stderr, /sasl\.jaas\.config of consumer\.properties/)
    assert.doesNotMatch(run.stderr, /not-her-password/)
  })

  test('a wrong password (SASL_PLAINTEXT, SCRAM-SHA-512) on the target', async () => {
    const run = await mirrorWith('target', secureClientProperties(secured, 'SASL_PLAINTEXT', { mechanism: 'SCRAM-SHA-512', user: 'alice', password: 'wrong-too' }))
    assertFailedFast(run, 'wrong SCRAM-SHA-512 password on the target')
    assert.match(run.stderr, new RegExp(`Authentication failed on the target cluster at ${at('SASL_PLAINTEXT')} \\(producer\\.properties: security\\.protocol=SASL_PLAINTEXT, sasl\\.mechanism=SCRAM-SHA-512, user "alice"\\)`))
    assert.match(run.stderr, /invalid credentials with SASL mechanism SCRAM-SHA-512/)
  })

  test('a truststore with another CA (PEM) on the source', async () => {
    // When the consumer trusts only a CA that did not sign the broker's certificate
    const props = { ...secureClientProperties(secured, 'SSL'), 'ssl.truststore.location': otherCa.cert }
    const run = await mirrorWith('source', props)
    // Then the error says the certificate is not trusted and which truststore to fix
    assertFailedFast(run, 'unknown CA on the source')
    assert.match(run.stderr, new RegExp(`The TLS certificate of the source cluster at ${at('SSL')} \\(consumer\\.properties: security\\.protocol=SSL\\) is not trusted`))
    assert.match(run.stderr, /certificate/i)
    assert.ok(run.stderr.includes(`ssl.truststore.location (${otherCa.cert})`), run.stderr)
  })

  test('a PKCS12 truststore with another CA on the target', async () => {
    const store = pkcs12Truststore(otherCa, join(otherDir, 'other-truststore.p12'), 'other-secret')
    const props = { ...secureClientProperties(secured, 'SASL_SSL', { mechanism: 'SCRAM-SHA-256' }), 'ssl.truststore.type': 'PKCS12', 'ssl.truststore.location': store, 'ssl.truststore.password': 'other-secret' }
    const run = await mirrorWith('target', props)
    assertFailedFast(run, 'unknown CA on the target')
    assert.match(run.stderr, new RegExp(`The TLS certificate of the target cluster at ${at('SASL_SSL')} \\(producer\\.properties: security\\.protocol=SASL_SSL, sasl\\.mechanism=SCRAM-SHA-256, user "alice"\\) is not trusted`))
  })

  test('no client certificate for a listener that requires one', async () => {
    // When the consumer connects to the mTLS listener with a truststore but no keystore
    const props = { ...secureClientProperties(secured, 'SSL'), 'bootstrap.servers': secured.listeners.MTLS! }
    const run = await mirrorWith('source', props)
    // Then the error says a client certificate is needed and which keys give it
    assertFailedFast(run, 'missing client certificate')
    assert.match(run.stderr, new RegExp(`The source cluster at ${at('MTLS')} \\(consumer\\.properties: security\\.protocol=SSL\\) refused the TLS connection: the broker requires a client certificate`))
    assert.match(run.stderr, /set ssl\.keystore\.location/)
  })

  test('a user without any ACL on the source: the topic is denied', async () => {
    // When the consumer logs in as nobody, who has no ACLs
    const run = await mirrorWith('source', secureClientProperties(secured, 'SASL_PLAINTEXT', { mechanism: 'SCRAM-SHA-256', user: 'nobody' }))
    // Then the error names the topic, the user and the ACL to add, instead of waiting for a topic it cannot see
    assertFailedFast(run, 'no ACLs on the source')
    assert.match(run.stderr, new RegExp(`Authorization denied on the source cluster at ${at('SASL_PLAINTEXT')} \\(consumer\\.properties: security\\.protocol=SASL_PLAINTEXT, sasl\\.mechanism=SCRAM-SHA-256, user "nobody"\\): user "nobody" may not use the topic "${securedTopic}"`))
    assert.match(run.stderr, /needs Describe and Read on it/)
    assert.match(run.stderr, new RegExp(`kafka-acls\\.sh .*--allow-principal User:nobody --operation Describe --operation Read --topic ${securedTopic}`))
  })

  test('a user who may read the topic but not use the group', async () => {
    // When the consumer logs in as reader, allowed Read and Describe on the topic only
    const props = secureClientProperties(secured, 'SASL_SSL', { mechanism: 'PLAIN', user: 'reader' })
    const files = writeMirrorProperties({ ...props, 'group.id': 's2-denied-group' }, { 'bootstrap.servers': plain.bootstrap })
    const started = Date.now()
    const result = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', securedTopic, '--once', '--status.interval.ms', '0'])
    const run = { code: result.code, stderr: result.stderr, ms: Date.now() - started }
    // Then the error names the group and the operation it needs
    assertFailedFast(run, 'group denied on the source')
    assert.match(run.stderr, new RegExp(`Authorization denied on the source cluster at ${at('SASL_SSL')} .*user "reader" may not use the group "s2-denied-group"`))
    assert.match(run.stderr, /--operation Read --group s2-denied-group/)
  })

  test('a user without any ACL on the target: the topic is denied', async () => {
    const run = await mirrorWith('target', secureClientProperties(secured, 'SASL_PLAINTEXT', { mechanism: 'PLAIN', user: 'nobody' }))
    assertFailedFast(run, 'no ACLs on the target')
    assert.match(run.stderr, new RegExp(`Authorization denied on the target cluster at ${at('SASL_PLAINTEXT')} \\(producer\\.properties: security\\.protocol=SASL_PLAINTEXT, sasl\\.mechanism=PLAIN, user "nobody"\\): user "nobody" may not use the topic "${plainTopic}"`))
    assert.match(run.stderr, /needs Describe, Write and Create on it/)
  })
})
