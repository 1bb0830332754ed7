// Topic config sync of an MM2 flow, as MirrorSourceConnector does it (sync.topic.configs.*,
// config.properties.exclude, use.defaults.from), with one difference: only what differs is written.
//
// MM2 4.x (MirrorSourceConnector.targetConfig + incrementalAlterConfigs, DefaultConfigPropertyFilter):
// - of the source topic's described configs, read-only, sensitive and STATIC_BROKER_CONFIG entries
//   and the names config.properties.exclude matches (a list of Java regexes, whole names) are left out;
// - an entry at its default (source DEFAULT_CONFIG) is DELETEd on the target topic, so the target
//   cluster's default applies (use.defaults.from=target, the default), or SET to the source's
//   default (use.defaults.from=source);
// - every other entry (topic overrides, and the source's dynamic broker-wide values) is SET;
// - a new target topic is created with the same entries, defaults only with use.defaults.from=source.
// MM2 sends every operation every interval; here the target topic's configs are described first and
// only the operations that change something are sent, so the log and metrics say what changed.
// Partition counts are the engine's (Mirror.#checkPartitionCounts, with `source` partitioning as the
// mm2 command runs it): the target topic gets as many partitions at each topic refresh.
import { ConfigResourceTypes, ConfigSources, IncrementalAlterConfigOperationTypes, type Admin } from '@platformatic/kafka'
import { javaRegexToJs } from '../config/topic-filter.ts'
import { describeCause } from '../errors.ts'
import { silentLogger, type Logger } from '../log.ts'
import type { Mirror } from '../mirror/mirror.ts'

/** DefaultConfigPropertyFilter.CONFIG_PROPERTIES_EXCLUDE_DEFAULT of connect-mirror 4.3.1, as it is. */
export const CONFIG_PROPERTIES_EXCLUDE_DEFAULT = [
  'follower.replication.throttled.replicas', 'leader.replication.throttled.replicas',
  'message.timestamp.difference.max.ms', 'log.message.timestamp.before.max.ms', 'log.message.timestamp.after.max.ms',
  'message.timestamp.type', 'unclean.leader.election.enable', 'min.insync.replicas'
]

/** What a plug-in gets from mm2-config's runner (CONTRACTS.md); declared here until src/mm2/runner.ts is merged. */
export interface FlowContext {
  flow: unknown
  mirror: Mirror
  sourceAdmin: Admin
  targetAdmin: Admin
  policy: { formatRemoteTopic (sourceAlias: string, topic: string): string }
}

export interface FlowPlugin {
  start (ctx: FlowContext): Promise<void>
  stop (): Promise<void>
}

/** One described config entry, as Admin.describeConfigs gives it. */
export interface ConfigEntry {
  name: string
  value: string | null
  readOnly: boolean
  configSource: number
  isSensitive: boolean
}

export type ConfigOp = { name: string, configOperation: typeof IncrementalAlterConfigOperationTypes.SET, value: string } | { name: string, configOperation: typeof IncrementalAlterConfigOperationTypes.DELETE }

/** MM2's DefaultConfigPropertyFilter: `config.properties.exclude` and `use.defaults.from`. */
export class ConfigPropertyFilter {
  readonly exclude: RegExp | undefined
  readonly useDefaultsFrom: 'source' | 'target'

  /** `exclude`: the Java regexes of config.properties.exclude (joined with |, each must match a whole name). */
  constructor (exclude: string[] = CONFIG_PROPERTIES_EXCLUDE_DEFAULT, useDefaultsFrom: 'source' | 'target' = 'target') {
    const list = exclude.map(s => s.trim()).filter(s => s !== '')
    if (list.length > 0) {
      const { source, flags } = javaRegexToJs(list.join('|'))
      this.exclude = new RegExp(`^(?:${source})$`, flags)
    }
    this.useDefaultsFrom = useDefaultsFrom
  }

  shouldReplicateConfigProperty (name: string): boolean {
    return this.exclude === undefined || !this.exclude.test(name)
  }

  shouldReplicateSourceDefault (): boolean {
    return this.useDefaultsFrom === 'source'
  }
}

/** MirrorSourceConnector.targetConfig: the source entries a target topic takes. */
function replicated (entries: ConfigEntry[], filter: ConfigPropertyFilter, incremental: boolean): ConfigEntry[] {
  return entries.filter(e => (incremental || e.configSource !== ConfigSources.DEFAULT_CONFIG || filter.shouldReplicateSourceDefault()) &&
    !e.readOnly && !e.isSensitive && e.configSource !== ConfigSources.STATIC_BROKER_CONFIG && e.value !== null &&
    filter.shouldReplicateConfigProperty(e.name))
}

/** The configs a new target topic is created with (MirrorSourceConnector.createNewTopics). */
export function newTopicConfigs (source: ConfigEntry[], filter: ConfigPropertyFilter): Record<string, string> {
  return Object.fromEntries(replicated(source, filter, false).map(e => [e.name, e.value!]))
}

/**
 * The operations that make the target topic's configs what MM2 would make them, given the source
 * topic's described configs and the target topic's: only those that change something.
 */
export function configOps (source: ConfigEntry[], target: ConfigEntry[], filter: ConfigPropertyFilter): ConfigOp[] {
  const current = new Map(target.map(e => [e.name, e]))
  const ops: ConfigOp[] = []
  for (const e of replicated(source, filter, true)) {
    const t = current.get(e.name)
    if (e.configSource === ConfigSources.DEFAULT_CONFIG && !filter.shouldReplicateSourceDefault()) {
      // DELETE removes a topic override; there is nothing to remove when the target has none.
      if (t?.configSource === ConfigSources.DYNAMIC_TOPIC_CONFIG) ops.push({ name: e.name, configOperation: IncrementalAlterConfigOperationTypes.DELETE })
    } else if (t === undefined || t.value !== e.value || t.configSource !== ConfigSources.DYNAMIC_TOPIC_CONFIG) {
      ops.push({ name: e.name, configOperation: IncrementalAlterConfigOperationTypes.SET, value: e.value! })
    }
  }
  return ops
}

export interface TopicConfigSyncOptions {
  sourceAlias: string
  /** sync.topic.configs.enabled (default true). */
  enabled: boolean
  /** sync.topic.configs.interval.seconds × 1000 (default 600 s). */
  intervalMs: number
  filter: ConfigPropertyFilter
  logger?: Logger
}

/** A flow's key value as the mm2 config gives it: text, or typed (number, boolean, list). */
export type FlowValue = string | number | boolean | string[] | undefined

export const flowBoolean = (value: FlowValue, fallback: boolean): boolean => value === undefined ? fallback : String(value).trim().toLowerCase() === 'true'
export const flowList = (value: FlowValue): string[] | undefined => value === undefined ? undefined : Array.isArray(value) ? value : String(value).split(',')

/** Reads the keys of a flow (`get` applies MM2's layering) into TopicConfigSyncOptions. */
export function topicConfigSyncOptions (sourceAlias: string, get: (key: string) => FlowValue, logger?: Logger): TopicConfigSyncOptions {
  const defaults = get('use.defaults.from')
  return {
    sourceAlias,
    enabled: flowBoolean(get('sync.topic.configs.enabled'), true),
    intervalMs: Number(get('sync.topic.configs.interval.seconds') ?? 600) * 1000,
    filter: new ConfigPropertyFilter(flowList(get('config.properties.exclude')) ?? CONFIG_PROPERTIES_EXCLUDE_DEFAULT, String(defaults).trim().toLowerCase() === 'source' ? 'source' : 'target'),
    logger
  }
}

async function describe (admin: Admin, topics: string[]): Promise<Map<string, ConfigEntry[]>> {
  const result = new Map<string, ConfigEntry[]>()
  if (topics.length === 0) return result
  const described = await admin.describeConfigs({ resources: topics.map(resourceName => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName })) })
  for (const r of described) result.set(r.resourceName, r.configs.map(c => ({ name: c.name, value: c.value ?? null, readOnly: c.readOnly, configSource: c.configSource, isSensitive: c.isSensitive })))
  return result
}

/**
 * The plug-in: every sync.topic.configs.interval.seconds, and at once for topics the mirror starts
 * copying, the flow's target topics get their source topics' configs.
 */
export class TopicConfigSync implements FlowPlugin {
  readonly options: TopicConfigSyncOptions
  #ctx: FlowContext | undefined
  #timer: NodeJS.Timeout | undefined
  #log: Logger
  #running: Promise<unknown> = Promise.resolve()
  #onTopics = (topics: string[]): void => { this.#schedule(topics) }
  /** Operations sent so far, for tests and metrics. */
  changes = 0

  constructor (options: TopicConfigSyncOptions) {
    this.options = options
    this.#log = options.logger ?? silentLogger
  }

  async start (ctx: FlowContext): Promise<void> {
    if (!this.options.enabled) return
    this.#ctx = ctx
    ctx.mirror.on('topics', this.#onTopics)
    this.#timer = setInterval(() => { this.#schedule() }, Math.max(1000, this.options.intervalMs))
    this.#timer.unref()
    this.#schedule()
  }

  async stop (): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#ctx?.mirror.off('topics', this.#onTopics)
    this.#ctx = undefined
    await this.#running
  }

  /** One sync at a time; a failure is logged and the next interval tries again. */
  #schedule (topics?: string[]): void {
    this.#running = this.#running.then(async () => await this.sync(topics)).catch((error: unknown) => {
      this.#log.warn({ err: describeCause(error), source: this.options.sourceAlias }, 'syncing topic configs failed; trying again at the next sync.topic.configs.interval.seconds')
    })
  }

  /** Syncs the configs of `topics` (source names; default every topic the mirror copies). */
  async sync (topics?: string[]): Promise<number> {
    const ctx = this.#ctx
    if (ctx === undefined) return 0
    const sourceTopics = topics ?? ctx.mirror.topics
    if (sourceTopics.length === 0) return 0
    const remote = new Map(sourceTopics.map(t => [t, ctx.policy.formatRemoteTopic(this.options.sourceAlias, t)]))
    const [source, target] = await Promise.all([describe(ctx.sourceAdmin, sourceTopics), describe(ctx.targetAdmin, [...remote.values()])])
    const resources = []
    for (const [topic, entries] of source) {
      const name = remote.get(topic)!
      const ops = configOps(entries, target.get(name) ?? [], this.options.filter)
      if (ops.length === 0) continue
      resources.push({ resourceType: ConfigResourceTypes.TOPIC, resourceName: name, configs: ops })
      this.#log.info({ cluster: 'target', topic: name, set: ops.filter(o => o.configOperation === IncrementalAlterConfigOperationTypes.SET).map(o => o.name).join(','), deleted: ops.filter(o => o.configOperation === IncrementalAlterConfigOperationTypes.DELETE).map(o => o.name).join(',') }, 'syncing the source topic\'s configs to the target topic')
    }
    if (resources.length === 0) return 0
    await ctx.targetAdmin.incrementalAlterConfigs({ resources })
    const sent = resources.reduce((s, r) => s + r.configs.length, 0)
    this.changes += sent
    return sent
  }
}

/** MirrorOptions.targetTopicConfigs for a flow: a new target topic gets the source's configs as MM2 creates it. */
export function targetTopicConfigs (filter: ConfigPropertyFilter): (sourceTopic: string, sourceAdmin: Admin) => Promise<Record<string, string>> {
  return async (sourceTopic, sourceAdmin) => newTopicConfigs((await describe(sourceAdmin, [sourceTopic])).get(sourceTopic) ?? [], filter)
}
