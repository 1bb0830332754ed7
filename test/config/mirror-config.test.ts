import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { configurationMarkdown } from '../../src/config/docs.ts'
import { compileTopicRegex, topicMatches } from '../../src/config/topic-filter.ts'
import { ConfigError } from '../../src/errors.ts'

function files (consumer: string, producer: string): { consumer: string, producer: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kmcfg-'))
  writeFileSync(join(dir, 'consumer.properties'), consumer)
  writeFileSync(join(dir, 'producer.properties'), producer)
  return { consumer: join(dir, 'consumer.properties'), producer: join(dir, 'producer.properties') }
}

function problemsOf (fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    assert.equal(error.exitCode, 2)
    return error
  }
  assert.fail('expected a ConfigError')
}

test('the tutorial\'s two files load: zookeeper.connect on the consumer, bootstrap.servers on the producer', () => {
  const f = files('zookeeper.connect=zk1:2181,zk2:2181\ngroup.id=mirrorgroup\n', 'bootstrap.servers=b1:9092,b2:9092\ncompression.type=none\n')
  const loaded = loadMirrorConfig([['consumer.config', f.consumer], ['producer.config', f.producer], ['whitelist', 'testtopic'], ['num.streams', '4']])
  assert.equal(loaded.settings.source.zookeeperConnect, 'zk1:2181,zk2:2181')
  assert.equal(loaded.settings.source.groupId, 'mirrorgroup')
  assert.deepEqual(loaded.settings.target.bootstrapServers, ['b1:9092', 'b2:9092'])
  assert.equal(loaded.settings.numStreams, 4)
  assert.equal(loaded.settings.target.acks, -1)
  assert.equal(loaded.settings.target.idempotent, true)
  assert.ok(loaded.warnings.some(w => w.includes('zookeeper.connect is deprecated')))
})

test('every problem is reported at once, each naming the file or flag, the key and the fix', () => {
  const f = files('group.id=g\nauto.offset.reset=oldest\n', 'compression.type=fast\nacks=2\nlinger.ms=soon\nbatch.sizee=10\n')
  const error = problemsOf(() => loadMirrorConfig([['consumer.config', f.consumer], ['producer.config', f.producer], ['whitelist', 'orders(']]))
  const text = error.message
  assert.match(text, /consumer\.properties: bootstrap\.servers: is missing/)
  assert.match(text, /consumer\.properties: auto\.offset\.reset: "oldest" is not allowed \(use one of: earliest/)
  assert.match(text, /producer\.properties: compression\.type: "fast" is not allowed \(use one of: none, gzip, snappy, lz4, zstd/)
  assert.match(text, /producer\.properties: acks: "2" is not allowed/)
  assert.match(text, /producer\.properties: linger\.ms: "soon" is not a whole number/)
  assert.match(text, /--whitelist: "orders\(" is not a valid regex/)
  assert.match(text, /producer\.properties: bootstrap\.servers: is missing/)
  assert.equal(error.problems.length, 7)
})

test('a missing file and a missing topic selection are both named', () => {
  const error = problemsOf(() => loadMirrorConfig([['consumer.config', '/nope/consumer.properties'], ['producer.config', '/nope/producer.properties']]))
  assert.match(error.message, /--consumer\.config: file \/nope\/consumer\.properties does not exist/)
  assert.match(error.message, /--producer\.config: file \/nope\/producer\.properties does not exist/)
  assert.match(error.message, /--include: is missing/)
})

test('unknown keys warn with a suggestion; they are not errors', () => {
  const f = files('bootstrap.servers=a:1\ngroup.idd=x\n', 'bootstrap.servers=b:1\n')
  const loaded = loadMirrorConfig([['consumer.config', f.consumer], ['producer.config', f.producer], ['include', 't']])
  assert.ok(loaded.warnings.some(w => w.includes('unknown key group.idd (did you mean group.id?)')), loaded.warnings.join('\n'))
})

test('topic selection: whole-name Java regex, commas, internal topics never', () => {
  const problems: never[] = []
  const include = compileTopicRegex('testtopic,orders\\..*', '--whitelist', problems)!
  const filter = { include, description: '' }
  assert.ok(topicMatches(filter, 'testtopic'))
  assert.ok(topicMatches(filter, 'orders.eu'))
  assert.ok(!topicMatches(filter, 'testtopic2'))
  assert.ok(!topicMatches({ include: compileTopicRegex('.*', '--whitelist', problems)!, description: '' }, '__consumer_offsets'))
  assert.ok(topicMatches({ include: compileTopicRegex('(?i)TEST.*+', '--include', problems)!, description: '' }, 'testing'))
  assert.equal(problems.length, 0)
})

test('docs/configuration.md is current (run npm run docs)', () => {
  const onDisk = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
  assert.equal(onDisk, configurationMarkdown())
})
