// RawFetcher's metadata (src/kafka/raw/raw-fetcher.ts): a refresh for some topics keeps what was
// known of the others, so that reads of many topics at once do not lose each other's leaders.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ClusterMetadata } from '@platformatic/kafka'
import { RawFetcher } from '../../../src/kafka/raw/raw-fetcher.ts'

/** Metadata naming `leaders` (topic → leader of its partition 0) on brokers 1 and 2. */
function metadata (leaders: Record<string, number>): ClusterMetadata {
  const broker = (nodeId: number): any => ({ nodeId, host: 'localhost', port: 9000 + nodeId })
  return {
    id: 'cluster',
    controllerId: 1,
    lastUpdate: Date.now(),
    brokers: new Map([[1, broker(1)], [2, broker(2)]]),
    topics: new Map(Object.entries(leaders).map(([name, leader]) => [name, { id: name, partitions: [{ leader, leaderEpoch: 0, replicas: [leader], isr: [leader] }], partitionsCount: 1, lastUpdate: Date.now() } as any]))
  }
}

test('refresh: other topics keep their leaders; a refreshed topic gets its new one', async () => {
  const fetcher = new RawFetcher({ clientId: 'test', bootstrapBrokers: ['localhost:1'] })
  try {
    const answers = [metadata({ a: 1, b: 1 }), metadata({ b: 2 })]
    const asked: string[][] = []
    fetcher.client.metadata = (async (options: { topics: string[] }) => { asked.push(options.topics); return answers.shift() }) as any
    await fetcher.refresh(['a', 'b'])
    await fetcher.refresh(['b'])
    assert.deepEqual(asked, [['a', 'b'], ['b']])
    assert.equal(fetcher.leaderOf('b', 0), 2, 'the refreshed topic: its new leader')
    assert.equal(fetcher.leaderOf('a', 0), 1, 'a topic not asked for: still known')
    assert.equal(fetcher.leaderOf('c', 0), undefined)
  } finally {
    await fetcher.close()
  }
})
