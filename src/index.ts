// The library: what `import ... from 'kafka-mirror'` gives. Kept small on purpose; everything else
// under src/ may change between versions without notice.
//
//   import { Mirror, loadMirrorArgv } from 'kafka-mirror'
//   const { settings } = loadMirrorArgv(['--consumer.config', 'c.properties', '--producer.config', 'p.properties', '--include', 'orders'])
//   const mirror = new Mirror(settings)
//   await mirror.start()
//   ...
//   const summary = await mirror.stop()
export { Mirror, STOP_TIMEOUT_MS, type MirrorOptions } from './mirror/mirror.ts'
export type { MirrorSummary, TopicProgress } from './mirror/stats.ts'
export type { LoadedMirrorConfig, MirrorSettings, Partitioning, SourceSettings, TargetSettings } from './config/mirror-config.ts'
export type { TopicFilter } from './config/topic-filter.ts'
export type { ClusterConnection } from './kafka/client-options.ts'
export {
  ConfigError, DataLossError, ErrorCodes, ExitCodes, KafkaMirrorError, SendFailedError, StopDeadlineError, UsageError,
  type ConfigProblem, type ErrorCode
} from './errors.ts'
export { loadMirrorConfig } from './config/mirror-config.ts'
export { runCli } from './cli/run-cli.ts'
export type { CliIO } from './cli/io.ts'
export { version } from './version.ts'
export { loadMirrorArgv } from './cli/mirror-command.ts'
