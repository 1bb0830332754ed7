// Key and trust stores as users have them: PEM files, PKCS12 made by keytool or openssl (modern
// AES, the older 3DES and RC2 of JDK 8 and openssl -legacy), JKS made by keytool (JCEKS must be converted), keys with
// and without a password. No cluster: what the TLS options come out as, and the problems named.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { createCertificateAuthority, issueCertificate, opensslAvailable, pkcs12Truststore } from '../../harness/cluster.ts'
import { compileTopicRegex } from '../../src/config/topic-filter.ts'
import type { ConfigValue } from '../../src/config/definition.ts'
import type { ConfigProblem } from '../../src/errors.ts'
import { literalTopicNames } from '../../src/kafka/access.ts'
import { clusterConnection } from '../../src/kafka/client-options.ts'
import { readJks } from '../../src/kafka/jks.ts'
import { pkcs12KeyAndChain, readPkcs12 } from '../../src/kafka/pkcs12.ts'
import { jksKeystore, jksTruststore } from '../helpers/security.ts'

const keytool = process.env.JAVA_HOME !== undefined ? join(process.env.JAVA_HOME, 'bin', 'keytool') : 'keytool'
const haveKeytool = spawnSync(keytool, ['-help'], { stdio: 'ignore' }).status === 0

function run (command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0
}

function connect (props: Record<string, string>): { tls: ReturnType<typeof clusterConnection>['tls'], problems: ConfigProblem[], sasl: ReturnType<typeof clusterConnection>['sasl'] } {
  const problems: ConfigProblem[] = []
  const values = new Map<string, ConfigValue>(Object.entries(props))
  const c = clusterConnection('source', 'consumer.properties', values, ['127.0.0.1:9093'], 'test', problems)
  return { tls: c.tls, sasl: c.sasl, problems }
}

const fingerprint = (pem: string | Buffer): string => new X509Certificate(pem).fingerprint256

describe('key and trust stores', { skip: opensslAvailable() ? false : 'openssl is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-stores-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const ca = createCertificateAuthority(dir, 'stores-ca')
  const client = issueCertificate(ca, dir, 'client', { password: 'client-pw' })
  const caPrint = fingerprint(readFileSync(ca.cert))

  test('a PKCS12 truststore made by keytool or openssl gives its CA, whatever ssl.truststore.type says', { skip: haveKeytool ? false : 'no keytool' }, () => {
    const made = pkcs12Truststore(ca, join(dir, 'trust-keytool.p12'), 'trust-pw')
    const byOpenssl = join(dir, 'trust-openssl.p12')
    assert.ok(run('openssl', ['pkcs12', '-export', '-nokeys', '-in', ca.cert, '-passout', 'pass:trust-pw', '-out', byOpenssl]))
    for (const file of [made, byOpenssl]) {
      // Given a truststore holding only the CA (no key: node:tls's pfx cannot read it)
      const store = readPkcs12(readFileSync(file), 'trust-pw')
      assert.deepEqual(store.certificates.map(fingerprint), [caPrint])
      // When a properties file points at it, with the type PKCS12 or left at Kafka's default JKS
      for (const type of ['PKCS12', undefined]) {
        const { tls, problems } = connect({ 'security.protocol': 'SSL', 'ssl.truststore.location': file, 'ssl.truststore.password': 'trust-pw', ...(type !== undefined ? { 'ssl.truststore.type': type } : {}) })
        // Then the CA is what the client trusts
        assert.deepEqual(problems, [])
        assert.deepEqual((tls!.ca as string[]).map(fingerprint), [caPrint])
        assert.equal(tls!.pfx, undefined)
      }
    }
  })

  test('PKCS12 keystores: modern, 3DES and RC2 protection give the key and its chain', () => {
    const variants: Array<[string, string[]]> = [
      ['aes', []],
      ['3des', ['-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']],
      ['legacy-rc2', ['-legacy']]
    ]
    for (const [name, args] of variants) {
      const file = join(dir, `keystore-${name}.p12`)
      if (!run('openssl', ['pkcs12', '-export', ...args, '-in', client.cert, '-inkey', client.key, '-passout', 'pass:ks-pw', '-out', file])) {
        assert.notEqual(name, 'aes', 'openssl could not write a PKCS12 keystore')
        continue // this openssl has no legacy provider
      }
      const found = pkcs12KeyAndChain(readPkcs12(readFileSync(file), 'ks-pw'))
      assert.ok(found !== undefined, name)
      assert.ok(new X509Certificate(found.cert).checkPrivateKey(createPrivateKey(found.key)), name)
      const { tls, problems } = connect({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PKCS12', 'ssl.keystore.location': file, 'ssl.keystore.password': 'ks-pw' })
      assert.deepEqual(problems, [], name)
      assert.match(String(tls!.key), /BEGIN PRIVATE KEY/)
      assert.match(String(tls!.cert), /BEGIN CERTIFICATE/)
    }
  })

  test('a password beyond ASCII opens both PBES2 (UTF-8) and PKCS12 (UTF-16) protection', () => {
    const password = 'pässwörd-€'
    for (const [name, args] of [['aes', []], ['legacy-rc2', ['-legacy']]] as Array<[string, string[]]>) {
      const file = join(dir, `keystore-utf8-${name}.p12`)
      if (!run('openssl', ['pkcs12', '-export', ...args, '-in', client.cert, '-inkey', client.key, '-passout', `pass:${password}`, '-out', file])) continue
      assert.ok(pkcs12KeyAndChain(readPkcs12(readFileSync(file), password)) !== undefined, name)
      // RC2 hardly checks its padding: a missing password still reads as one, not as a broken file.
      assert.throws(() => readPkcs12(readFileSync(file), undefined), /encrypted and no password was given/, name)
    }
  })

  test('a wrong or missing store password is named with the key to fix', () => {
    assert.throws(() => readPkcs12(readFileSync(client.p12), 'nope'), /password is wrong/)
    const wrong = connect({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PKCS12', 'ssl.keystore.location': client.p12, 'ssl.keystore.password': 'nope' })
    assert.equal(wrong.problems.length, 1)
    assert.match(wrong.problems[0].message, /cannot read the PKCS12 store .*client\.p12: the password is wrong/)
    assert.equal(wrong.problems[0].fix, 'check ssl.keystore.password')
    const missing = connect({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PKCS12', 'ssl.keystore.location': client.p12 })
    assert.match(missing.problems[0].message, /encrypted and no password was given/)
  })

  test('JKS stores made by keytool: the truststore gives its CA, the keystore its key and chain (own key password)', { skip: haveKeytool ? false : 'no keytool' }, () => {
    // Given a JKS truststore and a JKS keystore whose key has a password of its own
    const trust = jksTruststore(ca.cert, join(dir, 'truststore.jks'), 'changeit')
    const keystore = jksKeystore(client.p12, client.password, 'client', join(dir, 'keystore.jks'), 'store-pw', 'key-pw')
    // When properties point at them, the type left at Kafka's default (JKS) or declared PKCS12
    for (const type of [undefined, 'JKS', 'PKCS12']) {
      const typed: Record<string, string> = type !== undefined ? { 'ssl.truststore.type': type, 'ssl.keystore.type': type } : {}
      const { tls, problems } = connect({ 'security.protocol': 'SSL', ...typed, 'ssl.truststore.location': trust, 'ssl.truststore.password': 'changeit', 'ssl.keystore.location': keystore, 'ssl.keystore.password': 'store-pw', 'ssl.key.password': 'key-pw' })
      // Then the client trusts the CA and presents its key with its chain
      assert.deepEqual(problems, [], String(type))
      assert.deepEqual((tls!.ca as string[]).map(fingerprint), [caPrint])
      assert.ok(new X509Certificate(String(tls!.cert)).checkPrivateKey(createPrivateKey(String(tls!.key))))
      assert.equal(new X509Certificate(String(tls!.cert)).subject, 'CN=client')
    }
    // Without a store password the integrity check is skipped, as Java does; the key still needs its own
    assert.deepEqual(connect({ 'security.protocol': 'SSL', 'ssl.truststore.location': trust }).problems, [])
    assert.deepEqual(readJks(readFileSync(keystore), undefined, 'key-pw').keys.length, 1)
    assert.throws(() => readJks(readFileSync(keystore), 'store-pw', 'store-pw'), /the password is wrong \(the private key "client" cannot be decrypted with it\)/)
    assert.throws(() => readJks(readFileSync(keystore), 'nope'), /the password is wrong \(the store's integrity check fails with it\)/)
    assert.throws(() => readJks(readFileSync(client.p12), 'x'), /not a JKS file/)
  })

  test('JKS problems name the key: wrong password, PEM declared, JCEKS', { skip: haveKeytool ? false : 'no keytool' }, () => {
    const trust = jksTruststore(ca.cert, join(dir, 'truststore2.jks'), 'changeit')
    const wrong = connect({ 'security.protocol': 'SSL', 'ssl.truststore.location': trust, 'ssl.truststore.password': 'wrong' })
    assert.equal(wrong.problems.length, 1)
    assert.equal(wrong.problems[0].key, 'ssl.truststore.location')
    assert.equal(wrong.problems[0].fix, 'check ssl.truststore.password')
    const pem = connect({ 'security.protocol': 'SSL', 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': trust })
    assert.equal(pem.problems[0].key, 'ssl.truststore.type')
    assert.equal(pem.problems[0].fix, 'set ssl.truststore.type=JKS')
    const jceks = jksTruststore(ca.cert, join(dir, 'truststore.jceks'), 'changeit', 'JCEKS')
    const { problems } = connect({ 'security.protocol': 'SSL', 'ssl.truststore.location': jceks, 'ssl.truststore.password': 'changeit' })
    assert.equal(problems.length, 1)
    assert.equal(problems[0].key, 'ssl.truststore.location')
    assert.match(problems[0].message, /is a JCEKS keystore, which kafka-mirror does not read/)
    assert.match(problems[0].fix!, /keytool -importkeystore -srckeystore .*truststore\.jceks -srcstoretype JCEKS .*-deststoretype PKCS12, then set ssl\.truststore\.location=store\.p12 and ssl\.truststore\.type=PKCS12/)
  })

  test('a PEM keystore: key and chain in one file; an encrypted key needs ssl.key.password', () => {
    const plain = connect({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': client.pem })
    assert.deepEqual(plain.problems, [])
    const encrypted = join(dir, 'client-encrypted.pem')
    assert.ok(run('openssl', ['pkcs8', '-topk8', '-in', client.key, '-passout', 'pass:key-pw', '-out', join(dir, 'client-encrypted.key')]))
    const text = readFileSync(join(dir, 'client-encrypted.key'), 'utf8') + readFileSync(client.cert, 'utf8')
    writeFileSync(encrypted, text)
    const without = connect({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': encrypted })
    assert.match(without.problems[0]?.message ?? '', /the private key is encrypted and ssl\.key\.password is not set/)
    const wrong = connect({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': encrypted, 'ssl.key.password': 'nope' })
    assert.match(wrong.problems[0]?.message ?? '', /does not open with ssl\.key\.password/)
    const right = connect({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': encrypted, 'ssl.key.password': 'key-pw' })
    assert.deepEqual(right.problems, [])
    assert.equal(right.tls!.passphrase, 'key-pw')
    const onlyCert = connect({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': client.cert })
    assert.match(onlyCert.problems[0]?.message ?? '', /must hold this client's private key and its certificate chain/)
  })
})

test('SASL: each mechanism goes to the client; a missing login names the SCRAM module for SCRAM', () => {
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    const module = mechanism === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule'
    const ok = connect({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': mechanism, 'sasl.jaas.config': `${module} required username="u" password="p\\"q";` })
    assert.deepEqual(ok.problems, [])
    assert.deepEqual(ok.sasl, { mechanism, username: 'u', password: 'p"q' })
    const missing = connect({ 'security.protocol': 'SASL_SSL', 'sasl.mechanism': mechanism })
    assert.ok(missing.problems.some(p => p.key === 'sasl.jaas.config' && p.fix!.includes(module)), JSON.stringify(missing.problems))
  }
})

test('topic names an include filter spells out are asked for by name; regexes are not', () => {
  const filter = (text: string): Parameters<typeof literalTopicNames>[0] => ({ include: compileTopicRegex(text, '--include', [])!, description: text })
  assert.deepEqual(literalTopicNames(filter('orders')), ['orders'])
  assert.deepEqual(literalTopicNames(filter('orders, payments.v1,audit\\.log')), ['orders', 'payments.v1', 'audit.log'])
  assert.deepEqual(literalTopicNames(filter('orders.*')), [])
  assert.deepEqual(literalTopicNames(filter('(?i)orders')), [])
})
