// Cycle prevention where topic names cannot do it (IdentityReplicationPolicy, which MM2 documents
// as unable to prevent cycles). Each record a flow A->B writes carries the header
// `kafka-mirror.provenance`: the aliases of the clusters it was copied from, in hop order ("A",
// then "A,B" after B->C). A flow never writes a record whose provenance holds its target: the
// record came from there. This is MirrorSourceConnector.isCycle's rule applied to records instead
// of names: a record is never copied back to a cluster it has been on.
// The flow's batches are encoded again to carry the header; a dropped record counts as copied (its
// offset is committed, as a transaction marker's is), so the copy loop's invariants hold.
import type { DecodedRecord } from '../kafka/raw/record-batch.ts'

export const PROVENANCE_HEADER = 'kafka-mirror.provenance'
const headerName = Buffer.from(PROVENANCE_HEADER)

/** The clusters a record was copied from, oldest first; empty for a record written by a producer. */
export function provenanceOf (record: DecodedRecord): string[] {
  for (let i = record.headers.length - 1; i >= 0; i--) {
    const [name, value] = record.headers[i]
    if (name.equals(headerName)) return value === null || value.length === 0 ? [] : value.toString('utf8').split(',')
  }
  return []
}

/** The record rewrite of flow source->target: drops records that came from `target`, stamps the others. */
export function provenanceRewrite (source: string, target: string): (record: DecodedRecord) => DecodedRecord | undefined {
  return record => {
    const path = provenanceOf(record)
    if (path.includes(target)) return undefined
    const value = Buffer.from([...path, source].join(','))
    const at = record.headers.findLastIndex(([name]) => name.equals(headerName))
    const headers = [...record.headers]
    if (at >= 0) headers[at] = [headerName, value]
    else headers.push([headerName, value])
    return { ...record, headers }
  }
}
