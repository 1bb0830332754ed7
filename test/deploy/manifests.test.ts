// The Kubernetes manifests in deploy/, checked offline by test/tools/k8s-validate (Go, the
// k8s.io/api types, strict decoding) against kafka-mirror's own rules; then the properties files
// of the ConfigMap, with the example Secret's values, go through `kafka-mirror --validate`.
// Every rule is also shown to fail on a copy of deploy/ broken on purpose.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { consumerKeys, producerKeys } from '../../src/config/client-config.ts'
import { mirrorFlagKeys } from '../../src/config/mirror-config.ts'
import { STOP_TIMEOUT_MS } from '../../src/mirror/mirror.ts'
import { runKafkaMirror } from '../helpers/cli.ts'

const root = join(import.meta.dirname, '..', '..')
const deployDir = join(root, 'deploy')
const toolDir = join(root, 'test', 'tools', 'k8s-validate')
const work = mkdtempSync(join(tmpdir(), 'km-deploy-'))
after(() => rmSync(work, { recursive: true, force: true }))
const tool = join(work, 'k8s-validate')
const secretKeys = [...consumerKeys, ...producerKeys].filter(k => k.type === 'password').map(k => k.name)

function findGo (): string {
  if (process.env.GO !== undefined) return process.env.GO
  if (spawnSync('go', ['version']).status === 0) return 'go'
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go'
  throw new Error('Go not found: test/tools/k8s-validate needs Go 1.19 or newer (apt-get install golang-go, as .ci/run does), or set GO to its path')
}

before(() => {
  // Without optimisations: the tool reads a few small files once, and an optimised build of
  // k8s.io/api takes several times longer on a fresh machine (GOCACHE empty).
  const build = spawnSync(findGo(), ['build', '-gcflags=all=-N -l', '-o', tool, '.'], { cwd: toolDir, encoding: 'utf8' })
  assert.equal(build.status, 0, `go build of test/tools/k8s-validate failed:\n${build.stderr}`)
})

function validate (dir: string, ...extra: string[]): { code: number | null, output: string } {
  const run = spawnSync(tool, ['-stop-timeout-ms', String(STOP_TIMEOUT_MS), '-secret-keys', secretKeys.join(','), ...extra, dir], { encoding: 'utf8' })
  return { code: run.status, output: run.stdout + run.stderr }
}

test('deploy/ decodes strictly into the Kubernetes API types and keeps every rule', () => {
  const { code, output } = validate(deployDir)
  assert.equal(code, 0, output)
  assert.match(output, /^ok: 1 deployment\(s\), 1 configmap\(s\), 1 secret\(s\), 1 poddisruptionbudget\(s\), 1 service\(s\)/)
})

test('the Deployment runs the image of this version', () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  assert.match(readFileSync(join(deployDir, 'deployment.yaml'), 'utf8'), new RegExp(`^ +image: kafka-mirror:${version.replaceAll('.', '\\.')}$`, 'm'))
})

test('the ConfigMap\'s properties files, with the Secret\'s values, pass kafka-mirror --validate', async (t) => {
  if (!mirrorFlagKeys.some(k => k.name === 'http.listener')) {
    t.skip('--http.listener is not declared yet (the HTTP listener of CONTRACTS.md)')
    return
  }
  const viewFile = join(work, 'view.json')
  const { code, output } = validate(deployDir, '-container-view', viewFile)
  assert.equal(code, 0, output)
  const view = JSON.parse(readFileSync(viewFile, 'utf8')) as { args: string[], env: Record<string, string>, files: Record<string, string> }
  // The container's absolute paths, moved under a temporary root.
  const rootfs = join(work, 'rootfs')
  const moved = (text: string): string => text.replaceAll('/etc/kafka-mirror/', `${rootfs}/etc/kafka-mirror/`)
  for (const [path, text] of Object.entries(view.files)) {
    mkdirSync(dirname(rootfs + path), { recursive: true })
    writeFileSync(rootfs + path, moved(text))
  }
  Object.assign(process.env, view.env)
  t.after(() => { for (const name of Object.keys(view.env)) delete process.env[name] })
  const args = view.args.map(moved)
  const run = await runKafkaMirror([...args, '--validate'])
  assert.equal(run.code, 0, run.stdout + run.stderr)
  assert.doesNotMatch(run.stdout + run.stderr, /CHANGE-ME/, 'the Secret\'s values stay hidden')
})

test('a group.instance.id per pod, from the pod\'s name, passes', () => {
  const dir = mkdtempSync(join(work, 'static-'))
  cpSync(deployDir, dir, { recursive: true })
  const edit = (file: string, from: string, to: string): void => {
    const text = readFileSync(join(dir, file), 'utf8')
    assert.ok(text.includes(from))
    writeFileSync(join(dir, file), text.replace(from, () => to))
  }
  edit('configmap.yaml', 'group.id=kafka-mirror', 'group.id=kafka-mirror\n    group.instance.id=${env:KAFKA_MIRROR_SOURCE_POD_NAME}')
  edit('deployment.yaml', '          env:\n', '          env:\n            - name: KAFKA_MIRROR_SOURCE_POD_NAME\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.name\n')
  const { code, output } = validate(dir)
  assert.equal(code, 0, output)
})

// Each case breaks one rule in a copy of deploy/; the tool must fail and name the problem.
const broken: Array<{ name: string, file: string, from: string | RegExp, to: string, expect: RegExp }> = [
  { name: 'an unknown field', file: 'deployment.yaml', from: 'terminationGracePeriodSeconds: 40', to: 'terminationGracePeriod: 40', expect: /Deployment: error unmarshaling JSON: .*unknown field "terminationGracePeriod"/ },
  { name: 'a field of the wrong type', file: 'deployment.yaml', from: 'replicas: 2', to: 'replicas: two', expect: /Deployment: error unmarshaling JSON/ },
  { name: 'a duplicated field', file: 'poddisruptionbudget.yaml', from: 'maxUnavailable: 1', to: 'maxUnavailable: 1\n  maxUnavailable: 2', expect: /already set in map|duplicate/ },
  { name: 'a bad quantity', file: 'deployment.yaml', from: 'memory: 1Gi', to: 'memory: 1 GB', expect: /quantities must match/ },
  { name: 'a kind the tool does not know', file: 'service.yaml', from: 'kind: Service', to: 'kind: Ingress', expect: /kind "Ingress" is not one this tool knows/ },
  { name: 'a grace period not above the stop deadline', file: 'deployment.yaml', from: 'terminationGracePeriodSeconds: 40', to: 'terminationGracePeriodSeconds: 25', expect: /terminationGracePeriodSeconds 25 is not above the stop deadline of 25 s/ },
  { name: 'no grace period', file: 'deployment.yaml', from: /^ {6}terminationGracePeriodSeconds: 40\n/m, to: '', expect: /set terminationGracePeriodSeconds above the stop deadline/ },
  { name: 'readiness on /healthz', file: 'deployment.yaml', from: 'path: /readyz', to: 'path: /healthz', expect: /readinessProbe: path is "\/healthz", want \/readyz/ },
  { name: 'no liveness probe', file: 'deployment.yaml', from: /^ {10}livenessProbe:\n(?: {12}.*\n)+/m, to: '', expect: /livenessProbe: is missing \(want GET \/healthz\)/ },
  { name: 'a listener on another port', file: 'deployment.yaml', from: '- 0.0.0.0:8080', to: '- 0.0.0.0:9090', expect: /livenessProbe: port is 8080, but --http.listener binds 9090/ },
  { name: 'a listener on loopback only', file: 'deployment.yaml', from: '- 0.0.0.0:8080', to: '- 127.0.0.1:8080', expect: /binds 127\.0\.0\.1 only/ },
  { name: 'no listener', file: 'deployment.yaml', from: /^ {12}- --http\.listener\n {12}- 0\.0\.0\.0:8080\n/m, to: '', expect: /args lack --http\.listener/ },
  { name: 'a literal password in the ConfigMap', file: 'configmap.yaml', from: 'password="${env:KAFKA_MIRROR_SOURCE_PASSWORD}"', to: 'password="hunter2"', expect: /consumer\.properties: sasl\.jaas\.config has a literal password/ },
  { name: 'a secret key in clear', file: 'configmap.yaml', from: 'compression.type=lz4', to: 'compression.type=lz4\n    ssl.key.password=hunter2', expect: /producer\.properties: ssl\.key\.password holds a secret in the ConfigMap/ },
  { name: 'a reference to a variable the Secret does not set', file: 'configmap.yaml', from: '${env:KAFKA_MIRROR_SOURCE_PASSWORD}', to: '${env:KAFKA_MIRROR_SOURCE_PASSWD}', expect: /the container sets no KAFKA_MIRROR_SOURCE_PASSWD from the Secret/ },
  { name: 'a file reference outside the Secret', file: 'configmap.yaml', from: '${file:/etc/kafka-mirror/secrets/target.properties:password}', to: '${file:/etc/kafka-mirror/config/target.properties:password}', expect: /is not a file of a mounted Secret/ },
  { name: 'a file reference to a missing property', file: 'configmap.yaml', from: 'target.properties:password}', to: 'target.properties:passwd}', expect: /has no property "passwd"/ },
  { name: 'a literal secret env value', file: 'deployment.yaml', from: /- name: KAFKA_MIRROR_SOURCE_PASSWORD\n {14}valueFrom:\n(?: {16}.*\n)+/, to: '- name: KAFKA_MIRROR_SOURCE_PASSWORD\n              value: hunter2\n', expect: /env KAFKA_MIRROR_SOURCE_PASSWORD has a literal value and looks secret/ },
  { name: 'a Secret key that does not exist', file: 'deployment.yaml', from: 'key: source-password', to: 'key: source-pass', expect: /reads key "source-pass", which Secret kafka-mirror-credentials does not have/ },
  { name: 'no group.id', file: 'configmap.yaml', from: /^ {4}group\.id=kafka-mirror\n/m, to: '', expect: /set group\.id: every replica must join the same consumer group/ },
  { name: 'a static member id shared by all replicas', file: 'configmap.yaml', from: 'group.id=kafka-mirror', to: 'group.id=kafka-mirror\n    group.instance.id=mirror-0', expect: /group\.instance\.id in a file every replica reads/ },
  { name: 'root allowed', file: 'deployment.yaml', from: 'runAsNonRoot: true', to: 'runAsNonRoot: false', expect: /set securityContext\.runAsNonRoot: true/ },
  { name: 'no limits', file: 'deployment.yaml', from: /^ {12}limits:\n(?: {14}.*\n)+/m, to: '', expect: /resources\.limits\.cpu is not set.*\n.*resources\.limits\.memory is not set/ },
  { name: 'no memory request', file: 'deployment.yaml', from: /^ {14}memory: 512Mi\n/m, to: '', expect: /resources\.requests\.memory is not set/ },
  { name: 'a PodDisruptionBudget for other pods', file: 'poddisruptionbudget.yaml', from: /(selector:\n\s+matchLabels:\n\s+app\.kubernetes\.io\/name: )kafka-mirror/, to: '$1other', expect: /PodDisruptionBudget kafka-mirror: spec\.selector does not select the Deployment's pods/ },
  { name: 'a file kustomization.yaml does not list', file: 'kustomization.yaml', from: '  - service.yaml\n', to: '', expect: /service\.yaml: is not in kustomization\.yaml's resources/ }
]

for (const c of broken) {
  test(`k8s-validate fails on ${c.name}`, () => {
    const dir = mkdtempSync(join(work, 'broken-'))
    cpSync(deployDir, dir, { recursive: true })
    const path = join(dir, c.file)
    const text = readFileSync(path, 'utf8')
    const changed = typeof c.from === 'string' ? text.replace(c.from, () => c.to) : text.replace(c.from, c.to)
    assert.notEqual(changed, text, `the case "${c.name}" changed nothing in ${c.file}`)
    writeFileSync(path, changed)
    const { code, output } = validate(dir)
    assert.equal(code, 1, output)
    assert.match(output, c.expect)
  })
}
