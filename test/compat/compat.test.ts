// Broker compatibility, reduced (the full matrix: `npm run test:compat`, test/compat/matrix.ts).
// kafka-mirror picks, per broker, the highest Fetch / Produce / OffsetCommit / InitProducerId
// version both sides have; these tests run the oldest line that starts here (0.11) and 2.4 against
// the run's shared Kafka 4.4 clusters, both ways, in both partitionings.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { KafkaCluster } from '../../harness/cluster.ts'
import { OFFSET_COMMIT } from '../../src/kafka/raw/offset-commit.ts'
import { FETCH } from '../../src/kafka/raw/raw-fetcher.ts'
import { INIT_PRODUCER_ID, PRODUCE } from '../../src/kafka/raw/producer-versions.ts'
import { checkApis, pickVersion, UnsupportedBrokerError } from '../../src/kafka/raw/versions.ts'
import { testClusters } from '../helpers/clusters.ts'
import { LINES, mirrorOnce, startLine } from './compat.ts'

describe('the API version chosen per broker', () => {
  test('is the highest both sides have, from the ApiVersions ranges measured on each line', () => {
    // Given the ranges Kafka 0.11, 2.4, 2.8 and 4.4 brokers answer (test/compat/results)
    // Then Fetch, Produce, OffsetCommit and InitProducerId get these versions
    assert.equal(pickVersion(FETCH, { minVersion: 0, maxVersion: 5 })?.version, 5) // 0.11
    assert.equal(pickVersion(FETCH, { minVersion: 0, maxVersion: 7 })?.version, 5) // 1.1
    assert.equal(pickVersion(FETCH, { minVersion: 0, maxVersion: 11 })?.version, 10) // 2.4
    assert.equal(pickVersion(FETCH, { minVersion: 0, maxVersion: 12 })?.version, 12) // 2.8
    assert.equal(pickVersion(FETCH, { minVersion: 4, maxVersion: 18 })?.version, 12) // 4.x drops v0-3
    assert.equal(pickVersion(PRODUCE, { minVersion: 0, maxVersion: 3 })?.version, 3) // 0.11
    assert.equal(pickVersion(PRODUCE, { minVersion: 0, maxVersion: 5 })?.version, 3) // 1.1
    assert.equal(pickVersion(PRODUCE, { minVersion: 0, maxVersion: 8 })?.version, 7) // 2.4
    assert.equal(pickVersion(PRODUCE, { minVersion: 0, maxVersion: 9 })?.version, 9) // 2.8
    assert.equal(pickVersion(OFFSET_COMMIT, { minVersion: 0, maxVersion: 3 })?.version, 3) // 0.11
    assert.equal(pickVersion(OFFSET_COMMIT, { minVersion: 0, maxVersion: 8 })?.version, 8) // 2.4
    assert.equal(pickVersion(INIT_PRODUCER_ID, { minVersion: 0, maxVersion: 0 })?.version, 0) // 0.11
    assert.equal(pickVersion(INIT_PRODUCER_ID, { minVersion: 0, maxVersion: 5 })?.version, 2) // 3.9+
  })

  test('a broker older than 0.11 is refused naming the API, what it serves and what kafka-mirror speaks', () => {
    // Given the ApiVersions of a Kafka 0.10.2 broker (no record-batch v2: Fetch 0-3, Produce 0-2)
    const apis = [{ apiKey: 0, minVersion: 0, maxVersion: 2 }, { apiKey: 1, minVersion: 0, maxVersion: 3 }]
    // When the source and the target are checked, then each is refused with the reason
    assert.throws(() => { checkApis(apis, [FETCH], 'the source broker') }, (error: Error) => {
      assert.ok(error instanceof UnsupportedBrokerError)
      assert.match(error.message, /the source broker .*Fetch it serves v0\.\.v3; kafka-mirror speaks Fetch v12 \(Kafka 2\.7\+\) or v10 \(Kafka 2\.1\+\) or v5 \(Kafka 0\.11\+\)/)
      return true
    })
    assert.throws(() => { checkApis(apis, [PRODUCE], 'the target broker') }, /Produce it serves v0\.\.v2; kafka-mirror speaks Produce v9 \(Kafka 2\.8\+\) or v7 \(Kafka 2\.1\+\) or v3 \(Kafka 0\.11\+\)/)
    assert.throws(() => { checkApis([], [PRODUCE], 'the target broker') }, /does not serve it at all/)
  })
})

describe('mirroring between old and new brokers', () => {
  const old = new Map<string, KafkaCluster>()

  before(async () => {
    // One single-broker cluster per old line, started once for every test of the file, side by side.
    const names = ['0.11', '2.4']
    const started = await Promise.all(names.map(async name => await startLine(LINES[name])))
    names.forEach((name, i) => old.set(name, started[i]))
  })

  after(async () => {
    await Promise.all([...old.values()].map(async c => await c.stop()))
  })

  // zstd (Kafka 2.1+) where both sides have it: it needs Fetch v10 and Produce v7.
  for (const [name, compression] of [['0.11', 'lz4'], ['2.4', 'zstd']] as const) {
    for (const partitioning of ['key', 'source'] as const) {
      test(`Kafka ${name} source → Kafka 4.4 target, --partitioning ${partitioning}, ${compression} batches: every record once, byte-equal`, async () => {
        const { target } = await testClusters()
        const outcome = await mirrorOnce(old.get(name)!.bootstrap, target, partitioning, { count: 3000, compression })
        assert.equal(outcome.error, undefined)
        assert.equal(outcome.records, 3000)
      })

      test(`Kafka 4.4 source → Kafka ${name} target, --partitioning ${partitioning}, ${compression} batches: every record once, byte-equal`, async () => {
        const { source } = await testClusters()
        const outcome = await mirrorOnce(source, old.get(name)!.bootstrap, partitioning, { count: 3000, compression })
        assert.equal(outcome.error, undefined)
        assert.equal(outcome.records, 3000)
      })
    }
  }
})
