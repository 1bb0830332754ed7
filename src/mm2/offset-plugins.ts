// The plug-ins of MM2's offset translation and liveness for one flow, as one FlowPlugin the mm2
// runner registers (src/mm2/plugins.ts: `mm2OffsetsRegistration`): offset syncs and the offset
// history first (they listen before the Mirror starts, so no written batch is missed), then
// checkpoints and group offset sync (they translate with the history), then heartbeats.
import type { Logger } from '../log.ts'
import { CheckpointsPlugin } from './checkpoints.ts'
import { DisabledFlowHeartbeatsPlugin, HeartbeatsPlugin } from './heartbeats.ts'
import { OffsetSyncsPlugin } from './offset-syncs.ts'
import type { FlowContext, FlowLike, FlowPlugin } from './plugin-api.ts'
import { heartbeatsSettings } from './settings.ts'

export class Mm2OffsetsPlugin implements FlowPlugin {
  readonly offsetSyncs: OffsetSyncsPlugin
  readonly checkpoints: CheckpointsPlugin
  readonly heartbeats: HeartbeatsPlugin

  constructor (options: { logger?: Logger } = {}) {
    this.offsetSyncs = new OffsetSyncsPlugin(options)
    this.checkpoints = new CheckpointsPlugin(this.offsetSyncs, options)
    this.heartbeats = new HeartbeatsPlugin(options)
  }

  async beforeStart (ctx: FlowContext): Promise<void> {
    await this.offsetSyncs.beforeStart(ctx)
  }

  async start (ctx: FlowContext): Promise<void> {
    await this.offsetSyncs.start(ctx)
    await this.checkpoints.start(ctx)
    await this.heartbeats.start(ctx)
  }

  async stop (): Promise<void> {
    await this.heartbeats.stop()
    await this.checkpoints.stop()
    await this.offsetSyncs.stop()
  }
}

/** The MM2 features these plug-ins do (mm2-config's Mm2Feature names). */
export type Mm2OffsetsFeature = 'offset-syncs' | 'checkpoints' | 'group-offsets' | 'heartbeats'

/** For the runner's registry: one Mm2OffsetsPlugin per flow. */
export const mm2OffsetsRegistration = {
  name: 'mm2-offsets',
  features: ['offset-syncs', 'checkpoints', 'group-offsets', 'heartbeats'] as Mm2OffsetsFeature[],
  create: (_flow: FlowLike): FlowPlugin => new Mm2OffsetsPlugin(),
  /** A flow that is not enabled still emits heartbeats, as MM2's heartbeat connector does, unless they are off for it. */
  createForDisabledFlow: (flow: FlowLike): DisabledFlowHeartbeatsPlugin | undefined => heartbeatsSettings(flow).emitHeartbeatsEnabled ? new DisabledFlowHeartbeatsPlugin() : undefined
}
