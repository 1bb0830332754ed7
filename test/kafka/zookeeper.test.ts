import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { startZooKeeperCluster, type KafkaCluster } from '../../harness/cluster.ts'
import { ErrorCodes, KafkaMirrorError } from '../../src/errors.ts'
import { bootstrapFromZooKeeperBrokers, discoverBrokersFromZooKeeper, type ZooKeeperBroker } from '../../src/kafka/zookeeper.ts'

const asSet = (list: string): Set<string> => new Set(list.split(','))

describe('bootstrapFromZooKeeperBrokers', () => {
  test('picks the endpoint whose listener maps to the wanted security protocol', () => {
    // Given a broker with a PLAINTEXT and a SASL_SSL listener under custom listener names
    const broker: ZooKeeperBroker = {
      id: 7,
      host: '10.0.0.7',
      port: 9092,
      endpoints: ['INTERNAL://10.0.0.7:9092', 'EXTERNAL://kafka-7.example.com:9094'],
      listenerSecurityProtocolMap: { INTERNAL: 'PLAINTEXT', EXTERNAL: 'SASL_SSL' }
    }
    // When bootstrap servers are built for SASL_SSL, and for the default
    // Then each picks its own listener
    assert.equal(bootstrapFromZooKeeperBrokers([broker], 'SASL_SSL'), 'kafka-7.example.com:9094')
    assert.equal(bootstrapFromZooKeeperBrokers([broker], 'sasl_ssl'), 'kafka-7.example.com:9094')
    assert.equal(bootstrapFromZooKeeperBrokers([broker]), '10.0.0.7:9092')
  })

  test('without a listener map, listener names are the security protocols', () => {
    // Given two brokers registered the pre-0.10.2 way
    const brokers: ZooKeeperBroker[] = [1, 2].map(id => ({
      id,
      host: `b${id}`,
      port: 9092,
      endpoints: [`PLAINTEXT://b${id}:9092`, `SASL_SSL://b${id}:9094`]
    }))
    // When bootstrap servers are built for SASL_SSL
    // Then both brokers' SASL_SSL listeners are listed
    assert.equal(bootstrapFromZooKeeperBrokers(brokers, 'SASL_SSL'), 'b1:9094,b2:9094')
  })

  test('names the protocols on offer when none matches', () => {
    // Given a PLAINTEXT-only broker
    const broker: ZooKeeperBroker = { id: 1, host: 'b1', port: 9092, endpoints: ['PLAINTEXT://b1:9092'] }
    // When SSL is asked for
    // Then the error says what there is instead
    assert.throws(() => bootstrapFromZooKeeperBrokers([broker], 'SSL'), /no.*SSL listener; they offer PLAINTEXT/)
  })
})

describe('discoverBrokersFromZooKeeper', { timeout: 180_000 }, () => {
  let cluster: KafkaCluster
  let zk: string

  before(async () => {
    cluster = await startZooKeeperCluster({ name: 'zk-discovery', brokers: 2 })
    assert.ok(cluster.zookeeper)
    zk = cluster.zookeeper
  })

  after(async () => {
    await cluster?.stop()
  })

  test('finds both brokers and their bootstrap servers', async () => {
    // Given a 2-broker cluster registered in ZooKeeper
    // When its brokers are discovered through zookeeper.connect
    const brokers = await discoverBrokersFromZooKeeper(zk)
    // Then both are found, with their addresses
    assert.deepEqual(brokers.map(b => b.id), [1, 2])
    for (const broker of brokers) {
      const node = cluster.brokers.find(n => n.nodeId === broker.id)
      assert.equal(broker.host, node?.host)
      assert.equal(broker.port, node?.port)
      assert.deepEqual(broker.endpoints, [`PLAINTEXT://${node?.host}:${node?.port}`])
    }
    // And the bootstrap servers built from them are the cluster's
    assert.deepEqual(asSet(bootstrapFromZooKeeperBrokers(brokers)), asSet(cluster.bootstrap))
  })

  test('skips an unreachable host listed before the real one', async () => {
    // Given a connect string whose first host refuses connections
    const connect = `127.0.0.1:1,${zk}`
    // When brokers are discovered
    const brokers = await discoverBrokersFromZooKeeper(connect, { timeoutMs: 10_000 })
    // Then the second host answers
    assert.deepEqual(asSet(bootstrapFromZooKeeperBrokers(brokers)), asSet(cluster.bootstrap))
  })

  test('a chroot with no brokers under it says to check the chroot', async () => {
    // Given a chroot that does not exist
    const connect = `${zk}/nope`
    // When brokers are discovered
    // Then the error names the connect string and the path looked at
    await assert.rejects(discoverBrokersFromZooKeeper(connect), (error: Error) => {
      assert.ok(error instanceof KafkaMirrorError)
      assert.equal(error.code, ErrorCodes.ZOOKEEPER)
      assert.equal(error.retriable, false)
      assert.ok(error.message.includes(`zookeeper.connect "${connect}"`), error.message)
      assert.ok(error.message.includes('no Kafka brokers are registered under /nope/brokers/ids; check the chroot in zookeeper.connect'), error.message)
      return true
    })
  })

  test('a requested security protocol no broker offers is named with the connect string', async () => {
    // Given the PLAINTEXT-only cluster
    // When SASL_SSL brokers are asked for
    // Then discovery says none offers it
    await assert.rejects(discoverBrokersFromZooKeeper(zk, { securityProtocol: 'SASL_SSL' }),
      /zookeeper\.connect ".*": none of the brokers \(ids 1, 2\) has a SASL_SSL listener; they offer PLAINTEXT/)
  })
})

describe('discoverBrokersFromZooKeeper without a ZooKeeper', () => {
  test('only unreachable hosts fail with a clear error within the timeout', async () => {
    // Given one host that refuses connections and one that accepts but never answers
    const sockets = new Set<Socket>()
    const silent = createServer(socket => { sockets.add(socket) })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    const silentAddress = `127.0.0.1:${(silent.address() as AddressInfo).port}`
    const connect = `127.0.0.1:1,${silentAddress}`
    try {
      // When brokers are discovered with a 3 s timeout
      const started = Date.now()
      // Then it rejects, naming the connect string and what went wrong with each host
      await assert.rejects(discoverBrokersFromZooKeeper(connect, { timeoutMs: 3000 }), (error: Error) => {
        assert.ok(error instanceof KafkaMirrorError)
        assert.equal(error.code, ErrorCodes.ZOOKEEPER)
        assert.equal(error.retriable, true)
        assert.ok(error.message.includes(`zookeeper.connect "${connect}"`), error.message)
        assert.ok(error.message.includes('no ZooKeeper server answered within 3000 ms'), error.message)
        assert.ok(error.message.includes('127.0.0.1:1: connection refused'), error.message)
        assert.ok(error.message.includes(`${silentAddress}: no session within`), error.message)
        return true
      })
      // And it does so in time
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`)
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })

  test('a malformed connect string is rejected naming zookeeper.connect', async () => {
    // Given connect strings that are empty, have a bad port, an empty host or a bad chroot
    // When brokers are discovered
    // Then each is rejected before any connection, naming zookeeper.connect
    const configError = (message: RegExp): { name: string, code: string, message: RegExp } => ({ name: 'KafkaMirrorError', code: ErrorCodes.CONFIG, message })
    await assert.rejects(discoverBrokersFromZooKeeper(''), configError(/zookeeper\.connect is empty/))
    await assert.rejects(discoverBrokersFromZooKeeper('host:notaport'), configError(/Invalid zookeeper\.connect "host:notaport": port "notaport"/))
    await assert.rejects(discoverBrokersFromZooKeeper('h1:2181,,h2:2181'), configError(/Invalid zookeeper\.connect "h1:2181,,h2:2181": it has an empty host entry/))
    await assert.rejects(discoverBrokersFromZooKeeper('h1:99999'), configError(/Invalid zookeeper\.connect "h1:99999": port "99999"/))
    await assert.rejects(discoverBrokersFromZooKeeper('h1:2181/kafka/'), configError(/Invalid zookeeper\.connect "h1:2181\/kafka\/": chroot/))
  })
})
