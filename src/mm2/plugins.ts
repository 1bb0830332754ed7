// The flow plug-ins this build has: offset syncs, checkpoints, heartbeats and group offsets
// (mm2-formats), topic configs, ACLs and the take-over from a running MM2 (mm2-sync). Each adds
// one line here; the mm2 command runs them for every flow they create an instance for.
import type { FlowPluginRegistration } from './runner.ts'

export const builtInFlowPlugins: FlowPluginRegistration[] = []
