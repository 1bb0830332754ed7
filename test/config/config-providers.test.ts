// ${env:VAR} and ${file:path:key} references, as Kafka's EnvVarConfigProvider and
// FileConfigProvider resolve them, and every way one can be wrong.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { consumerConfig } from '../../src/config/client-config.ts'
import type { ParsedConfig } from '../../src/config/definition.ts'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { parseProperties } from '../../src/config/properties.ts'
import { formatProblem } from '../../src/errors.ts'
import { runKafkaMirror } from '../helpers/cli.ts'

const ENV_CLASS = 'org.apache.kafka.common.config.provider.EnvVarConfigProvider'
const FILE_CLASS = 'org.apache.kafka.common.config.provider.FileConfigProvider'

// realpath: on some systems the temporary folder is itself behind a symbolic link.
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'kmproviders-')))
after(() => rmSync(dir, { recursive: true, force: true }))
const allowed = join(dir, 'allowed')
const outside = join(dir, 'outside')
mkdirSync(allowed)
mkdirSync(outside)
writeFileSync(join(allowed, 'mirror.properties'), 'jaas.user=alice\njaas.password=s3cr3t-from-file\ngroup=mirror-group\n')
writeFileSync(join(outside, 'other.properties'), 'jaas.password=must-not-be-read\n')
symlinkSync(join(outside, 'other.properties'), join(allowed, 'escape.properties'))
symlinkSync(join(allowed, 'mirror.properties'), join(allowed, 'alias.properties'))

const vars = { KM_P_BROKERS: '127.0.0.1:9092,127.0.0.1:9093', KM_P_PASSWORD: 's3cr3t-from-env', KM_P_RESET: 'CANARY-not-a-choice' }
Object.assign(process.env, vars)
after(() => { for (const name of Object.keys(vars)) delete process.env[name] })

const envProvider = ['config.providers=env', `config.providers.env.class=${ENV_CLASS}`]
const bothProviders = ['config.providers=env,file', `config.providers.env.class=${ENV_CLASS}`, `config.providers.file.class=${FILE_CLASS}`, `config.providers.file.param.allowed.paths=${allowed}`]

function parse (lines: string[]): ParsedConfig {
  return consumerConfig.parse(parseProperties(lines.join('\n')).map(e => [e.key, e.value]), 'consumer.properties', { references: true })
}

function messages (parsed: ParsedConfig): string[] {
  return parsed.problems.map(formatProblem)
}

/** Asserts exactly one problem, matching `pattern`, and returns its text. */
function oneProblem (lines: string[], pattern: RegExp): string {
  const found = messages(parse(lines))
  assert.equal(found.length, 1, found.join('\n'))
  assert.match(found[0], pattern)
  return found[0]
}

test('env and file references resolve, several in one value, under any provider name', () => {
  const parsed = parse([
    ...bothProviders,
    'bootstrap.servers=${env:KM_P_BROKERS}',
    `group.id=\${file:${join(allowed, 'mirror.properties')}:group}`,
    `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="\${file:${allowed}/mirror.properties:jaas.user}" password="\${env:KM_P_PASSWORD}";`,
    'client.id=price$ and {braces} stay as they are'
  ])
  assert.deepEqual(messages(parsed), [])
  assert.deepEqual(parsed.values.get('bootstrap.servers'), ['127.0.0.1:9092', '127.0.0.1:9093'])
  assert.equal(parsed.values.get('group.id'), 'mirror-group')
  assert.equal(parsed.values.get('sasl.jaas.config'), 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr3t-from-env";')
  assert.equal(parsed.values.get('client.id'), 'price$ and {braces} stay as they are')
  assert.equal(parsed.values.get('config.providers.file.param.allowed.paths')?.toString(), allowed)

  const named = parse(['config.providers=vault', `config.providers.vault.class=${FILE_CLASS}`, `config.providers.vault.param.allowed.paths=${allowed}`, `ssl.key.password=\${vault:${allowed}/mirror.properties:jaas.password}`])
  assert.deepEqual(messages(named), [])
  assert.equal(named.values.get('ssl.key.password'), 's3cr3t-from-file')
})

test('a reference to a provider the file does not enable is refused, with the lines that enable it', () => {
  oneProblem(['ssl.key.password=${env:KM_P_PASSWORD}'], /^consumer\.properties: ssl\.key\.password: \$\{env:KM_P_PASSWORD\} refers to the config provider "env", which config\.providers does not enable \(enable it in consumer\.properties: config\.providers=env and config\.providers\.env\.class=org\.apache\.kafka\.common\.config\.provider\.EnvVarConfigProvider\)$/)
  oneProblem([...envProvider, `group.id=\${file:${allowed}/mirror.properties:group}`], /group\.id: \$\{file:.*\} refers to the config provider "file", which is not in config\.providers=env \(enable it in consumer\.properties: config\.providers=env,file and config\.providers\.file\.class=org\.apache\.kafka\.common\.config\.provider\.FileConfigProvider\)/)
  oneProblem([...envProvider, 'group.id=${vault:x}'], /group\.id: \$\{vault:x\} refers to the config provider "vault"/)
})

test('a provider needs a class kafka-mirror has; Java-only classes are refused', () => {
  oneProblem(['config.providers=env', 'group.id=${env:HOME}'], /config\.providers\.env\.class: is missing: config\.providers names "env" \(set config\.providers\.env\.class=org\.apache/)
  oneProblem(['config.providers=vault', 'config.providers.vault.class=com.example.VaultConfigProvider', 'group.id=${vault:secret/data:x}'], /config\.providers\.vault\.class: "com\.example\.VaultConfigProvider" is not supported: Java classes cannot run in kafka-mirror \(use org\.apache\.kafka\.common\.config\.provider\.EnvVarConfigProvider or org\.apache\.kafka\.common\.config\.provider\.FileConfigProvider\)/)
})

test('env: an unset variable, a path, and a name outside allowlist.pattern are refused', () => {
  oneProblem([...envProvider, 'group.id=${env:KM_P_NOT_SET_ANYWHERE}'], /group\.id: \$\{env:KM_P_NOT_SET_ANYWHERE\}: the environment variable KM_P_NOT_SET_ANYWHERE is not set \(set KM_P_NOT_SET_ANYWHERE in kafka-mirror's environment, or correct the name\)/)
  oneProblem([...envProvider, 'group.id=${env:some/path:HOME}'], /\$\{env:some\/path:HOME\}: the env provider takes no path \(write \$\{env:VARIABLE\}\)/)
  const pattern = [...envProvider, 'config.providers.env.param.allowlist.pattern=KM_P_.*']
  assert.deepEqual(messages(parse([...pattern, 'ssl.key.password=${env:KM_P_PASSWORD}'])), [])
  oneProblem([...pattern, 'group.id=${env:HOME}'], /\$\{env:HOME\}: HOME does not match config\.providers\.env\.param\.allowlist\.pattern/)
  oneProblem([...envProvider, 'config.providers.env.param.allowlist.pattern=KM_(', 'group.id=${env:HOME}'], /config\.providers\.env\.param\.allowlist\.pattern: "KM_\(" is not a valid regex/)
})

test('file: allowed.paths is required, and no path leads outside it (.., symbolic links)', () => {
  const fileProvider = (paths?: string): string[] => ['config.providers=file', `config.providers.file.class=${FILE_CLASS}`, ...(paths !== undefined ? [`config.providers.file.param.allowed.paths=${paths}`] : [])]
  const ref = (path: string, key = 'jaas.password'): string => `ssl.key.password=\${file:${path}:${key}}`
  oneProblem([...fileProvider(), ref(join(allowed, 'mirror.properties'))], /config\.providers\.file\.param\.allowed\.paths: is missing: the file provider "file" reads only inside allowed folders \(Kafka reads any file when it is unset; kafka-mirror does not\) \(set config\.providers\.file\.param\.allowed\.paths=/)
  oneProblem([...fileProvider(allowed), ref(join(outside, 'other.properties'))], /ssl\.key\.password: \$\{file:.*other\.properties:jaas\.password\}: .*other\.properties is outside the folders of config\.providers\.file\.param\.allowed\.paths \(move the file into .*allowed, or add its folder to/)
  oneProblem([...fileProvider(allowed), ref(`${allowed}/../outside/other.properties`)], /is outside the folders of/)
  oneProblem([...fileProvider(allowed), ref(join(allowed, 'escape.properties'))], /escape\.properties is outside the folders of/)
  // A folder name that merely starts like the allowed one is not inside it.
  oneProblem([...fileProvider(allowed), ref(`${allowed}-not/x.properties`)], /is outside the folders of/)
  assert.deepEqual(messages(parse([...fileProvider(`${outside},${allowed}`), ref(join(allowed, 'alias.properties'))])), [])
  oneProblem([...fileProvider(allowed), ref(join(allowed, 'missing.properties'))], /: file .*missing\.properties does not exist/)
  oneProblem([...fileProvider(allowed), ref(join(allowed, 'mirror.properties'), 'no.such.key')], /mirror\.properties has no key no\.such\.key \(add no\.such\.key=… to/)
  oneProblem([...fileProvider(allowed), ref(allowed)], /is not a file/)
  oneProblem([...fileProvider(allowed), 'ssl.key.password=${file:jaas.password}'], /\$\{file:jaas\.password\}: the file provider needs a path/)
  oneProblem([...fileProvider('relative/secrets'), ref(join(allowed, 'mirror.properties'))], /allowed\.paths: relative\/secrets is not an absolute path/)
  oneProblem([...fileProvider(join(dir, 'nowhere')), ref(join(allowed, 'mirror.properties'))], /allowed\.paths: .*nowhere does not exist/)
})

test('malformed ${…} is refused; a secret\'s text is never quoted', () => {
  for (const bad of ['${env:HOME', '${}', '${env}', '${env:}', '${:HOME}', '${env:${env:HOME}}']) {
    oneProblem([...envProvider, `group.id=${bad}`], /group\.id: has (a malformed \$\{…\} reference|"\$\{" without a closing "\}")/)
  }
  const text = oneProblem([...envProvider, 'ssl.key.password=pa${zzq:qqz}'], /ssl\.key\.password: has a \$\{…\} reference to a config provider that consumer\.properties does not enable/)
  assert.ok(!text.includes('zzq') && !text.includes('qqz'), text)
})

test('a resolved value is never quoted in an error, and every problem is reported at once', () => {
  const parsed = parse([
    ...envProvider,
    'auto.offset.reset=${env:KM_P_RESET}',
    'session.timeout.ms=${env:KM_P_BROKERS}',
    'group.id=${env:KM_P_UNSET_1}',
    'client.id=${env:KM_P_UNSET_2}',
    'group.instance.id=${nope:x}',
    'config.providers.env.param.other=1',
    'config.providers.unused.class=x'
  ])
  const found = messages(parsed)
  assert.equal(found.length, 5, found.join('\n'))
  assert.ok(found.some(m => /auto\.offset\.reset: the value of \$\{env:KM_P_RESET\} is not allowed \(use one of: earliest/.test(m)), found.join('\n'))
  assert.ok(found.some(m => /session\.timeout\.ms: the value of \$\{env:KM_P_BROKERS\} is not a whole number/.test(m)), found.join('\n'))
  assert.ok(!found.join('\n').includes('CANARY'), found.join('\n'))
  assert.ok(parsed.warnings.some(w => /config\.providers\.env\.param\.other is ignored: the env provider of kafka-mirror reads only the parameter allowlist\.pattern/.test(w)), parsed.warnings.join('\n'))
  assert.ok(parsed.warnings.some(w => /config\.providers\.unused\.class is ignored: config\.providers does not name "unused"/.test(w)), parsed.warnings.join('\n'))
})

test('the mirror resolves references in both files; --validate shows what they resolved to, secrets hidden', async () => {
  const consumer = join(dir, 'consumer.properties')
  const producer = join(dir, 'producer.properties')
  writeFileSync(consumer, [...bothProviders, 'bootstrap.servers=${env:KM_P_BROKERS}', 'security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN', `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="\${file:${allowed}/mirror.properties:jaas.user}" password="\${file:${allowed}/mirror.properties:jaas.password}";`].join('\n'))
  writeFileSync(producer, ['bootstrap.servers=127.0.0.1:9094'].join('\n'))
  const loaded = loadMirrorConfig([['consumer.config', consumer], ['producer.config', producer], ['include', 't']])
  assert.deepEqual(loaded.settings.source.bootstrapServers, ['127.0.0.1:9092', '127.0.0.1:9093'])
  assert.deepEqual(loaded.settings.source.sasl, { mechanism: 'PLAIN', username: 'alice', password: 's3cr3t-from-file' })

  const run = await runKafkaMirror(['--consumer.config', consumer, '--producer.config', producer, '--include', 't', '--validate'])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /bootstrap\.servers=127\.0\.0\.1:9092,127\.0\.0\.1:9093/)
  assert.match(run.stdout, /sasl\.jaas\.config=\[hidden\]/)
  assert.ok(!run.stdout.includes('s3cr3t') && !run.stderr.includes('s3cr3t'), run.stdout + run.stderr)

  // The same reference in the producer's file, which does not enable the provider: refused there.
  writeFileSync(producer, 'bootstrap.servers=${env:KM_P_BROKERS}\n')
  const refused = await runKafkaMirror(['--consumer.config', consumer, '--producer.config', producer, '--include', 't', '--validate'])
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /producer\.properties: bootstrap\.servers: \$\{env:KM_P_BROKERS\} refers to the config provider "env", which config\.providers does not enable/)
})
