// The versions of the transaction APIs the exactly-once mode uses, highest first; each broker gets
// the highest it serves (versions.ts). All are the library's own request files, pinned to a
// version. EndTxn v5 and Produce v12 (Kafka 4.0's "transactions V2", KIP-890) are left out on
// purpose: under them the epoch changes at every commit and partitions join a transaction
// implicitly, which the cycle in src/mirror/transactions.ts does not follow; brokers of Kafka 4
// still serve the versions below, with the classic protocol.
import { addPartitionsToTxnV0, addPartitionsToTxnV1, addPartitionsToTxnV2, addPartitionsToTxnV3, endTxnV0, endTxnV1, endTxnV2, endTxnV3, findCoordinatorV4 } from '@platformatic/kafka'
import type { VersionedApi } from './versions.ts'

type FindCoordinatorApi = typeof findCoordinatorV4.api

/** FindCoordinator with a batch of keys (key_type 1: a transactional id). v4 is the first to take a batch. */
export const FIND_COORDINATOR: VersionedApi<FindCoordinatorApi> = {
  name: 'FindCoordinator',
  key: 10,
  versions: [{ version: 4, since: '3.0', api: findCoordinatorV4.api }]
}

type AddPartitionsToTxnApi = typeof addPartitionsToTxnV3.api

/** AddPartitionsToTxn as a client sends it (v4+ are the brokers' own verification requests). */
export const ADD_PARTITIONS_TO_TXN: VersionedApi<AddPartitionsToTxnApi> = {
  name: 'AddPartitionsToTxn',
  key: 24,
  versions: [
    { version: 3, since: '2.8', api: addPartitionsToTxnV3.api },
    { version: 2, since: '2.7', api: addPartitionsToTxnV2.api },
    { version: 1, since: '2.0', api: addPartitionsToTxnV1.api },
    { version: 0, since: '0.11', api: addPartitionsToTxnV0.api }
  ]
}

type EndTxnApi = typeof endTxnV3.api

export const END_TXN: VersionedApi<EndTxnApi> = {
  name: 'EndTxn',
  key: 26,
  versions: [
    { version: 3, since: '2.8', api: endTxnV3.api },
    { version: 2, since: '2.7', api: endTxnV2.api },
    { version: 1, since: '2.0', api: endTxnV1.api },
    { version: 0, since: '0.11', api: endTxnV0.api }
  ]
}
