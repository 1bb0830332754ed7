// Kafka's own MM2 classes as the independent check: test/tools/mm2/Mm2Check.java compiled once
// against the baselines jars (Kafka 4.3.1, connect-mirror-client, kafka-clients, kafka-tools) and
// cached under ~/.cache/kafka-mirror/mm2-check-<hash>, then run with `java`.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { cacheRoot, ensureKafkaDist } from '../../harness/kafka-dist.ts'

const exec = promisify(execFile)
const source = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'mm2', 'Mm2Check.java')

let compiled: Promise<string> | undefined

/** The classpath holding Mm2Check and Kafka's jars. */
export async function mm2CheckClasspath (): Promise<string> {
  compiled ??= (async () => {
    const dist = ensureKafkaDist('baselines')
    const hash = createHash('sha256').update(readFileSync(source)).update(dist.libs).digest('hex').slice(0, 12)
    const classes = join(cacheRoot(), `mm2-check-${hash}`)
    if (!existsSync(join(classes, 'org', 'apache', 'kafka', 'connect', 'mirror', 'Mm2Check.class'))) {
      const fresh = `${classes}.tmp-${process.pid}`
      rmSync(fresh, { recursive: true, force: true })
      mkdirSync(fresh, { recursive: true })
      await exec('javac', ['-d', fresh, '-cp', `${dist.libs}/*`, source])
      rmSync(classes, { recursive: true, force: true })
      renameSync(fresh, classes)
    }
    return `${classes}:${dist.libs}/*`
  })()
  return await compiled
}

const quiet = ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-Dlog4j2.statusLoggerLevel=OFF', '-Dlog4j2.level=OFF']

/** Runs Mm2Check with `args`; its stdout lines. */
export async function mm2Check (...args: string[]): Promise<string[]> {
  const cp = await mm2CheckClasspath()
  const { stdout } = await exec('java', [...quiet, '-cp', cp, 'org.apache.kafka.connect.mirror.Mm2Check', ...args], { maxBuffer: 64 << 20, timeout: 120_000 })
  // Only Mm2Check's own lines: a logger that found no configuration may print to stdout too.
  return stdout.split('\n').filter(l => l.trim() !== '' && !/^\d{4}-\d\d-\d\dT|^\d\d:\d\d:\d\d|^SLF4J|\b(ERROR|WARN|INFO|DEBUG)\b/.test(l))
}

/** Runs several Mm2Check commands in one JVM; the stdout lines of each, in order. */
export async function mm2CheckBatch (commands: string[][]): Promise<string[][]> {
  const cp = await mm2CheckClasspath()
  const child = execFile('java', [...quiet, '-cp', cp, 'org.apache.kafka.connect.mirror.Mm2Check', 'batch'], { maxBuffer: 64 << 20, timeout: 180_000 })
  const out = new Promise<string>((resolve, reject) => {
    let text = ''
    child.stdout!.on('data', (d: Buffer) => { text += String(d) })
    child.once('error', reject)
    child.once('exit', code => { code === 0 ? resolve(text) : reject(new Error(`Mm2Check batch exited ${code}`)) })
  })
  child.stdin!.end(commands.map(c => c.join(' ')).join('\n') + '\n')
  const answers: string[][] = []
  for (const line of (await out).split('\n')) {
    if (line.startsWith('=== ')) answers.push([])
    else if (answers.length > 0 && line.trim() !== '' && !/^\d{4}-\d\d-\d\dT|^\d\d:\d\d:\d\d|^SLF4J|\b(ERROR|WARN|INFO|DEBUG)\b/.test(line)) answers[answers.length - 1].push(line)
  }
  if (answers.length !== commands.length) throw new Error(`Mm2Check batch answered ${answers.length} of ${commands.length} commands`)
  return answers
}

/** kafka-console-consumer with one of MM2's formatters, over a whole topic. */
export async function consoleConsume (bootstrap: string, topic: string, formatter: 'CheckpointFormatter' | 'OffsetSyncFormatter' | 'HeartbeatFormatter', maxMessages?: number): Promise<string[]> {
  const cp = await mm2CheckClasspath()
  const args = [...quiet, '-cp', cp, 'org.apache.kafka.tools.consumer.ConsoleConsumer', '--bootstrap-server', bootstrap, '--topic', topic, '--from-beginning', '--timeout-ms', '5000',
    '--formatter', `org.apache.kafka.connect.mirror.formatters.${formatter}`]
  if (maxMessages !== undefined) args.push('--max-messages', String(maxMessages))
  const { stdout } = await exec('java', args, { maxBuffer: 64 << 20, timeout: 120_000 }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))
  return stdout.split('\n').filter(l => l.startsWith(formatter.replace('Formatter', '')))
}
