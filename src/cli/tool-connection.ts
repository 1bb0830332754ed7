// What the console tools (topics, produce, consume) share: Kafka's flag parsing conventions, and
// turning --bootstrap-server / --broker-list / --zookeeper plus a client properties file into one
// ClusterConnection. Problems are collected, never thrown, so that a command reports them all at once.
import { basename } from 'node:path'
import { commonClientKeys } from '../config/client-config.ts'
import type { ConfigDefinition, ConfigKey, ConfigValue, ParsedConfig } from '../config/definition.ts'
import { readPropertiesFile } from '../config/mirror-config.ts'
import { findErrorBy } from '@platformatic/kafka'
import { ConfigError, ErrorCodes, KafkaMirrorError, describeCause, type ConfigProblem } from '../errors.ts'
import { brokersFromZooKeeper } from '../kafka/bootstrap.ts'
import { clusterConnection, type ClusterConnection } from '../kafka/client-options.ts'
import { helpText, parseFlags } from './flags.ts'
import type { CliIO } from './io.ts'

const hostPorts = commonClientKeys.find(k => k.name === 'bootstrap.servers')?.validate

/** The three ways Kafka's tools have been told where the cluster is; each command declares them. */
export const clusterFlagKeys: ConfigKey[] = [
  { name: 'bootstrap-server', type: 'list', doc: 'REQUIRED (or one of the two below): the brokers to connect to, host:port[,host:port].', validate: hostPorts, importance: 'high' },
  { name: 'broker-list', type: 'list', doc: 'Old spelling of --bootstrap-server (kafka-console-producer.sh before Kafka 2.5).', validate: hostPorts },
  { name: 'zookeeper', type: 'string', doc: 'Deprecated: ZooKeeper hosts ("h1:2181,h2:2181/chroot") of a ZooKeeper-mode cluster; the brokers are looked up there once, then everything goes to the brokers.' }
]

export const helpKey: ConfigKey = { name: 'help', type: 'boolean', default: false, doc: 'Print usage information and exit.' }

export interface ToolFlags {
  /** Every flag in order; repeatable flags (--property, --config) appear once per use. */
  pairs: Array<[string, string]>
  values: Map<string, ConfigValue>
  given: Set<string>
  problems: ConfigProblem[]
  warnings: string[]
}

/**
 * Parses a command's argv against its one declaration. Returns undefined after printing --help.
 * Problem keys are written as flags (--partitions), so messages say what the user typed.
 */
export function parseToolFlags (argv: string[], definition: ConfigDefinition, usage: string, io: CliIO): ToolFlags | undefined {
  const flags = parseFlags(argv, definition)
  if (flags.pairs.some(([name, value]) => name === 'help' && value !== 'false')) {
    io.stdout.write(helpText(usage, definition))
    return undefined
  }
  const parsed = definition.parse(flags.pairs, 'command line')
  const problems: ConfigProblem[] = [...flags.problems]
  for (const p of parsed.problems) problems.push(p.key !== undefined && !p.key.startsWith('-') ? { ...p, key: `--${p.key}` } : p)
  if (flags.positionals.length > 0) {
    problems.push({ source: 'command line', message: `unexpected argument${flags.positionals.length > 1 ? 's' : ''} ${flags.positionals.map(p => `"${p}"`).join(' ')}`, fix: 'flags take the form --name value' })
  }
  return { pairs: flags.pairs, values: parsed.values, given: parsed.given, problems, warnings: parsed.warnings }
}

/** Every value of a repeatable flag, in order. */
export function allValues (flags: ToolFlags, name: string): string[] {
  return flags.pairs.filter(([k]) => k === name).map(([, v]) => v)
}

/** `k=v` arguments of --property, --config, --producer-property: split at the first `=`. */
export function keyValues (flags: ToolFlags, name: string, problems: ConfigProblem[]): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const text of allValues(flags, name)) {
    const eq = text.indexOf('=')
    if (eq <= 0) {
      problems.push({ source: 'command line', key: `--${name}`, message: `"${text}" is not key=value`, fix: `write --${name} key=value` })
      continue
    }
    out.push([text.slice(0, eq).trim(), text.slice(eq + 1)])
  }
  return out
}

/**
 * Parses `--property k=v` pairs against a declaration, keeping string values as typed: separators
 * such as key.separator=" | " or a tab must not be trimmed away.
 */
export function parseProperties (flags: ToolFlags, name: string, definition: ConfigDefinition): Map<string, ConfigValue> {
  const pairs = keyValues(flags, name, flags.problems)
  const parsed = definition.parse(pairs, `--${name}`)
  flags.problems.push(...parsed.problems)
  flags.warnings.push(...parsed.warnings)
  for (const [key, text] of pairs) {
    const declared = definition.get(key)
    if (declared?.type === 'string' && declared.choices === undefined) parsed.values.set(key, text)
  }
  return parsed.values
}

export function requireFlag (flags: ToolFlags, name: string, why: string): void {
  if (!flags.given.has(name) && !flags.problems.some(p => p.key === `--${name}`)) {
    flags.problems.push({ source: 'command line', key: `--${name}`, message: `is required ${why}`, fix: `add --${name} <${name === 'topic' ? 'topic' : 'value'}>` })
  }
}

export interface ClientProperties {
  values: Map<string, ConfigValue>
  given: Set<string>
  /** Keys no declaration knows; kept in case a caller wants them. */
  unknown: Map<string, string>
}

/**
 * Kafka client properties from a file (--producer.config) then `k=v` flags (--producer-property),
 * the flags winning as in Kafka's tools. `handled` keys are returned raw in `raw` instead of being
 * validated, for keys the tool interprets itself (the console consumer's enable.auto.commit).
 */
export function readClientProperties (flags: ToolFlags, definition: ConfigDefinition, options: { fileFlag: string, propertyFlag?: string, handled?: string[] }): { properties: ClientProperties, raw: Map<string, string> } {
  const raw = new Map<string, string>()
  const handled = new Set(options.handled ?? [])
  const sources: Array<{ name: string, pairs: Array<[string, string]> }> = []
  const file = flags.values.get(options.fileFlag)
  if (file !== undefined) {
    const pairs = readPropertiesFile(String(file), `--${options.fileFlag}`, flags.problems)
    if (pairs !== undefined) sources.push({ name: basename(String(file)), pairs })
  }
  if (options.propertyFlag !== undefined) sources.push({ name: `--${options.propertyFlag}`, pairs: keyValues(flags, options.propertyFlag, flags.problems) })

  const values = new Map<string, ConfigValue>()
  const given = new Set<string>()
  const unknown = new Map<string, string>()
  let defaults: ParsedConfig | undefined
  for (const source of sources) {
    const own = source.pairs.filter(([k]) => {
      if (!handled.has(k)) return true
      raw.set(k, source.pairs.filter(([k2]) => k2 === k).at(-1)![1])
      return false
    })
    const parsed = definition.parse(own, source.name, { references: true })
    flags.problems.push(...parsed.problems)
    flags.warnings.push(...parsed.warnings)
    for (const k of parsed.given) { values.set(k, parsed.values.get(k)!); given.add(k) }
    for (const [k, v] of parsed.unknown) unknown.set(k, v)
    defaults = parsed
  }
  defaults ??= definition.parse([], 'defaults')
  for (const [k, v] of defaults.values) if (!values.has(k)) values.set(k, v)
  return { properties: { values, given, unknown }, raw }
}

export interface ConnectionPlan {
  connection: ClusterConnection
  /** Set when the brokers are to be found through ZooKeeper. */
  zookeeper?: string
  /** The flag that named the cluster, for messages: "--bootstrap-server". */
  flag: string
}

/**
 * Checks that exactly one of the cluster flags was given and builds the connection (TLS, SASL)
 * from the client properties. Brokers are filled in by locateBrokers() for --zookeeper.
 */
export function planConnection (flags: ToolFlags, properties: ClientProperties, role: string, propertiesSource: string, defaultClientId: string): ConnectionPlan | undefined {
  const named = clusterFlagKeys.map(k => k.name).filter(name => flags.given.has(name) || flags.problems.some(p => p.key === `--${name}`))
  if (named.length !== 1) {
    flags.problems.push(named.length === 0
      ? { source: 'command line', message: 'the cluster is unknown: none of --bootstrap-server, --broker-list, --zookeeper was given', fix: 'add --bootstrap-server host:9092' }
      : { source: 'command line', message: `${named.map(n => `--${n}`).join(' and ')} were both given; exactly one names the cluster`, fix: 'keep only --bootstrap-server' })
    return undefined
  }
  const flag = named[0]
  if (!flags.given.has(flag)) return undefined // its value was already reported as wrong
  const zookeeper = flag === 'zookeeper' ? String(flags.values.get('zookeeper')) : undefined
  const servers = zookeeper === undefined ? flags.values.get(flag) as string[] : []
  const connection = clusterConnection(role, propertiesSource, properties.values, servers, defaultClientId, flags.problems)
  return { connection, zookeeper, flag: `--${flag}` }
}

/** Throws every problem at once, after printing the warnings. */
export function failOnProblems (flags: ToolFlags, io: CliIO): void {
  for (const warning of flags.warnings) io.stderr.write(`Warning: ${warning}\n`)
  flags.warnings.length = 0
  if (flags.problems.length > 0) throw new ConfigError(flags.problems)
}

/** For --zookeeper: reads the brokers from ZooKeeper and says that the flag is deprecated. */
export async function locateBrokers (plan: ConnectionPlan, io: CliIO): Promise<ClusterConnection> {
  if (plan.zookeeper === undefined) return plan.connection
  const brokers = await brokersFromZooKeeper(plan.zookeeper, { securityProtocol: plan.connection.securityProtocol })
  plan.connection.bootstrapServers = brokers
  io.stderr.write(`Note: --zookeeper is deprecated; found the brokers ${brokers.join(',')} through ZooKeeper. Use --bootstrap-server ${brokers.join(',')} instead.\n`)
  return plan.connection
}

/** Waits for the first of a promise and a timeout, for clean-ups that must not hang an exit. */
export async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** The cause of a failure, each distinct reason once (retries repeat the same one). */
export function briefCause (error: unknown): string {
  return [...new Set(describeCause(error).split('; '))].join('; ')
}

/** A clear error for a failed first request: the topic is missing, or the cluster is unreachable. */
export function firstRequestError (error: unknown, topic: string, plan: ConnectionPlan): KafkaMirrorError {
  const brokers = plan.connection.bootstrapServers.join(',')
  if (findErrorBy(error as Error, 'apiId', 'UNKNOWN_TOPIC_OR_PARTITION') !== null || /unknown topic/i.test(describeCause(error))) {
    return new KafkaMirrorError(ErrorCodes.TOPIC, `Topic ${topic} does not exist on the cluster at ${brokers} (kafka-mirror topics --list shows the topics; --create makes one)`, { cause: error })
  }
  return new KafkaMirrorError(ErrorCodes.CONNECTION, `Cannot reach the cluster at ${brokers} (${plan.flag}): ${briefCause(error)}`, { cause: error })
}
