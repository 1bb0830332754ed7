// The one entry point of the command line: picks the command, maps errors to exit codes.
import { closest } from '../config/definition.ts'
import { redactSecrets } from '../config/secrets.ts'
import { ConfigError, ExitCodes, KafkaMirrorError, describeCause } from '../errors.ts'
import { version } from '../version.ts'
import { terminalWidth, wrapText } from './flags.ts'
import type { CliIO, Command } from './io.ts'

const commands: Record<string, () => Promise<Command>> = {
  mirror: async () => (await import('./mirror-command.ts')).mirrorCommand,
  topics: async () => (await import('./topics-command.ts')).topicsCommand,
  produce: async () => (await import('./produce-command.ts')).produceCommand,
  consume: async () => (await import('./consume-command.ts')).consumeCommand,
  status: async () => (await import('./status-command.ts')).statusCommand,
  mm2: async () => (await import('./mm2-command.ts')).mm2Command
}

const usage = `kafka-mirror ${version}

Copies Kafka topics from a source cluster to a target cluster.

Usage:
  kafka-mirror --consumer.config consumer.properties --producer.config producer.properties --whitelist 'testtopic' [--num.streams 4]
  kafka-mirror mirror ...              the same, by name
  kafka-mirror mm2 mm2.properties      MirrorMaker 2's flows, from its mm2.properties (as connect-mirror-maker.sh)
  kafka-mirror topics ...              create, list, describe and delete topics (as kafka-topics.sh)
  kafka-mirror produce ...             write lines from stdin to a topic (as kafka-console-producer.sh)
  kafka-mirror consume ...             print a topic's records (as kafka-console-consumer.sh)
  kafka-mirror status ...              a mirror's lag per topic and partition, from its --http.listener or the clusters
  kafka-mirror --version               print the version

Each command takes --help.`

export function defaultIO (): CliIO {
  const controller = new AbortController()
  const stop = (): void => {
    if (controller.signal.aborted) process.exit(ExitCodes.INTERRUPTED)
    controller.abort()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: controller.signal }
}

export async function runCli (argv: string[], io: CliIO = defaultIO()): Promise<number> {
  // As in Kafka's tools, --version anywhere on the line prints the version and runs nothing.
  if (argv.includes('--version')) {
    io.stdout.write(`kafka-mirror ${version}\n`)
    return ExitCodes.OK
  }
  const help = (): string => `${wrapText(usage, terminalWidth(io.stdout))}\n`
  let name = 'mirror'
  let rest = argv
  if (argv.length > 0 && !argv[0].startsWith('-')) {
    name = argv[0]
    rest = argv.slice(1)
  } else if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    if (argv.length === 0) {
      io.stderr.write(help())
      return ExitCodes.BAD_INPUT
    }
    io.stdout.write(help())
    return ExitCodes.OK
  }
  const load = commands[name]
  if (load === undefined) {
    const hint = closest(name, Object.keys(commands))
    io.stderr.write(`Unknown command "${name}"${hint !== undefined ? ` (did you mean ${hint}?)` : ''}. Commands: ${Object.keys(commands).join(', ')}; see kafka-mirror --help.\n`)
    return ExitCodes.BAD_INPUT
  }
  try {
    const command = await load()
    return await command(rest, io)
  } catch (error) {
    // The last step before the terminal: whatever a library put in a message, no secret passes.
    if (error instanceof ConfigError) {
      io.stderr.write(`${redactSecrets(error.message)}\n`)
      return error.exitCode
    }
    if (error instanceof KafkaMirrorError) {
      io.stderr.write(`Error: ${redactSecrets(error.message)}\n`)
      return error.exitCode
    }
    io.stderr.write(`Error: ${describeCause(error)}\n`)
    if (process.env.KAFKA_MIRROR_DEBUG !== undefined && error instanceof Error) io.stderr.write(`${redactSecrets(error.stack ?? '')}\n`)
    return ExitCodes.FAILURE
  }
}
