// npm test's share of the take-over from real MirrorMaker 2 and 1 (all eight: npm run test:mm2):
// one clean stop of each, in alternating partitionings, 20,000 records each (about 30 s together).
import { test } from 'node:test'
import { mm1Takeover, mm2Takeover } from './takeover-scenarios.ts'

test('MirrorMaker 2 4.3.1 stopped with SIGTERM while the topic is written; kafka-mirror (--partitioning source) starts where mm2-offsets says: none lost, none duplicated, bytes kept', async () => {
  process.stderr.write(await mm2Takeover('SIGTERM', 'source', 20_000) + '\n')
})

test('MirrorMaker 1 3.9.1 stopped with SIGTERM while the topic is written; kafka-mirror (--partitioning key) with the same consumer.properties continues: none lost, none duplicated', async () => {
  process.stderr.write(await mm1Takeover('SIGTERM', 'key', 20_000) + '\n')
})
