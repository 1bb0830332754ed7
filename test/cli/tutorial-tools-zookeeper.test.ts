// The MirrorMaker tutorial's console-tool steps, in their ZooKeeper-era spelling (--zookeeper,
// --broker-list), against a ZooKeeper-mode Kafka cluster.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { runKafkaMirror } from '../helpers/cli.ts'
import { startZooKeeperCluster, type KafkaCluster } from '../../harness/cluster.ts'
import { uniqueName } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'

const kafkaMirror = runKafkaMirror

describe('the tutorial\'s tools against a ZooKeeper-mode cluster', { timeout: 300_000 }, () => {
  let cluster: KafkaCluster
  let zookeeper: string

  before(async () => {
    cluster = await startZooKeeperCluster({ name: 'zk-tools', brokers: 2 })
    assert.ok(cluster.zookeeper)
    zookeeper = cluster.zookeeper
  })

  after(async () => {
    await cluster?.stop()
  })

  test('create, list, produce, consume: the tutorial\'s commands, word for word', async () => {
    const topic = uniqueName('testtopic')
    // Given the tutorial's create command with --zookeeper
    const created = await kafkaMirror(['topics', '--create', '--replication-factor', '2', '--partitions', '8', '--topic', topic, '--zookeeper', zookeeper])
    // Then the topic is created, with a one-line note that --zookeeper is deprecated
    assert.equal(created.code, 0, created.stderr)
    assert.equal(created.stdout, `Created topic ${topic}.\n`)
    const notes = created.stderr.split('\n').filter(l => l !== '')
    assert.equal(notes.length, 1)
    assert.match(notes[0], /--zookeeper is deprecated.*--bootstrap-server 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+/)

    // When the topics are listed through ZooKeeper
    const listed = await kafkaMirror(['topics', '--list', '--zookeeper', zookeeper])
    // Then the new one is there
    assert.equal(listed.code, 0, listed.stderr)
    assert.ok(listed.stdout.split('\n').includes(topic), listed.stdout)
    // And --describe finds its 8 partitions, each on both brokers
    const described = await kafkaMirror(['topics', '--describe', '--topic', topic, '--zookeeper', zookeeper])
    assert.equal(described.code, 0, described.stderr)
    assert.match(described.stdout, /\tPartitionCount: 8\tReplicationFactor: 2\t/)
    assert.equal(described.stdout.match(/\tReplicas: \d,\d\t/g)?.length, 8)

    // When lines are typed into the producer with --broker-list, ending with EOF
    const lines = Array.from({ length: 25 }, (_, i) => `This is message ${i}`)
    const produced = await kafkaMirror(['produce', '--broker-list', cluster.bootstrap, '--topic', topic], lines.join('\n') + '\n')
    // Then each is a record, as kcat sees them
    assert.equal(produced.code, 0, produced.stderr)
    assert.deepEqual((await kcatConsume(cluster.bootstrap, topic)).map(r => r.value!.toString()).sort(), [...lines].sort())

    // When the consumer reads them from the beginning through ZooKeeper
    const consumed = await kafkaMirror(['consume', '--zookeeper', zookeeper, '--topic', topic, '--from-beginning', '--max-messages', String(lines.length)])
    // Then it prints every line once and exits 0
    assert.equal(consumed.code, 0, consumed.stderr)
    assert.deepEqual(consumed.stdout.split('\n').filter(l => l !== '').sort(), [...lines].sort())
    assert.match(consumed.stderr, /--zookeeper is deprecated/)
    assert.match(consumed.stderr, new RegExp(`Processed a total of ${lines.length} messages`))
  })

  test('--zookeeper pointing at nothing fails with a message naming ZooKeeper', async () => {
    // Given a ZooKeeper address where nothing listens
    // When topics are listed through it
    const run = await kafkaMirror(['topics', '--list', '--zookeeper', '127.0.0.1:1'])
    // Then it fails, saying where it looked
    assert.equal(run.code, 1)
    assert.match(run.stderr, /Cannot discover Kafka brokers from zookeeper\.connect "127\.0\.0\.1:1"/)
    assert.equal(run.stdout, '')
  })

  test('--zookeeper and --bootstrap-server together are refused before connecting', async () => {
    const run = await kafkaMirror(['consume', '--zookeeper', zookeeper, '--bootstrap-server', cluster.bootstrap, '--topic', 't'])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /--bootstrap-server and --zookeeper were both given; exactly one names the cluster/)
  })
})

