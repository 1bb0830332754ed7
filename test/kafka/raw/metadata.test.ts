// Metadata asked of each broker in turn (src/kafka/raw/metadata.ts), against the shared cluster.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { brokerKnowsTopics } from '../../../src/kafka/raw/metadata.ts'
import { waitForLeaders } from '../../../src/admin/topics.ts'
import { createTestTopic, testClusters, uniqueName } from '../../helpers/clusters.ts'

test('each broker says whether it knows a topic with its leaders; asking never creates one', async () => {
  const { source } = await testClusters()
  const admin = new Admin({ clientId: 'metadata-test', bootstrapBrokers: source.split(',') })
  try {
    const existing = await createTestTopic(source, { partitions: 3 })
    const missing = uniqueName('never-created')
    const brokers = [...(await admin.metadata({ topics: [], forceUpdate: true })).brokers.values()]
    assert.ok(brokers.length >= 1)
    // Given a topic that exists, once the tool's wait says every broker has it
    assert.equal(await waitForLeaders(admin, [existing], 10_000), true)
    for (const broker of brokers) {
      const connection = await admin.connections.get(broker)
      // Then each broker knows it, and knows no topic that was never created
      assert.equal(await brokerKnowsTopics(connection, [existing]), true)
      assert.equal(await brokerKnowsTopics(connection, [missing]), false)
      assert.equal(await brokerKnowsTopics(connection, [existing, missing]), false)
    }
    // And asking did not create the missing one
    assert.equal((await admin.listTopics()).includes(missing), false)
    // And the wait for a topic nobody creates gives up with false
    assert.equal(await waitForLeaders(admin, [missing], 500), false)
  } finally {
    await admin.close()
  }
})
