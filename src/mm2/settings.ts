// The MM2 keys the offset-sync, checkpoint, group-offset-sync and heartbeat plug-ins read, with
// MirrorMaker 2 4.x's defaults (MirrorSourceConfig, MirrorCheckpointConfig, MirrorHeartbeatConfig),
// resolved through the flow (`A->B.key` over `A.key` over `key`; mm2-config declares and validates them).
import { javaRegexToJs } from '../config/topic-filter.ts'
import type { FlowLike } from './plugin-api.ts'

export interface OffsetsSettings {
  /** emit.offset-syncs.enabled: MM2's offset syncs topic is written (our history, which checkpoints use, always is). */
  emitOffsetSyncsEnabled: boolean
  /** offset-syncs.topic.location: where mm2-offset-syncs.<target>.internal (and our offset history) live. */
  offsetSyncsTopicLocation: 'source' | 'target'
  offsetSyncsTopicReplicationFactor: number
  /** How often new offset syncs and history runs are written (ms); MM2 writes them at its offset flush. */
  offsetSyncsFlushIntervalMs: number
  emitCheckpointsEnabled: boolean
  emitCheckpointsIntervalMs: number
  checkpointsTopicReplicationFactor: number
  syncGroupOffsetsEnabled: boolean
  syncGroupOffsetsIntervalMs: number
  groupMatches: (group: string) => boolean
}

export interface HeartbeatsSettings {
  emitHeartbeatsEnabled: boolean
  emitHeartbeatsIntervalMs: number
  heartbeatsTopicReplicationFactor: number
}

export const MM2_DEFAULT_GROUPS = '.*'
export const MM2_DEFAULT_GROUPS_EXCLUDE = 'console-consumer-.*, connect-.*, __.*'

/** A key's value as MM2's properties text (lists joined by commas); undefined when not given. */
function text (flow: FlowLike, key: string): string | undefined {
  const value = flow.get(key)
  if (value === undefined) return undefined
  const t = (Array.isArray(value) ? value.join(',') : String(value)).trim()
  return t === '' ? undefined : t
}

function number (flow: FlowLike, key: string, fallback: number): number {
  const t = text(flow, key)
  const n = t === undefined ? fallback : Number(t)
  return Number.isFinite(n) ? n : fallback
}

function bool (flow: FlowLike, key: string, fallback: boolean): boolean {
  const t = text(flow, key)?.toLowerCase()
  return t === undefined ? fallback : t === 'true'
}

/** MM2's group filter: whole-name Java regexes, comma-separated; excluded wins. */
export function groupFilter (groups: string, exclude: string): (group: string) => boolean {
  const compile = (list: string): RegExp[] => list.split(',').map(s => s.trim()).filter(s => s !== '').map(s => { const r = javaRegexToJs(s); return new RegExp(`^(?:${r.source})$`, r.flags) })
  const include = compile(groups)
  const out = compile(exclude)
  return group => include.some(r => r.test(group)) && !out.some(r => r.test(group))
}

export function offsetsSettings (flow: FlowLike): OffsetsSettings {
  return {
    emitOffsetSyncsEnabled: bool(flow, 'emit.offset-syncs.enabled', true),
    offsetSyncsTopicLocation: text(flow, 'offset-syncs.topic.location') === 'target' ? 'target' : 'source',
    offsetSyncsTopicReplicationFactor: number(flow, 'offset-syncs.topic.replication.factor', 3),
    offsetSyncsFlushIntervalMs: 1000,
    emitCheckpointsEnabled: bool(flow, 'emit.checkpoints.enabled', true),
    emitCheckpointsIntervalMs: number(flow, 'emit.checkpoints.interval.seconds', 60) * 1000,
    checkpointsTopicReplicationFactor: number(flow, 'checkpoints.topic.replication.factor', 3),
    syncGroupOffsetsEnabled: bool(flow, 'sync.group.offsets.enabled', false),
    syncGroupOffsetsIntervalMs: number(flow, 'sync.group.offsets.interval.seconds', 60) * 1000,
    groupMatches: flow.groupFilter ?? groupFilter(text(flow, 'groups') ?? MM2_DEFAULT_GROUPS, text(flow, 'groups.exclude') ?? MM2_DEFAULT_GROUPS_EXCLUDE)
  }
}

export function heartbeatsSettings (flow: FlowLike): HeartbeatsSettings {
  return {
    emitHeartbeatsEnabled: bool(flow, 'emit.heartbeats.enabled', true),
    emitHeartbeatsIntervalMs: number(flow, 'emit.heartbeats.interval.seconds', 1) * 1000,
    heartbeatsTopicReplicationFactor: number(flow, 'heartbeats.topic.replication.factor', 3)
  }
}

/** A FlowLike over a plain map of MM2 keys (tests; a runner gives its own). */
export function flowOf (source: string, target: string, keys: Record<string, string> = {}): FlowLike {
  return { source, target, get: key => keys[`${source}->${target}.${key}`] ?? keys[key] }
}
