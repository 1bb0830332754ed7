// R10 (issue 6): records the mirror had not copied are gone from the source. The mirror never
// skips them silently: by default (--on.data.loss stop) it exits 3 naming the topic, partition and
// offsets, committing nothing past the hole; with --on.data.loss continue it reports the hole and
// copies what is left.
//   a) retention deleted records (simulated exactly with DeleteRecords, which moves the log start
//      offset as retention does);
//   b) the topic was deleted and created again, so its offsets went back.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'
import { testClusters, topicRecordCount, uniqueName } from '../helpers/clusters.ts'
import { makeRecords, produceRecords } from '../helpers/records.ts'
import { createTopicNamed, faultConfigs, mirrorArgs, startMirror, waitUntil } from './helpers.ts'

async function withAdmin<T> (bootstrap: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: 'r10-test', bootstrapBrokers: bootstrap.split(','), retries: 5 })
  try {
    return await fn(admin)
  } finally {
    await admin.close().catch(() => {})
  }
}

/** The group's committed offset per partition (-1 when none). */
async function committed (bootstrap: string, group: string, topic: string, partitions: number): Promise<bigint[]> {
  return await withAdmin(bootstrap, async admin => {
    const result: bigint[] = Array.from({ length: partitions }, () => -1n)
    const groups = await admin.listConsumerGroupOffsets({ groups: [group] })
    for (const g of groups) for (const t of g.topics) if (t.name === topic) for (const p of t.partitions) result[p.partitionIndex] = p.committedOffset
    return result
  })
}

async function runOnce (args: string[]): Promise<{ code: number, output: string }> {
  const mirror = startMirror([...args, '--once'])
  const code = await mirror.exited
  return { code, output: mirror.output() }
}

test('R10a: records deleted by retention before they were copied: stop names the hole; continue reports it and copies the rest', async () => {
  const { source, target } = await testClusters()
  // Given a 2-partition topic whose first 2 000 records were copied and committed
  const topic = uniqueName('r10-retention')
  await createTopicNamed(source, topic, { partitions: 2, replicas: 1 })
  await produceRecords(source, topic, makeRecords(2000, { keys: 50 }))
  const files = faultConfigs(source, target)
  const args = mirrorArgs(files, topic)
  const first = await runOnce(args)
  assert.equal(first.code, 0, first.output)
  const before = await committed(source, files.group, topic, 2)
  assert.equal(before[0] + before[1], 2000n)

  // When 2 000 more are written and partition 0 loses its next 300 uncopied records to "retention"
  await produceRecords(source, topic, makeRecords(2000, { keys: 50 }))
  const deleteTo = before[0] + 300n
  await withAdmin(source, async admin => await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: deleteTo }] }] }))

  // Then the mirror (default --on.data.loss stop) exits 3 naming the topic, partition and offsets
  const stopped = await runOnce(args)
  assert.equal(stopped.code, 3, stopped.output)
  assert.match(stopped.output, new RegExp(`records were deleted from the source .* topic=${topic} partition=0 from=${before[0]} to=${deleteTo - 1n} records=300 `), stopped.output)
  // And partition 0's committed offset did not move past the hole
  const afterStop = await committed(source, files.group, topic, 2)
  assert.ok(afterStop[0] <= before[0], `partition 0 committed ${afterStop[0]}, hole starts at ${before[0]}`)

  // When it runs again with --on.data.loss continue
  const went = await runOnce([...args, '--on.data.loss', 'continue'])
  // Then it reports the same hole, copies everything that is left and exits 0
  assert.equal(went.code, 0, went.output)
  assert.match(went.output, new RegExp(`records were deleted from the source .*going on from resumeAt .* topic=${topic} partition=0 from=${before[0]} to=${deleteTo - 1n} records=300 resumeAt=${deleteTo}`), went.output)
  // The target holds every record except the 300 deleted (a second delivery of records copied
  // by the stopped run is allowed: it stopped on purpose before committing them)
  const onTarget = await topicRecordCount(target, topic)
  assert.ok(onTarget >= 3700n, `${onTarget} records on the target, at least 3 700 expected`)
  const final = await committed(source, files.group, topic, 2)
  assert.equal(final[0] + final[1], 4000n, 'every partition is committed to its end')
})

test('R10b: the topic is deleted and created again under a running mirror: stop says so; continue copies the new topic from its start', async () => {
  const { source, target } = await testClusters()
  for (const policy of ['stop', 'continue'] as const) {
    // Given a running mirror that copied the 1 000 records of a topic
    const topic = uniqueName(`r10-recreated-${policy}`)
    await createTopicNamed(source, topic, { partitions: 1, replicas: 1 })
    await produceRecords(source, topic, makeRecords(1000, { keys: 20 }))
    const files = faultConfigs(source, target)
    const mirror = startMirror([...mirrorArgs(files, topic, ['--topic.refresh.interval.ms', '1000']), '--on.data.loss', policy])
    try {
      await waitUntil(async () => await topicRecordCount(target, topic) >= 1000n, 60_000, '1 000 records on the target')

      // When the source topic is deleted, created again and given 100 new records
      await withAdmin(source, async admin => await admin.deleteTopics({ topics: [topic] }))
      await waitUntil(async () => !(await withAdmin(source, async admin => await admin.listTopics())).includes(topic), 30_000, 'the topic is gone')
      await sleep(500)
      await createTopicNamed(source, topic, { partitions: 1, replicas: 1 })
      await produceRecords(source, topic, makeRecords(100, { keys: 20 }))

      if (policy === 'stop') {
        // Then with --on.data.loss stop the mirror exits 3 saying the topic was created again
        const code = await Promise.race([mirror.exited, sleep(60_000, undefined, { ref: false }).then(() => 'timeout')])
        assert.equal(code, 3, mirror.output())
        // (Two checks see it, whichever first: the topic id changed at a topic refresh, or the fetch
        // offset is past the new log's end; both name the topic and the cause, and exit 3.)
        assert.match(mirror.output(), new RegExp(`${topic} was deleted and created again|the offsets of ${topic}-0 went back from \\d+ to \\d+: the topic was deleted and created again`), mirror.output())
      } else {
        // Then with --on.data.loss continue it reports it and copies the 100 new records, once
        await waitUntil(async () => await topicRecordCount(target, topic) >= 1100n, 60_000, '1 100 records on the target', 500)
          .catch((error: Error) => { throw new Error(`${error.message}\n${mirror.output().split('\n').slice(-25).join('\n')}`) })
        await sleep(2000)
        assert.equal(await topicRecordCount(target, topic), 1100n, mirror.output())
        assert.match(mirror.output(), new RegExp(`the source topic was deleted and created again .* topic=${topic}`), mirror.output())
        mirror.child.kill('SIGTERM')
        assert.equal(await mirror.exited, 0, mirror.output())
      }
    } finally {
      // A failed check must not leave the mirror running: the test file would wait for it.
      if (mirror.child.exitCode === null && mirror.child.signalCode === null) mirror.child.kill('SIGKILL')
    }
  }
})
