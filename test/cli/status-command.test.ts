// `kafka-mirror status` without Kafka: bad input, a mirror that does not answer, the table format
// (and that docs/metrics.md's sample is what it prints). The runs against clusters and a running
// mirror are in test/http/server.test.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatStatus } from '../../src/cli/status-command.ts'
import { statusSample } from '../../src/metrics/docs.ts'
import { runKafkaMirror } from '../helpers/cli.ts'
import { freePort } from '../http/helpers.ts'

test('status: bad input names the flags, exit 2; no mirror at --url, exit 1', async () => {
  const none = await runKafkaMirror(['status'])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /--url: or the mirror's --consumer\.config, --producer\.config and --include are needed/)
  const both = await runKafkaMirror(['status', '--url', '9090', '--consumer.config', 'c.properties'])
  assert.equal(both.code, 2)
  assert.match(both.stderr, /--url: cannot go with --consumer\.config/)
  const unknown = await runKafkaMirror(['status', '--urll', 'x'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /--urll: is not a known flag \(did you mean --url\?\)/)
  const down = await runKafkaMirror(['status', '--url', `http://127.0.0.1:${await freePort()}`])
  assert.equal(down.code, 1)
  assert.match(down.stderr, /No mirror answers at .*Is it running with --http\.listener/)
  const help = await runKafkaMirror(['status', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /--json/)
})

test('status: the table has a row per partition, a total, - where unknown; docs/metrics.md shows it as printed', () => {
  const table = formatStatus({
    from: 'http://127.0.0.1:9090',
    state: 'running',
    group: 'mirror-group',
    recordsPerSecond: 1200.4,
    totals: { lagRecords: 12, lagSeconds: 0.4 },
    partitions: [
      { topic: 'orders', partition: 0, sourceEndOffset: '120345', committedOffset: '120100', targetEndOffset: null, lagRecords: 12, lagSeconds: 0.4 },
      { topic: 'orders', partition: 1, sourceEndOffset: '119870', committedOffset: '119870', targetEndOffset: null, lagRecords: 0, lagSeconds: 0 }
    ]
  })
  assert.equal(table, statusSample.split('\n').slice(1).join('\n') + '\n')
  const unknown = formatStatus({ from: 'clusters', group: 'g', totals: { lagRecords: null, lagSeconds: null }, partitions: [{ topic: 't', partition: 0, sourceEndOffset: '5', committedOffset: null, targetEndOffset: '5', lagRecords: null, lagSeconds: null }] })
  assert.match(unknown, /^t\s+0\s+5\s+-\s+5\s+-\s+-$/m)
  assert.match(unknown, /read from the clusters/)
})
