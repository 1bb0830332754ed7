// `node bench/passthrough-once.ts --consumer.config c --producer.config p --include T [--num.streams 2]`:
// the fast path (raw record-batch passthrough) as a one-time copy, with kafka-mirror's flags and
// summary line, for the benchmark's "kafka-mirror passthrough" system. Once the Mirror runs
// PassthroughWorker itself (--fast.path), the harness runs bin/kafka-mirror.ts with that flag instead.
import { Admin } from '@platformatic/kafka'
import { parseFlags } from '../src/cli/flags.ts'
import { loadMirrorConfig, mirrorFlags } from '../src/config/mirror-config.ts'
import { topicMatches } from '../src/config/topic-filter.ts'
import { ConfigError } from '../src/errors.ts'
import { baseClientOptions } from '../src/kafka/client-options.ts'
import { createLogger } from '../src/log.ts'
import { passthroughOnce } from '../src/mirror/passthrough/once.ts'

export async function main (argv: string[]): Promise<number> {
  const flags = parseFlags(argv, mirrorFlags)
  if (flags.problems.length > 0) throw new ConfigError(flags.problems)
  const loaded = loadMirrorConfig(flags.pairs)
  const { settings } = loaded
  if (settings.partitioning !== 'source') throw new Error('the passthrough keeps partition numbers: give --partitioning source')
  const log = createLogger({ level: loaded.logLevel, format: loaded.logFormat })
  const admin = new Admin(baseClientOptions(settings.source, `${settings.source.clientId}-admin`))
  let topics: string[]
  try {
    topics = (await admin.listTopics()).filter(t => topicMatches(settings.topics, t)).sort()
  } finally {
    await admin.close()
  }
  if (topics.length === 0) throw new Error(`no source topic matches ${settings.topics.description}`)
  log.info({ topics: topics.join(','), streams: settings.numStreams, group: settings.source.groupId }, 'copying once, raw record batches')
  const summary = await passthroughOnce(settings, topics, { logger: log })
  const seconds = summary.elapsedMs / 1000
  process.stdout.write(`Copied ${summary.records} records (${(summary.bytes / 1024 / 1024).toFixed(2)} MB of batches) in ${seconds.toFixed(1)} s: ` +
    `${Math.round(summary.records / seconds)} records/s, ${(summary.bytes / 1024 / 1024 / seconds).toFixed(2)} MB/s. ` +
    `Batches: ${summary.counts.raw} raw, ${summary.counts.merged} merged, ${summary.counts.reencoded} re-encoded, ${summary.counts.skipped} dropped.\n`)
  return 0
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`)
    process.exitCode = 1
  }
}
