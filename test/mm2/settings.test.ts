// The MM2 keys the offset plug-ins read: MM2's defaults, text from mm2.properties or values the
// runner already typed, and MM2's group filter.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ConfigValue } from '../../src/config/definition.ts'
import { flowOf, groupFilter, heartbeatsSettings, offsetsSettings } from '../../src/mm2/settings.ts'

test('without keys, MM2 4.x\'s defaults; `A->B.key` wins over `key`; typed values read as their text', () => {
  const defaults = offsetsSettings(flowOf('A', 'B'))
  assert.equal(defaults.offsetSyncsTopicLocation, 'source')
  assert.equal(defaults.emitCheckpointsIntervalMs, 60_000)
  assert.equal(defaults.syncGroupOffsetsEnabled, false)
  assert.equal(defaults.checkpointsTopicReplicationFactor, 3)
  assert.deepEqual(heartbeatsSettings(flowOf('A', 'B')), { emitHeartbeatsEnabled: true, emitHeartbeatsIntervalMs: 1000, heartbeatsTopicReplicationFactor: 3 })
  const layered = offsetsSettings(flowOf('A', 'B', { 'emit.checkpoints.interval.seconds': '5', 'A->B.emit.checkpoints.interval.seconds': '2', 'offset-syncs.topic.location': 'target' }))
  assert.equal(layered.emitCheckpointsIntervalMs, 2000)
  assert.equal(layered.offsetSyncsTopicLocation, 'target')
  const typed = { source: 'A', target: 'B', get: (key: string): ConfigValue | undefined => ({ 'sync.group.offsets.enabled': true, 'sync.group.offsets.interval.seconds': 7, groups: ['billing.*', 'orders'] } as Record<string, ConfigValue>)[key] }
  const settings = offsetsSettings(typed)
  assert.equal(settings.syncGroupOffsetsEnabled, true)
  assert.equal(settings.syncGroupOffsetsIntervalMs, 7000)
  assert.deepEqual(['billing-1', 'orders', 'orders-2', 'console-consumer-1'].map(settings.groupMatches), [true, true, false, false])
})

test('MM2\'s group filter: whole-name Java regexes, excluded wins, the default excludes console and Connect groups', () => {
  const matches = groupFilter('.*', 'console-consumer-.*, connect-.*, __.*')
  assert.deepEqual(['app', 'console-consumer-123', 'connect-mm2', '__internal', 'my-connect-x'].map(matches), [true, false, false, false, true])
})
