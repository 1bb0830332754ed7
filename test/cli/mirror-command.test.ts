import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Producer } from '@platformatic/kafka'
import { startZooKeeperCluster, type KafkaCluster } from '../../harness/cluster.ts'
import { runKafkaMirror } from '../helpers/cli.ts'
import { createTestTopic, testClusters, topicRecordCount, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'

const bin = fileURLToPath(new URL('../../bin/kafka-mirror.ts', import.meta.url))


function startMirrorProcess (argv: string[]): { child: ChildProcess, output: () => string, exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', d => { output += String(d) })
  child.stderr!.on('data', d => { output += String(d) })
  const exited = new Promise<number | null>(resolve => child.once('exit', (code, signal) => resolve(code ?? (signal !== null ? -1 : null))))
  return { child, output: () => output, exited }
}

async function waitForOutput (output: () => string, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!pattern.test(output())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the mirror's output:\n${output()}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

test('bad input: every problem in the flags and both files is named at once, exit 2', async () => {
  const { source } = await testClusters()
  const files = writeTutorialConfigs(source, source, { producer: { 'compression.type': 'fast' } })
  writeFileSync(files.consumer, 'group.id=mirrorgroup\n')
  const result = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', 'test(', '--num.streams', 'four', '--no.such.flag', 'x'])
  assert.equal(result.code, 2)
  assert.match(result.stderr, /consumer\.properties: bootstrap\.servers: is missing/)
  assert.match(result.stderr, /producer\.properties: compression\.type: "fast" is not allowed/)
  assert.match(result.stderr, /--whitelist: "test\(" is not a valid regex/)
  assert.match(result.stderr, /--num\.streams: "four" is not a whole number/)
  assert.match(result.stderr, /--no\.such\.flag: is not a known flag/)
})

test('bad input: a missing file is named, exit 2; --help prints every flag', async () => {
  const missing = await runKafkaMirror(['--consumer.config', '/nowhere/consumer.properties', '--producer.config', '/nowhere/producer.properties', '--include', 't'])
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /--consumer\.config: file \/nowhere\/consumer\.properties does not exist/)
  const help = await runKafkaMirror(['--help'])
  assert.equal(help.code, 0)
  const mirrorHelp = await runKafkaMirror(['mirror', '--help'])
  for (const flag of ['--consumer.config', '--producer.config', '--whitelist', '--include', '--num.streams', '--once', '--abort.on.send.failure']) assert.ok(mirrorHelp.stdout.includes(flag), flag)
})

test('bad input: --http.listener on a port already taken is named with the fix, exit 2, before any connection', async () => {
  // Given a port another server holds
  const { createServer } = await import('node:net')
  const holder = createServer()
  await new Promise<void>(resolve => holder.listen(0, '127.0.0.1', resolve))
  const port = (holder.address() as { port: number }).port
  try {
    // When the mirror is asked to serve there (its clusters unreachable: it must not get that far)
    const files = writeTutorialConfigs('127.0.0.1:1', '127.0.0.1:1')
    const result = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', 't', '--http.listener', `127.0.0.1:${port}`])
    // Then the flag, the address and the fix are named, exit 2
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, new RegExp(`--http\\.listener: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`))
    assert.match(result.stderr, /pick a free port/)
  } finally {
    holder.close()
  }
})

test('an unreachable broker gives a clear error within 30 s', async () => {
  const files = writeTutorialConfigs('127.0.0.1:1', '127.0.0.1:1', { consumer: { 'socket.connection.setup.timeout.ms': '2000' } })
  const started = Date.now()
  const result = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', 't'])
  assert.equal(result.code, 1)
  assert.ok(Date.now() - started < 30_000)
  assert.match(result.stderr, /Cannot reach the (source|target) cluster at 127\.0\.0\.1:1 \(bootstrap\.servers in (consumer|producer)\.properties\)/)
})

test('each compression codec is read from the source and written to the target', async () => {
  const { source, target } = await testClusters()
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
    // Given a source topic written with the codec
    const topic = await createTestTopic(source, { prefix: `codec-${codec}`, partitions: 2 })
    const records = makeRecords(400, { keys: 9, valueBytes: 300 })
    const producer = new Producer({ clientId: 'codec-test', bootstrapBrokers: source.split(','), idempotent: true })
    await producer.send({ acks: -1, compression: codec, messages: records.map(r => ({ topic, key: r.key ?? undefined, value: r.value ?? undefined, headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'latin1')])), timestamp: r.timestamp })) })
    await producer.close()
    // When it is mirrored with the same codec on the target
    const files = writeTutorialConfigs(source, target, { producer: { 'compression.type': codec } })
    const result = await runKafkaMirror(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic, '--once', '--status.interval.ms', '0'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /Copied 400 records/)
    // Then kcat (librdkafka) decompresses exactly those records from the target
    assertMirrored(records, await kcatConsume(target, topic))
  }
})

test('SIGTERM mid-run, then a restart: nothing lost, nothing duplicated', async () => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 4 })
  const records = makeRecords(40_000, { keys: 30, valueBytes: 200 })
  await produceRecords(source, topic, records)
  const files = writeTutorialConfigs(source, target, { producer: { 'max.request.size': '65536' } })
  const args = ['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic, '--num.streams', '2', '--status.interval.ms', '0']
  // Given a mirror that has copied part of the topic
  const first = startMirrorProcess(args)
  await waitForRecords(target, topic, 1)
  // When it gets SIGTERM
  first.child.kill('SIGTERM')
  // Then it exits 0 within 30 s
  // (unref'd: once the mirror exited, the timer must not keep this file's process alive for 30 s)
  const code = await Promise.race([first.exited, new Promise(resolve => setTimeout(() => resolve('timeout'), 30_000).unref())])
  assert.equal(code, 0, first.output())
  const copiedBefore = await topicRecordCount(target, topic)
  // And a restart in the same group finishes the copy with each record once
  const second = startMirrorProcess([...args, '--once'])
  assert.equal(await second.exited, 0, second.output())
  assertMirrored(records, await kcatConsume(target, topic))
  assert.ok(copiedBefore > 0n)
})

test('SIGTERM while starting (early and mid-start): a clean stop, exit 0 within the deadline; a restart copies each record once', async () => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 4 })
  const records = makeRecords(4000, { keys: 30, valueBytes: 100 })
  await produceRecords(source, topic, records)
  const files = writeTutorialConfigs(source, target)
  const args = ['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic, '--num.streams', '2', '--status.interval.ms', '0']
  // Given mirrors that get SIGTERM at different points of their start (connecting, creating the
  // target topic, joining the group)
  for (const delayMs of [0, 150, 400, 800]) {
    const mirror = startMirrorProcess(args)
    await waitForOutput(mirror.output, /kafka-mirror starting/)
    await new Promise(resolve => setTimeout(resolve, delayMs))
    mirror.child.kill('SIGTERM')
    // Then each exits 0 within the stop deadline (25 s), saying it stops
    const code = await Promise.race([mirror.exited, new Promise(resolve => setTimeout(() => resolve('timeout'), 30_000).unref())])
    assert.equal(code, 0, `SIGTERM ${delayMs} ms after the start:\n${mirror.output()}`)
    assert.match(mirror.output(), /stopping: delivering what was fetched/)
  }
  // And a last run in the same group copies the rest: every record once
  const last = startMirrorProcess([...args, '--once'])
  assert.equal(await last.exited, 0, last.output())
  assertMirrored(records, await kcatConsume(target, topic))
})

test('SIGKILL mid-run, then a restart: nothing lost', async () => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 4 })
  const records = makeRecords(40_000, { keys: 30, valueBytes: 200 })
  await produceRecords(source, topic, records)
  // The killed member leaves the group only after session.timeout.ms; keep it short.
  const files = writeTutorialConfigs(source, target, { consumer: { 'session.timeout.ms': '8000', 'heartbeat.interval.ms': '1000' }, producer: { 'max.request.size': '65536' } })
  const args = ['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic, '--offset.commit.interval.ms', '200', '--status.interval.ms', '0']
  const first = startMirrorProcess(args)
  await waitForRecords(target, topic, 1)
  first.child.kill('SIGKILL')
  await first.exited
  const second = startMirrorProcess([...args, '--once'])
  assert.equal(await second.exited, 0, second.output())
  // Records in flight at the kill may be copied twice; none may be missing.
  const { duplicates } = assertMirrored(records, await kcatConsume(target, topic), { allowDuplicates: true })
  assert.ok(duplicates < records.length)
})

let zk: KafkaCluster | undefined
after(async () => { await zk?.stop() })

test('the tutorial\'s consumer.properties with zookeeper.connect finds the source brokers through ZooKeeper', async () => {
  const { target } = await testClusters()
  zk = await startZooKeeperCluster({ name: 'zk-mirror', brokers: 2 })
  const topic = await createTestTopic(zk.bootstrap, { prefix: 'testtopic', partitions: 8, replicas: 2 })
  const records = makeRecords(800, { keys: 16 })
  await produceRecords(zk.bootstrap, topic, records)
  const files = writeTutorialConfigs('unused:1', target)
  writeFileSync(files.consumer, `zookeeper.connect=${zk.zookeeper!}\ngroup.id=mirrorgroup\n`)
  const result = startMirrorProcess(['--consumer.config', files.consumer, '--producer.config', files.producer, '--whitelist', topic, '--num.streams', '4', '--once'])
  assert.equal(await result.exited, 0, result.output())
  await waitForOutput(result.output, /found the source brokers through ZooKeeper/)
  assert.match(result.output(), /zookeeper\.connect is deprecated/)
  assertMirrored(records, await kcatConsume(target, topic))
})
