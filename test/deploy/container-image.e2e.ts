// npm run test:image: builds the Containerfile with podman and runs the image against the test
// clusters: --version, then in each partitioning a real mirror counted on the target, stopped
// with SIGTERM (podman stop), which must exit 0 within the stop deadline, started again in the
// same group and stopped again: no record lost, none copied twice. Writes
// test/deploy/results/<date>.md. Needs podman (Debian's package) and the npm registry (the build
// stage runs npm ci); not part of npm test, which checks the Containerfile statically.
//
// Base image: KAFKA_MIRROR_NODE_IMAGE (for example docker.io/library/node:24-slim) or, by default,
// a stand-in made from this machine's files by local-node-image.sh, for where no container
// registry is reachable.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { createServer } from 'node:net'
import { STOP_TIMEOUT_MS } from '../../src/mirror/mirror.ts'
import { createTestTopic, testClusters, uniqueName, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, produceRecords } from '../helpers/records.ts'

const root = join(import.meta.dirname, '..', '..')
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
const image = `localhost/kafka-mirror:test-${process.pid}`
const localBase = `localhost/kafka-mirror-node-base:test-${process.pid}`
const baseImage = process.env.KAFKA_MIRROR_NODE_IMAGE ?? localBase
const work = mkdtempSync(join(tmpdir(), 'km-image-'))
const results: string[] = []
const containers: string[] = []

function podman (args: string[], options: { timeoutMs?: number } = {}): { code: number | null, stdout: string, stderr: string } {
  const run = spawnSync('podman', args, { cwd: root, encoding: 'utf8', timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 })
  return { code: run.status, stdout: run.stdout ?? '', stderr: (run.stderr ?? '') + (run.error !== undefined ? String(run.error) : '') }
}

function seconds (since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1)
}

// What some hosts need before podman can start a container, found from the host rather than
// configured: without CAP_SYS_RESOURCE the OCI runtime may not raise a limit above the current
// one (podman asks for 1048576 open files), so ask for the current ones; crun refuses cgroups
// v1 with a cgroup2 hierarchy beside it ("hybrid"), where runc works.
function hostFlags (): string[] {
  const flags: string[] = []
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'
  if ((BigInt(`0x${capEff}`) & (1n << 24n)) === 0n) {
    const limits = spawnSync('bash', ['-c', 'ulimit -Hn; ulimit -Hu'], { encoding: 'utf8' }).stdout.trim().split('\n')
    const nofile = limits[0]
    // podman lowers its own process limit to 32768 before it starts the runtime.
    const nproc = limits[1] === 'unlimited' ? '32768' : String(Math.min(Number(limits[1]), 32768))
    flags.push('--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`)
  }
  const info = podman(['info', '--format', '{{.Host.CgroupsVersion}}'])
  const hybrid = info.stdout.trim() === 'v1' && spawnSync('sh', ['-c', 'grep -q " /sys/fs/cgroup/unified cgroup2" /proc/mounts']).status === 0
  if (hybrid && spawnSync('sh', ['-c', 'command -v runc']).status === 0) flags.push('--runtime', 'runc')
  return flags
}

let flags: string[] = []

before(() => {
  assert.equal(spawnSync('podman', ['--version']).status, 0, 'podman is not installed (apt-get install podman)')
  flags = hostFlags()
  results.push(`# Container image test, ${new Date().toISOString().slice(0, 10)}`, '',
    `podman: ${podman(['--version']).stdout.trim()}; extra flags for this host: \`${flags.join(' ') || 'none'}\`; base image: ${baseImage === localBase ? 'a stand-in from this machine\'s files (test/deploy/local-node-image.sh)' : baseImage}`, '')
  if (baseImage === localBase) {
    const started = Date.now()
    const made = spawnSync(join(root, 'test', 'deploy', 'local-node-image.sh'), [localBase], { cwd: root, encoding: 'utf8' })
    assert.equal(made.status, 0, made.stderr)
    results.push(`- stand-in base image: ${seconds(started)} s, ${imageSize(localBase)}`)
  }
  const started = Date.now()
  const build = podman(['build', ...flags, '--network', 'host', '--build-arg', `NODE_IMAGE=${baseImage}`, '-t', image, '-f', 'Containerfile', '.'], { timeoutMs: 900_000 })
  assert.equal(build.code, 0, `podman build failed:\n${build.stdout.slice(-4000)}\n${build.stderr.slice(-4000)}`)
  results.push(`- podman build (npm ci, npm run build, npm prune): ${seconds(started)} s; image ${imageSize(image)}`)
})

after(() => {
  for (const c of containers) podman(['rm', '-f', c])
  podman(['rmi', '-f', image])
  if (baseImage === localBase) podman(['rmi', '-f', localBase])
  podman(['image', 'prune', '-f'])
  rmSync(work, { recursive: true, force: true })
  {
    const dir = join(root, 'test', 'deploy', 'results')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `${new Date().toISOString().slice(0, 10)}-image.md`), results.join('\n') + '\n')
  }
})

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    }).once('error', reject)
  })
}

/** Polls GET path until it answers 200; returns the body, or throws with the last answer. */
async function waitFor200 (url: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url)
      const body = await response.text()
      if (response.status === 200) return body
      last = `${response.status} ${body}`
    } catch (error) {
      last = String(error)
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms: ${last}`)
}

function imageSize (name: string): string {
  const size = Number(podman(['image', 'inspect', '--format', '{{.Size}}', name]).stdout.trim())
  return `${(size / 1e6).toFixed(0)} MB`
}

test('the image runs as a non-root user, without npm, and kafka-mirror --version answers', () => {
  const config = JSON.parse(podman(['image', 'inspect', '--format', '{{json .Config}}', image]).stdout) as { User: string, Entrypoint: string[], StopSignal: string }
  assert.equal(config.User, '1000:1000')
  assert.deepEqual(config.Entrypoint, ['node', '--max-semi-space-size=8', '/app/dist/bin/kafka-mirror.js'])
  assert.equal(config.StopSignal, 'SIGTERM')
  const inside = podman(['run', '--rm', ...flags, '--entrypoint', 'node', image, '-e',
    'const fs = require("fs"); console.log(JSON.stringify({ uid: process.getuid(), npm: ["/usr/local/lib/node_modules/npm", "/usr/local/bin/npm", "/app/node_modules/typescript", "/app/node_modules/.bin/tsc"].filter(p => fs.existsSync(p)), writable: (() => { try { fs.writeFileSync("/app/x", ""); return true } catch { return false } })() }))'])
  assert.equal(inside.code, 0, inside.stderr)
  assert.deepEqual(JSON.parse(inside.stdout), { uid: 1000, npm: [], writable: false }, 'uid 1000, no npm or compiler, the app read-only for its user')
  const run = podman(['run', '--rm', ...flags, image, '--version'])
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.stdout.trim(), `kafka-mirror ${version}`)
  results.push(`- the image: user ${config.User}, no npm, npx or compiler, /app read-only for its user; \`--version\` prints \`${run.stdout.trim()}\``)
})

for (const partitioning of ['key', 'source'] as const) {
  test(`in the container (--partitioning ${partitioning}): a mirror copies every record, SIGTERM exits 0 in time, a restart copies nothing twice`, async () => {
    const { source, target } = await testClusters()
    const topic = await createTestTopic(source, { prefix: `image-${partitioning}`, partitions: 4, replicas: 2 })
    const records = makeRecords(5000, { keys: 40, valueBytes: 100 })
    const [first, second] = [records.slice(0, 3000), records.slice(3000)]
    await produceRecords(source, topic, first)

    // The properties files, as a ConfigMap would mount them: readable by the image's user.
    const config = join(work, topic)
    mkdirSync(config)
    chmodSync(config, 0o755)
    writeFileSync(join(config, 'consumer.properties'), `bootstrap.servers=${source}\ngroup.id=${uniqueName('image-group')}\n`, { mode: 0o644 })
    writeFileSync(join(config, 'producer.properties'), `bootstrap.servers=${target}\ncompression.type=lz4\n`, { mode: 0o644 })

    const runOnce = async (expected: number, label: string): Promise<void> => {
      const name = uniqueName('km-image')
      containers.push(name)
      const port = await freePort()
      const started = Date.now()
      // As deploy/deployment.yaml's securityContext: read-only root, no capabilities, no privilege gain.
      const run = podman(['run', '-d', '--name', name, ...flags, '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--network', 'host', '-v', `${config}:/etc/kafka-mirror/config:ro`, image,
        '--consumer.config', '/etc/kafka-mirror/config/consumer.properties', '--producer.config', '/etc/kafka-mirror/config/producer.properties',
        '--include', topic, '--partitioning', partitioning, '--num.streams', '2', '--offset.commit.interval.ms', '1000',
        '--http.listener', `0.0.0.0:${port}`])
      assert.equal(run.code, 0, run.stderr)
      try {
        await waitForRecords(target, topic, expected, 120_000)
      } catch (error) {
        throw new Error(`${String(error)}\ncontainer log:\n${podman(['logs', name]).stderr.slice(-4000)}`)
      }
      const copied = seconds(started)
      // The health endpoints the Kubernetes probes use, on every interface as in deploy/.
      await waitFor200(`http://127.0.0.1:${port}/healthz`)
      await waitFor200(`http://127.0.0.1:${port}/readyz`)
      const stopping = Date.now()
      // Longer than the stop deadline: podman's SIGKILL must not come first.
      const stop = podman(['stop', '-t', String(STOP_TIMEOUT_MS / 1000 + 15), name])
      const stopMs = Date.now() - stopping
      assert.equal(stop.code, 0, stop.stderr)
      const state = JSON.parse(podman(['inspect', '--format', '{{json .State}}', name]).stdout) as { ExitCode: number, OOMKilled: boolean }
      const logs = podman(['logs', name])
      assert.equal(state.ExitCode, 0, `exit code ${state.ExitCode} after SIGTERM\n${logs.stdout.slice(-2000)}${logs.stderr.slice(-4000)}`)
      assert.ok(stopMs < STOP_TIMEOUT_MS, `stopped in ${stopMs} ms, beyond the stop deadline of ${STOP_TIMEOUT_MS} ms`)
      podman(['rm', name])
      results.push(`- ${partitioning}, ${label}: ${expected} records on the target ${copied} s after \`podman run\`, /healthz and /readyz 200; \`podman stop\` (SIGTERM) took ${(stopMs / 1000).toFixed(1)} s, exit code ${state.ExitCode}`)
    }

    await runOnce(first.length, 'first run')
    await produceRecords(source, topic, second)
    await runOnce(first.length + second.length, 'restart in the same group')
    const read = await kcatConsume(target, topic)
    assert.equal(read.length, first.length + second.length, 'the target holds each record once')
    assertMirrored(records, read)
    results.push(`- ${partitioning}: kcat read ${read.length} records from the target: none lost, none duplicated, per-key order and bytes kept`)
  })
}
