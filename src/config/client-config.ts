// Kafka's own client property names, as found in consumer.properties and producer.properties.
// Each doc says the default and what kafka-mirror does with the key.
import { configProviderKeys } from './config-providers.ts'
import { ConfigDefinition, type ConfigKey } from './definition.ts'
import { abbreviate } from './messages.ts'

const hostPortList = (value: unknown): string | undefined => {
  const items = value as string[]
  if (items.length === 0) return 'is empty'
  const bad = items.filter(i => !/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(i))
  if (bad.length === 0) return undefined
  const named = bad.slice(0, 3).map(b => `"${abbreviate(b, 60)}"`).join(', ') + (bad.length > 3 ? ` and ${bad.length - 3} more` : '')
  return `has ${named}, which ${bad.length === 1 ? 'is' : 'are'} not host:port`
}

const ignoredSerde = 'kafka-mirror copies keys and values as bytes, never deserializing them'

// Kafka's JAAS parser wants a login module class, a control flag and a closing ";". Two anchored
// checks, not one pattern over the options: a long value must not make the regex backtrack.
const jaasLine = (value: unknown): string | undefined => {
  const text = String(value)
  if (/^\s*[A-Za-z_$][\w$.]*\s+(?:required|requisite|sufficient|optional)(?:\s|;)/i.test(text) && /;\s*$/.test(text)) return undefined
  return 'is not a JAAS login line, which reads: org.apache.kafka.common.security.plain.PlainLoginModule required username="…" password="…";'
}

/** Keys both clients read: where the cluster is and how to reach it securely. */
export const commonClientKeys: ConfigKey[] = [
  { name: 'bootstrap.servers', type: 'list', doc: 'host:port pairs of brokers to first connect to, comma-separated. Required unless the consumer gives zookeeper.connect.', validate: hostPortList, importance: 'high' },
  { name: 'client.id', type: 'string', doc: 'Name sent to the brokers with every request, seen in their logs and quotas. Default: the group.id, followed by the stream number (as MirrorMaker 1 did).', importance: 'medium' },
  { name: 'client.rack', type: 'string', doc: 'Rack of this client, for fetching from the closest replica. Default: none.' },
  { name: 'security.protocol', type: 'string', default: 'PLAINTEXT', choices: ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'], doc: 'How to talk to the brokers. Default PLAINTEXT.', importance: 'high' },
  { name: 'sasl.mechanism', type: 'string', default: 'GSSAPI', choices: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'GSSAPI'], doc: 'SASL mechanism for SASL_PLAINTEXT and SASL_SSL. Default GSSAPI, as in Kafka; kafka-mirror supports PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER.' },
  { name: 'sasl.jaas.config', type: 'password', doc: 'JAAS login line, as for Java clients: `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";` (ScramLoginModule for SCRAM); for OAUTHBEARER `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="…" clientSecret="…" scope="…";` (`extension_<name>="…"` options become SASL extensions). Never logged.', validate: jaasLine },
  { name: 'sasl.login.callback.handler.class', type: 'class', doc: 'For OAUTHBEARER: `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler` (or its pre-3.4 name in `.secured.`) fetches tokens from sasl.oauthbearer.token.endpoint.url with the client credentials grant, as Kafka\'s OIDC login does. Other Java classes cannot run here. Default: none (Kafka then makes unsecured development tokens, which kafka-mirror refuses).' },
  { name: 'sasl.oauthbearer.token.endpoint.url', type: 'string', doc: 'OAUTHBEARER: the identity provider\'s OAuth token endpoint (http or https). kafka-mirror POSTs `grant_type=client_credentials&scope=…` with the client id and secret in a Basic Authorization header. Default: none.' },
  { name: 'sasl.oauthbearer.jwt.retriever.class', type: 'class', default: 'org.apache.kafka.common.security.oauthbearer.DefaultJwtRetriever', doc: 'OAUTHBEARER (Kafka 4.1+): how tokens are got. kafka-mirror does what DefaultJwtRetriever and ClientCredentialsJwtRetriever do with an http(s) URL: the client credentials grant. The jwt-bearer grant (JwtBearerJwtRetriever) and token files are refused. Default DefaultJwtRetriever.' },
  { name: 'sasl.oauthbearer.client.credentials.client.id', type: 'string', doc: 'OAUTHBEARER: the client id (Kafka 4.1+); else clientId="…" in sasl.jaas.config. Default: none.' },
  { name: 'sasl.oauthbearer.client.credentials.client.secret', type: 'password', doc: 'OAUTHBEARER: the client secret (Kafka 4.1+); else clientSecret="…" in sasl.jaas.config. Never logged. Default: none.' },
  { name: 'sasl.oauthbearer.scope', type: 'string', doc: 'OAUTHBEARER: the scope asked for (Kafka 4.1+); else scope="…" in sasl.jaas.config. Default: none (no scope is sent).' },
  { name: 'sasl.oauthbearer.scope.claim.name', type: 'string', default: 'scope', doc: 'OAUTHBEARER: the claim of the access token that holds its scopes (a string or a list). Default scope.' },
  { name: 'sasl.oauthbearer.sub.claim.name', type: 'string', default: 'sub', doc: 'OAUTHBEARER: the claim of the access token that names its subject, which must be there. Default sub.' },
  { name: 'sasl.oauthbearer.header.urlencode', type: 'boolean', default: false, doc: 'OAUTHBEARER: URL-encode the client id and secret in the Authorization header, as RFC 6749 says (some providers want it, others refuse it). Default false, as in Kafka 4.' },
  { name: 'sasl.login.connect.timeout.ms', type: 'int', min: 1, doc: 'OAUTHBEARER: how long to wait for a connection to the token endpoint. Default: none in Kafka (no limit); kafka-mirror waits 10000.' },
  { name: 'sasl.login.read.timeout.ms', type: 'int', min: 1, doc: 'OAUTHBEARER: how long to wait for the token endpoint\'s answer. Default: none in Kafka (no limit); kafka-mirror waits 30000.' },
  { name: 'sasl.login.retry.backoff.ms', type: 'long', default: 100, min: 0, doc: 'OAUTHBEARER: first wait before asking the token endpoint again after a failure; it doubles at each try. Default 100.' },
  { name: 'sasl.login.retry.backoff.max.ms', type: 'long', default: 10000, min: 0, doc: 'OAUTHBEARER: how long to keep asking the token endpoint before the login fails. A refusal (HTTP 4xx: wrong client id or secret) fails at once. Default 10000.' },
  { name: 'sasl.login.refresh.window.factor', type: 'double', default: 0.8, min: 0.5, max: 1, doc: 'OAUTHBEARER: a new token is fetched when this fraction of the current one\'s life has passed (within the min period and buffer below); connections re-authenticate with it when the broker sets connections.max.reauth.ms. Default 0.8.' },
  { name: 'sasl.login.refresh.window.jitter', type: 'double', default: 0.05, min: 0, max: 0.25, doc: 'OAUTHBEARER: random fraction of the token\'s life added to the refresh time. Default 0.05.' },
  { name: 'sasl.login.refresh.min.period.seconds', type: 'int', default: 60, min: 0, max: 900, doc: 'OAUTHBEARER: shortest time between a token and the next one. Default 60. A token that lives less than this plus the buffer is refreshed at half its life.' },
  { name: 'sasl.login.refresh.buffer.seconds', type: 'int', default: 300, min: 0, max: 3600, doc: 'OAUTHBEARER: a new token is fetched at least this long before the current one expires. Default 300.' },
  { name: 'ssl.truststore.location', type: 'string', doc: 'File with the CA certificates that sign the brokers\' certificates: JKS, PKCS12 or PEM (JCEKS must be converted: `keytool -importkeystore -srcstoretype JCEKS -deststoretype PKCS12`). Default: the system CAs.' },
  { name: 'ssl.truststore.type', type: 'string', default: 'JKS', choices: ['JKS', 'PKCS12', 'PEM'], doc: 'Format of ssl.truststore.location. Default JKS, as in Kafka. JKS and PKCS12 files are read whichever of the two is declared (as Java does since JDK 9); PEM must be declared PEM.' },
  { name: 'ssl.truststore.password', type: 'password', doc: 'Password of a JKS or PKCS12 truststore, which checks its integrity (without it the check is skipped, as in Java). Never logged.' },
  { name: 'ssl.truststore.certificates', type: 'password', doc: 'CA certificates in PEM, given inline instead of a file.' },
  { name: 'ssl.keystore.location', type: 'string', doc: 'File with this client\'s certificate and key, for brokers that require client certificates: JKS, PKCS12 or PEM.' },
  { name: 'ssl.keystore.type', type: 'string', default: 'JKS', choices: ['JKS', 'PKCS12', 'PEM'], doc: 'Format of ssl.keystore.location. Default JKS, as in Kafka. JKS and PKCS12 files are read whichever of the two is declared (as Java does since JDK 9); PEM must be declared PEM.' },
  { name: 'ssl.keystore.password', type: 'password', doc: 'Password of the keystore. Never logged.' },
  { name: 'ssl.key.password', type: 'password', doc: 'Password of the private key in the keystore. Default: ssl.keystore.password. Never logged.' },
  { name: 'ssl.keystore.certificate.chain', type: 'password', doc: 'This client\'s certificate chain in PEM, given inline.' },
  { name: 'ssl.keystore.key', type: 'password', doc: 'This client\'s private key in PEM, given inline. Never logged.' },
  { name: 'ssl.endpoint.identification.algorithm', type: 'string', default: 'https', doc: 'https checks that the broker\'s certificate names its host; empty turns the check off. Default https.' },
  { name: 'ssl.protocol', type: 'string', default: 'TLSv1.3', doc: 'Accepted for compatibility; Node negotiates the best TLS version both sides support.' },
  { name: 'ssl.enabled.protocols', type: 'list', doc: 'Accepted for compatibility; Node negotiates the TLS version.' },
  { name: 'request.timeout.ms', type: 'int', default: 30000, min: 1, doc: 'How long to wait for a broker to answer a request. Default 30000.' },
  { name: 'socket.connection.setup.timeout.ms', type: 'int', default: 10000, min: 1, doc: 'How long to wait for a connection to a broker. Default 10000.' },
  { name: 'metadata.max.age.ms', type: 'int', default: 300000, min: 0, doc: 'Refresh cluster metadata at least this often. Default 300000.' },
  { name: 'retry.backoff.ms', type: 'int', default: 100, min: 0, doc: 'Wait between retries of a failed request. Default 100.' },
  { name: 'reconnect.backoff.ms', type: 'int', default: 50, min: 0, doc: 'Accepted for compatibility; reconnects follow retry.backoff.ms.' },
  { name: 'reconnect.backoff.max.ms', type: 'int', default: 1000, min: 0, doc: 'Accepted for compatibility.' },
  { name: 'connections.max.idle.ms', type: 'int', default: 540000, doc: 'Accepted for compatibility.' },
  { name: 'client.dns.lookup', type: 'string', default: 'use_all_dns_ips', doc: 'Accepted for compatibility; Node resolves names.' },
  { name: 'send.buffer.bytes', type: 'int', default: 131072, doc: 'Accepted for compatibility; the OS sizes socket buffers.' },
  { name: 'receive.buffer.bytes', type: 'int', default: 65536, doc: 'Accepted for compatibility; the OS sizes socket buffers.' },
  { name: 'metric.reporters', type: 'list', doc: 'Accepted for compatibility and ignored: Java metric reporters cannot run in kafka-mirror. For Prometheus metrics, start the mirror with --http.listener (docs/metrics.md).', ignored: 'Java metric reporters cannot run in kafka-mirror; use --http.listener for Prometheus metrics' },
  { name: 'interceptor.classes', type: 'list', doc: 'Java interceptors cannot run in kafka-mirror.', ignored: 'Java classes cannot run in kafka-mirror' },
  ...configProviderKeys
]

export const consumerKeys: ConfigKey[] = [
  ...commonClientKeys,
  { name: 'zookeeper.connect', type: 'string', doc: 'Old consumers\' way to find the source cluster: ZooKeeper hosts ("h1:2181,h2:2181/chroot"). kafka-mirror reads the brokers from /brokers/ids and connects to them. Deprecated: give bootstrap.servers.', importance: 'high' },
  { name: 'group.id', type: 'string', default: 'kafka-mirror', doc: 'Consumer group of the mirror. Processes with the same group.id share the partitions and resume from its committed offsets. Default kafka-mirror.', importance: 'high' },
  { name: 'group.instance.id', type: 'string', doc: 'Static membership id, so a restart within session.timeout.ms does not rebalance. Default: none.' },
  { name: 'auto.offset.reset', type: 'string', default: 'earliest', choices: ['earliest', 'latest', 'none', 'smallest', 'largest'], doc: 'Where to start in a partition the group has no offset for. Default earliest: a mirror copies what is already there (Kafka\'s consumer defaults to latest). smallest and largest are the old names.', importance: 'high' },
  { name: 'enable.auto.commit', type: 'boolean', default: false, doc: 'Always off: kafka-mirror commits a source offset only after the target acknowledged every record before it.', validate: v => v === true ? 'cannot be true: kafka-mirror commits only what the target acknowledged (set it to false or remove it)' : undefined },
  { name: 'auto.commit.interval.ms', type: 'int', default: 5000, doc: 'Accepted for compatibility; see --offset.commit.interval.ms.', ignored: 'commits follow --offset.commit.interval.ms' },
  { name: 'session.timeout.ms', type: 'int', default: 45000, min: 1, doc: 'A member that sends no heartbeat for this long leaves the group and its partitions move. Default 45000.' },
  { name: 'heartbeat.interval.ms', type: 'int', default: 3000, min: 1, doc: 'Heartbeat interval to the group coordinator. Default 3000.' },
  { name: 'max.poll.interval.ms', type: 'int', default: 300000, min: 1, doc: 'Rebalance timeout: how long the group waits for members to rejoin. Default 300000.' },
  { name: 'max.poll.records', type: 'int', default: 500, min: 1, doc: 'Accepted for compatibility; kafka-mirror sends whole fetches.' },
  { name: 'fetch.min.bytes', type: 'int', default: 1, min: 0, doc: 'The broker waits for this many bytes (or fetch.max.wait.ms) before answering a fetch. Default 1.' },
  { name: 'fetch.max.bytes', type: 'int', default: 52428800, min: 0, doc: 'Most bytes one fetch returns. Default 52428800 (50 MiB).' },
  { name: 'max.partition.fetch.bytes', type: 'int', default: 1048576, min: 0, doc: 'Most bytes one fetch returns per partition. Default 1048576 (1 MiB).' },
  { name: 'fetch.max.wait.ms', type: 'int', default: 500, min: 0, doc: 'Longest the broker waits for fetch.min.bytes. Default 500.' },
  { name: 'isolation.level', type: 'string', default: 'read_uncommitted', choices: ['read_uncommitted', 'read_committed'], doc: 'read_committed copies only committed transactional records. Default read_uncommitted, as in Kafka.' },
  { name: 'partition.assignment.strategy', type: 'list', doc: 'Accepted for compatibility; kafka-mirror uses the range and round-robin assignors of the classic group protocol.' },
  { name: 'exclude.internal.topics', type: 'boolean', default: true, doc: 'Internal topics (__consumer_offsets, __transaction_state) are never mirrored, whatever this says.' },
  { name: 'allow.auto.create.topics', type: 'boolean', default: false, doc: 'Accepted for compatibility; the mirror never creates source topics.' },
  { name: 'check.crcs', type: 'boolean', default: true, doc: 'Accepted for compatibility.' },
  { name: 'key.deserializer', type: 'class', doc: 'Accepted for compatibility.', ignored: ignoredSerde },
  { name: 'value.deserializer', type: 'class', doc: 'Accepted for compatibility.', ignored: ignoredSerde },
  // The old ZooKeeper consumer's keys, still in tutorials' consumer.properties.
  { name: 'zookeeper.connection.timeout.ms', type: 'int', default: 6000, doc: 'How long to wait for ZooKeeper when zookeeper.connect is given. Default 6000.' },
  { name: 'zookeeper.session.timeout.ms', type: 'int', default: 6000, doc: 'Old consumer key, accepted for compatibility.', ignored: 'the group lives in Kafka, not ZooKeeper' },
  { name: 'zookeeper.sync.time.ms', type: 'int', default: 2000, doc: 'Old consumer key, accepted for compatibility.', ignored: 'the group lives in Kafka, not ZooKeeper' },
  { name: 'auto.commit.enable', type: 'boolean', default: false, doc: 'Old consumer key, accepted for compatibility.', ignored: 'commits follow --offset.commit.interval.ms' },
  { name: 'consumer.timeout.ms', type: 'int', default: -1, doc: 'Old consumer key, accepted for compatibility.', ignored: 'use --once to stop at the end offsets' },
  { name: 'fetch.message.max.bytes', type: 'int', default: 1048576, doc: 'Old consumer name of max.partition.fetch.bytes.', ignored: 'use max.partition.fetch.bytes' },
  { name: 'rebalance.max.retries', type: 'int', default: 4, doc: 'Old consumer key, accepted for compatibility.', ignored: 'the group protocol retries by itself' },
  { name: 'rebalance.backoff.ms', type: 'int', default: 2000, doc: 'Old consumer key, accepted for compatibility.', ignored: 'the group protocol retries by itself' }
]

export const producerKeys: ConfigKey[] = [
  ...commonClientKeys,
  { name: 'acks', type: 'string', default: 'all', choices: ['all', '-1', '0', '1'], doc: 'Acknowledgements the target leader waits for: all (every in-sync replica) or 1 (the leader). Default all. 0 is refused: the mirror commits a source offset only for records the target acknowledged.', importance: 'high' },
  { name: 'enable.idempotence', type: 'boolean', default: true, doc: 'Idempotent producer: retries never write a record twice. Needs acks=all. Default true.' },
  { name: 'compression.type', type: 'string', default: 'none', choices: ['none', 'gzip', 'snappy', 'lz4', 'zstd'], doc: 'Compression of the batches written to the target. Default none.', importance: 'high' },
  { name: 'compression.gzip.level', type: 'int', doc: 'Accepted for compatibility.' },
  { name: 'compression.lz4.level', type: 'int', doc: 'Accepted for compatibility.' },
  { name: 'compression.zstd.level', type: 'int', doc: 'Accepted for compatibility.' },
  { name: 'linger.ms', type: 'int', default: 5, min: 0, doc: 'Accepted for compatibility: the mirror sends each fetch as it arrives, so batches fill from the source\'s own batching.' },
  { name: 'batch.size', type: 'int', default: 16384, min: 0, doc: 'Accepted for compatibility: the mirror sends each fetch\'s records per partition in one batch.' },
  { name: 'max.request.size', type: 'int', default: 1048576, min: 1, doc: 'Largest group of records one send carries, in bytes of keys, values and headers; a fetch holding more is sent in several. Default 1048576.' },
  { name: 'buffer.memory', type: 'long', default: 33554432, min: 0, doc: 'Most bytes of records waiting to be sent; fetching pauses beyond it. Default 33554432 (32 MiB).' },
  { name: 'retries', type: 'int', default: 2147483647, min: 0, doc: 'Accepted for compatibility: a send that fails with a retriable error is retried until delivery.timeout.ms runs out, as Kafka\'s producer does with its default retries. Default 2147483647.' },
  { name: 'delivery.timeout.ms', type: 'int', default: 120000, min: 1, doc: 'How long a record may take to be acknowledged, retries included, before the send fails. Default 120000.' },
  { name: 'max.in.flight.requests.per.connection', type: 'int', default: 5, min: 1, max: 5, doc: 'Produce requests in flight to each target broker (1 to 5, default 5). Order holds with any value: each partition\'s batches carry idempotent sequence numbers, and with enable.idempotence=false one batch per partition is in flight at a time.' },
  { name: 'max.block.ms', type: 'int', default: 60000, doc: 'Accepted for compatibility.' },
  { name: 'partitioner.class', type: 'class', doc: 'Java partitioners cannot run here; see --partitioning.', ignored: 'kafka-mirror partitions by key with murmur2 as Kafka\'s default partitioner does (see --partitioning)' },
  { name: 'key.serializer', type: 'class', doc: 'Accepted for compatibility.', ignored: ignoredSerde },
  { name: 'value.serializer', type: 'class', doc: 'Accepted for compatibility.', ignored: ignoredSerde },
  { name: 'transactional.id', type: 'string', doc: 'With exactly-once on (--exactly.once.support enabled, or MM2\'s exactly.once.source.support=enabled): the prefix of the transactional ids, one per source partition, <prefix>-<topic>-<partition>. Two mirrors that copy the same source partitions must not share it with different groups. Default kafka-mirror-<group.id>. Unused otherwise.' },
  { name: 'transaction.timeout.ms', type: 'int', default: 60000, min: 1000, doc: 'With exactly-once on: how long the target\'s transaction coordinator lets a transaction stay open before it aborts it (a member frozen or cut off). At most the brokers\' transaction.max.timeout.ms. Default 60000, as Kafka\'s producer.' }
]

export const consumerConfig = new ConfigDefinition(consumerKeys)
// metadata.broker.list is the old Scala producer's name for bootstrap.servers.
export const producerConfig = new ConfigDefinition(producerKeys.map(k => k.name === 'bootstrap.servers' ? { ...k, deprecatedAlias: 'metadata.broker.list' } : k))
