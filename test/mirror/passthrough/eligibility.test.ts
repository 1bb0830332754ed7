import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadMirrorConfig } from '../../../src/config/mirror-config.ts'
import { fastPathBlockers } from '../../../src/mirror/passthrough/eligibility.ts'
import { writeTutorialConfigs } from '../../helpers/records.ts'

function settings (flags: Array<[string, string]>, producer: Record<string, string> = {}): ReturnType<typeof loadMirrorConfig>['settings'] {
  const files = writeTutorialConfigs('127.0.0.1:1', '127.0.0.1:2', { producer })
  return loadMirrorConfig([['consumer.config', files.consumer], ['producer.config', files.producer], ['whitelist', 't'], ...flags]).settings
}

test('the fast path fits --partitioning source with acks=all and abort.on.send.failure, the defaults otherwise', () => {
  assert.deepEqual(fastPathBlockers(settings([['partitioning', 'source']])), [])
  assert.deepEqual(fastPathBlockers(settings([['partitioning', 'source']], { acks: '1', 'enable.idempotence': 'false' })), [])
})

test('key partitioning, acks=0 and skipping refused records rule it out, each with its reason', () => {
  assert.match(fastPathBlockers(settings([]))[0], /--partitioning key/)
  assert.match(fastPathBlockers(settings([['partitioning', 'source']], { acks: '0', 'enable.idempotence': 'false' }))[0], /acks=0/)
  const blockers = fastPathBlockers(settings([['abort.on.send.failure', 'false']], { acks: '0', 'enable.idempotence': 'false' }))
  assert.equal(blockers.length, 3)
})
