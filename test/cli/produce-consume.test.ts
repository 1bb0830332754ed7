// `kafka-mirror produce` and `kafka-mirror consume`, driven in-process with their own stdin and
// stdout, checked against kcat (librdkafka) as the independent client.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { partitionForKey } from '../../src/mirror/partitioner.ts'
import { createTestTopic, testClusters, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts'
import { runKafkaMirror, startCli, type CliRun } from '../helpers/cli.ts'

const kafkaMirror = runKafkaMirror

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

test('produce: keyed lines (parse.key) arrive byte-equal, with their keys, where Java\'s partitioner puts them', async () => {
  const { source } = await testClusters()
  // Given a topic with 8 partitions and keyed lines, some of them non-ASCII, one with the separator in its value
  const topic = await createTestTopic(source, { partitions: 8, replicas: 2 })
  const lines = Array.from({ length: 60 }, (_, i) => `key-${i % 12}:value ${i} ✓ ünïcode`)
  lines.push('clé:a:b', 'empty-value:')
  // When they are piped into produce, the tutorial's way (--broker-list) with a key separator
  const run = await kafkaMirror(['produce', '--broker-list', source, '--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=:'], lines.join('\n') + '\n')
  // Then it exits 0 after every line is acknowledged
  assert.equal(run.code, 0, run.stderr)
  // And kcat reads each line back as key and value, byte for byte
  const read = await kcatConsume(source, topic)
  const expected = lines.map(l => { const at = l.indexOf(':'); return `${l.slice(0, at)}\u0000${l.slice(at + 1)}` }).sort()
  assert.deepEqual(read.map(r => `${r.key!.toString('utf8')}\u0000${r.value!.toString('utf8')}`).sort(), expected)
  for (const r of read) {
    // And each record sits in the partition Kafka's Java producer would pick for its key
    assert.equal(r.partition, partitionForKey(r.key!, 8), r.key!.toString())
  }
  // And the lines of one key keep their order
  const ofKey3 = read.filter(r => r.key!.toString() === 'key-3').sort((a, b) => Number(a.offset - b.offset)).map(r => r.value!.toString())
  assert.deepEqual(ofKey3, lines.filter(l => l.startsWith('key-3:')).map(l => l.slice(6)))
})

test('produce: parse.headers and null.marker give headers and tombstones; bad lines stop it with exit 2', async () => {
  const { source } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 1, replicas: 1 })
  // Given lines with headers before a tab, and a value written as the null marker
  const input = 'source:web,trace:42\tk1:v1\n\tk2:NULL\n'
  // When they are produced with gzip (a bare --compression-codec, as Kafka's tool allows) and acks=1
  const run = await kafkaMirror(['produce', '--bootstrap-server', source, '--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=:',
    '--property', 'parse.headers=true', '--property', 'null.marker=NULL', '--compression-codec', '--request-required-acks', '1'], input)
  assert.equal(run.code, 0, run.stderr)
  // Then kcat sees the headers, the keys, the value and the tombstone
  const read = await kcatConsume(source, topic)
  assert.equal(read.length, 2)
  assert.equal(read[0].headers, 'source=web,trace=42')
  assert.equal(read[0].key!.toString(), 'k1')
  assert.equal(read[0].value!.toString(), 'v1')
  assert.equal(read[1].key!.toString(), 'k2')
  assert.equal(read[1].value, null)
  // When a line lacks the key separator
  const bad = await kafkaMirror(['produce', '--bootstrap-server', source, '--topic', topic, '--property', 'parse.key=true'], 'k3\tv3\nno separator here\n')
  // Then it stops with exit 2, naming the line; the lines before it were sent
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /No key separator "\\t" found on line number 2: 'no separator here'/)
  assert.equal((await kcatConsume(source, topic)).length, 3)
})

test('consume --from-beginning --max-messages N --property print.key=true prints exactly what kcat produced', async () => {
  const { source } = await testClusters()
  // Given 40 keyed records written by kcat across 4 partitions
  const topic = await createTestTopic(source, { partitions: 4, replicas: 2 })
  const lines = Array.from({ length: 40 }, (_, i) => `k${i % 7}:value-${i}`)
  await kcatProduce(source, topic, lines)
  // When they are consumed from the beginning, up to 40 messages, printing keys
  const run = await kafkaMirror(['consume', '--bootstrap-server', source, '--topic', topic, '--from-beginning', '--max-messages', '40', '--property', 'print.key=true'])
  // Then it exits 0 and prints each record once as key<TAB>value
  assert.equal(run.code, 0, run.stderr)
  const printed = run.stdout.split('\n').filter(l => l !== '')
  assert.deepEqual([...printed].sort(), lines.map(l => l.replace(':', '\t')).sort())
  // And records of one key keep their order
  assert.deepEqual(printed.filter(l => l.startsWith('k3\t')), lines.filter(l => l.startsWith('k3:')).map(l => l.replace(':', '\t')))
  // And it reports the count on stderr, as Kafka's tool does
  assert.match(run.stderr, /Processed a total of 40 messages/)
})

test('consume prints partition, offset, timestamp and headers in Kafka\'s format, and stops after --timeout-ms', async () => {
  const { source } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 1, replicas: 1 })
  await kcatProduce(source, topic, ['k1:v1', 'k2:v2'], { h1: 'x', h2: 'y' })
  // When every field is printed with a custom separator, with no message limit but a 2 s idle timeout
  const run = await kafkaMirror(['consume', '--bootstrap-server', source, '--topic', topic, '--from-beginning', '--timeout-ms', '2000',
    '--property', 'print.timestamp=true', '--property', 'print.partition=true', '--property', 'print.offset=true',
    '--property', 'print.headers=true', '--property', 'print.key=true', '--property', 'key.separator= | '])
  // Then it exits 0 once the topic is idle, with lines as Kafka's DefaultMessageFormatter writes them
  assert.equal(run.code, 0, run.stderr)
  const printed = run.stdout.trimEnd().split('\n')
  assert.equal(printed.length, 2)
  assert.match(printed[0], /^CreateTime:\d{13} \| Partition:0 \| Offset:0 \| h1:x,h2:y \| k1 \| v1$/)
  assert.match(printed[1], /^CreateTime:\d{13} \| Partition:0 \| Offset:1 \| h1:x,h2:y \| k2 \| v2$/)
  assert.match(run.stderr, /Processed a total of 2 messages/)
  // And --partition with --offset starts exactly there
  const fromOne = await kafkaMirror(['consume', '--bootstrap-server', source, '--topic', topic, '--partition', '0', '--offset', '1', '--max-messages', '1', '--property', 'print.offset=true'])
  assert.equal(fromOne.code, 0, fromOne.stderr)
  assert.equal(fromOne.stdout, 'Offset:1\tv2\n')
})

test('consume starts at the end without --from-beginning, like Kafka\'s tool', async () => {
  const { source } = await testClusters()
  // Given a topic that already holds records
  const topic = await createTestTopic(source, { partitions: 2, replicas: 1 })
  await kcatProduce(source, topic, ['old:before-1', 'old:before-2'])
  // When consume starts without --from-beginning, and new records keep arriving
  const consumer = startCli(['consume', '--bootstrap-server', source, '--topic', topic, '--max-messages', '1'])
  let n = 0
  let result: CliRun | undefined
  consumer.finished.then(r => { result = r }, () => {})
  while (result === undefined && n < 120) {
    await kcatProduce(source, topic, [`new:after-${n++}`])
    await sleep(250)
  }
  const run = await consumer.finished
  // Then it printed a new record, never an old one
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /^after-\d+\n$/)
})

test('consume --group commits what it printed: the next run in the group goes on from there', async () => {
  const { source } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 1, replicas: 1 })
  await kcatProduce(source, topic, ['a:1', 'b:2', 'c:3', 'd:4', 'e:5'])
  const group = `group-${topic}`
  // When a consumer in a group reads 3 records from the beginning
  const first = await kafkaMirror(['consume', '--bootstrap-server', source, '--topic', topic, '--group', group, '--from-beginning', '--max-messages', '3'])
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.stdout, '1\n2\n3\n')
  // Then the next one in the group prints the remaining 2, even with --from-beginning
  const second = await kafkaMirror(['consume', '--bootstrap-server', source, '--topic', topic, '--group', group, '--from-beginning', '--timeout-ms', '3000'])
  assert.equal(second.code, 0, second.stderr)
  assert.equal(second.stdout, '4\n5\n')
})

test('Ctrl+C stops consume and produce cleanly with exit 0; produce delivers every line read', async () => {
  const { source } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 3, replicas: 2 })
  // Given a producer reading a stdin that stays open, like a terminal
  const producer = startCli(['produce', '--bootstrap-server', source, '--topic', topic])
  producer.stdin.write('first\nsecond\n')
  await waitForRecords(source, topic, 2, 30_000)
  producer.stdin.write('third\n')
  // When it is interrupted
  await sleep(200)
  producer.interrupt()
  // Then it exits 0 and every line it read is in the topic
  const produced = await producer.finished
  assert.equal(produced.code, 0, produced.stderr)
  assert.deepEqual((await kcatConsume(source, topic)).map(r => r.value!.toString()).sort(), ['first', 'second', 'third'])
  // Given a consumer with no limit, that printed them
  const consumer = startCli(['consume', '--bootstrap-server', source, '--topic', topic, '--from-beginning'])
  const deadline = Date.now() + 30_000
  while (consumer.output().split('\n').length < 4 && Date.now() < deadline) await sleep(100)
  // When it is interrupted
  consumer.interrupt()
  // Then it exits 0 and reports the count
  const consumed = await consumer.finished
  assert.equal(consumed.code, 0, consumed.stderr)
  assert.equal(consumed.stdout.split('\n').filter(l => l !== '').length, 3)
  assert.match(consumed.stderr, /Processed a total of 3 messages/)
})

test('bad input: missing --topic, unknown flags, no cluster, a word for a number: exit 2, all named at once', async () => {
  // Given produce without --topic or a cluster, and a misspelt flag
  const produce = await kafkaMirror(['produce', '--propery', 'parse.key=true', '--request-required-acks', 'some'])
  // Then every problem is in one message
  assert.equal(produce.code, 2)
  assert.match(produce.stderr, /There are 4 problems/)
  assert.match(produce.stderr, /--propery: is not a known flag \(did you mean --property\?\)/)
  assert.match(produce.stderr, /--request-required-acks: "some" is not allowed \(use one of: all, -1, 0, 1\)/)
  assert.match(produce.stderr, /--topic: is required/)
  assert.match(produce.stderr, /none of --bootstrap-server, --broker-list, --zookeeper was given/)
  // Given consume with a word for --max-messages, --offset without --partition and a bad property value
  const consume = await kafkaMirror(['consume', '--bootstrap-server', 'localhost:9092', '--topic', 't', '--max-messages', 'ten', '--offset', '5', '--property', 'print.key=yes'])
  assert.equal(consume.code, 2)
  assert.match(consume.stderr, /--max-messages: "ten" is not a whole number/)
  assert.match(consume.stderr, /--offset: needs --partition/)
  assert.match(consume.stderr, /--property: print\.key: "yes" is not a boolean/)
  // Given both --bootstrap-server and --broker-list
  const both = await kafkaMirror(['produce', '--bootstrap-server', 'localhost:9092', '--broker-list', 'localhost:9092', '--topic', 't'])
  assert.equal(both.code, 2)
  assert.match(both.stderr, /--bootstrap-server and --broker-list were both given/)
})

test('a topic that does not exist is a clear error for produce and consume', async () => {
  const { source } = await testClusters()
  const produce = await kafkaMirror(['produce', '--bootstrap-server', source, '--topic', 'no-such-topic-here'], 'x\n')
  assert.equal(produce.code, 1)
  assert.match(produce.stderr, /Topic no-such-topic-here does not exist on the cluster at .*topics --list shows the topics/)
  const consume = await kafkaMirror(['consume', '--bootstrap-server', source, '--topic', 'no-such-topic-here', '--timeout-ms', '1000'])
  assert.equal(consume.code, 1)
  assert.match(consume.stderr, /Topic no-such-topic-here does not exist on the cluster at /)
})
