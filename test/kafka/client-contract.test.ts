// What the copy loop relies on from @platformatic/kafka (pinned to an exact version), one test per
// behaviour, against a real cluster: when an upgrade changes one, a test here says which.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Consumer, type GroupAssignment } from '@platformatic/kafka'
import { CommitRefusedError, OffsetCommitter, rebalanceStarted } from '../../src/mirror/offset-committer.ts'
import { RawFetcher } from '../../src/kafka/raw/raw-fetcher.ts'
import { createTestTopic, testClusters, uniqueName } from '../helpers/clusters.ts'
import { makeRecords, produceRecords } from '../helpers/records.ts'

async function joinedConsumer (bootstrap: string, topic: string, group: string, timing = { sessionTimeout: 10_000, heartbeatInterval: 500 }): Promise<{ consumer: Consumer, joins: GroupAssignment[][] }> {
  const consumer = new Consumer({ clientId: 'contract', bootstrapBrokers: bootstrap.split(','), groupId: group, autocommit: false, ...timing })
  const joins: GroupAssignment[][] = []
  consumer.on('consumer:group:join', payload => { joins.push(payload.assignments ?? []) })
  consumer.topics.track(topic)
  await consumer.joinGroup({})
  return { consumer, joins }
}

test('a consumer that joins without consuming gets its assignment in the consumer:group:join event, with member id and generation', async () => {
  const { source } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 3 })
  const { consumer, joins } = await joinedConsumer(source, topic, uniqueName('contract'))
  try {
    assert.equal(joins.length, 1)
    assert.deepEqual(joins[0].map(a => [a.topic, [...a.partitions].sort()]), [[topic, [0, 1, 2]]])
    assert.ok(consumer.memberId !== null && consumer.memberId !== '')
    assert.ok(consumer.generationId > 0)
    assert.ok(consumer.coordinatorId !== null)
  } finally {
    await consumer.close(true)
  }
})

test('a commit under a generation the group left behind fails as CommitRefusedError (group moved on) and never makes the member join again', async () => {
  const { source } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 1 })
  const group = uniqueName('contract')
  const { consumer, joins } = await joinedConsumer(source, topic, group)
  try {
    const committer = new OffsetCommitter(consumer)
    // A commit under the current generation is taken
    committer.set({ topic, partition: 0, offset: 5n, leaderEpoch: -1 })
    await committer.commit()
    assert.equal(committer.pending.size, 0)
    const committed = await consumer.listCommittedOffsets({ topics: [{ topic, partitions: [0] }] })
    assert.equal(committed.get(topic)?.[0], 5n)
    // One under a generation that is over is refused, and stays pending
    const member = consumer.memberId
    const generation = consumer.generationId
    consumer.generationId = generation + 100
    committer.set({ topic, partition: 0, offset: 9n, leaderEpoch: -1 })
    await assert.rejects(committer.commit(), (error: unknown) => error instanceof CommitRefusedError && error.groupMovedOn && error.errorName === 'ILLEGAL_GENERATION')
    assert.equal(committer.pending.size, 1)
    consumer.generationId = generation
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.equal(joins.length, 1, 'no join after the refused commit')
    assert.equal(consumer.memberId, member)
    // The offsets still pending go with the next commit under the right generation
    await committer.commit()
    assert.equal((await consumer.listCommittedOffsets({ topics: [{ topic, partitions: [0] }] })).get(topic)?.[0], 9n)
  } finally {
    await consumer.close(true)
  }
})

test('a Base client\'s public connection pool carries our own Fetch v12 requests to a partition leader', async () => {
  const { source } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 1 })
  await produceRecords(source, topic, makeRecords(10, { keys: 2 }))
  const fetcher = new RawFetcher({ clientId: 'contract', bootstrapBrokers: source.split(',') })
  try {
    await fetcher.start()
    await fetcher.refresh([topic])
    const leader = fetcher.leaderOf(topic, 0)
    assert.ok(leader !== undefined)
    const response = await fetcher.fetch(leader, { maxWaitMs: 100, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0 }, [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }])
    const p = response.responses[0].partitions[0]
    assert.equal(p.errorCode, 0)
    assert.equal(p.highWatermark, 10n)
    assert.ok((p.records?.length ?? 0) > 0)
  } finally {
    await fetcher.close()
  }
})

test('a member whose join completed alone learns from a Heartbeat of its own that another member started a rebalance, and joining again at once lets the other in', async () => {
  const { source } = await testClusters()
  const topic = await createTestTopic(source, { partitions: 2 })
  const group = uniqueName('contract')
  // Given a member that joined alone, whose own heartbeat comes only every 20 s
  const slow = { sessionTimeout: 45_000, heartbeatInterval: 20_000 }
  const { consumer: first, joins } = await joinedConsumer(source, topic, group, slow)
  let second: Consumer | undefined
  try {
    assert.equal(await rebalanceStarted(first), false, 'no rebalance while it is the only member')
    // When another member sends its JoinGroup
    const other = joinedConsumer(source, topic, group, slow)
    other.then(o => { second = o.consumer }, () => {})
    let started = false
    for (let i = 0; i < 50 && !started; i++) {
      started = await rebalanceStarted(first)
      if (!started) await new Promise(resolve => setTimeout(resolve, 100))
    }
    // Then the probe says so, long before the first member's own heartbeat would
    assert.equal(started, true)
    assert.equal(joins.length, 1, 'the first member has not joined again by itself')
    // And when it joins again, both are in the same generation, with the partitions shared
    await first.joinGroup({})
    const { consumer: joined, joins: otherJoins } = await other
    assert.equal(joins.length, 2)
    assert.equal(first.generationId, joined.generationId)
    const owned = [...joins[1], ...otherJoins[0]].flatMap(a => [...a.partitions]).sort()
    assert.deepEqual(owned, [0, 1])
    assert.equal(await rebalanceStarted(first), false)
  } finally {
    await first.close(true)
    await second?.close(true)
  }
})
