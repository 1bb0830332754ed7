// `kafka-mirror mm2 mm2.properties [--clusters A B]`: connect-mirror-maker.sh's command line,
// running every enabled flow of the file until Ctrl+C or SIGTERM.
import { formatDefault } from '../config/definition.ts'
import { ConfigError, ExitCodes, type ConfigProblem } from '../errors.ts'
import { createLogger, RecentProblems } from '../log.ts'
import { listenAddress } from '../config/mirror-config.ts'
import { loadMm2Config, mm2Flags, mm2Keys, runningFlows, type Mm2Config } from '../mm2/config.ts'
import { builtInFlowPlugins } from '../mm2/plugins.ts'
import { flowMirrorSettings, Mm2Runner } from '../mm2/runner.ts'
import { version } from '../version.ts'
import { helpText, parseFlags, terminalWidth, wrapLine } from './flags.ts'
import type { Command } from './io.ts'
import { runEngine } from './run-engine.ts'


const usage = `Usage: kafka-mirror mm2 <mm2.properties> [--clusters <alias> ...] [options]

Runs MirrorMaker 2's replication flows from its mm2.properties, as connect-mirror-maker.sh does.
Every A->B.enabled=true flow copies A's matching topics to B, named by the replication policy
(A.topic by default). Each flow is a consumer group of its own on the source,
kafka-mirror-mm2.<source>-<target> unless <source>-><target>.consumer.group.id names it, and keeps
partition numbers. Ctrl+C or SIGTERM stops every flow after delivering and committing what it fetched.
Keys kafka-mirror does not act on are named in a warning at start. See docs/migrating-from-mirrormaker2.md.`

/** `--clusters B C`: MM2's argparse takes several words; they are joined with commas here. */
function joinClusterWords (argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--clusters') { out.push(argv[i]); continue }
    const words: string[] = []
    // The first word after a file argument is the file, unless it is already given.
    while (i + 1 < argv.length && !argv[i + 1].startsWith('-') && !argv[i + 1].endsWith('.properties')) words.push(argv[++i])
    out.push(words.length > 0 ? `--clusters=${words.join(',')}` : '--clusters')
  }
  return out
}

function keysHelp (width: number): string {
  const lines = ['', ...wrapLine('mm2.properties keys (A->B.<key> for one flow, <key> for all; see docs/configuration.md):', width)]
  for (const key of mm2Keys) {
    const def = Array.isArray(key.default) ? key.default.join(', ') : formatDefault(key)
    lines.push(...wrapLine(`  ${key.name}${def !== '' ? ` (default ${def})` : ''}`, width, '      '))
    lines.push(...wrapLine(`      ${key.doc}${key.ignored !== undefined ? ` Ignored: ${key.ignored}.` : ''}`, width))
  }
  lines.push('', ...wrapLine('Per cluster: A.bootstrap.servers, A.security.protocol, A.ssl.*, A.sasl.*; A.consumer.*, A.producer.*, A.admin.* (Kafka client keys).', width))
  return lines.join('\n') + '\n'
}

export interface LoadedMm2 {
  config: Mm2Config
  onlyTargets?: string[]
  validateOnly: boolean
  /** --http.listener: where to serve metrics and status; undefined: nowhere. */
  httpListener?: { host: string, port: number }
  logLevel: string
  logFormat: 'text' | 'json'
}

/** The mm2 command's arguments and file, checked together; one ConfigError lists every problem. */
export function loadMm2Argv (argv: string[]): LoadedMm2 {
  const flags = parseFlags(joinClusterWords(argv), mm2Flags)
  const problems: ConfigProblem[] = [...flags.problems]
  const parsed = mm2Flags.parse(flags.pairs, 'command line')
  problems.push(...parsed.problems.map(p => p.key !== undefined ? { ...p, key: `--${p.key}` } : p))
  if (flags.positionals.length === 0) problems.push({ source: 'command line', message: 'the mm2.properties file is missing', fix: 'kafka-mirror mm2 mm2.properties' })
  if (flags.positionals.length > 1) problems.push({ source: 'command line', message: `unexpected arguments ${flags.positionals.slice(1).join(' ')}`, fix: 'give one mm2.properties file; --clusters takes the aliases' })
  const onlyTargets = parsed.values.get('clusters') as string[] | undefined
  let config: Mm2Config | undefined
  if (flags.positionals.length > 0) {
    try {
      config = loadMm2Config(flags.positionals[0], { onlyTargets, source: 'command line' })
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      problems.push(...error.problems)
    }
  }
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems)
  return {
    config,
    onlyTargets,
    validateOnly: parsed.values.get('validate') === true,
    httpListener: parsed.values.get('http.listener') === undefined ? undefined : listenAddress(String(parsed.values.get('http.listener'))),
    logLevel: String(parsed.values.get('log.level')),
    logFormat: parsed.values.get('log.format') === 'json' ? 'json' : 'text'
  }
}

function printValidation (out: NodeJS.WritableStream, loaded: LoadedMm2): void {
  const flows = runningFlows(loaded.config, loaded.onlyTargets)
  out.write(`The configuration is valid: would run ${flows.length} flow${flows.length === 1 ? '' : 's'}.\n`)
  for (const flow of flows) {
    const settings = flowMirrorSettings(flow)
    out.write(`  ${flow.name}: ${flow.topics.description}, ${settings.source.bootstrapServers.join(',')} to ${settings.target.bootstrapServers.join(',')}, group ${flow.groupId}, topic t becomes ${flow.policy.formatRemoteTopic(flow.source, 't')}\n`)
  }
  out.write(`${loaded.config.file}:\n`)
  for (const [key, value] of loaded.config.properties) out.write(`  ${key}=${value}\n`)
}

export const mm2Command: Command = async (argv, io) => {
  if (argv.includes('--help') || argv.includes('-h')) {
    const width = terminalWidth(io.stdout)
    io.stdout.write(helpText(usage, mm2Flags, width) + keysHelp(width))
    return ExitCodes.OK
  }
  const loaded = loadMm2Argv(argv)
  const recent = new RecentProblems()
  const log = createLogger({ level: loaded.logLevel, format: loaded.logFormat, stream: io.stderr, problems: recent })
  log.info({ version, node: process.versions.node }, 'kafka-mirror starting')
  for (const warning of loaded.config.warnings) log.warn(warning)
  if (loaded.validateOnly) {
    for (const warning of Mm2Runner.missingFeatures(runningFlows(loaded.config, loaded.onlyTargets), builtInFlowPlugins)) log.warn(warning)
    printValidation(io.stdout, loaded)
    return ExitCodes.OK
  }
  const runner = new Mm2Runner(loaded.config, { onlyTargets: loaded.onlyTargets, logger: log })
  return await runEngine(io, log, loaded.logFormat, async () => { await runner.stop() }, async opened => {
    await runner.start()
    if (loaded.httpListener !== undefined) {
      // Once the flows exist: each flow's Mirror is made when the runner starts.
      const { serveHttp } = await import('../http/server.ts')
      const flows = runner.flows.map(f => ({ name: f.flow.name, mirror: f.mirror }))
      opened(await serveHttp(flows, loaded.httpListener, { version, config: Object.fromEntries(loaded.config.properties), problems: recent }, log).catch(async (error: unknown) => {
        await runner.stop().catch(() => {})
        throw error
      }))
    }
    const summaries = await runner.finished
    log.info({ records: summaries.reduce((n, s) => n + s.records, 0), bytes: summaries.reduce((n, s) => n + s.bytes, 0) }, 'stopped')
    return ExitCodes.OK
  })
}
