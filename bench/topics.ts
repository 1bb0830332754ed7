// Topic chores of the benchmarks: fresh topics, record counts from end offsets, waiting for a count.
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'

export function benchAdmin (bootstrap: string): Admin {
  return new Admin({ clientId: 'kafka-mirror-bench', bootstrapBrokers: bootstrap.split(','), retries: 3, timeout: 10_000 })
}

export interface TopicSpec {
  name: string
  partitions: number
  replicas: number
  configs?: Record<string, string>
  /** Replica node ids per partition (the first leads), instead of the broker's own placement. */
  assignments?: number[][]
}

async function topicExists (admin: Admin, name: string): Promise<boolean> {
  const topics = await admin.listTopics({ includeInternals: false })
  return topics.includes(name)
}

/** Creates the topic and waits until every partition has a leader. Retries while a deletion of the same name finishes. */
export async function createTopic (admin: Admin, spec: TopicSpec): Promise<void> {
  const deadline = Date.now() + 60_000
  while (true) {
    try {
      const configs = Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value }))
      if (spec.assignments !== undefined) await admin.createTopics({ topics: [spec.name], assignments: spec.assignments.map((brokers, partition) => ({ partition, brokers })), configs })
      else await admin.createTopics({ topics: [spec.name], partitions: spec.partitions, replicas: spec.replicas, configs })
      break
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(500)
    }
  }
  while (true) {
    try {
      const metadata = await admin.metadata({ topics: [spec.name], forceUpdate: true })
      const t = metadata.topics.get(spec.name)
      if (t !== undefined && t.partitionsCount === spec.partitions && t.partitions.every(p => p.leader >= 0)) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`Topic ${spec.name} has no leaders after 60 s`)
    await sleep(200)
  }
}

/** Deletes the topic if it exists and waits until the cluster no longer lists it. */
export async function deleteTopic (admin: Admin, name: string): Promise<void> {
  if (!await topicExists(admin, name)) return
  await admin.deleteTopics({ topics: [name] }).catch(() => {})
  const deadline = Date.now() + 60_000
  while (await topicExists(admin, name)) {
    if (Date.now() > deadline) throw new Error(`Topic ${name} was not deleted within 60 s`)
    await sleep(200)
  }
}

/**
 * A topic's record count (or several topics' together): the sum of its partitions' end offsets
 * (nothing is ever deleted from bench topics). One request per broker, however many topics.
 */
export async function recordCount (admin: Admin, topic: string | string[], partitions: number): Promise<number> {
  const answer = await admin.listOffsets({
    topics: (Array.isArray(topic) ? topic : [topic]).map(name => ({ name, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }))
  })
  // Copied out at once: the client may reuse the objects of one answer for the next.
  let sum = 0n
  for (const t of answer) for (const p of t.partitions) sum += BigInt(p.offset)
  return Number(sum)
}

/** recordCount that answers -1 instead of throwing (for polling while a topic is still being created). */
export async function tryRecordCount (admin: Admin, topic: string | string[], partitions: number): Promise<number> {
  try {
    return await recordCount(admin, topic, partitions)
  } catch {
    return -1
  }
}

/**
 * Watches a topic's record count every `intervalMs` from now: when the first record showed up and
 * when `expected` was reached, as performance.now() times.
 */
export class CountWatcher {
  firstAt: number | undefined
  doneAt: number | undefined
  last = -1
  #stopped = false
  #loop: Promise<void>
  #admin: Admin
  #topic: string | string[]
  #partitions: number
  #expected: number
  #intervalMs: number
  #waiters: Array<() => void> = []
  /** Called once, right when the first record is seen (to snapshot CPU at the start of the copy phase). */
  onFirst: Array<() => void> = []

  constructor (admin: Admin, topic: string | string[], partitions: number, expected: number, intervalMs = 100) {
    this.#admin = admin
    this.#topic = topic
    this.#partitions = partitions
    this.#expected = expected
    this.#intervalMs = intervalMs
    this.#loop = this.#run()
  }

  async #run (): Promise<void> {
    while (!this.#stopped) {
      const count = await tryRecordCount(this.#admin, this.#topic, this.#partitions)
      const now = performance.now()
      if (count > this.last) this.last = count
      if (count > 0 && this.firstAt === undefined) {
        this.firstAt = now
        for (const f of this.onFirst) f()
      }
      if (count >= this.#expected && this.doneAt === undefined) {
        this.doneAt = now
        for (const w of this.#waiters.splice(0)) w()
      }
      await sleep(this.#intervalMs)
    }
  }

  /** Resolves when the expected count was reached. */
  async reached (): Promise<void> {
    if (this.doneAt !== undefined) return
    await new Promise<void>(resolve => this.#waiters.push(resolve))
  }

  async stop (): Promise<void> {
    this.#stopped = true
    await this.#loop
  }
}
