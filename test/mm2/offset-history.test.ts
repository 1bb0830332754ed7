// The offset history's translation rule: a committed source offset becomes the target offset of
// the next record the group would read, exact where the runs say it, never past what was copied.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OffsetHistory } from '../../src/mm2/offset-history.ts'

const t = async (h: OffsetHistory, c: bigint, copiedTo?: bigint, count?: (topic: string, partition: number, from: bigint, to: bigint) => Promise<bigint | undefined>): Promise<string> => {
  const r = await h.translate('orders', 0, c, copiedTo, count)
  return r === undefined ? 'none' : `${r.downstream}${r.exact ? '' : '~'}`
}

test('contiguous batches make one run; an offset inside it is exact whatever its age', async () => {
  // Given 3 batches of source offsets 100..399 written at target offsets 7..306
  const h = new OffsetHistory()
  h.add('orders', 0, 100n, 200n, 7n, 100n)
  h.add('orders', 0, 200n, 300n, 107n, 100n)
  h.add('orders', 0, 300n, 400n, 207n, 100n)
  // Then they are one run
  assert.equal(h.size, 1)
  // And every committed offset maps to the target offset of the same record
  assert.deepEqual([await t(h, 100n), await t(h, 101n), await t(h, 250n), await t(h, 399n), await t(h, 400n)], ['7', '8', '157', '306', '307'])
  // Before the history starts or past what was copied: no translation
  assert.equal(await t(h, 99n), 'none')
  assert.equal(await t(h, 401n), 'none')
  // Unless the mirror's position shows only dropped records (markers) lie between
  assert.equal(await t(h, 402n, 402n), '307~')
})

test('a transaction marker between batches: offsets in the gap go to the next record copied', async () => {
  // Given records 0..9, a commit marker at 10, records 11..20 (written at 0..9 and 10..19)
  const h = new OffsetHistory()
  h.add('orders', 0, 0n, 11n, 0n, 10n) // the marker folded into the first span: not exact
  h.add('orders', 0, 11n, 21n, 10n, 10n)
  assert.equal(h.size, 2)
  // Then 10 (the marker) and 11 both translate to 10, the target offset of source record 11
  assert.equal(await t(h, 11n), '10')
  // And inside the first run, a counter of the source places the offset exactly
  const counter = async (_topic: string, _p: number, from: bigint, to: bigint): Promise<bigint> => (to > 10n ? 10n : to) - from
  assert.equal(await t(h, 10n, undefined, counter), '10')
  assert.equal(await t(h, 4n, undefined, counter), '4')
  // Without a counter, the run's start: re-read, never skipped
  assert.equal(await t(h, 4n), '0~')
})

test('a rewind (the same records copied again) follows the newest copy; changes are reported for the history topic', async () => {
  const h = new OffsetHistory()
  h.add('orders', 0, 0n, 1000n, 0n, 1000n)
  h.drainChanges()
  // When records 500.. are copied again after a restart, to target offsets 1000..
  h.add('orders', 0, 500n, 800n, 1000n, 300n)
  // Then 600 translates to its newest copy, 499 to its only one
  assert.equal(await t(h, 600n), '1100')
  assert.equal(await t(h, 499n), '499')
  // And the history topic is told: the first run was cut, a new run starts at 500
  const changes = h.drainChanges().map(c => `${c.upstream}:${c.run === undefined ? 'gone' : `${c.run.upstreamEnd}/${c.run.downstream}/${c.run.records}`}`).sort()
  assert.deepEqual(changes, ['0:500/0/500', '500:800/1000/300'])
})

test('a batch whose target offset is unknown (a resend the broker had) is translated only to a lower bound', async () => {
  const h = new OffsetHistory()
  h.add('orders', 0, 0n, 10n, 0n, 10n)
  h.add('orders', 0, 10n, 20n, -1n, 10n)
  h.add('orders', 0, 20n, 30n, 20n, 10n)
  assert.equal(await t(h, 15n), '10~')
  assert.equal(await t(h, 20n), '20')
})

test('a history read back from its topic translates as the one that wrote it; runs of records gone from the source are dropped', async () => {
  const h = new OffsetHistory()
  h.add('orders', 0, 0n, 100n, 5n, 100n)
  h.add('orders', 0, 101n, 200n, 105n, 99n)
  const copy = new OffsetHistory()
  for (const c of h.drainChanges()) copy.load(c.topic, c.partition, c.run, c.upstream)
  for (const c of [0n, 50n, 100n, 101n, 150n, 200n]) assert.equal(await t(copy, c), await t(h, c))
  assert.equal(copy.forgetBefore('orders', 0, 150n), 1)
  assert.equal(await t(copy, 50n), 'none')
  assert.equal(await t(copy, 150n), '154')
})
