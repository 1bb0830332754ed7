// S1: the mirror reaches a cluster over every security.protocol Kafka has (PLAINTEXT, SSL, SSL with
// client certificates, SASL_PLAINTEXT, SASL_SSL) and every SASL mechanism it supports (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512), on the source or the target side, configured with Kafka's own
// ssl.* and sasl.* keys and PEM or PKCS12 stores; every record arrives byte-equal.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { opensslAvailable, type KafkaCluster, type SaslMechanismName, type SecureListenerName } from '../../harness/cluster.ts'
import { runKafkaMirror } from '../helpers/cli.ts'
import { createTestTopic } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords } from '../helpers/records.ts'
import { plainCluster, secureClientProperties, startSecuredCluster, writeMirrorProperties } from '../helpers/security.ts'

interface Variant {
  name: string
  listener: SecureListenerName | 'PLAINTEXT'
  /** Which side of the mirror talks to the secured cluster. */
  side: 'source' | 'target'
  mechanism?: SaslMechanismName
  truststore?: 'PEM' | 'PKCS12'
  keystore?: 'PEM' | 'PKCS12'
  /** Certificates given inline (ssl.truststore.certificates, ssl.keystore.key/.certificate.chain). */
  inline?: boolean
}

const variants: Variant[] = [
  { name: 'PLAINTEXT', listener: 'PLAINTEXT', side: 'source' },
  { name: 'SSL, PEM truststore', listener: 'SSL', side: 'source', truststore: 'PEM' },
  { name: 'SSL, PKCS12 truststore made by keytool', listener: 'SSL', side: 'target', truststore: 'PKCS12' },
  { name: 'SSL with a client certificate, PEM keystore', listener: 'MTLS', side: 'source', truststore: 'PEM', keystore: 'PEM' },
  { name: 'SSL with a client certificate, PKCS12 keystore and truststore', listener: 'MTLS', side: 'target', truststore: 'PKCS12', keystore: 'PKCS12' },
  { name: 'SSL with a client certificate given inline in PEM', listener: 'MTLS', side: 'source', inline: true },
  { name: 'SASL_PLAINTEXT PLAIN', listener: 'SASL_PLAINTEXT', side: 'source', mechanism: 'PLAIN' },
  { name: 'SASL_PLAINTEXT SCRAM-SHA-256', listener: 'SASL_PLAINTEXT', side: 'source', mechanism: 'SCRAM-SHA-256' },
  { name: 'SASL_PLAINTEXT SCRAM-SHA-512', listener: 'SASL_PLAINTEXT', side: 'target', mechanism: 'SCRAM-SHA-512' },
  { name: 'SASL_SSL PLAIN', listener: 'SASL_SSL', side: 'target', mechanism: 'PLAIN' },
  { name: 'SASL_SSL SCRAM-SHA-256', listener: 'SASL_SSL', side: 'source', mechanism: 'SCRAM-SHA-256', truststore: 'PKCS12' },
  { name: 'SASL_SSL SCRAM-SHA-512', listener: 'SASL_SSL', side: 'source', mechanism: 'SCRAM-SHA-512' }
]

/** A properties value on one line: newlines as the \n escape, as Java's Properties reads it. */
const oneLine = (text: string): string => text.trim().replace(/\n/g, '\\n')

function clientProperties (cluster: KafkaCluster, v: Variant): Record<string, string> {
  const props = secureClientProperties(cluster, v.listener, { mechanism: v.mechanism, truststore: v.truststore, keystore: v.keystore, clientName: 'mirror-client' })
  if (v.inline === true) {
    const cert = cluster.tls!.issueClientCertificate('mirror-inline')
    for (const k of ['ssl.truststore.location', 'ssl.keystore.location', 'ssl.keystore.type']) delete props[k]
    Object.assign(props, {
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.certificates': oneLine(readFileSync(cluster.tls!.ca.cert, 'utf8')),
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.certificate.chain': oneLine(readFileSync(cert.cert, 'utf8')),
      'ssl.keystore.key': oneLine(readFileSync(cert.key, 'utf8'))
    })
  }
  return props
}

describe('S1: every security protocol and SASL mechanism, on either side', { skip: opensslAvailable() ? false : 'openssl is not installed' }, () => {
  let secured: KafkaCluster
  let plain: { bootstrap: string, stop: () => Promise<void> }

  before(async () => {
    // Given one 1-broker cluster with PLAINTEXT, SSL, SSL+client auth, SASL_PLAINTEXT and SASL_SSL
    // listeners (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 users), and a plain cluster on the other side
    const started = Date.now()
    ;[secured, plain] = await Promise.all([startSecuredCluster('s1-secured'), plainCluster('s1-plain')])
    process.stderr.write(`S1 clusters up in ${Date.now() - started} ms: ${JSON.stringify(secured.listeners)}\n`)
  })

  after(async () => {
    await Promise.all([secured?.stop(), plain?.stop()])
  })

  for (const v of variants) {
    test(`${v.name}, as the ${v.side}`, async () => {
      // Given a topic with 300 keyed records with headers on the source side
      const sourceBootstrap = v.side === 'source' ? secured.bootstrap : plain.bootstrap
      const targetBootstrap = v.side === 'source' ? plain.bootstrap : secured.bootstrap
      const topic = await createTestTopic(sourceBootstrap, { prefix: `s1-${v.listener.toLowerCase()}`, partitions: 2 })
      const records = makeRecords(300, { keys: 13, valueBytes: 120, tombstones: true })
      await produceRecords(sourceBootstrap, topic, records)
      const secure = clientProperties(secured, v)
      const files = v.side === 'source'
        ? writeMirrorProperties(secure, { 'bootstrap.servers': plain.bootstrap })
        : writeMirrorProperties({ 'bootstrap.servers': plain.bootstrap }, secure)

      // When the mirror copies it once, talking to the secured cluster over the variant's listener
      const started = Date.now()
      const result = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic, '--once', '--status.interval.ms', '0'])
      const ms = Date.now() - started

      // Then it exits 0, having copied every record, and kcat reads them byte-equal on the target
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /Copied 300 records/)
      assert.match(result.stderr, new RegExp(`security\\.protocol.*${v.listener === 'MTLS' ? 'SSL' : v.listener}`))
      assertMirrored(records, await kcatConsume(targetBootstrap, topic))
      process.stderr.write(`S1 ${v.name} (${v.side}): mirrored in ${ms} ms\n`)
    })
  }
})
