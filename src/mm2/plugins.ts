// The flow plug-ins this build has: the take-over from a running MM2, topic config sync and ACL
// sync (sync-plugins.ts); offset syncs, checkpoints, heartbeats and group offsets
// (offset-plugins.ts). Each adds one line here; the mm2 command runs them for every flow they
// create an instance for.
import { mm2OffsetsRegistration } from './offset-plugins.ts'
import type { FlowPluginRegistration } from './runner.ts'
import { syncFlowPlugins } from './sync-plugins.ts'

export const builtInFlowPlugins: FlowPluginRegistration[] = [...syncFlowPlugins, mm2OffsetsRegistration]
