// The package as a user gets it: `npm pack`, the tarball installed into an empty folder, and the
// installed bin and library used from there, not from this checkout. Node does not strip types
// under node_modules, so this is what proves the package ships runnable JavaScript.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createTestTopic, testClusters } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords, writeTutorialConfigs } from '../helpers/records.ts'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }

// What a user's shell gives the commands: this Node (24) first on PATH, and none of the npm_*
// variables of the `npm test` around this file, which would change what a nested npm does.
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')))
env.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`

const work = mkdtempSync(join(tmpdir(), 'kafka-mirror-package-'))
const installed = join(work, 'app')
let tarball = ''
let bin = ''

before(async () => {
  // Given the tarball `npm pack` makes (prepack builds dist/)
  await run('npm', ['pack', '--pack-destination', work], { cwd: root, env, maxBuffer: 64 << 20 })
  tarball = join(work, readdirSync(work).find(f => f.endsWith('.tgz')) ?? assert.fail(`npm pack wrote no tarball into ${work}`))
  // When it is installed into an empty folder
  mkdirSync(installed)
  writeFileSync(join(installed, 'package.json'), JSON.stringify({ name: 'kafka-mirror-install-check', private: true }))
  await run('npm', ['i', tarball, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: installed, env, maxBuffer: 64 << 20 })
  bin = join(installed, 'node_modules', '.bin', 'kafka-mirror')
})

test('installed globally (npm i -g), kafka-mirror --version prints its version', async () => {
  const prefix = join(work, 'global')
  await run('npm', ['i', '-g', tarball, '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: work, env, maxBuffer: 64 << 20 })
  const { stdout } = await run(join(prefix, 'bin', 'kafka-mirror'), ['--version'], { cwd: work, env })
  assert.equal(stdout, `kafka-mirror ${manifest.version}\n`)
})

after(() => rmSync(work, { recursive: true, force: true }))

test('the tarball holds what runs and nothing of the development tree', async () => {
  const { stdout } = await run('tar', ['-tzf', tarball], { maxBuffer: 64 << 20 })
  const files = stdout.split('\n').filter(f => f !== '').map(f => f.replace(/^package\//, ''))
  for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/bin/kafka-mirror.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'docs/configuration.md', 'docs/operations.md']) {
    assert.ok(files.includes(f), `${f} is in the tarball`)
  }
  const development = files.filter(f => /^(test|bench|harness|demo|scripts|src|bin|examples|node_modules)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))
  assert.deepEqual(development, [], 'no tests, benchmarks, harness or TypeScript sources')
  const installedFiles = (readdirSync(join(installed, 'node_modules', 'kafka-mirror'), { recursive: true }) as string[])
  assert.deepEqual(installedFiles.filter(f => /^(test|bench|harness)\b/.test(f)), [])
  const installedManifest = JSON.parse(readFileSync(join(installed, 'node_modules', 'kafka-mirror', 'package.json'), 'utf8')) as { private?: boolean, version: string }
  assert.equal(installedManifest.private, undefined)
  assert.equal(installedManifest.version, manifest.version)
})

test('installed into a folder, kafka-mirror --version prints its version', async () => {
  const { stdout } = await run(bin, ['--version'], { cwd: installed, env })
  assert.equal(stdout, `kafka-mirror ${manifest.version}\n`)
})

test("import('kafka-mirror') gives the library", async () => {
  const check = join(installed, 'check.mjs')
  writeFileSync(check, `const m = await import('kafka-mirror')
console.log(JSON.stringify({ Mirror: typeof m.Mirror, runCli: typeof m.runCli, loadMirrorArgv: typeof m.loadMirrorArgv, exitBadInput: m.ExitCodes.BAD_INPUT, version: m.version }))
`)
  const { stdout } = await run(process.execPath, [check], { cwd: installed, env })
  assert.deepEqual(JSON.parse(stdout), { Mirror: 'function', runCli: 'function', loadMirrorArgv: 'function', exitBadInput: 2, version: manifest.version })
})

test('the declarations give TypeScript users the types of the library', async () => {
  const dir = join(installed, 'typed')
  mkdirSync(dir)
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
    files: ['use.ts']
  }))
  const use = `import { Mirror, loadMirrorArgv, ExitCodes, type MirrorSettings } from 'kafka-mirror'
const settings: MirrorSettings = loadMirrorArgv(['--consumer.config', 'c.properties']).settings
const mirror = new Mirror(settings)
const code: 2 = ExitCodes.BAD_INPUT
void mirror.start().then(() => code)
`
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  writeFileSync(join(dir, 'use.ts'), use)
  await run(process.execPath, [tsc, '-p', dir], { cwd: dir, env })
  // And a misuse is caught, so the types are not `any`
  writeFileSync(join(dir, 'use.ts'), `${use}const wrong: number = settings\n`)
  const failed = await run(process.execPath, [tsc, '-p', dir], { cwd: dir, env }).then(() => undefined, (error: { stdout: string }) => error)
  assert.match(failed?.stdout ?? 'tsc accepted the misuse', /Type 'MirrorSettings' is not assignable to type 'number'/)
})

for (const partitioning of ['key', 'source'] as const) {
  test(`the installed bin mirrors between the test clusters (--partitioning ${partitioning}): no loss, no duplicates`, async () => {
    const { source, target } = await testClusters()
    // Given 2,500 keyed records on a new source topic
    const topic = await createTestTopic(source, { prefix: `package-${partitioning}`, partitions: 3 })
    const records = makeRecords(2500, { keys: 40 })
    await produceRecords(source, topic, records)
    // When the installed kafka-mirror copies them once
    const files = writeTutorialConfigs(source, target)
    const result = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve, reject) => {
      const child = spawn(bin, ['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic, '--once', '--partitioning', partitioning, '--status.interval.ms', '0'], { cwd: installed, env, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', d => { stdout += String(d) })
      child.stderr.on('data', d => { stderr += String(d) })
      child.once('error', reject)
      child.once('exit', code => resolve({ code, stdout, stderr }))
    })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr.split('\n')[0], new RegExp(`kafka-mirror starting .*version=${manifest.version.replace(/\./g, '\\.')}( |$)`), 'the first log line names the version')
    assert.match(result.stdout, /Copied 2500 records/)
    // Then the target holds each record once, byte for byte
    assertMirrored(records, await kcatConsume(target, topic))
  })
}

/** A `node` on PATH older than the package needs (the machine's v20), if there is one. */
async function oldNode (): Promise<{ path: string, version: string } | undefined> {
  let candidates: string[] = []
  try {
    candidates = (await run('which', ['-a', 'node'])).stdout.split('\n').filter(p => p !== '')
  } catch {
    return undefined
  }
  for (const path of candidates) {
    try {
      const version = (await run(path, ['--version'])).stdout.trim()
      if (Number(/^v(\d+)/.exec(version)?.[1] ?? 99) < 22) return { path, version }
    } catch {
      // Not runnable: try the next.
    }
  }
  return undefined
}

test('on an older Node the bin says which Node it needs, in one line, and exits 1', async t => {
  const node = await oldNode()
  if (node === undefined) {
    t.skip('no Node older than 22 on PATH')
    return
  }
  const entry = join(installed, 'node_modules', 'kafka-mirror', 'dist', 'bin', 'kafka-mirror.js')
  const failure = await run(node.path, [entry, '--version'], { cwd: installed }).then(() => undefined, (error: { code: number, stdout: string, stderr: string }) => error)
  assert.ok(failure !== undefined, `${node.version} must not run kafka-mirror`)
  assert.equal(failure.code, 1)
  assert.equal(failure.stdout, '')
  assert.equal(failure.stderr, `kafka-mirror needs Node.js 22.22.0 or newer (24 recommended); this is Node.js ${node.version.slice(1)}.\n`)
})
