// The fuzz cases of fuzz.test.ts, run in a worker thread so that a case stuck in synchronous code
// (a regex that backtracks forever) can be stopped and named. Each case is rebuilt from the seed
// and its index alone, so a failure is reproduced with the same two numbers.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { parentPort, workerData } from 'node:worker_threads'
import { runCli } from '../../src/cli/run-cli.ts'
import { parseFlags } from '../../src/cli/flags.ts'
import { loadMirrorConfig, mirrorFlags } from '../../src/config/mirror-config.ts'
import { KafkaMirrorError } from '../../src/errors.ts'

export interface FuzzOptions { seed: number, first: number, count: number, dir: string }
export type FuzzReport =
  | { type: 'start', index: number, input: string }
  | { type: 'case', index: number, outcome: 'valid' | 'invalid', ms: number }
  | { type: 'failure', index: number, message: string, input: string }
  | { type: 'done' }

/** mulberry32: small, fast, and the same numbers on every machine. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Random {
  next: () => number
  constructor (seed: number) { this.next = prng(seed) }
  int (n: number): number { return Math.floor(this.next() * n) }
  chance (p: number): boolean { return this.next() < p }
  pick<T> (items: readonly T[]): T { return items[this.int(items.length)] }
  text (length: number, alphabet: string): string {
    let out = ''
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)]
    return out
  }
}

const printable = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-=:#!\\ $"{}[]()*+?|^,;/@\t'
const unicode = ['é', 'ß', '日本', '🙂', '\u202e', 'e\u0301', '\ud800', '\udfff', '\u0000', '\u00a0', '\ufeff', '\u2028', 'Ω', '\\u00e9', '\\uZZZZ', '\\']
const dollarFragments = ['${', '}', '${env:', '${env:KM_FUZZ_SECRET}', '${env:KM_FUZZ_UNSET}', '${file:', '${file:/etc/passwd:root}', '${file::x}', '${x:y:z}', '${}', '${env}', '}${', '${env:${env:A}}', '$', '{', '${file:../../etc/passwd:x}', '${env:a:b}', '${env:KM_FUZZ_SECRET', '$${env:HOME}']
const numbers = ['-1', '0', '2147483648', '-2147483649', '99999999999999999999', '9007199254740993', '1e400', '1.5', 'NaN', 'Infinity', '0x10', '+7', ' 42 ', '', '٣', '1_000']
const regexes = ['(', ')', '[', '[^', '*', '+', '?', '(?<', '(?<x', '\\', 'a{2,1}', '(?i)ORDERS.*', '\\Qa.b\\E', '\\Q(', '(?<!x)y', '\\p{L}+', '\\k<x>', '(a)\\2', '.*+', 'a++b', '\\Z', '\\A', '', ',', ' , ', '"quoted"', '(?x) a # c', '(?s).', '(?m)^a$', '[[:alpha:]]', '(?', '{', '}', '|', '^$', '\\u{1F600}', '(?<name>a)\\k<name>', '(a|b|c)*d', 'topic-🙂']
const flagNames = ['consumer.config', 'producer.config', 'whitelist', 'include', 'exclude', 'num.streams', 'offset.commit.interval.ms', 'abort.on.send.failure', 'topic.refresh.interval.ms', 'once', 'partitioning', 'create.topics', 'status.interval.ms', 'log.level', 'log.format', 'message.handler', 'new.consumer', 'no.such.flag', 'num-streams', 'whitelistt', '']

function splitLine (line: string): [string, string] {
  const eq = line.indexOf('=')
  return eq < 0 ? [line, ''] : [line.slice(0, eq), line.slice(eq + 1)]
}

function garble (r: Random, text: string): string {
  let out = text
  for (let n = 1 + r.int(3); n > 0; n--) {
    const at = r.int(out.length + 1)
    switch (r.int(3)) {
      case 0: out = out.slice(0, at) + r.text(1 + r.int(3), printable) + out.slice(at); break
      case 1: out = out.slice(0, at) + out.slice(at + 1 + r.int(3)); break
      default: out = out.slice(0, at) + r.pick(unicode) + out.slice(at + 1)
    }
  }
  return out
}

/** One mutation of a properties file's lines. */
function mutateLines (r: Random, lines: string[], describe: string[]): void {
  const i = r.int(Math.max(1, lines.length))
  const [key, value] = splitLine(lines[i] ?? '')
  const set = (k: string, v: string, what: string): void => { lines[i] = `${k}=${v}`; describe.push(`${what} line ${i}`) }
  switch (r.int(16)) {
    case 0: lines.splice(i, 1); describe.push(`drop line ${i}`); break
    case 1: lines.splice(i, 0, lines[i] ?? ''); describe.push(`duplicate line ${i}`); break
    case 2: set(garble(r, key), value, 'garble key of'); break
    case 3: set(key, garble(r, value), 'garble value of'); break
    case 4: set(key, r.text(r.int(40), printable + '\n\r\u0000\u0007\u00ff'), 'random value on'); break
    case 5: set(key, r.text(8, printable).repeat(5000 + r.int(20000)), 'huge value on'); break
    case 6: set(r.chance(0.5) ? key : key + r.pick(unicode), value + r.pick(unicode) + r.pick(unicode), 'unicode on'); break
    case 7: {
      const at = r.int(value.length + 1)
      set(key, value.slice(0, at) + r.pick(dollarFragments) + value.slice(at), '${ fragment in')
      break
    }
    case 8: set(key, r.pick(numbers), 'number on'); break
    case 9: lines[i] = `${key}${r.pick([':', ' ', '==', ' = ', '\t', ''])}${value}`; describe.push(`separator of line ${i}`); break
    case 10: lines[i] = `${lines[i] ?? ''}\\`; describe.push(`continuation after line ${i}`); break
    case 11: lines.splice(i, 0, `${r.text(1 + r.int(20), 'abcdefghijklmnopqrstuvwxyz.')}=${r.text(r.int(20), printable)}`); describe.push('unknown key'); break
    case 12: set(key, r.pick(['', ' ', '\\', '\\u', '\\u12', '"', 'true', 'false', 'null', 'undefined', '[object Object]']), 'odd value on'); break
    case 13: lines[i] = `${lines[i] ?? ''}\r`; describe.push(`CR after line ${i}`); break
    case 14: lines.splice(i, 0, r.pick(['# comment', '! comment', '   ', '=', ':', '\\', 'key-only'])); describe.push('odd line'); break
    default: set(key, `${value}\n${r.text(1 + r.int(10), printable)}`, 'newline in value of')
  }
}

function mutateArgv (r: Random, argv: string[], describe: string[]): void {
  const i = r.int(Math.max(1, argv.length))
  switch (r.int(12)) {
    case 0: argv.splice(i, 1); describe.push(`drop arg ${i}`); break
    case 1: argv.splice(i, 0, argv[i] ?? '--once'); describe.push(`duplicate arg ${i}`); break
    case 2: if (argv.length > 1) { const j = r.int(argv.length); [argv[i], argv[j]] = [argv[j], argv[i]]; describe.push(`swap args ${i} ${j}`) } break
    case 3: argv[i] = garble(r, argv[i] ?? ''); describe.push(`garble arg ${i}`); break
    case 4: argv.push(r.pick(['--whitelist', '--include', '--exclude']), r.chance(0.1) ? 'a|'.repeat(5000) + 'b' : r.pick(regexes)); describe.push('regex'); break
    case 5: argv.push(`--${r.pick(['num.streams', 'offset.commit.interval.ms', 'topic.refresh.interval.ms', 'status.interval.ms'])}`, r.pick(numbers)); describe.push('number flag'); break
    case 6: argv.push(`--${r.pick(flagNames)}${r.chance(0.5) ? `=${r.text(r.int(10), printable)}` : ''}`); describe.push('flag'); break
    case 7: argv.push(r.pick(['--', '-', '---', '-x', 'positional', '--=', '--abort.on.send.failure', 'maybe', '--once', 'false', '--log.level', 'loud'])); describe.push('odd token'); break
    case 8: argv.push(r.pick(unicode) + r.text(r.int(5), printable)); describe.push('unicode token'); break
    case 9: { const k = argv.indexOf(r.pick(['--consumer.config', '--producer.config'])); if (k >= 0) { argv[k + 1] = r.pick(['/nonexistent/x.properties', '', '.', '/', '\u0000', 'x'.repeat(5000)]); describe.push('bad path') } break }
    case 10: if (r.chance(0.1)) { argv.push('--help'); describe.push('--help') } break
    default: argv.push('--partitioning', r.pick(['key', 'source', 'KEY', 'random', ''])); describe.push('partitioning')
  }
}

function encode (r: Random, lines: string[], describe: string[]): Buffer {
  let buffer = Buffer.from(lines.join(r.chance(0.1) ? '\r\n' : '\n'), 'utf8')
  if (r.chance(0.05)) { buffer = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), buffer]); describe.push('BOM') }
  if (r.chance(0.08)) {
    for (let n = 1 + r.int(8); n > 0 && buffer.length > 0; n--) buffer[r.int(buffer.length)] = r.int(256)
    describe.push('random bytes')
  }
  return buffer
}

export interface FuzzCase { argv: string[], describe: string[] }

/** Builds case `index`: mutated copies of a valid consumer/producer pair and of valid flags. */
export function buildCase (seed: number, index: number, dir: string): FuzzCase {
  const r = new Random((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0)
  const caseDir = join(dir, String(index))
  const allowed = join(dir, 'allowed')
  mkdirSync(caseDir, { recursive: true })
  const consumer = [
    'bootstrap.servers=127.0.0.1:1',
    'group.id=fuzz-group',
    'auto.offset.reset=earliest',
    'session.timeout.ms=45000',
    'fetch.max.bytes=52428800',
    'isolation.level=read_committed',
    'security.protocol=SASL_PLAINTEXT',
    'sasl.mechanism=PLAIN',
    `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="\${file:${allowed}/secrets.properties:pw}";`,
    'config.providers=env,file',
    'config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider',
    'config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider',
    `config.providers.file.param.allowed.paths=${allowed}`,
    'ssl.key.password=${env:KM_FUZZ_SECRET}'
  ]
  const producer = [
    'bootstrap.servers=127.0.0.1:1',
    'acks=all',
    'compression.type=lz4',
    'linger.ms=5',
    'max.request.size=1048576',
    'enable.idempotence=true',
    'retries=10',
    'security.protocol=SSL',
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${join(dir, 'ca.pem')}`,
    'ssl.truststore.password=plain-secret'
  ]
  const describe: string[] = []
  const consumerPath = join(caseDir, 'consumer.properties')
  const producerPath = join(caseDir, 'producer.properties')
  const argv = ['--consumer.config', consumerPath, '--producer.config', producerPath, '--whitelist', 'orders.*,payments', '--num.streams', '2', '--offset.commit.interval.ms', '1000', '--once', '--partitioning', 'key']
  // About one case in six stays valid, so that the valid path is exercised too.
  const mutations = r.chance(0.15) ? 0 : 1 + r.int(4)
  for (let n = 0; n < mutations; n++) {
    const target = r.int(5)
    if (target < 2) mutateLines(r, consumer, describe)
    else if (target < 4) mutateLines(r, producer, describe)
    else mutateArgv(r, argv, describe)
  }
  for (const [path, lines, name] of [[consumerPath, consumer, 'consumer'], [producerPath, producer, 'producer']] as const) {
    const fate = r.int(100)
    if (fate < 2) { writeFileSync(path, ''); describe.push(`${name} empty`) } else if (fate < 4) { describe.push(`${name} missing`) } else if (fate < 5) { mkdirSync(path, { recursive: true }); describe.push(`${name} is a folder`) } else writeFileSync(path, encode(r, lines, describe))
  }
  // The fuzz must never make a case connect: only this harness says --validate.
  for (let i = 0; i < argv.length; i++) if (/validate/i.test(argv[i])) argv[i] = argv[i].replace(/validate/gi, 'v')
  return { argv, describe }
}

function capture (): { stream: PassThrough, text: () => string } {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (d: Buffer) => chunks.push(d))
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

/** Runs one case both ways: the loader directly, and the whole command line with --validate. */
export async function runCase (fuzz: FuzzCase): Promise<'valid' | 'invalid'> {
  let outcome: 'valid' | 'invalid'
  try {
    const flags = parseFlags(fuzz.argv, mirrorFlags)
    const loaded = loadMirrorConfig(flags.pairs)
    if (!(loaded.settings.topics.include instanceof RegExp) || !Number.isInteger(loaded.settings.numStreams) || loaded.settings.numStreams < 1) {
      throw new Error(`loadMirrorConfig returned odd settings: ${JSON.stringify(loaded.settings.topics)} numStreams=${loaded.settings.numStreams}`)
    }
    outcome = 'valid'
  } catch (error) {
    if (!(error instanceof KafkaMirrorError)) throw new Error(`loadMirrorConfig threw ${(error as Error)?.name}: ${(error as Error)?.stack ?? String(error)}`)
    if (error.message.trim() === '') throw new Error(`loadMirrorConfig threw ${error.name} with an empty message`)
    outcome = 'invalid'
  }
  const out = capture()
  const err = capture()
  const controller = new AbortController()
  // --validate=true as one token: no mutated token after it can be taken for its value.
  const code = await runCli(['mirror', '--validate=true', ...fuzz.argv], { stdin: new PassThrough(), stdout: out.stream, stderr: err.stream, signal: controller.signal })
  if (code !== 0 && code !== 2) throw new Error(`runCli exited ${code}:\n${err.text().slice(0, 2000)}`)
  if (code === 2 && err.text().trim() === '') throw new Error('runCli exited 2 without saying why')
  if (code === 0 && out.text().trim() === '') throw new Error('runCli exited 0 without output')
  return outcome
}

if (parentPort !== null && workerData !== undefined) {
  const { seed, first, count, dir } = workerData as FuzzOptions
  process.env.KM_FUZZ_SECRET = 'fuzz-secret-from-env'
  delete process.env.KM_FUZZ_UNSET
  mkdirSync(join(dir, 'allowed'), { recursive: true })
  writeFileSync(join(dir, 'allowed', 'secrets.properties'), 'pw=fuzz-secret-from-file\n')
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
  const port = parentPort
  for (let index = first; index < first + count; index++) {
    const started = performance.now()
    let input = '(not built)'
    try {
      const fuzz = buildCase(seed, index, dir)
      input = `${fuzz.describe.join(', ') || 'no mutation'}; argv ${JSON.stringify(fuzz.argv).slice(0, 500)}`
      // Sent before the case runs: if it never ends, the test still knows what it was.
      port.postMessage({ type: 'start', index, input } satisfies FuzzReport)
      const outcome = await runCase(fuzz)
      port.postMessage({ type: 'case', index, outcome, ms: performance.now() - started } satisfies FuzzReport)
    } catch (error) {
      port.postMessage({ type: 'failure', index, message: (error as Error)?.stack ?? String(error), input } satisfies FuzzReport)
    }
  }
  port.postMessage({ type: 'done' } satisfies FuzzReport)
}
