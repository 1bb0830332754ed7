// OffsetCommit at the version each group coordinator serves: the library's own request files (v8
// flexible, Kafka 2.4+; v6 with the leader epoch, 2.1+; v3, 0.11+), which take the same arguments.
// The copy loop commits straight to the coordinator (src/mirror/offset-committer.ts says why), so
// the choice the library's Consumer makes for itself has to be made here too.
import { offsetCommitV3, offsetCommitV6, offsetCommitV8, type Connection } from '@platformatic/kafka'
import { versionFor, type VersionedApi } from './versions.ts'

type OffsetCommitApi = typeof offsetCommitV8.api

export const OFFSET_COMMIT: VersionedApi<OffsetCommitApi> = {
  name: 'OffsetCommit',
  key: 8,
  versions: [
    { version: 8, since: '2.4', api: offsetCommitV8.api },
    { version: 6, since: '2.1', api: offsetCommitV6.api as unknown as OffsetCommitApi },
    { version: 3, since: '0.11', api: offsetCommitV3.api as unknown as OffsetCommitApi }
  ]
}

/** The OffsetCommit request of the highest version this coordinator serves. */
export async function offsetCommitApi (connection: Connection): Promise<OffsetCommitApi> {
  return (await versionFor(connection, OFFSET_COMMIT, 'the group coordinator')).api
}
