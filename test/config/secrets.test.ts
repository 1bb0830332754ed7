// Secrets never leave the process: canary values in every secret key, run through the command line
// as a user would (bad input, --help, --validate, an unreachable cluster), must appear in no
// output, log line or error message.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { after, test } from 'node:test'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { HIDDEN, redactSecrets, rememberSecret } from '../../src/config/secrets.ts'
import { ConfigError, describeCause } from '../../src/errors.ts'
import { createLogger } from '../../src/log.ts'
import { runKafkaMirror, type CliRun } from '../helpers/cli.ts'

const canary = `CANARY-s3cr3t-${randomBytes(6).toString('hex')}`
const secret = (what: string): string => `${canary}-${what}`
const jaas = (password: string): string => `org.apache.kafka.common.security.plain.PlainLoginModule required username="mirror" password="${password}";`
const ENV_SECRET = `KM_TEST_SECRET_${randomBytes(4).toString('hex').toUpperCase()}`
const ENV_UNSET = `KM_TEST_UNSET_${randomBytes(4).toString('hex').toUpperCase()}`
const ENV_FLAKY_NUMBER = `KM_TEST_NUMBER_${randomBytes(4).toString('hex').toUpperCase()}`
process.env[ENV_SECRET] = secret('env')
// A value that resolves into a non-secret key; its error must not quote it either.
process.env[ENV_FLAKY_NUMBER] = secret('number')
after(() => { delete process.env[ENV_SECRET]; delete process.env[ENV_FLAKY_NUMBER] })

const dir = mkdtempSync(join(tmpdir(), 'kmsecrets-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const secretsDir = join(dir, 'secrets')
mkdirSync(secretsDir)
writeFileSync(join(secretsDir, 'mirror.properties'), `jaas.password=${secret('file')}\ntruststore.password=${secret('file-ts')}\n`)
// Not PKCS12 at all: the TLS layer fails on it at connect time, with the passphrase in hand.
writeFileSync(join(dir, 'truststore.p12'), 'not a keystore')

let fileCount = 0
function write (lines: string[]): string {
  const path = join(dir, `client-${++fileCount}.properties`)
  writeFileSync(path, lines.join('\n') + '\n')
  return path
}

const providers = [
  'config.providers=env,file',
  'config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider',
  'config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider',
  `config.providers.file.param.allowed.paths=${secretsDir}`
]

/** Every secret key, with a canary each. */
const allSecrets = [
  `ssl.key.password=${secret('key')}`,
  `ssl.keystore.password=${secret('keystore')}`,
  `ssl.truststore.password=${secret('truststore')}`,
  `ssl.keystore.key=-----BEGIN ENCRYPTED PRIVATE KEY-----\\n${secret('pem')}\\n-----END ENCRYPTED PRIVATE KEY-----`
]

function assertNoSecret (run: CliRun, what: string): void {
  for (const [stream, text] of [['stdout', run.stdout], ['stderr', run.stderr]]) {
    assert.ok(!text.includes('CANARY-s3cr3t'), `${what}: a secret is in ${stream}:\n${text}`)
  }
}

test('bad values, unknown keys next to secrets and a bad JAAS line: every problem named, no secret shown', async () => {
  const consumer = write([
    'bootstrap.servers=not-a-host-port',
    'security.protocol=SASL_SSL',
    'sasl.mechanism=PLAIN',
    // No control flag: not a JAAS line; the message must say so without quoting it.
    `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule username="mirror" password="${secret('jaas')}";`,
    ...allSecrets,
    `ssl.keystore.passwrd=${secret('typo')}`,
    `sasl.jaas.confg=${jaas(secret('typo-jaas'))}`,
    'session.timeout.ms=soon',
    'auto.offset.reset=oldest'
  ])
  const producer = write([
    ...providers,
    'bootstrap.servers=127.0.0.1:1',
    `sasl.jaas.config=${jaas(`\${env:${ENV_UNSET}}`)}`,
    // "${" inside a password: refused, and no part of it quoted.
    `ssl.truststore.password=${secret('dollar')}\${oops`,
    `ssl.keystore.password=\${vault:${secret('vault')}}`,
    `ssl.key.password=${secret('key')}`,
    `linger.ms=\${env:${ENV_FLAKY_NUMBER}}`,
    'acks=2'
  ])
  const run = await runKafkaMirror(['--consumer.config', consumer, '--producer.config', producer, '--whitelist', 'orders', '--num.streams', '0'])
  assert.equal(run.code, 2, run.stderr)
  assertNoSecret(run, 'bad input')
  const c = 'client-\\d+\\.properties'
  assert.match(run.stderr, new RegExp(`${c}: sasl\\.jaas\\.config: is not a JAAS login line`))
  assert.match(run.stderr, new RegExp(`${c}: bootstrap\\.servers: has "not-a-host-port", which is not host:port`))
  assert.match(run.stderr, new RegExp(`${c}: session\\.timeout\\.ms: "soon" is not a whole number`))
  assert.match(run.stderr, new RegExp(`${c}: sasl\\.jaas\\.config: \\$\\{env:${ENV_UNSET}\\}: the environment variable ${ENV_UNSET} is not set`))
  assert.match(run.stderr, new RegExp(`${c}: ssl\\.truststore\\.password: has "\\$\\{" without a closing "\\}"`))
  assert.match(run.stderr, new RegExp(`${c}: ssl\\.keystore\\.password: has a \\$\\{…\\} reference to a config provider that client-\\d+\\.properties does not enable`))
  assert.match(run.stderr, new RegExp(`${c}: linger\\.ms: the value of \\$\\{env:${ENV_FLAKY_NUMBER}\\} is not a whole number`))
  assert.match(run.stderr, /--num\.streams: 0 is below the minimum of 1/)
})

test('a ConfigError thrown by the loader carries no secret in its message or problems', () => {
  const consumer = write(['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN', `sasl.jaas.config=${secret('not-jaas')}`, ...allSecrets, 'fetch.min.bytes=-5'])
  const producer = write([...providers, `sasl.jaas.config=\${env:${ENV_UNSET}}`, `ssl.key.password=\${file:${join(secretsDir, 'missing.properties')}:key}`])
  try {
    loadMirrorConfig([['consumer.config', consumer], ['producer.config', producer], ['include', 't']])
    assert.fail('expected a ConfigError')
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error))
    const everything = `${error.message}\n${error.stack ?? ''}\n${JSON.stringify(error.problems)}`
    assert.ok(!everything.includes('CANARY-s3cr3t'), everything)
    assert.match(error.message, /sasl\.jaas\.config: is not a JAAS login line/)
    assert.match(error.message, /ssl\.key\.password: \$\{file:.*missing\.properties:key\}: file .*missing\.properties does not exist/)
  }
})

test('--validate prints the settings with every secret as [hidden], references resolved', async () => {
  const consumer = write([
    ...providers,
    'bootstrap.servers=127.0.0.1:1',
    'security.protocol=SASL_SSL',
    'sasl.mechanism=PLAIN',
    `sasl.jaas.config=${jaas(`\${file:${join(secretsDir, 'mirror.properties')}:jaas.password}`)}`,
    `ssl.truststore.password=\${file:${join(secretsDir, 'mirror.properties')}:truststore.password}`,
    `ssl.key.password=\${env:${ENV_SECRET}}`,
    `ssl.keystore.passwrd=${secret('typo')}`
  ])
  const producer = write(['bootstrap.servers=127.0.0.1:1', 'security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=SCRAM-SHA-512', `sasl.jaas.config=${jaas(secret('producer'))}`])
  for (const format of ['text', 'json']) {
    const run = await runKafkaMirror(['--consumer.config', consumer, '--producer.config', producer, '--whitelist', 'orders', '--validate', '--log.format', format, '--log.level', 'trace'])
    assert.equal(run.code, 0, run.stderr)
    assertNoSecret(run, `--validate (${format} logs)`)
    assert.match(run.stdout, /The configuration is valid/)
    assert.match(run.stdout, /sasl\.jaas\.config=\[hidden\]/)
    assert.match(run.stdout, /ssl\.key\.password=\[hidden\]/)
    assert.match(run.stdout, /ssl\.truststore\.password=\[hidden\]/)
    assert.match(run.stderr, /unknown key ssl\.keystore\.passwrd \(did you mean ssl\.keystore\.password\?\)/)
  }
})

test('an unreachable cluster: the error and the logs name no secret', async () => {
  const fast = ['retry.backoff.ms=0', 'socket.connection.setup.timeout.ms=500', 'request.timeout.ms=1000']
  const consumer = write(['bootstrap.servers=127.0.0.1:1', 'security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN', `sasl.jaas.config=${jaas(secret('jaas'))}`, ...fast])
  const producer = write(['bootstrap.servers=127.0.0.1:1', 'security.protocol=SSL', 'ssl.truststore.type=PKCS12', `ssl.truststore.location=${join(dir, 'truststore.p12')}`, ...allSecrets.slice(0, 3), ...fast])
  for (const format of ['text', 'json']) {
    const started = Date.now()
    const run = await runKafkaMirror(['--consumer.config', consumer, '--producer.config', producer, '--include', 't', '--log.level', 'trace', '--log.format', format])
    assert.equal(run.code, 1, run.stderr)
    assert.ok(Date.now() - started < 20_000)
    assertNoSecret(run, `unreachable (${format} logs)`)
    assert.match(run.stderr, /Cannot reach the (source|target) cluster at 127\.0\.0\.1:1/)
    // The startup log shows that the secrets are set, not what they are.
    assert.ok(run.stderr.includes('sasl.jaas.config') && run.stderr.includes(HIDDEN), run.stderr)
  }
})

test('--help and unknown flags never print a secret', async () => {
  const consumer = write(['bootstrap.servers=127.0.0.1:1', `sasl.jaas.config=${jaas(secret('jaas'))}`, ...allSecrets])
  const runs: Array<[string, string[]]> = [
    ['kafka-mirror --help', ['--help']],
    ['mirror --help with files', ['mirror', '--consumer.config', consumer, '--producer.config', consumer, '--help']],
    ['produce --help', ['produce', '--producer-property', `sasl.jaas.config=${jaas(secret('flag'))}`, '--help']],
    ['consume --help', ['consume', '--consumer.config', consumer, '--help']],
    ['topics --help', ['topics', '--command-config', consumer, '--help']]
  ]
  for (const [what, argv] of runs) {
    const run = await runKafkaMirror(argv)
    assert.equal(run.code, 0, `${what}: ${run.stderr}`)
    assertNoSecret(run, what)
  }
  assert.match((await runKafkaMirror(['mirror', '--help'])).stdout, /\$\{env:VAR\}/)
  // A secret given as a flag the mirror does not know: the flag is named, its value is not.
  const unknown = await runKafkaMirror(['--consumer.config', consumer, '--producer.config', consumer, '--include', 't', `--sasl.jaas.config=${jaas(secret('eq'))}`, '--ssl.key.password', secret('spaced')])
  assert.equal(unknown.code, 2)
  assertNoSecret(unknown, 'unknown flags')
  assert.match(unknown.stderr, /--sasl\.jaas\.config: is not a known flag/)
})

test('the console tools hide secrets in their errors, references included', async () => {
  const file = write([...providers.slice(0, 2), 'security.protocol=SASL_SSL', 'sasl.mechanism=PLAIN', `sasl.jaas.config=${jaas(`\${env:${ENV_UNSET}}`)}`, ...allSecrets, 'request.timeout.ms=never', `ssl.keystore.passwrd=${secret('typo')}`])
  const runs: Array<[string, string[]]> = [
    ['produce', ['produce', '--bootstrap-server', '127.0.0.1:1', '--topic', 't', '--producer.config', file, '--producer-property', `sasl.jaas.config=${secret('not-jaas')}`, '--producer-property', 'acks=some']],
    ['consume', ['consume', '--bootstrap-server', '127.0.0.1:1', '--topic', 't', '--consumer.config', file, '--consumer-property', `ssl.key.password=\${env:${ENV_SECRET}}`]],
    ['topics', ['topics', '--bootstrap-server', '127.0.0.1:1', '--list', '--command-config', file]]
  ]
  for (const [what, argv] of runs) {
    const run = await runKafkaMirror(argv)
    assert.equal(run.code, 2, `${what}: ${run.stderr}`)
    assertNoSecret(run, what)
    assert.match(run.stderr, new RegExp(`sasl\\.jaas\\.config: \\$\\{env:${ENV_UNSET}\\}: the environment variable ${ENV_UNSET} is not set`), what)
    assert.match(run.stderr, /request\.timeout\.ms: "never" is not a whole number/, what)
  }
  // The --consumer-property reference has no config.providers of its own to resolve it.
  const consume = await runKafkaMirror(runs[1][1])
  assert.match(consume.stderr, /--consumer-property: ssl\.key\.password: \$\{env:.*\} refers to the config provider "env", which config\.providers does not enable/)
})

test('the logger hides secret fields and remembered secrets; describeCause hides JAAS passwords', () => {
  const out = new PassThrough()
  let text = ''
  out.on('data', d => { text += String(d) })
  for (const format of ['text', 'json'] as const) {
    const log = createLogger({ format, stream: out, level: 'trace' })
    log.info({
      sasl: { mechanism: 'PLAIN', username: 'mirror', password: secret('sasl') },
      tls: { passphrase: secret('tls'), key: secret('tls-key'), pfx: [{ buf: Buffer.from('x'), passphrase: secret('pfx') }] },
      'ssl.truststore.password': secret('flat'),
      'group.id': 'kept'
    }, 'client options')
    log.error({ err: new Error(`login failed: ${jaas(secret('err'))}`) }, 'failed')
    log.warn(`quoted by a library: ${jaas(secret('message'))}`)
  }
  assert.ok(!text.includes('CANARY-s3cr3t'), text)
  assert.ok(text.includes('group.id') && text.includes('kept'), text)
  assert.ok(text.includes(HIDDEN), text)

  assert.equal(describeCause(new Error(`SASL failed for ${jaas(secret('cause'))}`)), `SASL failed for ${jaas(HIDDEN)}`)
  // A secret seen while loading config is scrubbed wherever it shows up later, even without a JAAS frame.
  rememberSecret(secret('seen'))
  assert.equal(redactSecrets(`the library said: ${secret('seen')} is wrong`), `the library said: ${HIDDEN} is wrong`)
})
