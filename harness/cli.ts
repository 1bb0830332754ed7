// `npm run kafka -- up|down|status`: a source and a target cluster for trying kafka-mirror by hand.
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { startCluster, startZooKeeperCluster } from './cluster.ts'
import { cacheRoot } from './kafka-dist.ts'

interface SavedCluster { name: string, bootstrap: string, zookeeper?: string, pids: number[], dataDir: string }

const stateFile = join(cacheRoot(), 'clusters.json')

function readState (): SavedCluster[] {
  return existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) as SavedCluster[] : []
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

async function down (): Promise<void> {
  const state = readState()
  for (const c of state) {
    for (const pid of c.pids) if (alive(pid)) process.kill(pid, 'SIGTERM')
  }
  const deadline = Date.now() + 30_000
  for (const c of state) {
    for (const pid of c.pids) {
      while (alive(pid) && Date.now() < deadline) await sleep(200)
      if (alive(pid)) process.kill(pid, 'SIGKILL')
    }
    rmSync(c.dataDir, { recursive: true, force: true })
    console.log(`stopped ${c.name} (${c.bootstrap})`)
  }
  rmSync(stateFile, { force: true })
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'source-brokers': { type: 'string', default: '2' },
    'target-brokers': { type: 'string', default: '2' },
    zookeeper: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
const command = positionals[0] ?? 'help'

if (values.help || command === 'help') {
  console.log(`Usage: npm run kafka -- <up|down|status> [options]

  up       start a source and a target Kafka cluster on loopback (they keep running)
  down     stop them and remove their data
  status   print their addresses

Options (up):
  --source-brokers N   nodes in the source cluster (default 2)
  --target-brokers N   nodes in the target cluster (default 2)
  --zookeeper          run the source in ZooKeeper mode (Kafka 3.9), as old tutorials do`)
} else if (command === 'up') {
  if (readState().some(c => c.pids.some(alive))) {
    console.error('Clusters are already up; `npm run kafka -- status` shows them, `npm run kafka -- down` stops them.')
    process.exit(1)
  }
  const sourceOptions = { name: 'source', brokers: Number(values['source-brokers']), detached: true }
  const [source, target] = await Promise.all([
    values.zookeeper ? startZooKeeperCluster(sourceOptions) : startCluster(sourceOptions),
    startCluster({ name: 'target', brokers: Number(values['target-brokers']), detached: true })
  ])
  mkdirSync(cacheRoot(), { recursive: true })
  const saved: SavedCluster[] = [source, target].map(c => ({ name: c.name, bootstrap: c.bootstrap, zookeeper: c.zookeeper, pids: c.processIds(), dataDir: c.dataDir }))
  writeFileSync(stateFile, JSON.stringify(saved, null, 2))
  for (const c of saved) console.log(`${c.name}: bootstrap.servers=${c.bootstrap}${c.zookeeper !== undefined ? `  zookeeper.connect=${c.zookeeper}` : ''}`)
  process.exit(0)
} else if (command === 'down') {
  await down()
} else if (command === 'status') {
  const state = readState()
  if (state.length === 0) console.log('no clusters are up')
  for (const c of state) console.log(`${c.name}: bootstrap.servers=${c.bootstrap} (${c.pids.filter(alive).length}/${c.pids.length} brokers running)`)
} else {
  console.error(`Unknown command "${command}": use up, down or status.`)
  process.exit(2)
}
