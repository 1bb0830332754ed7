import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigSources, IncrementalAlterConfigOperationTypes as Op } from '@platformatic/kafka'
import { ConfigPropertyFilter, configOps, newTopicConfigs, topicConfigSyncOptions, type ConfigEntry } from '../../src/mm2/topic-sync.ts'

const entry = (name: string, value: string | null, configSource: number, extra: Partial<ConfigEntry> = {}): ConfigEntry => ({ name, value, configSource, readOnly: false, isSensitive: false, ...extra })

const source = [
  entry('retention.ms', '7200000', ConfigSources.DYNAMIC_TOPIC_CONFIG),
  entry('cleanup.policy', 'delete', ConfigSources.DEFAULT_CONFIG),
  entry('min.insync.replicas', '2', ConfigSources.DYNAMIC_TOPIC_CONFIG),
  entry('message.timestamp.type', 'LogAppendTime', ConfigSources.DYNAMIC_TOPIC_CONFIG),
  entry('segment.bytes', '1073741824', ConfigSources.STATIC_BROKER_CONFIG),
  entry('max.message.bytes', '200000', ConfigSources.DYNAMIC_DEFAULT_BROKER_CONFIG),
  entry('some.password', null, ConfigSources.DYNAMIC_TOPIC_CONFIG, { isSensitive: true }),
  entry('message.format.version', '3.0', ConfigSources.DYNAMIC_TOPIC_CONFIG, { readOnly: true })
]

test('a new target topic gets what MM2 4.3.1 creates it with: overrides and dynamic broker values, not excluded, static, read-only or sensitive ones, defaults only from the source when asked', () => {
  assert.deepEqual(newTopicConfigs(source, new ConfigPropertyFilter()), { 'retention.ms': '7200000', 'max.message.bytes': '200000' })
  assert.deepEqual(newTopicConfigs(source, new ConfigPropertyFilter(undefined, 'source')), { 'retention.ms': '7200000', 'cleanup.policy': 'delete', 'max.message.bytes': '200000' })
  // config.properties.exclude replaces MM2's default list: Java regexes, each over a whole name
  assert.deepEqual(newTopicConfigs(source, new ConfigPropertyFilter(['retention\\..*', 'max'])), { 'min.insync.replicas': '2', 'message.timestamp.type': 'LogAppendTime', 'max.message.bytes': '200000' })
})

test('the sync sends only what changes: SET for a different or missing value, DELETE of a target override where the source is at its default (use.defaults.from=target)', () => {
  const target = [
    entry('retention.ms', '3600000', ConfigSources.DYNAMIC_TOPIC_CONFIG),
    entry('cleanup.policy', 'compact', ConfigSources.DYNAMIC_TOPIC_CONFIG),
    entry('min.insync.replicas', '1', ConfigSources.DYNAMIC_TOPIC_CONFIG),
    entry('max.message.bytes', '200000', ConfigSources.DYNAMIC_TOPIC_CONFIG)
  ]
  assert.deepEqual(configOps(source, target, new ConfigPropertyFilter()), [
    { name: 'retention.ms', configOperation: Op.SET, value: '7200000' },
    { name: 'cleanup.policy', configOperation: Op.DELETE }
  ])
  // Synced once, nothing more to send
  const synced = [entry('retention.ms', '7200000', ConfigSources.DYNAMIC_TOPIC_CONFIG), entry('cleanup.policy', 'delete', ConfigSources.DEFAULT_CONFIG), entry('max.message.bytes', '200000', ConfigSources.DYNAMIC_TOPIC_CONFIG)]
  assert.deepEqual(configOps(source, synced, new ConfigPropertyFilter()), [])
  // use.defaults.from=source: the source's default is set on the target
  assert.deepEqual(configOps(source, synced, new ConfigPropertyFilter(undefined, 'source')), [{ name: 'cleanup.policy', configOperation: Op.SET, value: 'delete' }])
})

test('the flow keys: sync.topic.configs.enabled, the interval, config.properties.exclude as a comma list, use.defaults.from', () => {
  const keys: Record<string, string> = { 'sync.topic.configs.interval.seconds': '5', 'config.properties.exclude': 'retention.ms, segment\\..*', 'use.defaults.from': 'source' }
  const o = topicConfigSyncOptions('A', k => keys[k])
  assert.equal(o.enabled, true)
  assert.equal(o.intervalMs, 5000)
  assert.equal(o.filter.shouldReplicateConfigProperty('retention.ms'), false)
  assert.equal(o.filter.shouldReplicateConfigProperty('segment.ms'), false)
  assert.equal(o.filter.shouldReplicateConfigProperty('min.insync.replicas'), true)
  assert.equal(o.filter.shouldReplicateSourceDefault(), true)
  assert.equal(topicConfigSyncOptions('A', () => undefined).filter.shouldReplicateConfigProperty('min.insync.replicas'), false)
  assert.equal(topicConfigSyncOptions('A', k => (k === 'sync.topic.configs.enabled' ? 'false' : undefined)).enabled, false)
})
