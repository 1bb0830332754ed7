// The plug-ins of MM2's offset translation and liveness for one flow, for the mm2 runner to
// register: offset syncs (and the offset history) first, since checkpoints translate with it.
import type { Logger } from '../log.ts'
import { CheckpointsPlugin } from './checkpoints.ts'
import { HeartbeatsPlugin } from './heartbeats.ts'
import { OffsetSyncsPlugin } from './offset-syncs.ts'
import type { FlowPlugin } from './plugin-api.ts'

export interface OffsetPlugins {
  offsetSyncs: OffsetSyncsPlugin
  checkpoints: CheckpointsPlugin
  heartbeats: HeartbeatsPlugin
  /** In start order. */
  all: FlowPlugin[]
}

export function offsetPlugins (options: { logger?: Logger } = {}): OffsetPlugins {
  const offsetSyncs = new OffsetSyncsPlugin(options)
  const checkpoints = new CheckpointsPlugin(offsetSyncs, options)
  const heartbeats = new HeartbeatsPlugin(options)
  return { offsetSyncs, checkpoints, heartbeats, all: [offsetSyncs, checkpoints, heartbeats] }
}
