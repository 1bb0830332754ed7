// The command line's manners, without Kafka: --version, "did you mean" for commands, --help
// generated with booleans as true|false and wrapped to the terminal, the generated exit code table.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { helpText, terminalWidth, wrapLine, wrapText } from '../../src/cli/flags.ts'
import { exitCodesMarkdown, withExitCodes } from '../../src/config/docs.ts'
import { mirrorFlags } from '../../src/config/mirror-config.ts'
import { ExitCodes } from '../../src/errors.ts'
import { version } from '../../src/version.ts'
import { runKafkaMirror } from '../helpers/cli.ts'

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

test('--version prints the version of package.json, alone or after a command', async () => {
  assert.equal(version, manifest.version)
  for (const argv of [['--version'], ['topics', '--version'], ['--consumer.config', 'nowhere.properties', '--version']]) {
    const run = await runKafkaMirror(argv)
    assert.equal(run.code, 0, argv.join(' '))
    assert.equal(run.stdout, `kafka-mirror ${manifest.version}\n`)
    assert.equal(run.stderr, '')
  }
})

test('--help starts with the version, for the whole tool and for each command', async () => {
  for (const argv of [['--help'], ['mirror', '--help'], ['topics', '--help'], ['produce', '--help'], ['consume', '--help']]) {
    const run = await runKafkaMirror(argv)
    assert.equal(run.code, 0)
    assert.equal(run.stdout.split('\n')[0], `kafka-mirror ${manifest.version}`, argv.join(' '))
  }
})

test('a mistyped command gets a "did you mean"; a word like no command gets the list', async () => {
  const typo = await runKafkaMirror(['topcs', '--list'])
  assert.equal(typo.code, ExitCodes.BAD_INPUT)
  assert.match(typo.stderr, /Unknown command "topcs" \(did you mean topics\?\)/)
  assert.match((await runKafkaMirror(['mirorr'])).stderr, /did you mean mirror\?/)
  assert.match((await runKafkaMirror(['consum'])).stderr, /did you mean consume\?/)
  const far = await runKafkaMirror(['replicate'])
  assert.equal(far.code, ExitCodes.BAD_INPUT)
  assert.doesNotMatch(far.stderr, /did you mean/)
  assert.match(far.stderr, /Commands: mirror, topics, produce, consume/)
})

test('--help shows a boolean flag as --flag true|false, other flags with their type or choices', () => {
  const help = helpText('Usage: kafka-mirror [mirror] ...', mirrorFlags, 100)
  for (const flag of ['--once', '--abort.on.send.failure', '--create.topics', '--validate']) {
    assert.ok(help.includes(`\n  ${flag} true|false\n`), flag)
    assert.ok(!help.includes(`${flag} <boolean>`), flag)
  }
  assert.ok(help.includes('\n  --help\n'))
  assert.ok(help.includes('\n  --num.streams <int>\n'))
  assert.ok(help.includes('\n  --partitioning <key|source>\n'))
  assert.ok(help.includes('\n  --version\n'))
})

test('--help wraps to the width it is given, doc lines under their flag', () => {
  for (const width of [50, 80, 132]) {
    const lines = helpText('Usage: kafka-mirror [mirror] --consumer.config <file> --producer.config <file> --whitelist <regex> [options]', mirrorFlags, width).split('\n')
    // A line may be wider only when it is one word (nothing to break at).
    const wide = lines.filter(l => l.length > width && l.trim().includes(' '))
    assert.deepEqual(wide, [], `width ${width}`)
    const options = lines.slice(lines.indexOf('Options:') + 1).filter(l => l !== '')
    for (const l of options) assert.ok(l.startsWith('  --') || l.startsWith('      '), `"${l}" is a flag or indented under one`)
  }
  // Wider terminals get longer lines: the doc of --partitioning takes fewer lines at 132 than at 80.
  const count = (width: number): number => helpText('u', mirrorFlags, width).split('\n').length
  assert.ok(count(132) < count(80))
})

test('wrapping keeps two-column lines aligned and example commands indented', () => {
  assert.deepEqual(wrapLine('  kafka-mirror topics ...     create, list, describe and delete topics (as kafka-topics.sh)', 60), [
    '  kafka-mirror topics ...     create, list, describe and',
    '                              delete topics (as',
    '                              kafka-topics.sh)'
  ])
  assert.deepEqual(wrapText('  kafka-mirror topics --bootstrap-server localhost:9092 --create --topic testtopic', 50).split('\n'), [
    '  kafka-mirror topics --bootstrap-server',
    '      localhost:9092 --create --topic testtopic'
  ])
  // Prose is reflowed as a paragraph; a line ending in ':' introduces what follows and stays
  assert.equal(wrapText('Copies the topics\nof the source.\nUsage:\n  kafka-mirror x', 80), 'Copies the topics of the source.\nUsage:\n  kafka-mirror x')
  assert.equal(wrapText('Usage: kafka-mirror consume --bootstrap-server <host:port>', 40), 'Usage: kafka-mirror consume\n    --bootstrap-server <host:port>')
  assert.deepEqual(wrapLine('short', 10), ['short'])
  assert.deepEqual(wrapLine('      averyveryverylongword next', 12), ['      averyveryverylongword', '      next'])
})

test('the help width is the terminal\'s, 80 when not a terminal', () => {
  const stream = (tty: boolean, columns?: number): NodeJS.WritableStream => Object.assign(new PassThrough(), { isTTY: tty, columns })
  assert.equal(terminalWidth(stream(true, 132)), 132)
  assert.equal(terminalWidth(stream(false, 132)), 80)
  assert.equal(terminalWidth(stream(true, undefined)), 80)
  assert.equal(terminalWidth(stream(true, 20)), 40)
})

test('docs/operations.md holds the exit code table generated from ExitCodes (npm run docs)', () => {
  const onDisk = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8')
  assert.equal(onDisk, withExitCodes(onDisk), 'run npm run docs')
  const table = exitCodesMarkdown()
  for (const [name, code] of Object.entries(ExitCodes)) assert.ok(table.includes(`| ${code} | \`${name}\` |`), name)
})
