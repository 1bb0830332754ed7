import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AclSync } from '../../src/mm2/acl-sync.ts'
import { Mm2TakeoverPlugin, aclSyncRegistration, mm2TakeoverRegistration, topicConfigSyncRegistration, type SyncFlow } from '../../src/mm2/sync-plugins.ts'
import { TopicConfigSync } from '../../src/mm2/topic-sync.ts'

function flow (keys: Record<string, string | boolean | number | string[]>): SyncFlow {
  return {
    source: 'A',
    target: 'B',
    name: 'A->B',
    get: key => keys[key],
    shouldReplicateTopic: t => t.startsWith('orders'),
    connection: () => ({ role: 'target', source: 'mm2.properties', bootstrapServers: ['127.0.0.1:1'], clientId: 'A->B', securityProtocol: 'PLAINTEXT', requestTimeoutMs: 30000, connectTimeoutMs: 10000, metadataMaxAgeMs: 300000, retryBackoffMs: 100 })
  }
}

test('the registrations follow the flow\'s keys: sync.topic.configs.enabled and sync.topic.acls.enabled turn their plug-ins off; the take-over is always there', () => {
  assert.ok(topicConfigSyncRegistration.create(flow({})) instanceof TopicConfigSync)
  assert.equal(topicConfigSyncRegistration.create(flow({ 'sync.topic.configs.enabled': false })), undefined)
  assert.ok(aclSyncRegistration.create(flow({ 'sync.topic.acls.enabled': true })) instanceof AclSync)
  assert.equal(aclSyncRegistration.create(flow({ 'sync.topic.acls.enabled': 'false' })), undefined)
  // New remote topics get the flow's configs even when later changes are not synced
  assert.equal(typeof topicConfigSyncRegistration.mirrorOptions?.(flow({ 'sync.topic.configs.enabled': false })).targetTopicConfigs, 'function')
  const f = flow({})
  const plugin = mm2TakeoverRegistration.create(f)
  assert.ok(plugin instanceof Mm2TakeoverPlugin)
  assert.equal(plugin.takeover.topic, 'mm2-offsets.A.internal')
  assert.equal(typeof mm2TakeoverRegistration.mirrorOptions?.(f).externalPositions, 'function')
  // offset.storage.topic names another offsets topic (Strimzi's Connect cluster, say)
  assert.equal((mm2TakeoverRegistration.create(flow({ 'offset.storage.topic': 'mirrormaker2-cluster-offsets' })) as Mm2TakeoverPlugin).takeover.topic, 'mirrormaker2-cluster-offsets')
})
