// `kafka-mirror --consumer.config c.properties --producer.config p.properties --whitelist T`:
// MirrorMaker 1's command line, running the Mirror engine until Ctrl+C (or the end, with --once).
import { loadMirrorConfig, mirrorFlags, type LoadedMirrorConfig } from '../config/mirror-config.ts'
import { ConfigError, ExitCodes } from '../errors.ts'
import { describeConfig } from '../http/status.ts'
import { createLogger, RecentProblems, type Logger } from '../log.ts'
import { Mirror } from '../mirror/mirror.ts'
import type { MirrorSummary } from '../mirror/stats.ts'
import { version } from '../version.ts'
import { helpText, parseFlags, type ParsedFlags } from './flags.ts'
import type { Command } from './io.ts'
import { runEngine } from './run-engine.ts'

const usage = `Usage: kafka-mirror [mirror] --consumer.config <file> --producer.config <file> --whitelist <regex> [options]

Copies the matching topics of the source cluster (consumer.config) to the target cluster
(producer.config), keeping keys, values, headers and timestamps. Offsets on the target differ from
the source's. Ctrl+C stops it after the records already fetched are delivered and committed.
A properties value may be a reference such as \${env:VAR} or \${file:/path/secrets.properties:key}
once the file enables config.providers (docs/configuration.md). Secrets are never printed.`

/** What MirrorMaker 1 printed at start: each consumer's effective settings, secrets as [hidden]. */
function logEffectiveSettings (log: Logger, loaded: LoadedMirrorConfig): void {
  const { settings } = loaded
  const { source, target } = settings
  for (let i = 0; i < settings.numStreams; i++) {
    log.info({
      ...Object.fromEntries(loaded.properties.consumer),
      'bootstrap.servers': source.bootstrapServers.join(',') || `(from ZooKeeper ${source.zookeeperConnect ?? ''})`,
      'client.id': `${source.clientId}-${i}`,
      'group.id': source.groupId,
      'security.protocol': source.securityProtocol,
      'request.timeout.ms': source.requestTimeoutMs,
      'auto.offset.reset': source.autoOffsetReset
    }, `consumer ${i} settings`)
  }
  log.info({
    ...Object.fromEntries(loaded.properties.producer),
    'bootstrap.servers': target.bootstrapServers.join(','),
    'client.id': target.clientId,
    acks: target.acks === -1 ? 'all' : target.acks,
    'enable.idempotence': target.idempotent,
    'compression.type': target.compression,
    'security.protocol': target.securityProtocol
  }, 'producer settings')
}

/** --validate: what would run, without connecting. */
function printValidation (out: NodeJS.WritableStream, loaded: LoadedMirrorConfig): void {
  const { source, target, topics, numStreams } = loaded.settings
  const from = source.bootstrapServers.length > 0 ? source.bootstrapServers.join(',') : `the brokers in ZooKeeper ${source.zookeeperConnect ?? ''}`
  out.write(`The configuration is valid: would mirror ${topics.description} from ${from} to ${target.bootstrapServers.join(',')} with ${numStreams} stream${numStreams === 1 ? '' : 's'}.\n`)
  for (const [file, properties] of [[source.source, loaded.properties.consumer], [target.source, loaded.properties.producer]] as const) {
    out.write(`${file}:\n`)
    for (const [key, value] of properties) out.write(`  ${key}=${value}\n`)
  }
}

function printSummary (out: NodeJS.WritableStream, summary: MirrorSummary): void {
  const seconds = (summary.elapsedMs / 1000).toFixed(1)
  out.write(`Copied ${summary.records} records (${(summary.bytes / 1024 / 1024).toFixed(2)} MB) in ${seconds} s: ${summary.recordsPerSecond} records/s, ${summary.megabytesPerSecond} MB/s.\n`)
  for (const t of summary.topics) out.write(`  ${t.topic}: ${t.copied} of ${t.planned} records\n`)
  if (summary.failedRecords > 0) out.write(`  ${summary.failedRecords} records could not be delivered and were skipped (abort.on.send.failure=false)\n`)
}

/**
 * The mirror's command-line arguments, as `kafka-mirror` takes them, read and checked together
 * with the properties files they name. Throws one ConfigError listing every problem.
 */
export function loadMirrorArgv (argv: string[]): LoadedMirrorConfig {
  return checkedMirrorConfig(parseFlags(argv, mirrorFlags))
}

function checkedMirrorConfig (flags: ParsedFlags): LoadedMirrorConfig {
  const problems = [...flags.problems]
  if (flags.positionals.length > 0) problems.push({ source: 'command line', message: `unexpected argument${flags.positionals.length > 1 ? 's' : ''} ${flags.positionals.join(' ')}`, fix: 'flags take the form --name value' })
  let loaded: LoadedMirrorConfig
  try {
    loaded = loadMirrorConfig(flags.pairs)
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError([...problems, ...error.problems])
    throw error
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return loaded
}

export const mirrorCommand: Command = async (argv, io) => {
  const flags = parseFlags(argv, mirrorFlags)
  if (flags.pairs.some(([k]) => k === 'help')) {
    io.stdout.write(helpText(usage, mirrorFlags))
    return ExitCodes.OK
  }
  const loaded = checkedMirrorConfig(flags)

  const recent = new RecentProblems()
  const log = createLogger({ level: loaded.logLevel, format: loaded.logFormat, stream: io.stderr, problems: recent })
  // The first line, so that a log collected from many hosts says which version wrote it.
  log.info({ version, node: process.versions.node }, 'kafka-mirror starting')
  for (const warning of loaded.warnings) log.warn(warning)
  if (loaded.validateOnly) {
    printValidation(io.stdout, loaded)
    return ExitCodes.OK
  }
  logEffectiveSettings(log, loaded)

  const mirror = new Mirror({ ...loaded.settings, logger: log })
  return await runEngine(io, log, loaded.logFormat, async () => { await mirror.stop() }, async opened => {
    if (loaded.httpListener !== undefined) {
      // Loaded only when asked for: prom-client and the server cost nothing otherwise.
      const { serveHttp } = await import('../http/server.ts')
      opened(await serveHttp(mirror, loaded.httpListener, { version, config: describeConfig(flags.pairs, loaded.properties), problems: recent }, log))
    }
    await mirror.start()
    const summary = await mirror.finished
    if (loaded.settings.once) printSummary(io.stdout, summary)
    else log.info({ records: summary.records, bytes: summary.bytes }, 'stopped')
    return ExitCodes.OK
  })
}
