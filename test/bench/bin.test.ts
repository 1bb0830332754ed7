import assert from 'node:assert/strict'
import { test } from 'node:test'
import { shebangFlags } from '../../bench/bin.ts'

test('the bench starts kafka-mirror with the Node flags of the bin\'s first line', () => {
  assert.deepEqual(shebangFlags('#!/usr/bin/env -S node --max-semi-space-size=8'), ['--max-semi-space-size=8'])
  assert.deepEqual(shebangFlags('#!/usr/bin/env node'), [])
  assert.throws(() => shebangFlags('// no shebang'), /does not start with a #!\/usr\/bin\/env node line/)
})
