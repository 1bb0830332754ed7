// mm2.properties: every key of MirrorMaker 2 (4.x: MirrorMakerConfig, MirrorConnectorConfig,
// MirrorSourceConfig, MirrorCheckpointConfig, MirrorHeartbeatConfig and the Connect keys MM2's
// driver passes on), declared once, and MM2's layering:
// - connector keys (topics, intervals, policies...): `A->B.key` over top-level `key` over MM2's
//   default. A cluster-level `A.topics` is ignored by MM2 (it only configures clients): warned.
// - client keys, as MirrorMakerConfig.clusterProps and MirrorConnectorConfig build them: the
//   cluster's connection keys (`A.bootstrap.servers`, `A.security.protocol`, `A.ssl.*`, `A.sasl.*`,
//   over the same keys at top level), then `A->B.consumer.*` (flow), then `A.consumer.*` (cluster),
//   then `A->B.source.consumer.*`; likewise producer and admin, on each side of a flow.
// Every problem is collected and thrown at once; a key MM2 has whose work kafka-mirror does not do
// (yet) is warned about with what happens instead.
import { basename } from 'node:path'
import { consumerConfig, commonClientKeys, producerConfig } from '../config/client-config.ts'
import { configProviderKeys, resolveConfigReferences } from '../config/config-providers.ts'
import { closest, ConfigDefinition, type ConfigKey, type ConfigValue } from '../config/definition.ts'
import { exactlyOnceProblems, listenAddress, mirrorFlagKeys, readPropertiesFile, sourceSettings, targetSettings, type SourceSettings, type TargetSettings } from '../config/mirror-config.ts'
import { HIDDEN, looksSecret, rememberSecret } from '../config/secrets.ts'
import { javaRegexToJs, type TopicFilter } from '../config/topic-filter.ts'
import { ConfigError, formatProblem, type ConfigProblem } from '../errors.ts'
import { clusterConnection, type ClusterConnection } from '../kafka/client-options.ts'
import { replicationPolicy, type ReplicationPolicy } from './policy.ts'

/** What a flow plug-in does; a key of a feature no registered plug-in provides is warned about. */
export type Mm2Feature = 'offset-syncs' | 'checkpoints' | 'group-offsets' | 'heartbeats' | 'topic-configs' | 'topic-acls' | 'exactly-once'

export interface Mm2Key extends ConfigKey {
  /** Where MM2 declares it, for the docs. */
  declaredIn: 'MirrorMakerConfig' | 'MirrorConnectorConfig' | 'MirrorSourceConfig' | 'MirrorCheckpointConfig' | 'MirrorHeartbeatConfig' | 'Connect'
  /** Only at top level (MM2 reads it nowhere else). */
  topLevelOnly?: boolean
  /** The plug-in feature that does the key's work. */
  feature?: Mm2Feature
}

const DEFAULT_POLICY = 'org.apache.kafka.connect.mirror.DefaultReplicationPolicy'
const javaClassesCannotRun = 'Java classes cannot run in kafka-mirror'
const onlyClass = (expected: string, what: string) => (value: ConfigValue): string | undefined => {
  const simple = expected.slice(expected.lastIndexOf('.') + 1)
  const given = String(value).trim()
  return given === expected || given === simple ? undefined : `names a class other than ${simple}: ${javaClassesCannotRun} (remove the key; ${what})`
}
const noConnectPositions = 'kafka-mirror keeps no Kafka Connect topics: each flow\'s source positions are the committed offsets of its consumer group (MM2\'s mm2-offsets.<source>.internal is only read, to take over from a running MM2)'

export const mm2Keys: Mm2Key[] = [
  // MirrorMakerConfig
  { declaredIn: 'MirrorMakerConfig', topLevelOnly: true, name: 'clusters', type: 'list', doc: 'Cluster aliases, comma-separated. Each alias A needs A.bootstrap.servers. Required.', importance: 'high' },
  { declaredIn: 'MirrorMakerConfig', topLevelOnly: true, name: 'dedicated.mode.enable.internal.rest', type: 'boolean', default: false, doc: 'MM2\'s internal REST server for multi-node dedicated mode. Not needed: several kafka-mirror processes with the same file share each flow through its consumer group.', ignored: 'kafka-mirror processes share flows through consumer groups, without a REST server' },
  ...configProviderKeys.map(k => ({ ...k, declaredIn: 'MirrorMakerConfig' as const, topLevelOnly: true })),
  // MirrorConnectorConfig
  { declaredIn: 'MirrorConnectorConfig', name: 'enabled', type: 'boolean', default: false, doc: 'Whether to replicate source->target, as A->B.enabled=true. MM2\'s driver defaults it to false; a top-level enabled=true enables every flow.', importance: 'high' },
  { declaredIn: 'MirrorConnectorConfig', name: 'replication.policy.class', type: 'class', default: DEFAULT_POLICY, doc: 'How remote topics are named: org.apache.kafka.connect.mirror.DefaultReplicationPolicy (A.topic) or org.apache.kafka.connect.mirror.IdentityReplicationPolicy (topic, unchanged; kafka-mirror prevents cycles with a provenance header, see docs/migrating-from-mirrormaker2.md). Other classes cannot run here.',
    validate: value => replicationPolicy(String(value)) === undefined ? `is not DefaultReplicationPolicy or IdentityReplicationPolicy: ${javaClassesCannotRun} (use one of those two)` : undefined },
  { declaredIn: 'MirrorConnectorConfig', name: 'replication.policy.separator', type: 'string', default: '.', doc: 'Separator between the source alias and the topic in remote topic names, and in the names of MM2\'s internal topics. Default ".".', validate: value => String(value) === '' ? 'is empty (give a separator such as . or _)' : undefined },
  { declaredIn: 'MirrorConnectorConfig', name: 'replication.policy.internal.topic.separator.enabled', type: 'boolean', default: true, doc: 'Whether replication.policy.separator is used in the names of the checkpoints and offset-syncs topics too (false keeps "." there, as MM2 before 3.1). Default true.' },
  { declaredIn: 'MirrorConnectorConfig', name: 'admin.timeout.ms', type: 'long', default: 60000, min: 0, doc: 'MM2: timeout of administrative tasks. kafka-mirror\'s admin requests follow request.timeout.ms of the cluster\'s admin client.', ignored: 'admin requests follow the admin client\'s request.timeout.ms' },
  { declaredIn: 'MirrorConnectorConfig', name: 'forwarding.admin.class', type: 'class', default: 'org.apache.kafka.clients.admin.ForwardingAdmin', doc: 'MM2\'s hook to manage topics through another system. Only the default is accepted.', validate: onlyClass('org.apache.kafka.clients.admin.ForwardingAdmin', 'kafka-mirror manages topics with Kafka\'s admin protocol') },
  { declaredIn: 'MirrorConnectorConfig', name: 'metric.reporters', type: 'list', doc: 'Java metric reporters cannot run in kafka-mirror; start it with --http.listener for Prometheus metrics.', ignored: 'use --http.listener for Prometheus metrics' },
  { declaredIn: 'MirrorConnectorConfig', name: 'emit.offset-syncs.enabled', type: 'boolean', default: true, feature: 'offset-syncs', doc: 'Whether to write offset syncs (source to target offset pairs) to the offset-syncs topic. Default true.' },
  { declaredIn: 'MirrorConnectorConfig', name: 'offset-syncs.topic.location', type: 'string', default: 'source', choices: ['source', 'target'], feature: 'offset-syncs', doc: 'Which cluster holds mm2-offset-syncs.<target>.internal. Default source.' },
  { declaredIn: 'MirrorConnectorConfig', name: 'topic.filter.class', type: 'class', default: 'org.apache.kafka.connect.mirror.DefaultTopicFilter', doc: 'Selects topics to replicate. Only the default (topics, topics.exclude) is accepted.', validate: onlyClass('org.apache.kafka.connect.mirror.DefaultTopicFilter', 'select topics with topics and topics.exclude') },
  { declaredIn: 'MirrorConnectorConfig', name: 'source.cluster.alias', type: 'string', doc: 'Set by MM2\'s driver from the flow (A in A->B); a value in the file is not used.', ignored: 'the flow names its source' },
  { declaredIn: 'MirrorConnectorConfig', name: 'target.cluster.alias', type: 'string', doc: 'Set by MM2\'s driver from the flow (B in A->B); a value in the file is not used.', ignored: 'the flow names its target' },
  // MirrorSourceConfig
  { declaredIn: 'MirrorSourceConfig', name: 'topics', type: 'list', default: ['.*'], doc: 'Topics to replicate: comma-separated names and Java regexes, each matching whole names. Default .* (every topic).', importance: 'high' },
  { declaredIn: 'MirrorSourceConfig', name: 'topics.exclude', type: 'list', default: ['.*[\\-\\.]internal', '.*\\.replica', '__.*'], doc: 'Topics never replicated, as topics; excludes win over includes. Whatever this says, internal topics (Kafka\'s, Connect\'s, MM2\'s) and topics that came from the flow\'s target are never replicated.', importance: 'high', deprecatedAlias: 'topics.blacklist' },
  { declaredIn: 'MirrorSourceConfig', name: 'config.properties.exclude', type: 'list', default: ['follower\\.replication\\.throttled\\.replicas', 'leader\\.replication\\.throttled\\.replicas', 'message\\.timestamp\\.difference\\.max\\.ms', 'message\\.timestamp\\.type', 'unclean\\.leader\\.election\\.enable', 'min\\.insync\\.replicas'], feature: 'topic-configs', doc: 'Topic configs never copied to remote topics, when they are created and by the config sync: names and regexes.', deprecatedAlias: 'config.properties.blacklist' },
  { declaredIn: 'MirrorSourceConfig', name: 'use.defaults.from', type: 'string', default: 'target', choices: ['source', 'target'], feature: 'topic-configs', doc: 'Which cluster\'s defaults a remote topic gets for configs the source topic leaves at their default. Default target.' },
  { declaredIn: 'MirrorSourceConfig', name: 'config.property.filter.class', type: 'class', default: 'org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter', doc: 'Selects topic configs to copy. Only the default (config.properties.exclude) is accepted.', validate: onlyClass('org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter', 'use config.properties.exclude') },
  { declaredIn: 'MirrorSourceConfig', name: 'consumer.poll.timeout.ms', type: 'long', default: 1000, min: 0, doc: 'MM2: how long a poll of the source waits. kafka-mirror\'s fetches wait up to the source consumer\'s fetch.max.wait.ms.', ignored: 'fetches wait up to the source consumer\'s fetch.max.wait.ms' },
  { declaredIn: 'MirrorSourceConfig', name: 'refresh.topics.enabled', type: 'boolean', default: true, doc: 'Whether to look for new topics and partitions periodically. Default true.' },
  { declaredIn: 'MirrorSourceConfig', name: 'refresh.topics.interval.seconds', type: 'long', default: 600, min: 1, doc: 'How often to look for new topics and partitions, in seconds. Default 600.' },
  { declaredIn: 'MirrorSourceConfig', name: 'sync.topic.configs.enabled', type: 'boolean', default: true, feature: 'topic-configs', doc: 'Whether remote topics\' configs are kept like their source topics\'. Default true.' },
  { declaredIn: 'MirrorSourceConfig', name: 'sync.topic.configs.interval.seconds', type: 'long', default: 600, min: 1, feature: 'topic-configs', doc: 'How often topic configs are synced, in seconds. Default 600.' },
  { declaredIn: 'MirrorSourceConfig', name: 'sync.topic.acls.enabled', type: 'boolean', default: true, feature: 'topic-acls', doc: 'Whether remote topics get their source topics\' ACLs (read only). Default true.' },
  { declaredIn: 'MirrorSourceConfig', name: 'sync.topic.acls.interval.seconds', type: 'long', default: 600, min: 1, feature: 'topic-acls', doc: 'How often topic ACLs are synced, in seconds. Default 600.' },
  { declaredIn: 'MirrorSourceConfig', name: 'replication.factor', type: 'int', default: 2, min: -1, doc: 'Replication factor of remote topics kafka-mirror creates (-1: the target brokers\' default). Default 2.', validate: v => v === 0 ? 'is 0 (use -1 for the brokers\' default, or 1 or more)' : undefined },
  { declaredIn: 'MirrorSourceConfig', name: 'offset-syncs.topic.replication.factor', type: 'int', default: 3, min: -1, feature: 'offset-syncs', doc: 'Replication factor of the offset-syncs topic. Default 3.' },
  { declaredIn: 'MirrorSourceConfig', name: 'offset.lag.max', type: 'long', default: 100, min: 0, feature: 'offset-syncs', doc: 'MM2: how far a remote partition may drift before an offset sync is written. kafka-mirror\'s translation is record-exact without it.' },
  { declaredIn: 'MirrorSourceConfig', name: 'heartbeats.replication.enabled', type: 'boolean', default: true, doc: 'Whether heartbeats topics are replicated even when topics does not select them. Default true.' },
  // MirrorCheckpointConfig
  { declaredIn: 'MirrorCheckpointConfig', name: 'groups', type: 'list', default: ['.*'], feature: 'checkpoints', doc: 'Consumer groups whose offsets are checkpointed: comma-separated ids and Java regexes. Default .*.', importance: 'high' },
  { declaredIn: 'MirrorCheckpointConfig', name: 'groups.exclude', type: 'list', default: ['console-consumer-.*', 'connect-.*', '__.*'], feature: 'checkpoints', doc: 'Consumer groups never checkpointed; excludes win over groups.', importance: 'high', deprecatedAlias: 'groups.blacklist' },
  { declaredIn: 'MirrorCheckpointConfig', name: 'group.filter.class', type: 'class', default: 'org.apache.kafka.connect.mirror.DefaultGroupFilter', doc: 'Selects groups. Only the default (groups, groups.exclude) is accepted.', validate: onlyClass('org.apache.kafka.connect.mirror.DefaultGroupFilter', 'select groups with groups and groups.exclude') },
  { declaredIn: 'MirrorCheckpointConfig', name: 'refresh.groups.enabled', type: 'boolean', default: true, feature: 'checkpoints', doc: 'Whether to look for new consumer groups periodically. Default true.' },
  { declaredIn: 'MirrorCheckpointConfig', name: 'refresh.groups.interval.seconds', type: 'long', default: 600, min: 1, feature: 'checkpoints', doc: 'How often to look for new consumer groups, in seconds. Default 600.' },
  { declaredIn: 'MirrorCheckpointConfig', name: 'emit.checkpoints.enabled', type: 'boolean', default: true, feature: 'checkpoints', doc: 'Whether consumer group offsets are translated into <source>.checkpoints.internal on the target. Default true.' },
  { declaredIn: 'MirrorCheckpointConfig', name: 'emit.checkpoints.interval.seconds', type: 'long', default: 60, min: 1, feature: 'checkpoints', doc: 'How often checkpoints are written, in seconds. Default 60.' },
  { declaredIn: 'MirrorCheckpointConfig', name: 'sync.group.offsets.enabled', type: 'boolean', default: false, feature: 'group-offsets', doc: 'Whether translated offsets are committed to the target\'s groups that have no active members. Default false.' },
  { declaredIn: 'MirrorCheckpointConfig', name: 'sync.group.offsets.interval.seconds', type: 'long', default: 60, min: 1, feature: 'group-offsets', doc: 'How often group offsets are synced, in seconds. Default 60.' },
  { declaredIn: 'MirrorCheckpointConfig', name: 'checkpoints.topic.replication.factor', type: 'int', default: 3, min: -1, feature: 'checkpoints', doc: 'Replication factor of the checkpoints topic. Default 3.' },
  // MirrorHeartbeatConfig
  { declaredIn: 'MirrorHeartbeatConfig', name: 'emit.heartbeats.enabled', type: 'boolean', default: true, feature: 'heartbeats', doc: 'Whether heartbeats are written to the target\'s heartbeats topic. Default true.' },
  { declaredIn: 'MirrorHeartbeatConfig', name: 'emit.heartbeats.interval.seconds', type: 'long', default: 1, min: 1, feature: 'heartbeats', doc: 'How often heartbeats are written, in seconds. Default 1.' },
  { declaredIn: 'MirrorHeartbeatConfig', name: 'heartbeats.topic.replication.factor', type: 'int', default: 3, min: -1, feature: 'heartbeats', doc: 'Replication factor of the heartbeats topic. Default 3.' },
  // Kafka Connect keys MM2 passes to its connectors and workers
  { declaredIn: 'Connect', name: 'tasks.max', type: 'int', default: 1, min: 1, doc: 'MM2\'s tasks per connector; kafka-mirror runs as many copy streams per flow (at most 256), sharing the flow\'s partitions through its consumer group. Default 1.' },
  { declaredIn: 'Connect', name: 'exactly.once.support', type: 'string', default: 'requested', choices: ['requested', 'required'], feature: 'exactly-once', doc: 'required: the flow copies exactly once, in target transactions, as with exactly.once.source.support=enabled (needs the source consumer\'s isolation.level=read_committed, as MM2 checks). Default requested: exactly once where the target cluster\'s exactly.once.source.support=enabled.' },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'exactly.once.source.support', type: 'string', default: 'disabled', choices: ['disabled', 'preparing', 'enabled'], feature: 'exactly-once', doc: 'Connect worker key, given per target cluster as MM2\'s workers read it (B.exactly.once.source.support=enabled: every flow into B copies exactly once) or at top level for every cluster. enabled: each source partition\'s records and its position are written in one target transaction, the position in mm2-offsets.<source>.internal in MM2\'s own format (so MM2 with exactly-once and kafka-mirror can take over from each other); a read_committed consumer of the target sees each record once. Needs the producer\'s acks=all and enable.idempotence=true; transactional.id is the prefix of the transactional ids. Default disabled.' },
  { declaredIn: 'Connect', name: 'transaction.boundary', type: 'string', default: 'poll', choices: ['poll', 'interval', 'connector'], doc: 'With exactly once on: when a source partition\'s transaction is committed. poll (default): Connect commits after each poll; kafka-mirror every second (its transaction.interval.ms default), so a read_committed consumer waits about as long. interval: every transaction.boundary.interval.ms. connector is refused: MirrorSourceConnector does not define boundaries (Connect refuses it too).' },
  { declaredIn: 'Connect', name: 'transaction.boundary.interval.ms', type: 'long', min: 10, doc: 'With transaction.boundary=interval: how often a source partition\'s transaction is committed, in ms. Default offset.flush.interval.ms, as in Connect.' },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'offset.flush.interval.ms', type: 'long', default: 60000, min: 0, doc: 'Connect worker key: how often source positions are stored. kafka-mirror commits the flow\'s group offsets every min(this, 5000) ms, each only after the target acknowledged every record before it.' },
  { declaredIn: 'Connect', name: 'name', type: 'string', doc: 'Connector name, set by MM2\'s driver.', ignored: 'kafka-mirror names flows source->target' },
  { declaredIn: 'Connect', name: 'connector.class', type: 'class', doc: 'Set by MM2\'s driver.', ignored: 'kafka-mirror runs the flows itself' },
  { declaredIn: 'Connect', name: 'key.converter', type: 'class', doc: 'MM2 uses ByteArrayConverter; kafka-mirror copies keys as bytes.', ignored: 'keys are copied as bytes, as ByteArrayConverter does' },
  { declaredIn: 'Connect', name: 'value.converter', type: 'class', doc: 'MM2 uses ByteArrayConverter; kafka-mirror copies values as bytes.', ignored: 'values are copied as bytes, as ByteArrayConverter does' },
  { declaredIn: 'Connect', name: 'header.converter', type: 'class', doc: 'MM2 uses ByteArrayConverter; kafka-mirror copies headers as bytes.', ignored: 'headers are copied as bytes, as ByteArrayConverter does' },
  { declaredIn: 'Connect', name: 'key.converter.<key>', type: 'string', doc: 'Converter settings.', ignored: 'keys are copied as bytes' },
  { declaredIn: 'Connect', name: 'value.converter.<key>', type: 'string', doc: 'Converter settings.', ignored: 'values are copied as bytes' },
  { declaredIn: 'Connect', name: 'header.converter.<key>', type: 'string', doc: 'Converter settings.', ignored: 'headers are copied as bytes' },
  { declaredIn: 'Connect', name: 'transforms', type: 'list', doc: 'Connect single message transforms. Not supported: records are copied unchanged.', validate: v => (v as string[]).length > 0 ? `cannot run: ${javaClassesCannotRun}, and kafka-mirror copies records unchanged (remove transforms and its transforms.* keys)` : undefined },
  { declaredIn: 'Connect', name: 'transforms.<key>', type: 'string', doc: 'Settings of transforms. Not supported.', ignored: 'transforms cannot run' },
  { declaredIn: 'Connect', name: 'predicates', type: 'list', doc: 'Connect predicates (of transforms). Not supported.', ignored: 'transforms cannot run' },
  { declaredIn: 'Connect', name: 'predicates.<key>', type: 'string', doc: 'Settings of predicates. Not supported.', ignored: 'transforms cannot run' },
  { declaredIn: 'Connect', name: 'errors.<key>', type: 'string', doc: 'Connect error handling (errors.tolerance, errors.retry.timeout, ...). kafka-mirror retries retriable errors until delivery.timeout.ms and stops on the others, committing nothing past them.', ignored: 'retriable errors are retried until delivery.timeout.ms; others stop the mirror, committing nothing past them' },
  { declaredIn: 'Connect', name: 'config.action.reload', type: 'string', default: 'restart', doc: 'Connect: restart on config provider changes.', ignored: 'restart kafka-mirror to read changed secrets' },
  { declaredIn: 'Connect', name: 'topic.creation.<key>', type: 'string', doc: 'Connect\'s topic creation for source connectors.', ignored: 'remote topics are created like their source topics, with replication.factor' },
  { declaredIn: 'Connect', name: 'offsets.storage.topic', type: 'string', doc: 'Connect: a connector\'s own offsets topic.', ignored: noConnectPositions },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'offset.storage.<key>', type: 'string', doc: 'Connect worker: the offsets topic (MM2: mm2-offsets.<source>.internal).', ignored: noConnectPositions },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'config.storage.<key>', type: 'string', doc: 'Connect worker: the configs topic (MM2: mm2-configs.<source>.internal).', ignored: 'kafka-mirror reads its configuration from mm2.properties only' },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'status.storage.<key>', type: 'string', doc: 'Connect worker: the status topic (MM2: mm2-status.<source>.internal).', ignored: 'kafka-mirror reports each flow\'s status in its log' },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'task.<key>', type: 'string', doc: 'Connect worker task settings.', ignored: 'kafka-mirror stops within 25 s on SIGTERM' },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'worker.<key>', type: 'string', doc: 'Connect worker settings.', ignored: 'kafka-mirror is not a Connect worker' },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'listeners', type: 'list', doc: 'Connect REST listeners.', ignored: 'kafka-mirror has no Connect REST API; --http.listener serves metrics and status' },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'rest.<key>', type: 'string', doc: 'Connect REST settings.', ignored: 'kafka-mirror has no Connect REST API; --http.listener serves metrics and status' },
  { declaredIn: 'Connect', topLevelOnly: true, name: 'admin.listeners', type: 'list', doc: 'Connect admin REST listeners.', ignored: 'kafka-mirror has no Connect REST API' }
]

export const mm2Config = new ConfigDefinition(mm2Keys)

/** The mm2 command's flags (connect-mirror-maker.sh's, and kafka-mirror's own). */
export const mm2FlagKeys: ConfigKey[] = [
  { name: 'clusters', type: 'list', doc: 'Run only the flows into these cluster aliases (connect-mirror-maker.sh\'s --clusters): --clusters B or --clusters B,C or --clusters B C. Default: every enabled flow.' },
  { name: 'validate', type: 'boolean', default: false, doc: 'Check the file (config provider references included), print the flows that would run and exit without connecting: 0 when valid, 2 when not. Default false.' },
  { ...mirrorFlagKeys.find(k => k.name === 'http.listener')!, doc: 'Serve metrics and status over HTTP at [host:]port once the flows started: /metrics (Prometheus; every series of a flow labelled flow="A->B"), /healthz and /readyz (all flows healthy, ready), /api/status (JSON, one document per flow). A bare port binds 127.0.0.1 only; 0.0.0.0:9090 binds every interface. Default: none. See docs/metrics.md.' },
  { name: 'log.level', type: 'string', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], doc: 'Least level logged. Default info.' },
  { name: 'log.format', type: 'string', default: 'text', choices: ['text', 'json'], doc: 'text for people, json for log collectors. Default text.' },
  { name: 'help', type: 'boolean', default: false, doc: 'Print this help and exit.' }
]

export const mm2Flags = new ConfigDefinition(mm2FlagKeys)

/** MirrorClientConfig.CLIENT_CONFIG_DEF: the keys that say how to reach a cluster. */
function isConnectionKey (key: string): boolean {
  return key === 'bootstrap.servers' || key === 'security.protocol' || key.startsWith('ssl.') || key.startsWith('sasl.')
}

const clientPrefixes = ['consumer.', 'producer.', 'admin.'] as const
const connectionKeys = new ConfigDefinition(commonClientKeys.filter(k => isConnectionKey(k.name)))

export type ClientRole = 'source.consumer' | 'source.producer' | 'source.admin' | 'target.consumer' | 'target.producer' | 'target.admin'

/** A property as MM2 resolves it, with the key the user wrote it under (for messages). */
interface Origin { value: string, from: string }

export interface Mm2Flow {
  source: string
  target: string
  /** "A->B". */
  name: string
  enabled: boolean
  policy: ReplicationPolicy
  /** A connector key's value for this flow: `A->B.key` over `key` over MM2's default. */
  get: (key: string) => ConfigValue | undefined
  /** Whether the file gives the key for this flow (`A->B.key` or `key`). */
  given: (key: string) => boolean
  /** The key the user wrote for this flow's value of `key` (`A->B.key` or `key`), for messages. */
  keyName: (key: string) => string
  /** topics / topics.exclude (DefaultTopicFilter), without the policy's checks. */
  topicFilter: (topic: string) => boolean
  /** What the flow copies: topicFilter or a heartbeats topic, never internal topics, never a cycle (MirrorSourceConnector.shouldReplicateTopic). */
  shouldReplicateTopic: (topic: string) => boolean
  /** The engine's filter: shouldReplicateTopic. */
  topics: TopicFilter
  /** groups / groups.exclude (DefaultGroupFilter). */
  groupFilter: (group: string) => boolean
  /** Whether a topic config is copied: not matched by config.properties.exclude (DefaultConfigPropertyFilter). */
  configPropertyFilter: (configName: string) => boolean
  /** The consumer group the flow's copy streams share. */
  groupId: string
  /** A client's properties as MM2 builds them for this flow (MirrorConnectorConfig.sourceConsumerConfig...). */
  clientProperties: (role: ClientRole) => Map<string, string>
  /** The connection of a client of this flow. */
  connection: (role: ClientRole) => ClusterConnection
  sourceConsumer: SourceSettings
  targetProducer: TargetSettings
}

export interface Mm2Config {
  /** The file's name, for messages. */
  file: string
  /** Each alias's admin connection (MirrorMakerConfig.clientConfig(alias).adminConfig()). */
  clusters: Map<string, ClusterConnection>
  /** Every pair of distinct clusters, enabled or not. */
  flows: Mm2Flow[]
  warnings: string[]
  /** The keys the file gives, `key=value` for people; secrets [hidden]. */
  properties: Array<[string, string]>
}

/** MirrorUtils.compilePatternList: names and regexes joined with |, matching whole names; empty matches nothing. */
function patternList (list: string[], key: string, file: string, problems: ConfigProblem[]): RegExp | undefined {
  if (list.length === 0) return undefined
  const { source, flags } = javaRegexToJs(list.join('|'))
  try {
    return new RegExp(`^(?:${source})$`, flags)
  } catch (error) {
    problems.push({ source: file, key, message: `is not a valid regex list: ${(error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`, fix: 'escape special characters with \\, for example orders\\.v1' })
    return undefined
  }
}

/** Where a raw key belongs: top level, a flow (`A->B.`), or a cluster (`A.`). */
type Scope = { kind: 'top' } | { kind: 'flow', source: string, target: string } | { kind: 'cluster', alias: string }

function scopeOf (name: string, aliases: string[]): { scope: Scope, rest: string } {
  // Longest aliases first: "east.1" before "east".
  const sorted = [...aliases].sort((a, b) => b.length - a.length)
  for (const source of sorted) {
    if (!name.startsWith(`${source}->`)) continue
    const after = name.slice(source.length + 2)
    for (const target of sorted) if (after.startsWith(`${target}.`)) return { scope: { kind: 'flow', source, target }, rest: after.slice(target.length + 1) }
  }
  for (const alias of sorted) if (name.startsWith(`${alias}.`)) return { scope: { kind: 'cluster', alias }, rest: name.slice(alias.length + 1) }
  return { scope: { kind: 'top' }, rest: name }
}

function secretName (name: string): boolean {
  const last = name.replace(/^.*?(?:consumer|producer|admin|cluster)\./, '')
  return consumerConfig.isSecret(last) || producerConfig.isSecret(last) || looksSecret(name)
}

/** The default group of a flow; `A->B.consumer.group.id` overrides it. */
export function defaultGroupId (source: string, target: string): string {
  return `kafka-mirror-mm2.${source}-${target}`
}

/**
 * Reads and checks an mm2.properties file. `onlyTargets` (--clusters) limits which flows must be
 * valid to run; every flow is still returned. Throws one ConfigError listing every problem.
 */
export function loadMm2Config (path: string, options: { onlyTargets?: string[], source?: string } = {}): Mm2Config {
  const problems: ConfigProblem[] = []
  const raw = readPropertiesFile(path, options.source ?? 'mm2.properties', problems)
  if (raw === undefined) throw new ConfigError(problems)
  return mm2ConfigFromProperties(raw, basename(path), options)
}

export function mm2ConfigFromProperties (input: Array<[string, string]>, file: string, options: { onlyTargets?: string[] } = {}): Mm2Config {
  const problems: ConfigProblem[] = []
  const warnings: string[] = []
  const resolved = resolveConfigReferences(input, file, secretName)
  problems.push(...resolved.problems)
  warnings.push(...resolved.warnings)
  // Properties files keep the last of repeated keys.
  const rawProps = new Map<string, string>()
  for (const [k, v] of resolved.pairs) {
    if (secretName(k)) rememberSecret(v)
    rawProps.set(k, v)
  }

  const clustersText = rawProps.get('clusters')
  const aliases = [...new Set((clustersText ?? '').split(',').map(s => s.trim()).filter(s => s !== ''))]
  if (clustersText === undefined || aliases.length === 0) {
    problems.push({ source: file, key: 'clusters', message: 'is missing: which clusters does this file connect?', fix: 'add clusters = A, B and A.bootstrap.servers, B.bootstrap.servers' })
  }
  for (const alias of aliases) {
    if (/->|\s/.test(alias)) problems.push({ source: file, key: 'clusters', message: `alias "${alias}" holds "->" or a space`, fix: 'name clusters with letters, digits, - and _' })
  }
  for (const target of options.onlyTargets ?? []) {
    if (!aliases.includes(target)) problems.push({ source: 'command line', key: '--clusters', message: `"${target}" is not in clusters (${aliases.join(', ')})`, fix: `use aliases from clusters${closest(target, aliases) !== undefined ? `; did you mean ${closest(target, aliases)}?` : ''}` })
  }

  // Connector keys, checked once per line where they were written.
  const topLevel = new Map<string, { value: ConfigValue, from: string }>()
  const perFlow = new Map<string, Map<string, { value: ConfigValue, from: string }>>()
  // Worker keys MM2 reads per target cluster (workerConfig takes the target's cluster keys).
  const perCluster = new Map<string, Map<string, { value: ConfigValue, from: string }>>()
  const checkConnectorKey = (name: string, rest: string, into: Map<string, { value: ConfigValue, from: string }>, scope: 'top' | 'flow'): boolean => {
    const key = mm2Config.get(rest)
    if (key === undefined && !mm2Keys.some(k => k.deprecatedAlias === rest)) return false
    if (scope === 'flow' && (key as Mm2Key | undefined)?.topLevelOnly === true) {
      warnings.push(`${file}: ${name} is ignored: MM2 reads ${rest} only at top level; write ${rest}=…`)
      return true
    }
    const parsed = mm2Config.parse([[rest, rawProps.get(name)!]], file, { warnUnknown: false })
    for (const p of parsed.problems) problems.push({ ...p, key: name })
    for (const w of parsed.warnings) warnings.push(w.replace(`${file}: ${rest} `, `${file}: ${name} `))
    for (const given of parsed.given) into.set(given, { value: parsed.values.get(given)!, from: name })
    return true
  }

  for (const name of rawProps.keys()) {
    if (name === 'clusters') continue
    const { scope, rest } = scopeOf(name, aliases)
    if (scope.kind === 'top') {
      if (checkConnectorKey(name, rest, topLevel, 'top')) continue
      if (isConnectionKey(rest)) continue // checked with each client
      if (clientPrefixes.some(p => rest.startsWith(p))) {
        warnings.push(`${file}: ${name} is ignored, as MM2 ignores it: client keys apply per cluster or per flow; write <alias>.${rest} or <source>-><target>.${rest}`)
        continue
      }
      const hint = closest(name, mm2Keys.map(k => k.name))
      warnings.push(`${file}: unknown key ${name}${hint !== undefined ? ` (did you mean ${hint}?)` : ''}; it is ignored, as MM2 ignores keys it does not know`)
    } else if (scope.kind === 'flow') {
      if (scope.source === scope.target) {
        warnings.push(`${file}: ${name} is ignored: a flow needs two different clusters`)
        continue
      }
      const flowKey = `${scope.source}->${scope.target}`
      let into = perFlow.get(flowKey)
      if (into === undefined) perFlow.set(flowKey, into = new Map())
      if (checkConnectorKey(name, rest, into, 'flow')) continue
      if (isConnectionKey(rest) || clientPrefixes.some(p => rest.startsWith(p)) || /^(source|target)\.(cluster|consumer|producer|admin)\./.test(rest)) continue // checked with each client
      const hint = closest(rest, mm2Keys.map(k => k.name))
      warnings.push(`${file}: unknown key ${name}${hint !== undefined ? ` (did you mean ${scope.source}->${scope.target}.${hint}?)` : ''}; it is ignored, as MM2 ignores keys it does not know`)
    } else {
      if (isConnectionKey(rest) || clientPrefixes.some(p => rest.startsWith(p))) continue // checked with each client
      if (rest === 'exactly.once.source.support') {
        let into = perCluster.get(scope.alias)
        if (into === undefined) perCluster.set(scope.alias, into = new Map())
        checkConnectorKey(name, rest, into, 'top')
        continue
      }
      const declared = mm2Config.get(rest) as Mm2Key | undefined
      if (declared?.declaredIn === 'Connect' && declared.topLevelOnly === true && declared.ignored !== undefined) {
        // A worker key: MM2's workers read the target cluster's; kafka-mirror has no worker.
        warnings.push(`${file}: ${name} is ignored: ${declared.ignored}`)
        continue
      }
      if (declared !== undefined) {
        warnings.push(`${file}: ${name} is ignored, as MM2 ignores it: a cluster-level key configures only the clients of ${scope.alias}; write ${rest}=… (every flow) or <source>-><target>.${rest} (one flow)`)
        continue
      }
      if (rest === 'client.id' || commonClientKeys.some(k => k.name === rest)) {
        warnings.push(`${file}: ${name} is ignored, as MM2 ignores it: only bootstrap.servers, security.protocol, ssl.* and sasl.* apply to every client of a cluster; write ${scope.alias}.consumer.${rest}, ${scope.alias}.producer.${rest} or ${scope.alias}.admin.${rest}`)
        continue
      }
      warnings.push(`${file}: unknown key ${name}; it is ignored, as MM2 ignores keys it does not know`)
    }
  }

  // MirrorMakerConfig.clusterProps(alias).
  const clusterProps = (alias: string): Map<string, Origin> => {
    const props = new Map<string, Origin>()
    for (const [k, v] of rawProps) if (k.startsWith(`${alias}.`) && !k.startsWith(`${alias}->`)) props.set(k.slice(alias.length + 1), { value: v, from: k })
    for (const [k, o] of [...props]) {
      if (!isConnectionKey(k)) continue
      for (const p of clientPrefixes) if (!props.has(p + k)) props.set(p + k, o)
    }
    for (const [k, v] of rawProps) {
      if (!isConnectionKey(k)) continue
      const o = { value: v, from: k }
      for (const p of clientPrefixes) if (!props.has(p + k)) props.set(p + k, o)
      if (!props.has(k)) props.set(k, o)
    }
    return props
  }

  // MirrorMakerConfig.connectorBaseConfig: the client-related part of a flow's connector properties.
  const connectorProps = (source: string, target: string): Map<string, Origin> => {
    const props = new Map<string, Origin>()
    for (const [side, alias] of [['source', source], ['target', target]] as const) {
      for (const [k, o] of clusterProps(alias)) {
        const client = clientPrefixes.some(p => k.startsWith(p))
        props.set(client ? `${side}.${k}` : `${side}.cluster.${k}`, o)
      }
    }
    const prefix = `${source}->${target}.`
    for (const [k, v] of rawProps) if (k.startsWith(prefix)) props.set(k.slice(prefix.length), { value: v, from: k })
    return props
  }

  // MirrorConnectorConfig.sourceConsumerConfig and the others.
  const clientOf = (props: Map<string, Origin>, role: ClientRole): Map<string, Origin> => {
    const [side, client] = role.split('.') as ['source' | 'target', 'consumer' | 'producer' | 'admin']
    const out = new Map<string, Origin>()
    for (const [k, o] of props) if (k.startsWith(`${side}.cluster.`) && isConnectionKey(k.slice(side.length + 9))) out.set(k.slice(side.length + 9), o)
    for (const [k, o] of props) if (k.startsWith(`${client}.`)) out.set(k.slice(client.length + 1), o)
    for (const [k, o] of props) if (k.startsWith(`${side}.${client}.`)) out.set(k.slice(side.length + client.length + 2), o)
    if (client === 'consumer') {
      out.set('enable.auto.commit', { value: 'false', from: `${role}.enable.auto.commit` })
      if (!out.has('auto.offset.reset')) out.set('auto.offset.reset', { value: 'earliest', from: `${role}.auto.offset.reset` })
    }
    return out
  }

  /** Parses a client's properties; problems and warnings name the keys as the user wrote them. */
  const parseClient = (origins: Map<string, Origin>, definition: ConfigDefinition, what: string) => {
    const parsed = definition.parse([...origins].map(([k, o]) => [k, o.value]), file, { warnUnknown: false })
    const rename = (key: string | undefined): string | undefined => key === undefined ? undefined : origins.get(key)?.from ?? key
    for (const p of parsed.problems) problems.push({ ...p, key: rename(p.key) })
    for (const w of parsed.warnings) {
      const named = /^[^:]+: (\S+) /.exec(w)?.[1]
      warnings.push(named !== undefined && origins.has(named) ? w.replace(` ${named} `, ` ${origins.get(named)!.from} `) : w)
    }
    for (const [k] of parsed.unknown) {
      const from = origins.get(k)?.from ?? k
      warnings.push(`${file}: ${from} is not a key of Kafka's ${what}; it is ignored`)
    }
    return parsed
  }

  const clusters = new Map<string, ClusterConnection>()
  for (const alias of aliases) {
    const props = clusterProps(alias)
    const admin = new Map<string, Origin>()
    for (const [k, o] of props) if (isConnectionKey(k)) admin.set(k, o)
    for (const [k, o] of props) if (k.startsWith('admin.')) admin.set(k.slice(6), o)
    if (!admin.has('bootstrap.servers')) {
      problems.push({ source: file, key: `${alias}.bootstrap.servers`, message: `is missing: cluster ${alias} is unknown`, fix: `add ${alias}.bootstrap.servers=host:9092` })
      continue
    }
    const parsed = parseClient(admin, connectionKeys, 'admin client')
    clusters.set(alias, clusterConnection(alias, file, parsed.values, (parsed.values.get('bootstrap.servers') as string[] | undefined) ?? [], `kafka-mirror-mm2-${alias}`, problems))
  }

  const flows: Mm2Flow[] = []
  const groups = new Map<string, string>()
  for (const source of aliases) {
    for (const target of aliases) {
      if (source === target) continue
      const name = `${source}->${target}`
      const own = perFlow.get(name) ?? new Map()
      const valueOf = (key: string): { value: ConfigValue, from: string } | undefined => own.get(key) ?? perCluster.get(target)?.get(key) ?? topLevel.get(key)
      const get = (key: string): ConfigValue | undefined => valueOf(key)?.value ?? mm2Config.get(key)?.default
      const enabled = get('enabled') === true
      // Problems of a flow that will not run are not the user's concern (MM2 does not check them either).
      const runs = enabled && (options.onlyTargets === undefined || options.onlyTargets.includes(target))
      const flowProblems: ConfigProblem[] = []
      const sink = runs ? flowProblems : []
      const keyName = (key: string): string => valueOf(key)?.from ?? key

      const policy = replicationPolicy(String(get('replication.policy.class')), {
        separator: valueOf('replication.policy.separator') !== undefined ? String(get('replication.policy.separator')) : undefined,
        internalTopicSeparatorEnabled: get('replication.policy.internal.topic.separator.enabled') !== false
      }) ?? replicationPolicy(DEFAULT_POLICY)!
      const include = patternList(get('topics') as string[], keyName('topics'), file, sink)
      const exclude = patternList(get('topics.exclude') as string[], keyName('topics.exclude'), file, sink)
      const groupInclude = patternList(get('groups') as string[], keyName('groups'), file, sink)
      const groupExclude = patternList(get('groups.exclude') as string[], keyName('groups.exclude'), file, sink)
      const configExclude = patternList(get('config.properties.exclude') as string[], keyName('config.properties.exclude'), file, sink)
      const topicFilter = (topic: string): boolean => include !== undefined && include.test(topic) && !(exclude?.test(topic) ?? false)
      const heartbeats = get('heartbeats.replication.enabled') === true
      const shouldReplicateTopic = (topic: string): boolean =>
        (topicFilter(topic) || (heartbeats && policy.isHeartbeatsTopic(topic))) && !policy.isInternalTopic(topic) && !policy.isCycle(topic, target)

      const props = connectorProps(source, target)
      const clientProperties = (role: ClientRole): Map<string, string> => new Map([...clientOf(props, role)].map(([k, o]) => [k, o.value]))
      const consumerOrigins = clientOf(props, 'source.consumer')
      // Each flow has its own group: a cluster-level A.consumer.group.id would make two flows
      // from A share one group and split each other's partitions.
      const groupFrom = consumerOrigins.get('group.id')
      let groupId = defaultGroupId(source, target)
      if (groupFrom !== undefined && groupFrom.from === `${name}.consumer.group.id`) groupId = groupFrom.value
      else if (groupFrom !== undefined && runs) warnings.push(`${file}: ${groupFrom.from} is ignored for flow ${name}: each flow has its own consumer group (${groupId}); set ${name}.consumer.group.id to name it`)
      consumerOrigins.set('group.id', { value: groupId, from: `${name}.consumer.group.id` })
      if (!consumerOrigins.has('client.id')) consumerOrigins.set('client.id', { value: `kafka-mirror-mm2.${source}-${target}`, from: `${name}.consumer.client.id` })
      const producerOrigins = clientOf(props, 'target.producer')
      if (!producerOrigins.has('client.id')) producerOrigins.set('client.id', { value: `kafka-mirror-mm2.${source}-${target}-producer`, from: `${name}.producer.client.id` })

      // Client problems are checked for flows that run; others are parsed quietly.
      const before = problems.length
      const warningsBefore = warnings.length
      const consumerParsed = parseClient(consumerOrigins, consumerConfig, 'consumer')
      const producerParsed = parseClient(producerOrigins, producerConfig, 'producer')
      const clientProblems: ConfigProblem[] = []
      const sourceConsumer = sourceSettings(consumerParsed, file, clientProblems)
      const targetProducer = targetSettings(producerParsed, file, clientProblems)
      for (const p of clientProblems) {
        // A cluster without bootstrap.servers is reported once, above.
        if (p.key === 'bootstrap.servers' && p.message.startsWith('is missing')) continue
        const origins = p.key === 'bootstrap.servers' ? undefined : (consumerOrigins.get(p.key ?? '') ?? producerOrigins.get(p.key ?? ''))
        const key = p.key === 'bootstrap.servers' ? `${p.message.includes('source') ? source : target}.bootstrap.servers` : origins?.from ?? p.key
        sink.push({ ...p, key })
      }
      if (!runs) { problems.length = before; warnings.length = warningsBefore }
      sourceConsumer.groupId = groupId

      if (runs && get('exactly.once.support') === 'required' && !sourceConsumer.readCommitted) {
        sink.push({ source: file, key: keyName('exactly.once.support'), message: 'is required, but the source consumer reads uncommitted records, so records of aborted transactions would be copied', fix: `set ${source}.consumer.isolation.level=read_committed (or ${name}.consumer.isolation.level)` })
      }
      if (runs && exactlyOnceOn(get) && get('transaction.boundary') === 'connector') {
        sink.push({ source: file, key: keyName('transaction.boundary'), message: 'is connector, but MirrorSourceConnector does not define transaction boundaries (Kafka Connect refuses it too)', fix: `set ${keyName('transaction.boundary')} to poll (the default) or interval` })
      }
      if (runs && exactlyOnceOn(get)) {
        const turnedOnBy = get('exactly.once.support') === 'required' ? keyName('exactly.once.support') : `${target}.exactly.once.source.support=enabled`
        for (const p of exactlyOnceProblems(targetProducer, producerParsed, file, turnedOnBy)) sink.push({ ...p, key: producerOrigins.get(p.key ?? '')?.from ?? `${name}.producer.${p.key ?? ''}` })
      }
      const previous = groups.get(groupId)
      if (runs && previous !== undefined) sink.push({ source: file, key: `${name}.consumer.group.id`, message: `flows ${previous} and ${name} would share consumer group ${groupId}`, fix: `set ${name}.consumer.group.id to a group of its own` })
      if (runs) groups.set(groupId, name)
      problems.push(...flowProblems)

      const connectionOf = (role: ClientRole): ClusterConnection => {
        const origins = role === 'source.consumer' ? consumerOrigins : role === 'target.producer' ? producerOrigins : clientOf(props, role)
        const parsed = (role.endsWith('consumer') ? consumerConfig : role.endsWith('producer') ? producerConfig : connectionKeys).parse([...origins].map(([k, o]) => [k, o.value]), file, { warnUnknown: false })
        return clusterConnection(role.startsWith('source') ? source : target, file, parsed.values, (parsed.values.get('bootstrap.servers') as string[] | undefined) ?? [], `kafka-mirror-mm2.${source}-${target}-${role.replace('.', '-')}`, [])
      }
      const description = `${String(get('topics'))}${(get('topics.exclude') as string[]).length > 0 ? ` except ${(get('topics.exclude') as string[]).join(',')}` : ''} (${name}, ${policy.className.slice(policy.className.lastIndexOf('.') + 1)})`
      flows.push({
        source,
        target,
        name,
        enabled,
        policy,
        get,
        given: key => valueOf(key) !== undefined,
        keyName,
        topicFilter,
        shouldReplicateTopic,
        topics: { include: /^$/, description, accept: shouldReplicateTopic },
        groupFilter: group => groupInclude !== undefined && groupInclude.test(group) && !(groupExclude?.test(group) ?? false),
        configPropertyFilter: name => !(configExclude?.test(name) ?? false),
        groupId,
        clientProperties,
        connection: connectionOf,
        sourceConsumer,
        targetProducer
      })
    }
  }

  const running = flows.filter(f => f.enabled && (options.onlyTargets === undefined || options.onlyTargets.includes(f.target)))
  if (problems.length === 0 && aliases.length > 0 && running.length === 0) {
    const pairs = flows.map(f => `${f.name}.enabled=true`).slice(0, 2).join(' or ')
    problems.push({ source: file, key: 'enabled', message: options.onlyTargets !== undefined ? `no flow into ${options.onlyTargets.join(', ')} is enabled` : 'no flow is enabled (MM2 enables none by default)', fix: `add ${pairs !== '' ? pairs : '<source>-><target>.enabled=true'}` })
  }

  if (problems.length > 0) throw new ConfigError(dedupe(problems))
  return { file, clusters, flows, warnings: [...new Set(warnings)], properties: describe(rawProps) }
}

function dedupe (problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>()
  return problems.filter(p => {
    const text = formatProblem(p)
    if (seen.has(text)) return false
    seen.add(text)
    return true
  })
}

function describe (props: Map<string, string>): Array<[string, string]> {
  return [...props].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([k, v]) => [k, secretName(k) ? HIDDEN : v])
}

/** The flows that run: enabled, into one of `onlyTargets` when given. */
export function runningFlows (config: Mm2Config, onlyTargets?: string[]): Mm2Flow[] {
  return config.flows.filter(f => f.enabled && (onlyTargets === undefined || onlyTargets.includes(f.target)))
}

/** Whether a flow copies exactly once (target transactions, src/mirror/transactions.ts). */
export function exactlyOnceOn (get: (key: string) => ConfigValue | undefined): boolean {
  return get('exactly.once.support') === 'required' || get('exactly.once.source.support') === 'enabled'
}

/** The features a flow asks for (their enabling keys are true) with the key that asks. */
export function requestedFeatures (flow: Mm2Flow): Map<Mm2Feature, string> {
  const wanted = new Map<Mm2Feature, string>()
  const on = (key: string): boolean => flow.get(key) === true
  if (on('emit.offset-syncs.enabled')) wanted.set('offset-syncs', 'emit.offset-syncs.enabled')
  if (on('emit.checkpoints.enabled')) wanted.set('checkpoints', 'emit.checkpoints.enabled')
  if (on('sync.group.offsets.enabled')) wanted.set('group-offsets', 'sync.group.offsets.enabled')
  if (on('emit.heartbeats.enabled')) wanted.set('heartbeats', 'emit.heartbeats.enabled')
  if (on('sync.topic.configs.enabled')) wanted.set('topic-configs', 'sync.topic.configs.enabled')
  if (on('sync.topic.acls.enabled')) wanted.set('topic-acls', 'sync.topic.acls.enabled')
  if (flow.get('exactly.once.support') === 'required' || flow.get('exactly.once.source.support') === 'enabled') wanted.set('exactly-once', flow.given('exactly.once.support') ? 'exactly.once.support' : 'exactly.once.source.support')
  return wanted
}

/** What kafka-mirror does when a feature's plug-in is not in this build. */
export const featureFallbacks: Record<Mm2Feature, string> = {
  'offset-syncs': 'no offset syncs are written to mm2-offset-syncs.<target>.internal',
  checkpoints: 'no checkpoints are written to <source>.checkpoints.internal: consumers cannot translate their offsets with RemoteClusterUtils',
  'group-offsets': 'no offsets are committed to the target\'s consumer groups',
  heartbeats: 'no heartbeats are written to the target\'s heartbeats topic (heartbeats topics of the source are still copied)',
  'topic-configs': 'remote topics are created with the source\'s main configs, and later config changes are not copied',
  'topic-acls': 'no ACLs are created on the target',
  'exactly-once': 'records are copied at least once: after a crash, records copied but not committed are copied again'
}
