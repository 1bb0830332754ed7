// The harness's node kill and restart on a cluster of its own (3 nodes, about 35 s): run by
// npm run test:reliability, whose R5 and R6 kill and restart nodes the same way in npm test.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { startCluster } from '../../harness/cluster.ts'
import { createTestTopic } from '../helpers/clusters.ts'
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts'

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
