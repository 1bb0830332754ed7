import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseProperties } from '../../src/config/properties.ts'

test('Java properties: comments, separators, continuations and escapes', () => {
  const text = [
    '# comment', '! also a comment', '',
    'zookeeper.connect=zk1:2181,zk2:2181',
    'group.id = mirrorgroup',
    'client.id:mirror',
    'key\\ with\\ spaces value here',
    'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\',
    '    username="alice" \\',
    '    password="s3cret";',
    'unicode=caf\\u00e9',
    '   indented.key=1'
  ].join('\n')
  const entries = parseProperties(text)
  const map = Object.fromEntries(entries.map(e => [e.key, e.value]))
  assert.equal(map['zookeeper.connect'], 'zk1:2181,zk2:2181')
  assert.equal(map['group.id'], 'mirrorgroup')
  assert.equal(map['client.id'], 'mirror')
  assert.equal(map['key with spaces'], 'value here')
  assert.equal(map['sasl.jaas.config'], 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cret";')
  assert.equal(map.unicode, 'café')
  assert.equal(map['indented.key'], '1')
  assert.equal(entries.find(e => e.key === 'group.id')?.line, 5)
})
