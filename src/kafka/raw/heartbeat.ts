// Heartbeat at the version each group coordinator serves: the library's own request files (v4
// flexible, Kafka 2.4+; v3 with the group instance id, 2.3+; v0, 0.9+), which take the same
// arguments. The mirror sends one of its own only to ask whether the group started a rebalance
// (src/mirror/worker.ts, `rebalanceStarted`); the consumer's own heartbeats keep the membership.
import { heartbeatV0, heartbeatV3, heartbeatV4, type Connection } from '@platformatic/kafka'
import { versionFor, type VersionedApi } from './versions.ts'

type HeartbeatApi = typeof heartbeatV4.api

export const HEARTBEAT: VersionedApi<HeartbeatApi> = {
  name: 'Heartbeat',
  key: 12,
  versions: [
    { version: 4, since: '2.4', api: heartbeatV4.api },
    { version: 3, since: '2.3', api: heartbeatV3.api as unknown as HeartbeatApi },
    { version: 0, since: '0.9', api: heartbeatV0.api as unknown as HeartbeatApi }
  ]
}

/** The Heartbeat request of the highest version this coordinator serves. */
export async function heartbeatApi (connection: Connection): Promise<HeartbeatApi> {
  return (await versionFor(connection, HEARTBEAT, 'the group coordinator')).api
}
