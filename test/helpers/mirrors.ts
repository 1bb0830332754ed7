// Steps that several Mirror tests share.
import assert from 'node:assert/strict'
import type { Mirror } from '../../src/mirror/mirror.ts'
import { waitForRecords } from './clusters.ts'
import { kcatConsume } from './kcat.ts'
import { assertMirrored, makeRecords, type TestRecord } from './records.ts'

/**
 * Given two mirrors of one group, started here: when 3,000 keyed records are written (by `write`),
 * then each mirror copied a share and together they copied every record exactly once.
 */
export async function assertGroupShared (one: Mirror, two: Mirror, target: string, topic: string, write: (records: TestRecord[]) => Promise<void>): Promise<void> {
  await one.start()
  await two.start()
  try {
    const records = makeRecords(3000, { keys: 24 })
    await write(records)
    await waitForRecords(target, topic, records.length)
    const [a, b] = [await one.stop(), await two.stop()]
    assert.ok(a.records > 0 && b.records > 0, `shares: ${a.records} and ${b.records}`)
    assert.equal(a.records + b.records, records.length)
    assertMirrored(records, await kcatConsume(target, topic))
  } finally {
    await one.stop().catch(() => {})
    await two.stop().catch(() => {})
  }
}
