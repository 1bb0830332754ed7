// Starts the clusters every test file shares, once per `npm test` run. Test files find them through
// KAFKA_MIRROR_TEST_CLUSTERS; a file run on its own starts its own (see helpers/clusters.ts).
import { startCluster, type KafkaCluster } from '../harness/cluster.ts'

let clusters: KafkaCluster[] = []

export async function globalSetup (): Promise<void> {
  const started = Date.now()
  // Different broker counts on purpose: the tutorial's clusters need not match.
  const [source, target] = await Promise.all([
    startCluster({ name: 'source', brokers: 2 }),
    startCluster({ name: 'target', brokers: 2 })
  ])
  clusters = [source, target]
  process.env.KAFKA_MIRROR_TEST_CLUSTERS = JSON.stringify({ source: source.bootstrap, target: target.bootstrap })
  process.stderr.write(`test clusters up in ${Date.now() - started} ms: source ${source.bootstrap}, target ${target.bootstrap}\n`)
}

export async function globalTeardown (): Promise<void> {
  await Promise.all(clusters.map(async c => await c.stop()))
}
