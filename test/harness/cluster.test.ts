import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { freePort, startCluster, startZooKeeperCluster } from '../../harness/cluster.ts'
import { createTestTopic, testClusters } from '../helpers/clusters.ts'
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts'

test('two clusters run side by side and kcat reads back 1,000 keyed records with headers byte-equal', async () => {
  // Given the run's source and target clusters
  const { source, target } = await testClusters()
  assert.notEqual(source, target)
  for (const bootstrap of [source, target]) {
    const topic = await createTestTopic(bootstrap, { partitions: 3 })
    const lines = Array.from({ length: 1000 }, (_, i) => `key-${i % 17}:value-${i}-${'x'.repeat(i % 50)}`)
    // When kcat writes 1,000 records with headers
    await kcatProduce(bootstrap, topic, lines, { origin: 'harness-test', trace: 'a=b' })
    // Then kcat reads exactly those records back
    const records = await kcatConsume(bootstrap, topic)
    assert.equal(records.length, 1000)
    const got = records.map(r => `${r.key?.toString()}:${r.value?.toString()}`).sort()
    assert.deepEqual(got, [...lines].sort())
    for (const r of records) assert.equal(r.headers, 'origin=harness-test,trace=a=b')
  }
})

test('a 3-node cluster keeps a replication-factor-3 topic readable while a broker is killed and restarted', { timeout: 240_000 }, async () => {
  const cluster = await startCluster({ name: 'kill-restart', brokers: 3 })
  try {
    const topic = await createTestTopic(cluster.bootstrap, { partitions: 3, replicas: 3 })
    await kcatProduce(cluster.bootstrap, topic, Array.from({ length: 300 }, (_, i) => `k${i}:v${i}`))
    const aliveBootstrap = (skip: number): string => cluster.brokers.filter((_, i) => i !== skip).map(b => `${b.host}:${b.port}`).join(',')

    // When broker 1 (index 0) is killed
    await cluster.killBroker(0)
    // Then the topic is still readable, whole, from the others
    assert.equal((await kcatConsume(aliveBootstrap(0), topic)).length, 300)

    // When it restarts
    await cluster.restartBroker(0)
    // Then more records can be written and everything reads back
    await kcatProduce(cluster.bootstrap, topic, Array.from({ length: 100 }, (_, i) => `k${i}:w${i}`))
    assert.equal((await kcatConsume(cluster.bootstrap, topic)).length, 400)

    const admin = new Admin({ clientId: 'test', bootstrapBrokers: cluster.bootstrap.split(',') })
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    await admin.close()
    assert.equal(metadata.brokers.size, 3)
  } finally {
    await cluster.stop()
  }
})

test('the ZooKeeper-mode cluster starts and lists its brokers under /brokers/ids', { timeout: 180_000 }, async () => {
  const cluster = await startZooKeeperCluster({ name: 'zk', brokers: 2 })
  try {
    assert.ok(cluster.zookeeper)
    // ZooKeeper's own four-letter "dump" lists ephemeral nodes; brokers register as /brokers/ids/<id>.
    const dump = execFileSync('bash', ['-c', `exec 3<>/dev/tcp/${cluster.zookeeper.replace(':', '/')}; printf dump >&3; cat <&3`], { encoding: 'utf8' })
    assert.match(dump, /\/brokers\/ids\/1/)
    assert.match(dump, /\/brokers\/ids\/2/)
  } finally {
    await cluster.stop()
  }
})

test('broker ports are picked outside the range of outgoing connections, never twice', async () => {
  // Given the kernel's range for the local ports of outgoing connections
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
  // When 200 ports are picked
  const ports = await Promise.all(Array.from({ length: 200 }, async () => await freePort()))
  // Then none is in that range (a client socket could take it before the broker binds) and none repeats
  assert.deepEqual(ports.filter(p => p >= low && p <= high), [])
  assert.equal(new Set(ports).size, ports.length)
})
