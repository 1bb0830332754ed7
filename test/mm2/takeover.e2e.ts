// Taking over from REAL MirrorMaker 2 (connect-mirror 4.3.1, dedicated mode) and MirrorMaker 1
// (Kafka 3.9): the Java mirror copies part of a topic while records are being written, is stopped,
// and kafka-mirror copies the rest. kcat counts the target: none lost, none duplicated after a
// clean stop (after SIGKILL the duplicates are counted: the records MM2 copied after its last
// offset flush, which MM2 itself would copy again).
//
//   npm run test:mm2        (KAFKA_MIRROR_MM2_RESULTS=1 writes test/mm2/results/<date>.md)
import { appendFileSync, existsSync, mkdirSync } from 'node:fs'
import { test } from 'node:test'
import { mm1Takeover, mm2Takeover } from './takeover-scenarios.ts'

const TOTAL = Number(process.env.KAFKA_MIRROR_MM2_RECORDS ?? 20_000)
const results: string[] = []

function note (line: string): void {
  results.push(line)
  process.stderr.write(line + '\n')
}

for (const [signal, partitioning] of [['SIGTERM', 'source'], ['SIGKILL', 'key'], ['SIGTERM', 'key'], ['SIGKILL', 'source']] as const) {
  test(`MirrorMaker 2 stopped with ${signal} mid-stream; kafka-mirror (--partitioning ${partitioning}) starts each partition where MM2's mm2-offsets topic says: none lost${signal === 'SIGTERM' ? ', none duplicated' : ', duplicates = what MM2 copied after its last offset flush'}, bytes kept`, async () => {
    note(await mm2Takeover(signal, partitioning, TOTAL))
  })
}

for (const [signal, partitioning] of [['SIGTERM', 'key'], ['SIGTERM', 'source'], ['SIGKILL', 'key'], ['SIGKILL', 'source']] as const) {
  test(`MirrorMaker 1 (Kafka 3.9) stopped with ${signal} mid-stream; kafka-mirror (--partitioning ${partitioning}) with the same consumer.properties continues from the group's commits: none lost, duplicates counted`, async () => {
    note(await mm1Takeover(signal, partitioning, TOTAL))
  })
}

test.after(() => {
  if (process.env.KAFKA_MIRROR_MM2_RESULTS === undefined || results.length === 0) return
  const dir = new URL('./results/', import.meta.url)
  mkdirSync(dir, { recursive: true })
  const file = new URL(`${new Date().toISOString().slice(0, 10)}.md`, dir)
  if (!existsSync(file)) {
    appendFileSync(file, ['# Taking over from MirrorMaker 2 and MirrorMaker 1 (npm run test:mm2)', '',
      'The Java mirror copies part of a topic while its second half is being written and is stopped (SIGTERM, or SIGKILL); kafka-mirror then copies the rest,',
      'starting each partition at MM2\'s mm2-offsets position (or, from MM1, at the group\'s committed offset). kcat counts the target. After SIGKILL the',
      'duplicates are asserted to be exactly the records the Java mirror copied past its last stored position (MM2 flushes every `offset.flush.interval.ms`,',
      '1 s in the SIGKILL runs; MM1 commits every 60 s, so none before the kill): MM2 or MM1 restarted would copy the same records again.', ''].join('\n'))
  }
  appendFileSync(file, ['', `Run ${new Date().toISOString()}, ${TOTAL} records (keyed, 30 keys, 100 B values, tombstones, 3 headers each), 3 partitions, two 2-broker Kafka 4.4 clusters, 2 cores shared with other work.`, '',
    '| from | stop | partitioning | records | copied by the Java mirror (its exit) | positions taken over | copied by kafka-mirror | on the target (kcat) | lost | duplicated | time |',
    '|---|---|---|---|---|---|---|---|---|---|---|', ...results, ''].join('\n'))
})
