// `kafka-mirror topics`, driven in-process as a user would type it, against the shared clusters.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { runKafkaMirror, type CliRun } from '../helpers/cli.ts'
import { testClusters, uniqueName } from '../helpers/clusters.ts'

const kafkaMirror = async (...argv: string[]): Promise<CliRun> => await runKafkaMirror(argv)

async function listed (bootstrap: string): Promise<string[]> {
  const run = await kafkaMirror('topics', '--bootstrap-server', bootstrap, '--list')
  assert.equal(run.code, 0, run.stderr)
  return run.stdout.split('\n').filter(l => l !== '')
}

test('--create with 8 partitions and replication factor 2, then --list shows it and --describe shows its shape', async () => {
  const { source } = await testClusters()
  const topic = uniqueName('testtopic')
  // Given the tutorial's create command (modern spelling)
  // When it runs
  const created = await kafkaMirror('topics', '--create', '--replication-factor', '2', '--partitions', '8', '--topic', topic, '--bootstrap-server', source)
  // Then it says so, as kafka-topics.sh does
  assert.equal(created.code, 0, created.stderr)
  assert.equal(created.stdout, `Created topic ${topic}.\n`)
  // And --list names it
  assert.ok((await listed(source)).includes(topic))
  // And --describe prints kafka-topics.sh's format: a topic line, then one line per partition
  const described = await kafkaMirror('topics', '--bootstrap-server', source, '--describe', '--topic', topic)
  assert.equal(described.code, 0, described.stderr)
  const lines = described.stdout.trimEnd().split('\n')
  assert.match(lines[0], new RegExp(`^Topic: ${topic}\\tTopicId: [A-Za-z0-9_-]{22}\\tPartitionCount: 8\\tReplicationFactor: 2\\tConfigs: $`))
  assert.equal(lines.length, 9)
  lines.slice(1).forEach((line, partition) => {
    const m = new RegExp(`^\\tTopic: ${topic}\\tPartition: ${partition}\\tLeader: (\\d+)\\tReplicas: (\\d+,\\d+)\\tIsr: ([\\d,]+)$`).exec(line)
    assert.ok(m !== null, line)
    // And the leader is one of the two replicas, both brokers of the cluster
    assert.ok(m[2].split(',').includes(m[1]))
    assert.deepEqual(m[2].split(',').sort(), ['1', '2'])
  })
})

test('--create of an existing topic fails with a clear message, unless --if-not-exists', async () => {
  const { source } = await testClusters()
  // Given a topic that exists
  const topic = uniqueName('exists')
  assert.equal((await kafkaMirror('topics', '--bootstrap-server', source, '--create', '--topic', topic, '--partitions', '2', '--replication-factor', '1')).code, 0)
  // When it is created again
  const again = await kafkaMirror('topics', '--bootstrap-server', source, '--create', '--topic', topic, '--partitions', '2', '--replication-factor', '1')
  // Then that fails, naming the topic and the way out
  assert.equal(again.code, 1)
  assert.match(again.stderr, new RegExp(`Topic '${topic}' already exists.*--if-not-exists`))
  assert.equal(again.stdout, '')
  // When --if-not-exists is added
  const tolerant = await kafkaMirror('topics', '--bootstrap-server', source, '--create', '--topic', topic, '--partitions', '2', '--if-not-exists')
  // Then it succeeds quietly
  assert.equal(tolerant.code, 0, tolerant.stderr)
  assert.equal(tolerant.stdout, '')
})

test('--create takes --config and a --command-config file; --describe shows the configs', async () => {
  const { source } = await testClusters()
  // Given client settings in a properties file, as for a secured cluster
  const dir = mkdtempSync(join(tmpdir(), 'topics-'))
  const file = join(dir, 'admin.properties')
  writeFileSync(file, 'security.protocol=PLAINTEXT\nclient.id=topics-test\nrequest.timeout.ms=20000\n')
  const topic = uniqueName('configured')
  // When a topic is created with two configs through that connection
  const created = await kafkaMirror('topics', '--bootstrap-server', source, '--command-config', file, '--create', '--topic', topic,
    '--partitions', '3', '--replication-factor', '2', '--config', 'retention.ms=7200000', '--config', 'cleanup.policy=compact')
  assert.equal(created.code, 0, created.stderr)
  // Then --describe lists exactly those configs, sorted as name=value
  const described = await kafkaMirror('topics', '--bootstrap-server', source, '--command-config', file, '--describe', '--topic', topic)
  assert.equal(described.code, 0, described.stderr)
  assert.match(described.stdout.split('\n')[0], /\tPartitionCount: 3\tReplicationFactor: 2\tConfigs: cleanup\.policy=compact,retention\.ms=7200000$/)
  // And --topics-with-overrides prints only the topic line
  const overrides = await kafkaMirror('topics', '--bootstrap-server', source, '--describe', '--topic', topic, '--topics-with-overrides')
  assert.equal(overrides.stdout.trimEnd().split('\n').length, 1)
})

test('--alter raises the partition count, and refuses to lower it', async () => {
  const { source } = await testClusters()
  const topic = uniqueName('alter')
  assert.equal((await kafkaMirror('topics', '--bootstrap-server', source, '--create', '--topic', topic, '--partitions', '2', '--replication-factor', '1')).code, 0)
  // When the topic is altered to 5 partitions
  const altered = await kafkaMirror('topics', '--bootstrap-server', source, '--alter', '--topic', topic, '--partitions', '5')
  assert.equal(altered.code, 0, altered.stderr)
  // Then --describe counts 5
  const described = await kafkaMirror('topics', '--bootstrap-server', source, '--describe', '--topic', topic)
  assert.match(described.stdout, /PartitionCount: 5\t/)
  // When it is altered down to 3
  const lower = await kafkaMirror('topics', '--bootstrap-server', source, '--alter', '--topic', topic, '--partitions', '3')
  // Then that is refused as bad input
  assert.equal(lower.code, 2)
  assert.match(lower.stderr, /can only be increased/)
})

test('--delete removes the topic; deleting it again fails unless --if-exists', async () => {
  const { source } = await testClusters()
  // Given a topic
  const topic = uniqueName('doomed')
  assert.equal((await kafkaMirror('topics', '--bootstrap-server', source, '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1')).code, 0)
  // When it is deleted
  const deleted = await kafkaMirror('topics', '--bootstrap-server', source, '--delete', '--topic', topic)
  assert.equal(deleted.code, 0, deleted.stderr)
  assert.equal(deleted.stdout, `Topic ${topic} is marked for deletion.\n`)
  // Then --list no longer shows it (deletion finishes in the background)
  const deadline = Date.now() + 30_000
  while ((await listed(source)).includes(topic)) {
    assert.ok(Date.now() < deadline, `${topic} is still listed after 30 s`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  // And deleting it again fails, naming it
  const again = await kafkaMirror('topics', '--bootstrap-server', source, '--delete', '--topic', topic)
  assert.equal(again.code, 1)
  assert.match(again.stderr, new RegExp(`Topic '${topic}' does not exist`))
  // And with --if-exists it is not an error
  assert.equal((await kafkaMirror('topics', '--bootstrap-server', source, '--delete', '--topic', topic, '--if-exists')).code, 0)
})

test('bad input: every problem is named in one message, exit 2, before any connection', async () => {
  // Given a command with a misspelt flag, a word for a number, no --topic and no cluster
  // When it runs
  const run = await kafkaMirror('topics', '--create', '--partitions', 'zero', '--replcation-factor', '2')
  // Then it exits 2 with one message naming each problem
  assert.equal(run.code, 2)
  assert.match(run.stderr, /There are 4 problems/)
  assert.match(run.stderr, /--replcation-factor: is not a known flag \(did you mean --replication-factor\?\)/)
  assert.match(run.stderr, /--partitions: "zero" is not a whole number/)
  assert.match(run.stderr, /--topic: is required with --create/)
  assert.match(run.stderr, /none of --bootstrap-server, --broker-list, --zookeeper was given/)
  assert.equal(run.stdout, '')
})

test('bad input: no action, two clusters, a flag that does not fit the action, a bad config file', async () => {
  const { source } = await testClusters()
  // Given no action at all
  const none = await kafkaMirror('topics', '--bootstrap-server', source)
  assert.equal(none.code, 2)
  assert.match(none.stderr, /no action was given \(give exactly one of --list, --describe, --create, --alter or --delete\)/)
  // Given --bootstrap-server and --zookeeper together
  const both = await kafkaMirror('topics', '--bootstrap-server', source, '--zookeeper', 'localhost:2181', '--list')
  assert.equal(both.code, 2)
  assert.match(both.stderr, /--bootstrap-server and --zookeeper were both given/)
  // Given --replication-factor with --list, and a --command-config that does not exist
  const mixed = await kafkaMirror('topics', '--bootstrap-server', source, '--list', '--replication-factor', '2', '--command-config', '/nonexistent/admin.properties')
  assert.equal(mixed.code, 2)
  assert.match(mixed.stderr, /--replication-factor: cannot be used with --list/)
  assert.match(mixed.stderr, /--command-config: file \/nonexistent\/admin.properties does not exist/)
  // Given SASL without credentials in the --command-config
  const dir = mkdtempSync(join(tmpdir(), 'topics-'))
  const file = join(dir, 'sasl.properties')
  writeFileSync(file, 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n')
  const sasl = await kafkaMirror('topics', '--bootstrap-server', source, '--list', '--command-config', file)
  assert.equal(sasl.code, 2)
  assert.match(sasl.stderr, /sasl\.jaas\.config: SASL_PLAINTEXT with PLAIN needs a username and a password/)
})

test('--help prints the flags, generated from their declarations', async () => {
  const run = await kafkaMirror('topics', '--help')
  assert.equal(run.code, 0)
  for (const flag of ['--bootstrap-server', '--zookeeper', '--command-config', '--create', '--list', '--describe', '--delete', '--topic', '--partitions', '--replication-factor', '--config', '--if-not-exists', '--if-exists']) {
    assert.ok(run.stdout.includes(`  ${flag}`), flag)
  }
})
