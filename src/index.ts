// The library: what `import ... from 'kafka-mirror'` gives. Kept small on purpose; everything else
// under src/ may change between versions without notice.
//
//   import { Mirror, loadMirrorArgv } from 'kafka-mirror'
//   const { settings } = loadMirrorArgv(['--consumer.config', 'c.properties', '--producer.config', 'p.properties', '--include', 'orders'])
//   const mirror = new Mirror(settings)
//   await mirror.start()
//   ...
//   const summary = await mirror.stop()
import { parseFlags } from './cli/flags.ts'
import { loadMirrorConfig, mirrorFlags, type LoadedMirrorConfig } from './config/mirror-config.ts'
import { ConfigError } from './errors.ts'

export { Mirror, STOP_TIMEOUT_MS, type MirrorOptions } from './mirror/mirror.ts'
export type { MirrorSummary, TopicProgress } from './mirror/stats.ts'
export type { LoadedMirrorConfig, MirrorSettings, Partitioning, SourceSettings, TargetSettings } from './config/mirror-config.ts'
export type { TopicFilter } from './config/topic-filter.ts'
export type { ClusterConnection } from './kafka/client-options.ts'
export {
  ConfigError, DataLossError, ErrorCodes, ExitCodes, KafkaMirrorError, SendFailedError, StopDeadlineError, UsageError,
  type ConfigProblem, type ErrorCode
} from './errors.ts'
export { loadMirrorConfig }
export { runCli } from './cli/run-cli.ts'
export type { CliIO } from './cli/io.ts'
export { version } from './version.ts'

/**
 * The mirror's command-line arguments, as `kafka-mirror` takes them, read and checked together
 * with the properties files they name. Throws one ConfigError listing every problem.
 */
export function loadMirrorArgv (argv: string[]): LoadedMirrorConfig {
  const flags = parseFlags(argv, mirrorFlags)
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
