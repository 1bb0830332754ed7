// mm2.properties as MM2 reads it: layering, defaults, flows, filters, and every problem at once.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ConfigError } from '../../src/errors.ts'
import { loadMm2Argv } from '../../src/cli/mm2-command.ts'
import { mm2ConfigFromProperties, mm2Keys, requestedFeatures, type Mm2Config } from '../../src/mm2/config.ts'
import { flowMirrorSettings, Mm2Runner } from '../../src/mm2/runner.ts'

const load = (text: string, onlyTargets?: string[]): Mm2Config => mm2ConfigFromProperties(
  text.trim().split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#')).map(l => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]), 'mm2.properties', { onlyTargets })
const problemsOf = (fn: () => unknown): string[] => {
  try { fn() } catch (error) { if (error instanceof ConfigError) return error.problems.map(p => `${p.key ?? ''}: ${p.message}${p.fix !== undefined ? ` (${p.fix})` : ''}`); throw error }
  assert.fail('no ConfigError')
}
const base = `
  clusters = A, B
  A.bootstrap.servers = a1:9092,a2:9092
  B.bootstrap.servers = b1:9092
`
const flow = (config: Mm2Config, name: string) => config.flows.find(f => f.name === name)!

test('given a flow key, a top-level key and no key, then the flow\'s value wins, then the top level\'s, then MM2\'s default', () => {
  const config = load(`${base}
    A->B.enabled = true
    refresh.topics.interval.seconds = 30
    A->B.refresh.topics.interval.seconds = 5
    emit.checkpoints.interval.seconds = 7`)
  const ab = flow(config, 'A->B')
  const ba = flow(config, 'B->A')
  assert.equal(ab.get('refresh.topics.interval.seconds'), 5)
  assert.equal(ba.get('refresh.topics.interval.seconds'), 30)
  assert.equal(ab.get('emit.checkpoints.interval.seconds'), 7)
  assert.equal(ab.get('sync.topic.configs.interval.seconds'), 600)
  assert.equal(ab.get('replication.factor'), 2)
  assert.equal(ab.get('offset-syncs.topic.location'), 'source')
  assert.equal(ab.keyName('refresh.topics.interval.seconds'), 'A->B.refresh.topics.interval.seconds')
  assert.equal(flowMirrorSettings(ab).topicRefreshIntervalMs, 5000)
  assert.equal(flowMirrorSettings(ab).partitioning, 'source')
})

test('given flows, then only A->B.enabled=true (or a top-level enabled=true) enables one, as MM2\'s driver defaults enabled to false', () => {
  assert.deepEqual(load(`${base}\nA->B.enabled = true`).flows.map(f => `${f.name}=${f.enabled}`), ['A->B=true', 'B->A=false'])
  assert.deepEqual(load(`${base}\nenabled = true`).flows.map(f => `${f.name}=${f.enabled}`), ['A->B=true', 'B->A=true'])
  assert.deepEqual(problemsOf(() => load(base)), ['enabled: no flow is enabled (MM2 enables none by default) (add A->B.enabled=true or B->A.enabled=true)'])
})

test('given MM2\'s default topic excludes and the default policy, then internal topics, replicas and topics from the flow\'s target are not copied, heartbeats are', () => {
  const ab = flow(load(`${base}\nA->B.enabled = true`), 'A->B')
  const copied = ['orders', 'C.orders', 'heartbeats', 'C.heartbeats', 'orders.replica', 'B.orders', 'C.B.orders', 'mm2-offsets.B.internal', 'connect-status-internal', '__consumer_offsets', 'B.heartbeats']
    .filter(t => ab.shouldReplicateTopic(t))
  assert.deepEqual(copied, ['orders', 'C.orders', 'heartbeats', 'C.heartbeats'])
  assert.equal(flowMirrorSettings(ab).targetTopic!('orders'), 'A.orders')
})

test('given topics, topics.exclude and the deprecated topics.blacklist, then names and regexes match whole names and the old name works with a warning', () => {
  const config = load(`${base}
    A->B.enabled = true
    A->B.topics = orders.*, payments
    topics.blacklist = orders\\.tmp.*`)
  const ab = flow(config, 'A->B')
  assert.deepEqual(['orders', 'orders.v1', 'orders.tmp1', 'payments', 'payments2', 'x.payments'].filter(t => ab.topicFilter(t)), ['orders', 'orders.v1', 'payments'])
  assert.ok(config.warnings.some(w => w === 'mm2.properties: topics.blacklist is deprecated; use topics.exclude'), config.warnings.join('\n'))
  const empty = flow(load(`${base}\nA->B.enabled = true\nA->B.topics =`), 'A->B')
  assert.equal(empty.topicFilter('orders'), false)
})

test('given groups, groups.exclude and config.properties.exclude, then MM2\'s default excludes apply, and created topics get only the configs not excluded', () => {
  const ab = flow(load(`${base}\nA->B.enabled = true`), 'A->B')
  assert.deepEqual(['app', 'console-consumer-1', 'connect-x', '__x'].filter(g => ab.groupFilter(g)), ['app'])
  const configs = ['retention.ms', 'cleanup.policy', 'min.insync.replicas', 'message.timestamp.type', 'unclean.leader.election.enable', 'leader.replication.throttled.replicas']
  assert.deepEqual(configs.filter(c => ab.configPropertyFilter(c)), ['retention.ms', 'cleanup.policy'])
  assert.deepEqual(configs.filter(c => flowMirrorSettings(ab).topicConfigFilter!(c)), ['retention.ms', 'cleanup.policy'])
  const own = flow(load(`${base}\nA->B.enabled = true\nA->B.config.properties.exclude = retention\\..*`), 'A->B')
  assert.deepEqual(configs.filter(c => own.configPropertyFilter(c)), configs.filter(c => c !== 'retention.ms'))
})

test('given cluster connection keys, client overrides per cluster and per flow, then each client gets them in MM2\'s order', () => {
  const config = load(`${base}
    A->B.enabled = true
    security.protocol = PLAINTEXT
    A.consumer.fetch.min.bytes = 100
    A->B.consumer.fetch.min.bytes = 50
    A->B.consumer.fetch.max.wait.ms = 250
    B.producer.compression.type = zstd
    A->B.producer.acks = 1
    A->B.consumer.group.id = my-flow`)
  const ab = flow(config, 'A->B')
  assert.deepEqual(ab.sourceConsumer.bootstrapServers, ['a1:9092', 'a2:9092'])
  assert.deepEqual(ab.targetProducer.bootstrapServers, ['b1:9092'])
  // A.consumer.* is applied after A->B.consumer.*, as MirrorConnectorConfig.sourceConsumerConfig does.
  assert.equal(ab.sourceConsumer.fetchMinBytes, 100)
  assert.equal(ab.sourceConsumer.fetchMaxWaitMs, 250)
  assert.equal(ab.sourceConsumer.autoOffsetReset, 'earliest')
  assert.equal(ab.targetProducer.compression, 'zstd')
  assert.equal(ab.targetProducer.acks, 1)
  assert.equal(ab.groupId, 'my-flow')
  assert.equal(ab.sourceConsumer.groupId, 'my-flow')
  assert.equal(flow(config, 'B->A').groupId, 'kafka-mirror-mm2.B-A')
})

test('given a cluster-level consumer group.id, then it is not used for the flows (they would split each other\'s partitions) and a warning says how to name a flow\'s group', () => {
  const config = load(`${base}\nenabled = true\nA.consumer.group.id = shared`)
  assert.equal(flow(config, 'A->B').groupId, 'kafka-mirror-mm2.A-B')
  assert.ok(config.warnings.some(w => w.includes('A.consumer.group.id is ignored for flow A->B') && w.includes('set A->B.consumer.group.id')), config.warnings.join('\n'))
})

test('given bad values, a missing cluster address, a Java class and an unknown --clusters alias, then every problem is reported at once, each naming the key and the fix', () => {
  const problems = problemsOf(() => load(`
    clusters = A, B, C
    A.bootstrap.servers = a1:9092
    C.bootstrap.servers = c1
    A->B.enabled = true
    A->C.enabled = yes
    A->B.refresh.topics.interval.seconds = soon
    A->B.replication.factor = 0
    offset-syncs.topic.location = middle
    replication.policy.class = com.example.MyPolicy
    topic.filter.class = com.example.MyFilter
    A->B.topics = orders(
    A.consumer.isolation.level = read_most`, ['B', 'D']))
  const expected = [
    'A->C.enabled: "yes" is not a boolean (use true or false)',
    'A->B.refresh.topics.interval.seconds: "soon" is not a whole number (write digits only, for example 1000)',
    'A->B.replication.factor: is 0 (use -1 for the brokers\' default, or 1 or more)',
    'offset-syncs.topic.location: "middle" is not allowed (use one of: source, target)',
    'replication.policy.class: is not DefaultReplicationPolicy or IdentityReplicationPolicy: Java classes cannot run in kafka-mirror (use one of those two)',
    'topic.filter.class: names a class other than DefaultTopicFilter: Java classes cannot run in kafka-mirror (remove the key; select topics with topics and topics.exclude)',
    '--clusters: "D" is not in clusters (A, B, C) (use aliases from clusters)',
    'B.bootstrap.servers: is missing: cluster B is unknown (add B.bootstrap.servers=host:9092)'
  ]
  for (const e of expected) assert.ok(problems.includes(e), `missing: ${e}\nin:\n${problems.join('\n')}`)
  assert.ok(problems.some(p => p.startsWith('A->B.topics: is not a valid regex list')), problems.join('\n'))
  assert.ok(problems.some(p => p.startsWith('C.bootstrap.servers:') && p.includes('not host:port')), problems.join('\n'))
  assert.ok(problems.some(p => p.startsWith('A.consumer.isolation.level: "read_most" is not allowed')), problems.join('\n'))
})

test('given exactly.once.support=required without read_committed, then it is refused as MM2 refuses it', () => {
  assert.deepEqual(problemsOf(() => load(`${base}\nA->B.enabled = true\nexactly.once.support = required`)),
    ['exactly.once.support: is required, but the source consumer reads uncommitted records, so records of aborted transactions would be copied (set A.consumer.isolation.level=read_committed (or A->B.consumer.isolation.level))'])
  const config = load(`${base}\nenabled = true\nexactly.once.support = required\nA.consumer.isolation.level = read_committed\nB.consumer.isolation.level = read_committed\nB.exactly.once.source.support = enabled`)
  assert.equal(flow(config, 'A->B').sourceConsumer.readCommitted, true)
  // The worker key is read per target cluster, as MM2's workers read it.
  assert.equal(flow(config, 'A->B').get('exactly.once.source.support'), 'enabled')
  assert.equal(flow(config, 'B->A').get('exactly.once.source.support'), 'disabled')
  assert.ok(!config.warnings.some(w => w.includes('exactly.once.source.support')), config.warnings.join('\n'))
})

test('given B.exactly.once.source.support=enabled, then A->B copies in transactions with its positions in mm2-offsets.A.internal, nothing warns that exactly once is not done, and acks=1 for it is refused naming the key', () => {
  const config = load(`${base}\nA->B.enabled = true\nB->A.enabled = true\nB.exactly.once.source.support = enabled\nA->B.producer.transactional.id = mirror-ab`)
  const settings = flowMirrorSettings(flow(config, 'A->B'))
  assert.deepEqual({ ...settings.exactlyOnce }, { transactionalIdPrefix: 'mirror-ab', positionsTopic: 'mm2-offsets.A.internal', connector: 'MirrorSourceConnector', sourceAlias: 'A', transactionIntervalMs: 1000, transactionTimeoutMs: 60000 })
  assert.equal(flowMirrorSettings(flow(config, 'B->A')).exactlyOnce, undefined)
  const missing = Mm2Runner.missingFeatures(config.flows, [])
  assert.ok(!missing.some(w => w.includes('exactly-once')), missing.join('\n'))
  assert.deepEqual(problemsOf(() => load(`${base}\nA->B.enabled = true\nB.exactly.once.source.support = enabled\nA->B.producer.acks = 1`)),
    ['A->B.producer.acks: acks=1 cannot go with B.exactly.once.source.support=enabled: transactions need acks=all (set acks=all (the default))'])
})

test('given transaction.boundary, then interval sets how often transactions commit (default offset.flush.interval.ms), and connector is refused naming the key', () => {
  const eos = `${base}\nA->B.enabled = true\nB.exactly.once.source.support = enabled`
  const intervalOf = (extra: string): number | undefined => flowMirrorSettings(flow(load(`${eos}\n${extra}`), 'A->B')).exactlyOnce?.transactionIntervalMs
  assert.equal(intervalOf(''), 1000)
  assert.equal(intervalOf('transaction.boundary = poll'), 1000)
  assert.equal(intervalOf('transaction.boundary = interval\noffset.flush.interval.ms = 20000'), 20000)
  assert.equal(intervalOf('A->B.transaction.boundary = interval\nA->B.transaction.boundary.interval.ms = 250'), 250)
  assert.deepEqual(problemsOf(() => load(`${eos}\nA->B.transaction.boundary = connector`)),
    ['A->B.transaction.boundary: is connector, but MirrorSourceConnector does not define transaction boundaries (Kafka Connect refuses it too) (set A->B.transaction.boundary to poll (the default) or interval)'])
  // Without exactly once the key changes nothing and is not refused
  assert.doesNotThrow(() => load(`${base}\nA->B.enabled = true\ntransaction.boundary = connector`))
})

test('given keys MM2 ignores or kafka-mirror does not do, then each is named in a warning with what happens instead, never silently', () => {
  const config = load(`${base}
    A->B.enabled = true
    A.topics = orders
    consumer.max.poll.records = 10
    offset.storage.replication.factor = 1
    A->B.offset.lag.max = 10
    A->B.emit.heartbaets.enabled = false
    made.up.key = 1`)
  const expected = [
    'mm2.properties: A.topics is ignored, as MM2 ignores it: a cluster-level key configures only the clients of A; write topics=… (every flow) or <source>-><target>.topics (one flow)',
    'mm2.properties: consumer.max.poll.records is ignored, as MM2 ignores it: client keys apply per cluster or per flow; write <alias>.consumer.max.poll.records or <source>-><target>.consumer.max.poll.records',
    'mm2.properties: A->B.emit.heartbaets.enabled: unknown key; it is ignored, as MM2 ignores keys it does not know'
  ]
  const text = config.warnings.join('\n')
  assert.ok(config.warnings.includes(expected[0]), text)
  assert.ok(config.warnings.includes(expected[1]), text)
  assert.ok(config.warnings.some(w => w.startsWith('mm2.properties: unknown key A->B.emit.heartbaets.enabled (did you mean A->B.emit.heartbeats.enabled?)')), text)
  assert.ok(config.warnings.some(w => w.startsWith('mm2.properties: unknown key made.up.key')), text)
  assert.ok(config.warnings.some(w => w.startsWith('mm2.properties: offset.storage.replication.factor is ignored: kafka-mirror keeps no Kafka Connect topics')), text)
  // Features of plug-ins this build lacks: named with the key that asks for them and what happens instead.
  const ab = flow(config, 'A->B')
  assert.equal(requestedFeatures(ab).get('heartbeats'), 'emit.heartbeats.enabled')
  const missing = Mm2Runner.missingFeatures([ab], [{ name: 'checkpoints', features: ['checkpoints', 'offset-syncs'], create: () => undefined }])
  assert.ok(missing.some(w => w.startsWith('emit.heartbeats.enabled is true for A->B, but kafka-mirror does not do heartbeats yet')), missing.join('\n'))
  assert.ok(!missing.some(w => w.includes('checkpoints yet')), missing.join('\n'))
})

test('given the identity policy, then target topics keep their names and the flow stamps a provenance header', () => {
  const ab = flow(load(`${base}\nA->B.enabled = true\nreplication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy`), 'A->B')
  const settings = flowMirrorSettings(ab)
  assert.equal(settings.targetTopic!('orders'), 'orders')
  assert.equal(typeof settings.rewriteRecord, 'function')
  assert.equal(flowMirrorSettings(flow(load(`${base}\nA->B.enabled = true`), 'A->B')).rewriteRecord, undefined)
})

test('given a separator, then remote and internal names use it unless the internal separator is turned off', () => {
  const ab = flow(load(`${base}\nA->B.enabled = true\nreplication.policy.separator = _\nreplication.policy.internal.topic.separator.enabled = false`), 'A->B')
  assert.equal(ab.policy.formatRemoteTopic('A', 'orders'), 'A_orders')
  assert.equal(ab.policy.checkpointsTopic('A'), 'A.checkpoints.internal')
})

test('given the mm2 command line, then the file and --clusters (several words or commas) are read, and secrets never show', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-mm2-'))
  const file = join(dir, 'mm2.properties')
  writeFileSync(file, `${base}\nclusters = A, B, C\nC.bootstrap.servers = c1:9092\nA->B.enabled = true\nA->C.enabled = true\nA.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="hunter22";\n`)
  const words = loadMm2Argv([file, '--clusters', 'B', 'C'])
  assert.deepEqual(words.onlyTargets, ['B', 'C'])
  const commas = loadMm2Argv(['--clusters', 'C', file])
  assert.deepEqual(commas.onlyTargets, ['C'])
  assert.ok(commas.config.properties.some(([k, v]) => k === 'A.sasl.jaas.config' && v === '[hidden]'))
  assert.ok(!JSON.stringify(commas.config.properties).includes('hunter22'))
  assert.throws(() => loadMm2Argv([]), (error: ConfigError) => error.problems.some(p => p.message === 'the mm2.properties file is missing'))
})

test('given every declared key, then each has a doc and MM2\'s default where MM2 has one', () => {
  const defaults = Object.fromEntries(mm2Keys.map(k => [k.name, k.default]))
  assert.equal(defaults['refresh.topics.interval.seconds'], 600)
  assert.equal(defaults['emit.heartbeats.interval.seconds'], 1)
  assert.equal(defaults['emit.checkpoints.interval.seconds'], 60)
  assert.equal(defaults['sync.group.offsets.enabled'], false)
  assert.equal(defaults['offset.lag.max'], 100)
  assert.deepEqual(defaults['topics.exclude'], ['.*[\\-\\.]internal', '.*\\.replica', '__.*'])
  for (const key of mm2Keys) assert.ok(key.doc.length > 10, key.name)
})

test('given kafka-mirror mm2 --help, --validate on a good file and on a bad one, then the help lists every key, a good file prints its flows with exit 0, a bad one every problem with exit 2', async () => {
  const { runKafkaMirror } = await import('../helpers/cli.ts')
  const help = await runKafkaMirror(['mm2', '--help'])
  assert.equal(help.code, 0)
  for (const key of mm2Keys) assert.ok(help.stdout.includes(`  ${key.name}`), key.name)
  const dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-mm2-'))
  const good = join(dir, 'good.properties')
  writeFileSync(good, `${base}\nA->B.enabled = true\n`)
  const valid = await runKafkaMirror(['mm2', good, '--validate'])
  assert.equal(valid.code, 0, valid.stderr)
  assert.match(valid.stdout, /would run 1 flow\.\n {2}A->B: .*a1:9092,a2:9092 to b1:9092, group kafka-mirror-mm2\.A-B, topic t becomes A\.t/)
  assert.doesNotMatch(valid.stderr, /does not do checkpoints/)
  const bad = join(dir, 'bad.properties')
  writeFileSync(bad, `${base}\nA->B.enabled = maybe\nreplication.factor = two\n`)
  const invalid = await runKafkaMirror(['mm2', bad, '--validate'])
  assert.equal(invalid.code, 2)
  assert.match(invalid.stderr, /There are 2 problems with the configuration:\n {2}- bad\.properties: A->B\.enabled: "maybe" is not a boolean \(use true or false\)\n {2}- bad\.properties: replication\.factor: "two" is not a whole number/)
})
