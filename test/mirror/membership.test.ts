import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Membership, ownedPartitions } from '../../src/mirror/membership.ts'

test('a join continues the membership only with the same member id and the same or the next generation', () => {
  const membership = new Membership()
  // Given a member's first join
  assert.equal(membership.joined('m-1', 4), true)
  // When it joins again in the same or the next generation, then it kept its membership
  assert.equal(membership.joined('m-1', 4), true)
  assert.equal(membership.joined('m-1', 5), true)
  // When a generation passed without it, or it came back with a new member id, then it did not
  assert.equal(membership.joined('m-1', 7), false)
  assert.equal(membership.joined('m-2', 8), false)
  // And the next join is judged against the last one
  assert.equal(membership.joined('m-2', 9), true)
})

test('ownedPartitions gives the topic:partition keys of an assignment', () => {
  assert.deepEqual([...ownedPartitions([{ topic: 'a', partitions: [0, 2] }, { topic: 'b.c', partitions: [1] }])], ['a:0', 'a:2', 'b.c:1'])
})
