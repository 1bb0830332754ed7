// `kafka-mirror topics`: kafka-topics.sh's create, list, describe, alter and delete, with its flag
// names and output format, so that tutorials and scripts written for Kafka's tool work unchanged.
import { Admin } from '@platformatic/kafka'
import { addPartitions, brokerCount, createTopic, deleteTopics, describeTopics, listTopics, waitForLeaders, type TopicDescription } from '../admin/topics.ts'
import { commonClientKeys } from '../config/client-config.ts'
import { ConfigDefinition } from '../config/definition.ts'
import { compileTopicRegex, internalTopics } from '../config/topic-filter.ts'
import { ErrorCodes, ExitCodes, KafkaMirrorError } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import type { Command } from './io.ts'
import { briefCause, clusterFlagKeys, failOnProblems, helpKey, keyValues, locateBrokers, parseToolFlags, planConnection, readClientProperties, requireFlag, withTimeout } from './tool-connection.ts'

const usage = `Usage: kafka-mirror topics --bootstrap-server <host:port> (--create | --list | --describe | --alter | --delete) [options]

Creates, lists, describes, alters and deletes topics, as Kafka's kafka-topics.sh does:
  kafka-mirror topics --bootstrap-server localhost:9092 --create --topic testtopic --partitions 8 --replication-factor 2
  kafka-mirror topics --bootstrap-server localhost:9092 --list
  kafka-mirror topics --bootstrap-server localhost:9092 --describe --topic testtopic
  kafka-mirror topics --zookeeper localhost:2181 --list          (ZooKeeper-mode clusters, deprecated)
--topic is a regex matching whole names with --list, --describe, --alter and --delete.`

const actions = ['create', 'list', 'describe', 'alter', 'delete'] as const
type Action = typeof actions[number]

export const topicsFlags = new ConfigDefinition([
  ...clusterFlagKeys,
  { name: 'command-config', type: 'string', doc: 'Properties file of Kafka client settings for the connection: security.protocol, sasl.*, ssl.*, client.id, request.timeout.ms. Values may be ${env:VAR} or ${file:path:key} references once the file sets config.providers.' },
  { name: 'create', type: 'boolean', doc: 'Create a new topic.' },
  { name: 'list', type: 'boolean', doc: 'List all available topics (one per line).' },
  { name: 'describe', type: 'boolean', doc: 'List details for the given topics: partition count, replication factor, configs, and each partition\'s leader, replicas and in-sync replicas.' },
  { name: 'alter', type: 'boolean', doc: 'Raise the number of partitions of a topic (with --partitions).' },
  { name: 'delete', type: 'boolean', doc: 'Delete a topic.' },
  { name: 'topic', type: 'string', doc: 'The topic to create, alter, describe or delete. Except with --create, a regex matching whole topic names; commas separate several.', importance: 'high' },
  { name: 'partitions', type: 'int', min: 1, doc: 'The number of partitions of the topic being created or altered. Default with --create: the brokers\' num.partitions.' },
  { name: 'replication-factor', type: 'int', min: 1, max: 32767, doc: 'The replication factor of each partition of the topic being created. Default: the brokers\' default.replication.factor.' },
  { name: 'config', type: 'string', doc: 'A topic config for --create, as name=value (cleanup.policy=compact, retention.ms=86400000). Repeat it for several.' },
  { name: 'if-not-exists', type: 'boolean', doc: 'With --create: do nothing if the topic already exists.' },
  { name: 'if-exists', type: 'boolean', doc: 'With --alter, --delete or --describe: do nothing if the topic does not exist.' },
  { name: 'exclude-internal', type: 'boolean', doc: 'Leave internal topics (__consumer_offsets) out of --list and --describe.' },
  { name: 'under-replicated-partitions', type: 'boolean', doc: 'With --describe: only partitions whose in-sync replicas are fewer than their replicas.' },
  { name: 'unavailable-partitions', type: 'boolean', doc: 'With --describe: only partitions without a leader.' },
  { name: 'topics-with-overrides', type: 'boolean', doc: 'With --describe: only topics that have configs of their own, without their partitions.' },
  helpKey
])

// Which options make sense with which action, as kafka-topics.sh checks them.
const allowedWith: Record<string, readonly Action[]> = {
  partitions: ['create', 'alter'],
  'replication-factor': ['create'],
  config: ['create'],
  'if-not-exists': ['create'],
  'if-exists': ['alter', 'delete', 'describe'],
  'exclude-internal': ['list', 'describe'],
  'under-replicated-partitions': ['describe'],
  'unavailable-partitions': ['describe'],
  'topics-with-overrides': ['describe']
}

const adminProperties = new ConfigDefinition(commonClientKeys)

/** Kafka prints topic ids as URL-safe base64 of the 16 bytes, as in TopicId: 1vFH5b3pQ9WcHuQCYuhq5A. */
export function formatTopicId (id: string): string {
  const hex = id.replace(/-/g, '')
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex').toString('base64url') : id
}

/** kafka-topics.sh --describe output: a topic line, then one indented line per partition. */
export function formatDescription (topic: TopicDescription, options: { topicLine?: boolean, partitions?: (p: TopicDescription['partitions'][number]) => boolean } = {}): string {
  const lines: string[] = []
  if (options.topicLine ?? true) {
    const configs = Object.keys(topic.configs).sort().map(k => `${k}=${topic.configs[k]}`).join(',')
    lines.push(`Topic: ${topic.name}\tTopicId: ${formatTopicId(topic.id)}\tPartitionCount: ${topic.partitions.length}\tReplicationFactor: ${topic.replicationFactor}\tConfigs: ${configs}`)
  }
  for (const p of topic.partitions) {
    if (options.partitions !== undefined && !options.partitions(p)) continue
    lines.push(`\tTopic: ${topic.name}\tPartition: ${p.partition}\tLeader: ${p.leader >= 0 ? p.leader : 'none'}\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}`)
  }
  return lines.map(l => `${l}\n`).join('')
}

/** Kafka's rules for topic names (Topic.validate). */
function topicNameProblem (name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name === '.' || name === '..') return `"${name}" is not allowed as a topic name`
  if (name.length > 249) return `is ${name.length} characters long; the limit is 249`
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `"${name}" is illegal: topic names contain only ASCII letters, digits, '.', '_' and '-'`
  return undefined
}

export const topicsCommand: Command = async (argv, io) => {
  const flags = parseToolFlags(argv, topicsFlags, usage, io)
  if (flags === undefined) return ExitCodes.OK
  const problems = flags.problems

  const chosen = actions.filter(a => flags.values.get(a) === true)
  if (chosen.length !== 1) {
    problems.push({ source: 'command line', message: chosen.length === 0 ? 'no action was given' : `${chosen.map(a => `--${a}`).join(', ')} were given together`, fix: 'give exactly one of --list, --describe, --create, --alter or --delete' })
  }
  const action: Action | undefined = chosen.length === 1 ? chosen[0] : undefined
  if (action !== undefined) {
    if (action === 'create' || action === 'alter' || action === 'delete') requireFlag(flags, 'topic', `with --${action}`)
    if (action === 'alter') requireFlag(flags, 'partitions', 'with --alter')
    for (const [flag, allowed] of Object.entries(allowedWith)) {
      if (flags.given.has(flag) && flags.values.get(flag) !== false && !allowed.includes(action)) {
        problems.push({ source: 'command line', key: `--${flag}`, message: `cannot be used with --${action}`, fix: `it goes with ${allowed.map(a => `--${a}`).join(' or ')}` })
      }
    }
  }

  const topicText = flags.values.get('topic') as string | undefined
  let topicPattern: RegExp | undefined
  if (topicText !== undefined) {
    if (action === 'create') {
      const wrong = topicNameProblem(topicText)
      if (wrong !== undefined) problems.push({ source: 'command line', key: '--topic', message: wrong })
    } else {
      topicPattern = compileTopicRegex(topicText, '--topic', problems)
    }
  }
  const configs: Record<string, string> = Object.fromEntries(keyValues(flags, 'config', problems))

  const file = flags.values.get('command-config') as string | undefined
  const { properties } = readClientProperties(flags, adminProperties, { fileFlag: 'command-config' })
  const plan = planConnection(flags, properties, 'cluster', file ?? 'command line', 'kafka-mirror-topics')
  failOnProblems(flags, io)

  const connection = await locateBrokers(plan!, io)
  const admin = new Admin(baseClientOptions(connection))
  try {
    try {
      await admin.metadata({ topics: [] })
    } catch (error) {
      throw new KafkaMirrorError(ErrorCodes.CONNECTION, `Cannot reach the cluster at ${connection.bootstrapServers.join(',')} (${plan!.flag}): ${briefCause(error)}`, { cause: error })
    }
    const ifExists = flags.values.get('if-exists') === true
    const includeInternal = flags.values.get('exclude-internal') !== true

    /** The existing topics --topic matches; an error if there are none, unless --if-exists. */
    const matching = async (internal: boolean): Promise<string[]> => {
      const all = await listTopics(admin, internal)
      const found = topicPattern === undefined ? all : all.filter(t => topicPattern!.test(t))
      if (found.length === 0 && topicText !== undefined && !ifExists) {
        throw new KafkaMirrorError(ErrorCodes.TOPIC, `Topic '${topicText}' does not exist as expected`)
      }
      return found
    }

    switch (action!) {
      case 'create': {
        const name = topicText!
        const partitions = (flags.values.get('partitions') as number | undefined) ?? -1
        const replicationFactor = (flags.values.get('replication-factor') as number | undefined) ?? -1
        if (name.includes('.') || name.includes('_')) {
          io.stderr.write('WARNING: Due to limitations in metric names, topics with a period (\'.\') or underscore (\'_\') could collide. To avoid issues it is best to use either, but not both.\n')
        }
        if (replicationFactor > 0) {
          const brokers = await brokerCount(admin)
          if (replicationFactor > brokers) {
            throw new KafkaMirrorError(ErrorCodes.TOPIC, `Cannot create topic ${name}: replication factor ${replicationFactor} is larger than the ${brokers} available broker${brokers === 1 ? '' : 's'} (use --replication-factor ${brokers} or less)`)
          }
        }
        const created = await createTopic(admin, { name, partitions, replicationFactor, configs })
        if (!created) {
          if (flags.values.get('if-not-exists') === true) return ExitCodes.OK
          throw new KafkaMirrorError(ErrorCodes.TOPIC, `Topic '${name}' already exists (add --if-not-exists to accept an existing topic)`)
        }
        // A produce right after the create should find leaders, as the tutorial does next.
        await waitForLeaders(admin, [name], 10_000)
        io.stdout.write(`Created topic ${name}.\n`)
        return ExitCodes.OK
      }
      case 'list': {
        const topics = await listTopics(admin, includeInternal)
        for (const t of topics) if (topicPattern === undefined || topicPattern.test(t)) io.stdout.write(`${t}\n`)
        return ExitCodes.OK
      }
      case 'describe': {
        const names = await matching(includeInternal)
        const underReplicated = flags.values.get('under-replicated-partitions') === true
        const unavailable = flags.values.get('unavailable-partitions') === true
        const withOverrides = flags.values.get('topics-with-overrides') === true
        const partitionFilter = underReplicated || unavailable
        for (const topic of await describeTopics(admin, names)) {
          if (withOverrides) {
            if (Object.keys(topic.configs).length > 0) io.stdout.write(formatDescription(topic, { partitions: () => false }))
            continue
          }
          io.stdout.write(formatDescription(topic, {
            topicLine: !partitionFilter,
            partitions: partitionFilter ? p => (underReplicated && p.isr.length < p.replicas.length) || (unavailable && p.leader < 0) : undefined
          }))
        }
        return ExitCodes.OK
      }
      case 'alter': {
        const count = flags.values.get('partitions') as number
        for (const topic of await describeTopics(admin, await matching(false), false)) {
          if (count <= topic.partitions.length) {
            throw new KafkaMirrorError(ErrorCodes.TOPIC, `The number of partitions for a topic can only be increased. Topic ${topic.name} currently has ${topic.partitions.length} partitions, ${count} would not be an increase.`, { exitCode: ExitCodes.BAD_INPUT })
          }
          await addPartitions(admin, topic.name, count)
          io.stdout.write(`Topic ${topic.name} now has ${count} partitions.\n`)
        }
        return ExitCodes.OK
      }
      case 'delete': {
        const names = await matching(true)
        const internal = names.filter(t => internalTopics.has(t))
        if (internal.length > 0) {
          throw new KafkaMirrorError(ErrorCodes.TOPIC, `Topic ${internal.join(', ')} is a kafka internal topic and is not allowed to be marked for deletion.`, { exitCode: ExitCodes.BAD_INPUT })
        }
        await deleteTopics(admin, names)
        for (const t of names) io.stdout.write(`Topic ${t} is marked for deletion.\n`)
        return ExitCodes.OK
      }
    }
  } finally {
    await withTimeout(admin.close().catch(() => {}), 5000)
  }
}
