// The checkpoints plug-in (MM2's MirrorCheckpointConnector) and group offset sync:
// - every emit.checkpoints.interval.seconds, for each source consumer group that `groups` /
//   `groups.exclude` select, the committed offsets of the flow's mirrored topics, translated by
//   the offset history, as MM2 Checkpoint records in `<source>.checkpoints.internal` on the
//   target (policy.checkpointsTopic(source)), keyed by the downstream topic (policy-named, e.g.
//   `A.orders`). The downstream offset is the target offset of the next record the group would
//   read, record-exact (MM2's is the offset after its nearest older sync);
// - with sync.group.offsets.enabled, every sync.group.offsets.interval.seconds, the translated
//   offsets committed to the target groups of the same name that have no active member, never
//   moving a partition back; groups with members are skipped, logged and counted.
// As MM2: a checkpoint is emitted when it moves the downstream offset forward or the group went
// back on the source (checkpointIsMoreRecent), and the last ones are read back at start.
import type { Producer } from '@platformatic/kafka'
import { describeCause } from '../errors.ts'
import type { Logger } from '../log.ts'
import { silentLogger } from '../log.ts'
import { decodeCheckpoint, encodeCheckpointKey, encodeCheckpointValue, type Checkpoint } from './formats.ts'
import { ensureCompactedTopic, internalProducer, readPartition } from './internal-topics.ts'
import type { OffsetSyncsPlugin } from './offset-syncs.ts'
import type { FlowContext, FlowPlugin } from './plugin-api.ts'
import { offsetsSettings, type OffsetsSettings } from './settings.ts'

export interface CheckpointsOptions {
  logger?: Logger
  settings?: Partial<OffsetsSettings>
}

export interface GroupSyncResult {
  /** Group → partitions committed ("topic:partition" → offset). */
  synced: Map<string, Map<string, bigint>>
  /** Groups with active members on the target: left alone. */
  skippedActive: string[]
}

const key = (group: string, topic: string, partition: number): string => `${group}\u0000${topic}\u0000${partition}`

export class CheckpointsPlugin implements FlowPlugin {
  readonly counts = { checkpointsWritten: 0, inexactCheckpoints: 0, untranslated: 0, groupOffsetsSynced: 0, activeGroupsSkipped: 0 }
  #offsets: OffsetSyncsPlugin
  #log: Logger
  #overrides: Partial<OffsetsSettings>
  #ctx: FlowContext | undefined
  #settings: OffsetsSettings | undefined
  #producer: Producer | undefined
  #topic = ''
  /** The newest checkpoint of each group and downstream partition. */
  #last = new Map<string, Checkpoint>()
  #timers: NodeJS.Timeout[] = []
  #busy = false

  constructor (offsetSyncs: OffsetSyncsPlugin, options: CheckpointsOptions = {}) {
    this.#offsets = offsetSyncs
    this.#log = options.logger ?? silentLogger
    this.#overrides = options.settings ?? {}
  }

  get checkpointsTopic (): string {
    return this.#topic
  }

  /** The newest checkpoints, by group. */
  checkpoints (group: string): Checkpoint[] {
    return [...this.#last.values()].filter(c => c.group === group)
  }

  async start (ctx: FlowContext): Promise<void> {
    this.#log = ctx.logger ?? this.#log
    this.#ctx = ctx
    const settings = this.#settings = { ...offsetsSettings(ctx.flow), ...this.#overrides }
    this.#topic = ctx.policy.checkpointsTopic(ctx.flow.source)
    const target = ctx.mirror.settings.target
    if (settings.emitCheckpointsEnabled || settings.syncGroupOffsetsEnabled) {
      await ensureCompactedTopic(ctx.targetAdmin, 'target', this.#topic, settings.checkpointsTopicReplicationFactor, 'checkpoints.topic.replication.factor')
      for (const r of await readPartition(target, this.#topic)) {
        try {
          const c = decodeCheckpoint(r.key, r.value)
          this.#last.set(key(c.group, c.topic, c.partition), c)
        } catch {
          // Not a checkpoint (MM2 skips such records too).
        }
      }
      this.#producer = internalProducer(target, `${target.clientId}-mm2-checkpoints`)
    }
    const every = (ms: number, work: () => Promise<unknown>, what: string): void => {
      const timer = setInterval(() => { work().catch((error: unknown) => this.#log.warn({ err: describeCause(error) }, `${what} failed; trying again at the next interval`)) }, ms)
      timer.unref()
      this.#timers.push(timer)
    }
    if (settings.emitCheckpointsEnabled) every(settings.emitCheckpointsIntervalMs, async () => await this.emitCheckpoints(), 'emitting checkpoints')
    if (settings.syncGroupOffsetsEnabled) every(settings.syncGroupOffsetsIntervalMs, async () => await this.syncGroupOffsets(), 'syncing group offsets')
    this.#log.info({ flow: `${ctx.flow.source}->${ctx.flow.target}`, checkpoints: this.#topic, emitCheckpoints: settings.emitCheckpointsEnabled, syncGroupOffsets: settings.syncGroupOffsetsEnabled }, 'checkpointing consumer groups')
  }

  /** The downstream name of a source topic, as MM2's MirrorCheckpointTask.renameTopicPartition. */
  #downstreamTopic (topic: string): string {
    const { flow, policy } = this.#ctx!
    return policy.topicSource(topic) === flow.target ? policy.originalTopic(topic) : policy.formatRemoteTopic(flow.source, topic)
  }

  async #sourceGroups (): Promise<string[]> {
    const { sourceAdmin, mirror } = this.#ctx!
    let listed
    try {
      listed = await sourceAdmin.listGroups({ types: ['classic', 'consumer'] })
    } catch {
      listed = await sourceAdmin.listGroups()
    }
    const own = mirror.settings.source.groupId
    return [...listed.values()].filter(g => g.protocolType === 'consumer' || g.protocolType === '' || g.groupType === 'consumer').map(g => g.id).filter(id => id !== own && this.#settings!.groupMatches(id)).sort()
  }

  /** One round of checkpoints: what was written. */
  async emitCheckpoints (): Promise<Checkpoint[]> {
    if (this.#ctx === undefined || this.#producer === undefined || this.#busy) return []
    this.#busy = true
    try {
      const { sourceAdmin, mirror } = this.#ctx
      const groups = await this.#sourceGroups()
      if (groups.length === 0) return []
      const mirrored = new Set(mirror.topics)
      const fresh: Checkpoint[] = []
      const committed = await sourceAdmin.listConsumerGroupOffsets({ groups })
      for (const g of committed) {
        for (const t of g.topics) {
          if (!mirrored.has(t.name)) continue
          for (const p of t.partitions) {
            if (p.committedOffset < 0n) continue
            const translated = await this.#offsets.translate(t.name, p.partitionIndex, p.committedOffset)
            if (translated === undefined) { this.counts.untranslated++; continue }
            const checkpoint: Checkpoint = { group: g.groupId, topic: this.#downstreamTopic(t.name), partition: p.partitionIndex, upstreamOffset: p.committedOffset, downstreamOffset: translated.downstream, metadata: p.metadata ?? '' }
            const last = this.#last.get(key(checkpoint.group, checkpoint.topic, checkpoint.partition))
            const newer = last === undefined || checkpoint.upstreamOffset < last.upstreamOffset || checkpoint.downstreamOffset > last.downstreamOffset
            if (!newer) continue
            if (!translated.exact) this.counts.inexactCheckpoints++
            fresh.push(checkpoint)
          }
        }
      }
      if (fresh.length === 0) return []
      const messages = fresh.map(c => ({ topic: this.#topic, partition: 0, key: encodeCheckpointKey(c), value: encodeCheckpointValue(c) }))
      for (let i = 0; i < messages.length; i += 500) await this.#producer.send({ messages: messages.slice(i, i + 500), acks: -1 })
      for (const c of fresh) this.#last.set(key(c.group, c.topic, c.partition), c)
      this.counts.checkpointsWritten += fresh.length
      this.#log.debug({ checkpoints: fresh.length, groups: groups.length }, 'checkpoints written')
      return fresh
    } finally {
      this.#busy = false
    }
  }

  /**
   * Commits the newest checkpoints to the target groups of the same name that have no active
   * member, partition by partition only where that moves the group forward (MM2's
   * syncGroupOffset). A group with members is left alone: the consumers own their offsets.
   */
  async syncGroupOffsets (): Promise<GroupSyncResult> {
    const result: GroupSyncResult = { synced: new Map(), skippedActive: [] }
    if (this.#ctx === undefined) return result
    const { targetAdmin } = this.#ctx
    const byGroup = new Map<string, Checkpoint[]>()
    for (const c of this.#last.values()) {
      if (!this.#settings!.groupMatches(c.group)) continue
      let list = byGroup.get(c.group)
      if (list === undefined) byGroup.set(c.group, list = [])
      list.push(c)
    }
    if (byGroup.size === 0) return result
    let described: Awaited<ReturnType<typeof targetAdmin.describeGroups>> | undefined
    try {
      described = await targetAdmin.describeGroups({ groups: [...byGroup.keys()] })
    } catch {
      // One group the classic DescribeGroups cannot answer (a KIP-848 consumer group) fails the
      // whole request: ask group by group below.
    }
    for (const [group, checkpoints] of byGroup) {
      let d = described?.get(group)
      if (described === undefined) {
        try {
          d = (await targetAdmin.describeGroups({ groups: [group] })).get(group)
        } catch (error) {
          this.#skipActive(result, group, `unknown (${describeCause(error)})`)
          continue
        }
      }
      const state = String(d?.state ?? 'Dead').toUpperCase()
      if ((d?.members.size ?? 0) > 0 || !['EMPTY', 'DEAD', ''].includes(state)) {
        this.#skipActive(result, group, state)
        continue
      }
      const current = new Map<string, bigint>()
      const listed = await targetAdmin.listConsumerGroupOffsets({ groups: [group] })
      for (const g of listed) for (const t of g.topics) for (const p of t.partitions) current.set(`${t.name}:${p.partitionIndex}`, p.committedOffset)
      const forward = checkpoints.filter(c => (current.get(`${c.topic}:${c.partition}`) ?? -1n) < c.downstreamOffset)
      if (forward.length === 0) continue
      const topics = new Map<string, Array<{ partition: number, offset: bigint }>>()
      for (const c of forward) {
        let list = topics.get(c.topic)
        if (list === undefined) topics.set(c.topic, list = [])
        list.push({ partition: c.partition, offset: c.downstreamOffset })
      }
      try {
        await targetAdmin.alterConsumerGroupOffsets({ groupId: group, topics: [...topics].map(([name, partitionOffsets]) => ({ name, partitionOffsets })) })
      } catch (error) {
        // A member joined between the check and the commit: the broker refuses (UNKNOWN_MEMBER_ID).
        if (/UNKNOWN_MEMBER_ID|REBALANCE_IN_PROGRESS|ILLEGAL_GENERATION|member/i.test(describeCause(error))) {
          this.#skipActive(result, group, 'joined while syncing')
          continue
        }
        throw error
      }
      result.synced.set(group, new Map(forward.map(c => [`${c.topic}:${c.partition}`, c.downstreamOffset])))
      this.counts.groupOffsetsSynced += forward.length
      this.#log.info({ group, partitions: forward.length }, 'synced the group\'s translated offsets to the target')
    }
    return result
  }

  #skipActive (result: GroupSyncResult, group: string, state: string): void {
    result.skippedActive.push(group)
    this.counts.activeGroupsSkipped++
    this.#log.info({ group, state }, 'the target group has active members (or its state is unknown): its offsets are not synced (sync.group.offsets.enabled syncs only groups without members)')
  }

  async stop (): Promise<void> {
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    await this.#producer?.close().catch(() => {})
    this.#producer = undefined
  }
}
