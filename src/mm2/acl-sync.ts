// Topic ACL sync of an MM2 flow (sync.topic.acls.enabled, sync.topic.acls.interval.seconds), as
// MirrorSourceConnector.syncTopicAcls does it, so consumers may read the remote topics with the
// permissions they have on the source:
// - the source's TOPIC bindings of mirrored topics are copied to the remote topic names
//   (ReplicationPolicy.formatRemoteTopic);
// - ALLOW WRITE is dropped (only the mirror writes remote topics) and ALLOW ALL becomes ALLOW READ;
//   DENY bindings and the other operations are copied as they are;
// - bindings are only ever created on the target, never deleted (MM2 does the same: a binding
//   removed on the source stays on the target until an operator removes it).
// Beyond MM2 4.3.1, which copies LITERAL bindings only:
// - a PREFIXED binding is copied when a mirrored topic starts with its prefix, its prefix mapped as
//   a topic name (DefaultReplicationPolicy: `orders-` becomes `A.orders-`, which prefixes exactly the
//   remote topics of the source topics it covered);
// - the LITERAL wildcard `*` (every topic) becomes PREFIXED `A.` under a renaming policy (every
//   remote topic of the flow) and stays `*` under IdentityReplicationPolicy; MM2 would make a
//   literal topic named `A.*`, which matches nothing.
import { AclOperations, AclPermissionTypes, ResourcePatternTypes, ResourceTypes, type Admin } from '@platformatic/kafka'
import { describeCause } from '../errors.ts'
import { silentLogger, type Logger } from '../log.ts'
import { flowBoolean, type FlowContext, type FlowPlugin, type FlowValue } from './topic-sync.ts'

export interface AclBinding {
  resourceType: number
  resourceName: string
  resourcePatternType: number
  principal: string
  host: string
  operation: number
  permissionType: number
}

export interface AclMapping {
  /** True for a source topic the flow mirrors (its topic filter, not internal, not a cycle). */
  shouldReplicateTopic: (topic: string) => boolean
  /** The remote topic name of a source topic. */
  formatRemoteTopic: (topic: string) => string
  /** Source topics the flow mirrors now, for PREFIXED bindings. */
  topics: string[]
}

/** MirrorSourceConnector.shouldReplicateAcl + targetAclBinding, for one source binding; undefined: not copied. */
export function targetAclBinding (binding: AclBinding, mapping: AclMapping): AclBinding | undefined {
  if (binding.resourceType !== ResourceTypes.TOPIC) return undefined
  if (binding.permissionType === AclPermissionTypes.ALLOW && binding.operation === AclOperations.WRITE) return undefined
  const operation = binding.permissionType === AclPermissionTypes.ALLOW && binding.operation === AclOperations.ALL ? AclOperations.READ : binding.operation
  const entry = { principal: binding.principal, host: binding.host, operation, permissionType: binding.permissionType, resourceType: ResourceTypes.TOPIC }
  if (binding.resourcePatternType === ResourcePatternTypes.LITERAL) {
    if (binding.resourceName === '*') {
      const prefix = mapping.formatRemoteTopic('')
      return prefix === '' ? { ...entry, resourceName: '*', resourcePatternType: ResourcePatternTypes.LITERAL } : { ...entry, resourceName: prefix, resourcePatternType: ResourcePatternTypes.PREFIXED }
    }
    if (!mapping.shouldReplicateTopic(binding.resourceName)) return undefined
    return { ...entry, resourceName: mapping.formatRemoteTopic(binding.resourceName), resourcePatternType: ResourcePatternTypes.LITERAL }
  }
  if (binding.resourcePatternType === ResourcePatternTypes.PREFIXED) {
    if (!mapping.topics.some(t => t.startsWith(binding.resourceName))) return undefined
    return { ...entry, resourceName: mapping.formatRemoteTopic(binding.resourceName), resourcePatternType: ResourcePatternTypes.PREFIXED }
  }
  return undefined
}

export const aclKey = (b: AclBinding): string => JSON.stringify([b.resourceType, b.resourcePatternType, b.resourceName, b.principal, b.host, b.operation, b.permissionType])

/** Every TOPIC binding of a cluster, flattened. */
export async function describeTopicAcls (admin: Admin): Promise<AclBinding[]> {
  const resources = await admin.describeAcls({
    filter: { resourceType: ResourceTypes.TOPIC, resourceName: null, resourcePatternType: ResourcePatternTypes.ANY, principal: null, host: null, operation: AclOperations.ANY, permissionType: AclPermissionTypes.ANY }
  })
  return resources.flatMap(r => r.acls.map(a => ({ resourceType: r.resourceType, resourceName: r.resourceName, resourcePatternType: r.resourcePatternType, principal: a.principal, host: a.host, operation: a.operation, permissionType: a.permissionType })))
}

/** True when the broker has no authorizer (SECURITY_DISABLED): there are no ACLs to copy. */
export function isSecurityDisabled (error: unknown): boolean {
  return /SECURITY_DISABLED|no authorizer|Security features are disabled/i.test(describeCause(error))
}

export interface AclSyncOptions {
  sourceAlias: string
  /** sync.topic.acls.enabled (default true). */
  enabled: boolean
  /** sync.topic.acls.interval.seconds × 1000 (default 600 s). */
  intervalMs: number
  /** The flow's topic filter; default: the topics the mirror copies. */
  shouldReplicateTopic?: (topic: string) => boolean
  logger?: Logger
}

export function aclSyncOptions (sourceAlias: string, get: (key: string) => FlowValue, logger?: Logger): AclSyncOptions {
  return {
    sourceAlias,
    enabled: flowBoolean(get('sync.topic.acls.enabled'), true),
    intervalMs: Number(get('sync.topic.acls.interval.seconds') ?? 600) * 1000,
    logger
  }
}

/** The plug-in: every sync.topic.acls.interval.seconds, the target gets the bindings it lacks. */
export class AclSync implements FlowPlugin {
  readonly options: AclSyncOptions
  #ctx: FlowContext | undefined
  #timer: NodeJS.Timeout | undefined
  #log: Logger
  #running: Promise<unknown> = Promise.resolve()
  /** Bindings created on the target so far. */
  created = 0
  /** Set when a cluster has no authorizer: the sync stops, as MM2's does. */
  disabledReason: string | undefined

  constructor (options: AclSyncOptions) {
    this.options = options
    this.#log = options.logger ?? silentLogger
  }

  async start (ctx: FlowContext): Promise<void> {
    if (!this.options.enabled) return
    this.#ctx = ctx
    this.#timer = setInterval(() => { this.#schedule() }, Math.max(1000, this.options.intervalMs))
    this.#timer.unref()
    this.#schedule()
    await this.#running
  }

  async stop (): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#ctx = undefined
    await this.#running
  }

  #schedule (): void {
    this.#running = this.#running.then(async () => await this.sync()).catch((error: unknown) => {
      this.#log.warn({ err: describeCause(error), source: this.options.sourceAlias }, 'syncing topic ACLs failed; trying again at the next sync.topic.acls.interval.seconds')
    })
  }

  /** Creates on the target the mapped bindings it lacks; returns how many. */
  async sync (): Promise<number> {
    const ctx = this.#ctx
    if (ctx === undefined || this.disabledReason !== undefined) return 0
    const mapping: AclMapping = {
      shouldReplicateTopic: this.options.shouldReplicateTopic ?? (t => ctx.mirror.topics.includes(t)),
      formatRemoteTopic: t => ctx.policy.formatRemoteTopic(this.options.sourceAlias, t),
      topics: ctx.mirror.topics
    }
    let source: AclBinding[]
    let target: AclBinding[]
    try {
      source = await describeTopicAcls(ctx.sourceAdmin)
      target = await describeTopicAcls(ctx.targetAdmin)
    } catch (error) {
      if (!isSecurityDisabled(error)) throw error
      this.disabledReason = describeCause(error)
      if (this.#timer !== undefined) clearInterval(this.#timer)
      this.#log.warn({ source: this.options.sourceAlias, err: this.disabledReason }, 'a cluster of the flow has no authorizer, so there are no topic ACLs to sync; set sync.topic.acls.enabled=false for this flow to silence this')
      return 0
    }
    const existing = new Set(target.map(aclKey))
    const wanted = new Map<string, AclBinding>()
    for (const b of source) {
      const mapped = targetAclBinding(b, mapping)
      if (mapped !== undefined && !existing.has(aclKey(mapped))) wanted.set(aclKey(mapped), mapped)
    }
    if (wanted.size === 0) return 0
    await ctx.targetAdmin.createAcls({ creations: [...wanted.values()] as Parameters<Admin['createAcls']>[0]['creations'] })
    this.created += wanted.size
    this.#log.info({ cluster: 'target', bindings: wanted.size, topics: [...new Set([...wanted.values()].map(b => b.resourceName))].join(',') }, 'copied topic ACLs to the target')
    return wanted.size
  }
}
