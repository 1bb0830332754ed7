// The flow plug-ins this build has: offset syncs, checkpoints, heartbeats and group offsets
// (offset-plugins.ts), topic configs, ACLs and the take-over from a running MM2. Each adds
// one line here; the mm2 command runs them for every flow they create an instance for.
import { mm2OffsetsRegistration } from './offset-plugins.ts'
import type { FlowPluginRegistration } from './runner.ts'

export const builtInFlowPlugins: FlowPluginRegistration[] = [mm2OffsetsRegistration]
