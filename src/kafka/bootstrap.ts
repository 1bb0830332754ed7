// Finds the brokers of a cluster given either bootstrap servers or, for ZooKeeper-era configs and
// tools' --zookeeper flag, a ZooKeeper connect string.
import { ErrorCodes, KafkaMirrorError, describeCause } from '../errors.ts'
import { bootstrapFromZooKeeperBrokers, discoverBrokersFromZooKeeper } from './zookeeper.ts'

export async function brokersFromZooKeeper (zookeeperConnect: string, options: { securityProtocol?: string, timeoutMs?: number } = {}): Promise<string[]> {
  try {
    const brokers = await discoverBrokersFromZooKeeper(zookeeperConnect, { timeoutMs: options.timeoutMs ?? 15000, securityProtocol: options.securityProtocol })
    return bootstrapFromZooKeeperBrokers(brokers, options.securityProtocol).split(',').filter(s => s !== '')
  } catch (error) {
    if (error instanceof KafkaMirrorError) throw error
    throw new KafkaMirrorError(ErrorCodes.ZOOKEEPER, describeCause(error), { cause: error, exitCode: 1 })
  }
}
