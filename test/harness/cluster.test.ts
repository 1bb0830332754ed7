import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { freePort, startZooKeeperCluster } from '../../harness/cluster.ts'
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
