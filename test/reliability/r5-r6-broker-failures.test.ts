// R5 and R6 (issue 6): a broker dies under a running mirror, which must ride it out by itself.
//   R5: a broker leading target partitions is killed (target: 3 brokers, replication factor 3,
//       min.insync.replicas=2): 0 lost. The broker is one whose partitions move to different
//       brokers: the hard case for the producer's retries.
//   R6: a source broker leading some partitions is down for a while (reduced 10 s, full 30 s;
//       source topic replication factor 2 on 3 brokers): the mirror resumes by itself, 0 lost.
// Both use one 3-broker KRaft cluster that this file starts (3 controllers, so one may die).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { startCluster, type KafkaCluster } from '../../harness/cluster.ts'
import { testClusters, topicRecordCount, uniqueName } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords } from '../helpers/records.ts'
import {
  createTopicNamed, describeOutcome, faultConfigs, measure, mirrorArgs, partitionLeaders,
  produceInBackground, recordResult, sized, startMirror, steps, waitForTargetCount, waitUntil
} from './helpers.ts'
import { finishMirror } from '../tools/fault-scenarios.ts'

let three: KafkaCluster | undefined

before(async () => {
  const step = steps('3-broker cluster')
  three = await startCluster({ name: 'reliability-3', brokers: 3 })
  step('up')
})

after(async () => {
  await three?.stop()
})

/** Index in cluster.brokers of the broker with this node id. */
function brokerIndex (cluster: KafkaCluster, nodeId: number): number {
  const index = cluster.brokers.findIndex(b => b.nodeId === nodeId)
  assert.ok(index >= 0, `node ${nodeId} is one of ${cluster.brokers.map(b => b.nodeId).join(',')}`)
  return index
}

/**
 * Replica lists for R5's target topic on nodes 1, 2, 3: node 1 leads partitions 0, 3 and 6, whose
 * next in-sync replicas are nodes 2, 3 and 2. Killing node 1 moves its partitions to two different
 * brokers: the hard case for a producer's retries, made certain rather than left to placement.
 */
function splittingAssignments (nodes: number[]): number[][] {
  const [a, b, c] = nodes
  return [[a, b, c], [b, c, a], [c, a, b], [a, c, b], [b, a, c], [c, b, a], [a, b, c], [b, c, a]]
}

test('R5: the leader of target partitions is killed mid-run (RF 3, min.insync.replicas=2): 0 lost', async () => {
  const step = steps('R5')
  const { source } = await testClusters()
  const target = three!
  const count = sized(60_000, 500_000)
  // Given a source topic being written, and a target topic of replication factor 3 that needs 2 in-sync replicas
  const topic = uniqueName('r5-target-leader')
  await createTopicNamed(source, topic, { partitions: 8, replicas: 2 })
  const nodes = target.brokers.map(b => b.nodeId)
  await createTopicNamed(target.bootstrap, topic, { partitions: 8, replicas: 3, configs: { 'min.insync.replicas': '2' }, assignments: splittingAssignments(nodes) })
  const victim = { nodeId: nodes[0], moves: `p0→node ${nodes[1]}, p3→node ${nodes[2]}, p6→node ${nodes[1]}` }
  assert.deepEqual((await partitionLeaders(target.bootstrap, topic)).flatMap((l, p) => l === victim.nodeId ? [p] : []), [0, 3, 6])
  const records = makeRecords(count, { keys: 200, valueBytes: 100 })
  const producer = produceInBackground(source, topic, records, { partitions: 8, durationMs: sized(10_000, 90_000) })
  // And a mirror copying it; a send the target never accepts fails after delivery.timeout.ms
  // (reduced: 20 s instead of the default 120 s, to keep `npm test` short)
  const deliveryTimeoutMs = sized(20_000, 120_000)
  const files = faultConfigs(source, target.bootstrap, { producer: { 'delivery.timeout.ms': String(deliveryTimeoutMs) } })
  const args = mirrorArgs(files, topic, ['--num.streams', '2'])
  const started = Date.now()
  step(`mirror starts; will kill node ${victim.nodeId} (${victim.moves})`)
  const mirror = startMirror(args)
  await waitForTargetCount(target.bootstrap, topic, Math.floor(count / 4), mirror, 300_000)

  // When a broker leading target partitions is killed
  const index = brokerIndex(target, victim.nodeId)
  const atKill = await topicRecordCount(target.bootstrap, topic)
  const killedAt = Date.now()
  await target.killBroker(index)
  step(`killed node ${victim.nodeId} at ${atKill} records on the target`)
  // Then the mirror goes on copying to the two brokers left (or gives up on a send and exits)
  const wanted = atKill + BigInt(Math.floor(count / 10))
  await waitUntil(async () => mirror.done() || await topicRecordCount(target.bootstrap, topic) >= wanted, 300_000, `${wanted} records on the target`)
  const rodeThrough = !mirror.done()
  const resumedMs = Date.now() - killedAt
  step(rodeThrough ? 'the mirror went on copying; restarting the broker' : `the mirror exited with ${await mirror.exited}; restarting the broker`)
  await target.restartBroker(index)
  step('broker back')
  await producer.done
  step('source written')
  // And it catches up with the source and commits (a mirror that stopped by itself is restarted)
  const { stoppedOnError } = await finishMirror(mirror, args, source, files.group, topic, killedAt)
  const ms = Date.now() - started
  step('the mirror stopped')

  // And kcat reads every record from the target, in per-key order, byte for byte
  const read = await kcatConsume(target.bootstrap, topic)
  const outcome = measure(records, read)
  const notes = `killed node ${victim.nodeId} (${victim.moves}) at ${atKill} records on the target; ${rodeThrough ? `${Math.floor(count / 10)} more copied ${(resumedMs / 1000).toFixed(1)} s after the kill, then the broker restarted` : 'the broker restarted'}; ${stoppedOnError === '' ? 'the mirror rode it out' : stoppedOnError}`
  recordResult('R5 target partition leaders killed', outcome, ms, notes)
  assert.deepEqual({ lost: outcome.lost, orderViolations: outcome.orderViolations, foreign: outcome.foreign, splitKeys: outcome.splitKeys },
    { lost: 0, orderViolations: 0, foreign: 0, splitKeys: 0 }, `${describeOutcome(outcome)}; ${notes}`)
  assertMirrored(records, read, { allowDuplicates: true })
})

test('R6: a source broker leading some partitions is down mid-run: the mirror resumes by itself, 0 lost', async () => {
  const step = steps('R6')
  const { target } = await testClusters()
  const source = three!
  const count = sized(60_000, 500_000)
  const downMs = sized(10_000, 30_000)
  // Given a source topic of replication factor 2 on 3 brokers, being written
  const topic = uniqueName('r6-source-broker')
  await createTopicNamed(source.bootstrap, topic, { partitions: 8, replicas: 2 })
  const records = makeRecords(count, { keys: 200, valueBytes: 100 })
  const producer = produceInBackground(source.bootstrap, topic, records, { partitions: 8, durationMs: sized(14_000, 120_000) })
  // And a mirror copying it
  const files = faultConfigs(source.bootstrap, target)
  const args = mirrorArgs(files, topic, ['--num.streams', '2'])
  const started = Date.now()
  const mirror = startMirror(args)
  await waitForTargetCount(target, topic, Math.floor(count / 5), mirror, 300_000)

  // When the broker leading source partition 0 goes down for downMs, then comes back
  const leaders = await partitionLeaders(source.bootstrap, topic)
  const leader = leaders[0]
  const led = leaders.flatMap((l, p) => l === leader ? [p] : [])
  const index = brokerIndex(source, leader)
  const atKill = await topicRecordCount(target, topic)
  const killedAt = Date.now()
  await source.killBroker(index)
  step(`killed node ${leader} at ${atKill} records on the target`)
  await sleep(downMs)
  const atRestart = await topicRecordCount(target, topic)
  step(`restarting node ${leader} at ${atRestart} records on the target`)
  await source.restartBroker(index)
  step('broker back')

  // Then the mirror, never restarted, copies everything the source holds and commits it
  await producer.done
  const { stoppedOnError } = await finishMirror(mirror, args, source.bootstrap, files.group, topic, killedAt)
  const ms = Date.now() - started
  step(stoppedOnError === '' ? 'the mirror caught up' : stoppedOnError)

  // And kcat reads every record from the target, in per-key order, byte for byte
  const read = await kcatConsume(target, topic)
  const outcome = measure(records, read)
  const notes = `node ${leader} (leader of partitions ${led.join(',')}) down ${downMs / 1000} s; target ${atKill} records at the kill, ${atRestart} at the restart; ${stoppedOnError === '' ? 'the mirror rode it out' : stoppedOnError}`
  recordResult('R6 source broker down', outcome, ms, notes)
  assert.deepEqual({ lost: outcome.lost, orderViolations: outcome.orderViolations, foreign: outcome.foreign, splitKeys: outcome.splitKeys },
    { lost: 0, orderViolations: 0, foreign: 0, splitKeys: 0 }, `${describeOutcome(outcome)}; ${notes}`)
  assertMirrored(records, read, { allowDuplicates: true })
  // And it did so by itself
  assert.equal(stoppedOnError, '', 'the mirror resumes by itself after a source broker comes back')
})
