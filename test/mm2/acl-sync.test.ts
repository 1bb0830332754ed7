// Topic ACL sync of an MM2 flow: the mapping as MirrorSourceConnector makes it, then the Admin calls
// against a KRaft broker with StandardAuthorizer (one node, source and target at once: the flow
// A->A under DefaultReplicationPolicy writes remote names `A.<topic>`), and against a broker
// without an authorizer.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { Admin, AclOperations as Op, AclPermissionTypes as Perm, ResourcePatternTypes as Pattern, ResourceTypes } from '@platformatic/kafka'
import { startCluster, type KafkaCluster } from '../../harness/cluster.ts'
import { loadMirrorConfig } from '../../src/config/mirror-config.ts'
import { Mirror } from '../../src/mirror/mirror.ts'
import { AclSync, aclKey, describeTopicAcls, targetAclBinding, type AclBinding } from '../../src/mm2/acl-sync.ts'
import { createTestTopic, testClusters, uniqueName } from '../helpers/clusters.ts'
import { writeTutorialConfigs } from '../helpers/records.ts'

const acl = (resourceName: string, operation: number, permissionType: number = Perm.ALLOW, resourcePatternType: number = Pattern.LITERAL, principal = 'User:alice'): AclBinding =>
  ({ resourceType: ResourceTypes.TOPIC, resourceName, resourcePatternType, principal, host: '*', operation, permissionType })

const mapping = { shouldReplicateTopic: (t: string) => t.startsWith('orders'), formatRemoteTopic: (t: string) => `A.${t}`, topics: ['orders', 'orders-eu'] }

test('ACL mapping as MM2 makes it: ALLOW WRITE dropped, ALLOW ALL becomes READ, DENY kept, names through the policy; prefixed and wildcard bindings mapped onto the remote names', () => {
  assert.deepEqual(targetAclBinding(acl('orders', Op.READ), mapping), acl('A.orders', Op.READ))
  assert.equal(targetAclBinding(acl('orders', Op.WRITE), mapping), undefined)
  assert.deepEqual(targetAclBinding(acl('orders', Op.ALL), mapping), acl('A.orders', Op.READ))
  assert.deepEqual(targetAclBinding(acl('orders', Op.WRITE, Perm.DENY), mapping), acl('A.orders', Op.WRITE, Perm.DENY))
  assert.deepEqual(targetAclBinding(acl('orders', Op.ALL, Perm.DENY), mapping), acl('A.orders', Op.ALL, Perm.DENY))
  assert.deepEqual(targetAclBinding(acl('orders', Op.DESCRIBE_CONFIGS), mapping), acl('A.orders', Op.DESCRIBE_CONFIGS))
  // Topics the flow does not mirror, and other resource types, are left alone
  assert.equal(targetAclBinding(acl('payments', Op.READ), mapping), undefined)
  assert.equal(targetAclBinding({ ...acl('orders', Op.READ), resourceType: ResourceTypes.GROUP }, mapping), undefined)
  // PREFIXED: copied when a mirrored topic has the prefix
  assert.deepEqual(targetAclBinding(acl('orders-', Op.READ, Perm.ALLOW, Pattern.PREFIXED), mapping), acl('A.orders-', Op.READ, Perm.ALLOW, Pattern.PREFIXED))
  assert.equal(targetAclBinding(acl('pay', Op.READ, Perm.ALLOW, Pattern.PREFIXED), mapping), undefined)
  // The wildcard: every remote topic of the flow; under IdentityReplicationPolicy still every topic
  assert.deepEqual(targetAclBinding(acl('*', Op.ALL), mapping), acl('A.', Op.READ, Perm.ALLOW, Pattern.PREFIXED))
  assert.deepEqual(targetAclBinding(acl('*', Op.READ), { ...mapping, formatRemoteTopic: t => t }), acl('*', Op.READ))
})

let secured: KafkaCluster | undefined
after(async () => { await secured?.stop() })

function mirrorOn (source: string, target: string, include: string): Mirror {
  const files = writeTutorialConfigs(source, target)
  const { settings } = loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['include', include], ['partitioning', 'source'], ['status.interval.ms', '0']])
  return new Mirror(settings)
}

test('ACL sync against a broker with StandardAuthorizer: the mapped bindings are created on the remote topics, once, and a second sync creates nothing', async () => {
  secured = await startCluster({ name: 'mm2-acls', brokers: 1, security: { listeners: [], authorizer: true } })
  const bootstrap = secured.bootstrap
  const topic = await createTestTopic(bootstrap, { prefix: 'orders' })
  const admin = new Admin({ clientId: 'test-acls', bootstrapBrokers: bootstrap.split(',') })
  // The engine copies the topic to itself under its own name; the ACL sync's policy names remote topics A.<topic>
  const mirror = mirrorOn(bootstrap, bootstrap, `${topic}$`)
  const sync = new AclSync({ sourceAlias: 'A', enabled: true, intervalMs: 600_000 })
  try {
    // Given bindings on the source topic: literal READ, ALL, WRITE (dropped), a DENY, a prefixed one, another topic's
    const creations = [
      acl(topic, Op.READ, Perm.ALLOW, Pattern.LITERAL, 'User:alice'),
      acl(topic, Op.ALL, Perm.ALLOW, Pattern.LITERAL, 'User:bob'),
      acl(topic, Op.WRITE, Perm.ALLOW, Pattern.LITERAL, 'User:carol'),
      acl(topic, Op.READ, Perm.DENY, Pattern.LITERAL, 'User:mallory'),
      acl(topic.slice(0, 10), Op.DESCRIBE, Perm.ALLOW, Pattern.PREFIXED, 'User:dave'),
      acl(uniqueName('other'), Op.READ, Perm.ALLOW, Pattern.LITERAL, 'User:alice')
    ]
    await admin.createAcls({ creations: creations as Parameters<Admin['createAcls']>[0]['creations'] })
    await mirror.start()
    // When the flow's ACL sync runs
    await sync.start({ flow: undefined, mirror, sourceAdmin: admin, targetAdmin: admin, policy: { formatRemoteTopic: (alias, t) => `${alias}.${t}` } })
    // Then the target has exactly the mapped bindings on A.<topic>
    const remote = (await describeTopicAcls(admin)).filter(b => b.resourceName.startsWith('A.')).map(aclKey).sort()
    const expected = [
      acl(`A.${topic}`, Op.READ, Perm.ALLOW, Pattern.LITERAL, 'User:alice'),
      acl(`A.${topic}`, Op.READ, Perm.ALLOW, Pattern.LITERAL, 'User:bob'),
      acl(`A.${topic}`, Op.READ, Perm.DENY, Pattern.LITERAL, 'User:mallory'),
      acl(`A.${topic.slice(0, 10)}`, Op.DESCRIBE, Perm.ALLOW, Pattern.PREFIXED, 'User:dave')
    ].map(aclKey).sort()
    assert.deepEqual(remote, expected)
    assert.equal(sync.created, 4)
    // And a second pass finds nothing to add
    assert.equal(await sync.sync(), 0)
  } finally {
    await sync.stop()
    await mirror.stop().catch(() => {})
    await admin.close()
  }
})

test('ACL sync against clusters without an authorizer: one warning naming sync.topic.acls.enabled, no error, no further attempts', async () => {
  const { source, target } = await testClusters()
  const topic = await createTestTopic(source)
  const mirror = mirrorOn(source, target, `${topic}$`)
  const sourceAdmin = new Admin({ clientId: 'test-source', bootstrapBrokers: source.split(',') })
  const targetAdmin = new Admin({ clientId: 'test-target', bootstrapBrokers: target.split(',') })
  const warnings: string[] = []
  const logger = { warn: (_fields: unknown, message: string) => { warnings.push(message) }, info: () => {}, debug: () => {}, error: () => {} }
  const sync = new AclSync({ sourceAlias: 'A', enabled: true, intervalMs: 1000, logger: logger as never })
  try {
    await mirror.start()
    await sync.start({ flow: undefined, mirror, sourceAdmin, targetAdmin, policy: { formatRemoteTopic: (alias, t) => `${alias}.${t}` } })
    assert.ok(sync.disabledReason !== undefined, 'the sync saw that there is no authorizer')
    assert.equal(warnings.length, 1)
    assert.match(warnings[0], /no authorizer.*sync\.topic\.acls\.enabled=false/)
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.equal(warnings.length, 1, 'no further attempts')
  } finally {
    await sync.stop()
    await mirror.stop().catch(() => {})
    await sourceAdmin.close()
    await targetAdmin.close()
  }
})
