// The Containerfile's promises, read from the file itself, so that they hold where no container
// engine runs (npm test). `npm run test:image` builds and runs the image where podman works.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { shebangFlags } from '../../bench/bin.ts'

const root = join(import.meta.dirname, '..', '..')

interface Instruction { keyword: string, args: string, line: number }

/** Instructions with their continuation lines joined, comments dropped. */
function parseContainerfile (text: string): Array<{ from: string, instructions: Instruction[] }> {
  const stages: Array<{ from: string, instructions: Instruction[] }> = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1
    let current = lines[i].trim()
    if (current === '' || current.startsWith('#')) continue
    while (current.endsWith('\\') && i + 1 < lines.length) current = current.slice(0, -1) + ' ' + lines[++i].trim()
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(current) ?? []
    const instruction = { keyword: keyword.toUpperCase(), args, line }
    if (instruction.keyword === 'FROM') stages.push({ from: args, instructions: [] })
    else if (stages.length > 0) stages[stages.length - 1].instructions.push(instruction)
  }
  return stages
}

const text = readFileSync(join(root, 'Containerfile'), 'utf8')
const stages = parseContainerfile(text)
const final = stages[stages.length - 1]
const all = (keyword: string): Instruction[] => final.instructions.filter(i => i.keyword === keyword)

test('the Containerfile builds in one stage and runs from another, on a base the builder chooses', () => {
  assert.ok(stages.length >= 2, 'multi-stage: a build stage and a run stage')
  assert.match(text, /^ARG NODE_IMAGE=docker\.io\/library\/node:24-slim$/m, 'the base is an ARG, by default the public Node 24 slim image')
  for (const s of stages) assert.match(s.from, /^\$\{NODE_IMAGE\}( AS \w+)?$/i, `every stage starts from \${NODE_IMAGE} (got FROM ${s.from})`)
  const copies = all('COPY')
  assert.ok(copies.length > 0 && copies.every(c => c.args.startsWith('--from=')), 'the run stage takes files only from the build stage, never the build context')
  assert.ok(copies.some(c => /\/dist\s/.test(c.args)) && copies.some(c => /\/node_modules\s/.test(c.args)), 'the compiled code and the runtime dependencies')
})

test('the run stage has no build tools and runs as a numeric non-root user', () => {
  const runs = all('RUN')
  const command = /(^|&&|\|\||;|\|)\s*(npm|npx|yarn|corepack|tsc|node|apt-get|apt|dpkg)\s/
  assert.ok(runs.every(r => !command.test(r.args)), 'nothing is built or installed in the run stage')
  const removal = runs.map(r => r.args).join(' ')
  for (const tool of ['/usr/local/lib/node_modules', '/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/bin/corepack', '/usr/local/bin/yarn']) {
    assert.ok(removal.includes(tool), `the run stage removes ${tool}`)
  }
  const build = stages[0].instructions.map(i => i.args).join(' ')
  assert.match(build, /npm ci/, 'dependencies come from the lock file')
  assert.match(build, /npm run build/, 'the package build of CONTRACTS.md')
  assert.match(build, /npm prune --omit=dev/, 'only runtime dependencies reach the run stage')
  const users = all('USER')
  assert.equal(users.length, 1)
  const [uid] = users[0].args.split(':')
  assert.match(uid, /^\d+$/, 'numeric, so that Kubernetes runAsNonRoot can check it')
  assert.notEqual(Number(uid), 0)
  assert.ok(users[0].line > Math.max(...all('RUN').map(r => r.line)), 'USER comes after the last RUN of the run stage')
})

test('signals reach kafka-mirror: ENTRYPOINT in exec form, node as PID 1, SIGTERM', () => {
  const entrypoints = all('ENTRYPOINT')
  assert.equal(entrypoints.length, 1)
  const entry = JSON.parse(entrypoints[0].args) as string[]
  // The installed bin's own Node flags, from its first line (#!/usr/bin/env -S node …).
  const flags = shebangFlags(readFileSync(join(root, 'bin', 'kafka-mirror.ts'), 'utf8').split('\n', 1)[0])
  assert.ok(flags.length > 0)
  assert.deepEqual(entry, ['node', ...flags, '/app/dist/bin/kafka-mirror.js'], 'exec form: no shell between the engine and node, which gets SIGTERM itself; the bin\'s own Node flags')
  assert.deepEqual(all('STOPSIGNAL').map(s => s.args), ['SIGTERM'])
})

test('the build context leaves out local dependencies, builds and the repository', () => {
  const ignored = readFileSync(join(root, '.containerignore'), 'utf8').split('\n').map(l => l.trim())
  for (const entry of ['.git', 'node_modules', 'dist']) assert.ok(ignored.includes(entry), `.containerignore lists ${entry}`)
})
