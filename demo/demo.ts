// npm run demo: the MirrorMaker tutorial, end to end, on two local Kafka clusters.
// Every step runs the real kafka-mirror command a user would type, and prints it.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { startCluster, type KafkaCluster } from '../harness/cluster.ts'
import { runCli } from '../src/cli/run-cli.ts'
import { partitionForKey } from '../src/mirror/partitioner.ts'

const bin = fileURLToPath(new URL('../bin/kafka-mirror.ts', import.meta.url))
const examples = fileURLToPath(new URL('../examples/', import.meta.url))
const topic = 'testtopic'
const users = 20
const eventsPerUser = 250
const started = Date.now()

const bold = (s: string): string => process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s
function step (title: string): void { console.log(`\n${bold(`== ${title}`)}`) }
function show (args: string[]): void { console.log(`$ kafka-mirror ${args.map(a => /[\s*']/.test(a) ? `'${a}'` : a).join(' ')}`) }

/** Runs a kafka-mirror command in this process, printing it and its output. */
async function kafkaMirror (args: string[], input?: string): Promise<string> {
  show(args)
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  stdout.on('data', d => { out += String(d) })
  stderr.on('data', d => { process.stdout.write(`  ${String(d).trimEnd().split('\n').join('\n  ')}\n`) })
  const stdin = input !== undefined ? Readable.from([input]) : new PassThrough()
  const code = await runCli(args, { stdin, stdout, stderr, signal: new AbortController().signal })
  if (out !== '') process.stdout.write(out.split('\n').map(l => l === '' ? l : `  ${l}`).join('\n'))
  if (code !== 0) throw new Error(`kafka-mirror ${args[0]} exited with ${code}`)
  return out
}

let clusters: KafkaCluster[] = []
try {
  step('1. Two Kafka clusters: "source" and "dest" (Apache Kafka 4.4 on this machine)')
  const [source, dest] = await Promise.all([startCluster({ name: 'source', brokers: 2 }), startCluster({ name: 'dest', brokers: 2 })])
  clusters = [source, dest]
  console.log(`source brokers: ${source.bootstrap}\ndest brokers:   ${dest.bootstrap}`)

  step('2. Create testtopic on the source: 8 partitions, replication factor 2')
  await kafkaMirror(['topics', '--create', '--replication-factor', '2', '--partitions', '8', '--topic', topic, '--bootstrap-server', source.bootstrap])
  await kafkaMirror(['topics', '--list', '--bootstrap-server', source.bootstrap])
  console.log('The destination gets testtopic with 3 partitions: the clusters need not match.')
  await kafkaMirror(['topics', '--create', '--replication-factor', '2', '--partitions', '3', '--topic', topic, '--bootstrap-server', dest.bootstrap])

  step('3. Configure mirroring, as in the tutorial (templates in examples/)')
  const dir = mkdtempSync(join(tmpdir(), 'kafka-mirror-demo-'))
  const consumerFile = join(dir, 'consumer.properties')
  const producerFile = join(dir, 'producer.properties')
  writeFileSync(consumerFile, readFileSync(join(examples, 'consumer.properties'), 'utf8')
    .replace('zookeeper.connect=SOURCE_ZKHOSTS', `# (these clusters run without ZooKeeper)\nbootstrap.servers=${source.bootstrap}`).replace(/^# Modern form.*\n# bootstrap.servers=.*\n/m, ''))
  writeFileSync(producerFile, readFileSync(join(examples, 'producer.properties'), 'utf8').replace('DEST_BROKERS', dest.bootstrap))
  for (const f of [consumerFile, producerFile]) console.log(`--- ${f}\n${readFileSync(f, 'utf8').trim()}`)

  step('4. Start the mirror')
  const mirrorArgs = ['--consumer.config', consumerFile, '--producer.config', producerFile, '--whitelist', topic, '--num.streams', '4', '--status.interval.ms', '2000']
  show(mirrorArgs)
  const mirror = spawn(process.execPath, [bin, ...mirrorArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
  let mirrorLog = ''
  let printed = 0
  const echo = (d: Buffer): void => {
    mirrorLog += String(d)
    const lines = mirrorLog.split('\n')
    for (; printed < lines.length - 1; printed++) console.log(`  [mirror] ${lines[printed].replace(/^\[[^\]]+\] /, '')}`)
  }
  mirror.stdout.on('data', echo)
  mirror.stderr.on('data', echo)
  const mirrorExit = new Promise<number | null>(resolve => mirror.once('exit', code => resolve(code)))
  while (!/INFO mirroring/.test(mirrorLog)) {
    if (mirror.exitCode !== null) throw new Error('the mirror exited early')
    await new Promise(resolve => setTimeout(resolve, 100))
  }

  step(`5. Write ${users * eventsPerUser} keyed messages on the source (${users} users, ${eventsPerUser} events each)`)
  const lines: string[] = []
  for (let e = 0; e < eventsPerUser; e++) for (let u = 0; u < users; u++) lines.push(`user-${u}:event-${e} of user-${u}`)
  await kafkaMirror(['produce', '--broker-list', source.bootstrap, '--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=:'], lines.join('\n') + '\n')
  console.log(`  (${lines.length} lines typed on stdin)`)

  // Wait until the destination holds everything, then stop the mirror as a user would: Ctrl+C.
  const deadline = Date.now() + 120_000
  while (true) {
    if (/ status records=(\d+)/.exec(mirrorLog.split('\n').filter(l => l.includes(' status records=')).pop() ?? '')?.[1] === String(lines.length) || Date.now() > deadline) break
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  step('6. Stop the mirror (Ctrl+C) and check the destination')
  mirror.kill('SIGINT')
  const code = await mirrorExit
  console.log(`  mirror exited with code ${code}`)
  await kafkaMirror(['topics', '--list', '--bootstrap-server', dest.bootstrap])
  await kafkaMirror(['topics', '--describe', '--topic', topic, '--bootstrap-server', dest.bootstrap])
  const all = await captureConsume(dest.bootstrap, lines.length)
  await kafkaMirror(['consume', '--bootstrap-server', dest.bootstrap, '--topic', topic, '--from-beginning', '--max-messages', '5', '--property', 'print.key=true', '--property', 'print.partition=true', '--property', 'print.offset=true'])

  step('7. What happened')
  const records = all.trim().split('\n').map(l => { const [partition, offset, key, value] = l.split('\t'); return { partition: Number(partition), offset: Number(offset), key, value } })
  const unique = new Set(records.map(r => `${r.key}/${r.value}`))
  let inOrder = true
  const last = new Map<string, number>()
  for (const r of records.sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
    const n = Number(/event-(\d+)/.exec(r.value)?.[1])
    if ((last.get(r.key) ?? -1) >= n) inOrder = false
    last.set(r.key, n)
  }
  const sample = records.find(r => r.key === 'user-7' && r.value.startsWith('event-100 '))
  const status = mirrorLog.split('\n').map(l => / status .*recordsPerSecond=(\d+)/.exec(l)?.[1]).filter(Boolean).map(Number)
  console.log(`  records written on the source:      ${lines.length}`)
  console.log(`  records on the destination:         ${records.length} (${unique.size} distinct: ${records.length === unique.size && unique.size === lines.length ? 'each exactly once' : 'MISMATCH'})`)
  console.log(`  per-key order kept:                 ${inOrder ? 'yes, every user\'s events in order' : 'NO'}`)
  console.log(`  partitions: source 8, destination 3; each key stays in one partition (murmur2, as Kafka's default partitioner)`)
  if (sample !== undefined) {
    console.log(`  offsets differ between clusters:    user-7's event-100 is at source partition ${partitionForKey(Buffer.from('user-7'), 8)}, destination partition ${sample.partition} offset ${sample.offset}`)
  }
  console.log(`  peak rate the mirror reported:      ${Math.max(0, ...status)} records/s`)
  console.log(`  demo wall time:                     ${((Date.now() - started) / 1000).toFixed(1)} s`)
  if (records.length !== lines.length || unique.size !== lines.length || !inOrder || code !== 0) throw new Error('the copy does not match the source')
} finally {
  step('8. Stop the clusters')
  await Promise.all(clusters.map(async c => await c.stop()))
  console.log('done')
}

/** Reads the destination topic as tab-separated partition, offset, key, value lines. */
async function captureConsume (bootstrap: string, max: number): Promise<string> {
  const stdout = new PassThrough()
  let out = ''
  stdout.on('data', d => { out += String(d) })
  await runCli(['consume', '--bootstrap-server', bootstrap, '--topic', topic, '--from-beginning', '--max-messages', String(max), '--timeout-ms', '5000',
    '--property', 'print.partition=true', '--property', 'print.offset=true', '--property', 'print.key=true', '--property', 'print.value=true'],
  { stdin: new PassThrough(), stdout, stderr: new PassThrough(), signal: new AbortController().signal })
  return out.split('\n').map(l => l.replace(/^Partition:(\d+)\tOffset:(\d+)\t/, '$1\t$2\t')).join('\n')
}
