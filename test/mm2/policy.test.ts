// Expected values are those of MM2's own tests (DefaultReplicationPolicyTest,
// IdentityReplicationPolicyTest, ReplicationPolicyTest, MirrorSourceConnectorTest.testNoCycles).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DefaultReplicationPolicy, IdentityReplicationPolicy, replicationPolicy } from '../../src/mm2/policy.ts'

test('given the default policy, when a topic is copied, then its remote name is alias.topic and the name tells where it came from', () => {
  const policy = new DefaultReplicationPolicy()
  assert.equal(policy.formatRemoteTopic('A', 'orders'), 'A.orders')
  assert.equal(policy.topicSource('A.orders'), 'A')
  assert.equal(policy.upstreamTopic('A.orders'), 'orders')
  assert.equal(policy.topicSource('orders'), undefined)
  assert.equal(policy.upstreamTopic('orders'), undefined)
  assert.equal(policy.originalTopic('B.A.orders'), 'orders')
  assert.equal(policy.originalTopic('orders'), 'orders')
  assert.equal(policy.topicSource('B.A.orders'), 'B')
  assert.equal(policy.upstreamTopic('B.A.orders'), 'A.orders')
})

test('given names Java\'s String.split treats specially, then topicSource answers as MM2 does', () => {
  const policy = new DefaultReplicationPolicy()
  // Trailing empty parts are dropped: "A." is not remote; a leading empty part is kept.
  assert.equal(policy.topicSource('A.'), undefined)
  assert.equal(policy.topicSource('A..'), undefined)
  assert.equal(policy.topicSource('.x'), '')
  assert.equal(policy.topicSource('A..x'), 'A')
  assert.equal(policy.upstreamTopic('A..x'), '.x')
})

test('given a custom separator, then remote and internal topic names use it unless the internal separator is turned off', () => {
  const policy = new DefaultReplicationPolicy({ separator: '__' })
  assert.equal(policy.formatRemoteTopic('A', 'orders'), 'A__orders')
  assert.equal(policy.topicSource('A__orders'), 'A')
  assert.equal(policy.topicSource('A.orders'), undefined)
  assert.equal(policy.offsetSyncsTopic('B'), 'mm2-offset-syncs__B__internal')
  assert.equal(policy.checkpointsTopic('A'), 'A__checkpoints__internal')
  assert.ok(policy.isCheckpointsTopic('A__checkpoints__internal'))
  assert.ok(policy.isMM2InternalTopic('mm2-offset-syncs__B__internal'))
  const legacy = new DefaultReplicationPolicy({ separator: '__', internalTopicSeparatorEnabled: false })
  assert.equal(legacy.formatRemoteTopic('A', 'orders'), 'A__orders')
  assert.equal(legacy.offsetSyncsTopic('B'), 'mm2-offset-syncs.B.internal')
  assert.equal(legacy.checkpointsTopic('A'), 'A.checkpoints.internal')
})

test('given the default policy, then MM2\'s internal topic names are as MM2 writes them', () => {
  const policy = new DefaultReplicationPolicy()
  assert.equal(policy.heartbeatsTopic(), 'heartbeats')
  assert.equal(policy.offsetSyncsTopic('B'), 'mm2-offset-syncs.B.internal')
  assert.equal(policy.checkpointsTopic('A'), 'A.checkpoints.internal')
  assert.ok(policy.isHeartbeatsTopic('heartbeats'))
  assert.ok(policy.isHeartbeatsTopic('A.heartbeats'))
  assert.ok(policy.isHeartbeatsTopic('B.A.heartbeats'))
  assert.ok(!policy.isHeartbeatsTopic('heartbeats-not'))
  assert.ok(policy.isCheckpointsTopic('A.checkpoints.internal'))
})

test('given topic names, then Kafka\'s, Connect\'s and MM2\'s own topics are internal and are never mirrored', () => {
  const policy = new DefaultReplicationPolicy()
  for (const topic of ['__consumer_offsets', '__transaction_state', '.hidden', 'mm2-offsets.A.internal', 'mm2-configs.B.internal', 'mm2-status.A.internal',
    'mm2-offset-syncs.B.internal', 'A.checkpoints.internal', 'connect-offsets-internal', 'A.mm2-offsets.B.internal']) {
    assert.ok(policy.isInternalTopic(topic), topic)
  }
  for (const topic of ['orders', 'A.orders', 'heartbeats', 'A.heartbeats', 'internal', 'my.internals']) assert.ok(!policy.isInternalTopic(topic), topic)
})

test('given the default policy, when a flow\'s source topic came from the flow\'s target, then it is a cycle at any depth', () => {
  const policy = new DefaultReplicationPolicy()
  assert.ok(policy.isCycle('B.orders', 'B'))
  assert.ok(policy.isCycle('C.B.orders', 'B'))
  assert.ok(!policy.isCycle('orders', 'B'))
  assert.ok(!policy.isCycle('C.orders', 'B'))
})

test('given the identity policy, then names are kept except heartbeats, and names never prove a cycle', () => {
  const policy = new IdentityReplicationPolicy()
  assert.equal(policy.formatRemoteTopic('A', 'orders'), 'orders')
  assert.equal(policy.formatRemoteTopic('A', 'heartbeats'), 'A.heartbeats')
  assert.equal(policy.formatRemoteTopic('B', 'A.heartbeats'), 'B.A.heartbeats')
  assert.equal(policy.topicSource('orders'), undefined)
  assert.equal(policy.topicSource('A.heartbeats'), 'A')
  assert.equal(policy.upstreamTopic('orders'), 'orders')
  assert.equal(policy.upstreamTopic('A.heartbeats'), 'heartbeats')
  assert.equal(policy.originalTopic('orders'), 'orders')
  assert.equal(policy.originalTopic('B.A.heartbeats'), 'heartbeats')
  assert.ok(!policy.isCycle('orders', 'B'))
  assert.ok(policy.isCycle('B.heartbeats', 'B'))
  const withAlias = new IdentityReplicationPolicy({ sourceClusterAlias: 'A' })
  assert.equal(withAlias.topicSource('orders'), 'A')
  assert.ok(!withAlias.isCycle('orders', 'B'))
})

test('given replication.policy.class, then the full or simple class name picks the policy, and others are unknown', () => {
  assert.ok(replicationPolicy('org.apache.kafka.connect.mirror.DefaultReplicationPolicy') instanceof DefaultReplicationPolicy)
  assert.ok(replicationPolicy('IdentityReplicationPolicy') instanceof IdentityReplicationPolicy)
  assert.equal(replicationPolicy('com.example.MyPolicy'), undefined)
})
