import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeRecords, encodeRecordBatch, readRecordBatch, type DecodedRecord } from '../../src/kafka/raw/record-batch.ts'
import { planFetchedRecords } from '../../src/mirror/plan.ts'
import { PROVENANCE_HEADER, provenanceOf, provenanceRewrite } from '../../src/mm2/provenance.ts'

const record = (offset: bigint, headers: Array<[string, string]> = []): DecodedRecord => ({
  offset, timestamp: 1000n + offset, attributes: 0, key: Buffer.from(`k${offset}`), value: Buffer.from(`v${offset}`),
  headers: headers.map(([n, v]) => [Buffer.from(n), Buffer.from(v)])
})
const names = (r: DecodedRecord): string[] => r.headers.map(([n, v]) => `${n.toString()}=${v?.toString() ?? 'null'}`)

test('given a record a producer wrote on A, when flow A->B copies it, then it carries A as its provenance and keeps its own headers first', () => {
  const out = provenanceRewrite('A', 'B')(record(0n, [['trace', 'x']]))!
  assert.deepEqual(names(out), ['trace=x', `${PROVENANCE_HEADER}=A`])
  assert.deepEqual(provenanceOf(out), ['A'])
})

test('given a record copied A->B, when flow B->A sees it, then it is not copied back; flow B->C copies it with provenance A,B', () => {
  const onB = provenanceRewrite('A', 'B')(record(0n))!
  assert.equal(provenanceRewrite('B', 'A')(onB), undefined)
  const onC = provenanceRewrite('B', 'C')(onB)!
  assert.deepEqual(provenanceOf(onC), ['A', 'B'])
  assert.equal(onC.headers.filter(([n]) => n.toString() === PROVENANCE_HEADER).length, 1)
  // C->A and C->B would close a cycle.
  assert.equal(provenanceRewrite('C', 'A')(onC), undefined)
  assert.equal(provenanceRewrite('C', 'B')(onC), undefined)
})

test('given a fetched batch mixing local and copied-back records, when planned with the rewrite, then only local records are written and the position passes them all', () => {
  const back = provenanceRewrite('A', 'B')(record(1n))!
  const local = [record(0n), { ...back, offset: 1n }, record(2n)]
  const fetched = encodeRecordBatch(local, { baseOffset: 10n })
  const plan = planFetchedRecords(fetched, 10n, { readCommitted: false, abortedTransactions: null, compression: 'keep', rewrite: provenanceRewrite('B', 'A') })
  assert.equal(plan.nextOffset, 13n)
  assert.equal(plan.units.length, 1)
  assert.equal(plan.units[0].records, 2)
  assert.equal(plan.units[0].nextOffset, 13n)
  const written = decodeRecords(readRecordBatch(plan.units[0].batch!))
  assert.deepEqual(written.map(r => r.value!.toString()), ['v0', 'v2'])
  assert.deepEqual(written.map(r => provenanceOf(r)), [['B'], ['B']])
})

test('given a fetched batch of copied-back records only, when planned with the rewrite, then nothing is written and the offsets still count as done', () => {
  const back = provenanceRewrite('A', 'B')(record(0n))!
  const fetched = encodeRecordBatch([back, { ...back, offset: 1n }], { baseOffset: 5n })
  const plan = planFetchedRecords(fetched, 5n, { readCommitted: false, abortedTransactions: null, compression: 'keep', rewrite: provenanceRewrite('B', 'A') })
  assert.equal(plan.nextOffset, 7n)
  assert.deepEqual(plan.units.map(u => [u.batch, u.firstOffset, u.nextOffset]), [[null, 5n, 7n]])
})
