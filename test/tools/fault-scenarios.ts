// Pieces the network and disk fault tests (R7, R8, R9 of issue 6) share: a cluster whose clients
// go through a fault proxy, a sampler of the target's record count (throughput before, during
// and after a fault), and the end of a run (the mirror catches up and stops, or is finished with
// --once when it gave up by itself).
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'
import { freePort, startCluster, type KafkaCluster, type StartClusterOptions } from '../../harness/cluster.ts'
import { topicRecordCount } from '../helpers/clusters.ts'
import type { KcatRecord } from '../helpers/kcat.ts'
import { groupCaughtUp, signalMirror, startMirror, tailOf, type MirrorProcess } from '../reliability/helpers.ts'
import { ProxyProcess, type Faults, type ProxyStats } from './fault-proxy.ts'

export interface ProxiedCluster {
  cluster: KafkaCluster
  /** One proxy per broker, in broker order, each a process of its own. */
  proxies: ProxyProcess[]
  /** bootstrap.servers through the proxies: clients that start here only ever reach the brokers through them. */
  viaProxy: string
  /** Sets the same faults on every proxy of the cluster. */
  set: (faults: Partial<Faults>) => Promise<void>
  heal: () => Promise<void>
  /** What the proxies did (connections accepted, reset, bytes), summed. */
  stats: () => Promise<ProxyStats>
  stop: () => Promise<void>
}

/**
 * A KRaft cluster with a second listener, PROXIED, that advertises the ports of fault proxies in
 * front of it. The mirror is given `viaProxy`; tests count and read through `cluster.bootstrap`,
 * which the proxies never touch.
 */
export async function startProxiedCluster (options: StartClusterOptions & { name: string }): Promise<ProxiedCluster> {
  const brokers = options.brokers ?? 1
  const ports: number[] = []
  const proxies: ProxyProcess[] = []
  for (let i = 0; i < brokers; i++) {
    ports.push(await freePort())
    proxies.push(await ProxyProcess.start({ upstream: { host: '127.0.0.1', port: ports[i] }, name: `${options.name}-${i + 1}` }))
  }
  let cluster: KafkaCluster
  try {
    cluster = await startCluster({ ...options, extraListeners: [{ name: 'PROXIED', ports, advertisedPorts: proxies.map(p => p.port) }] })
  } catch (error) {
    await Promise.all(proxies.map(async p => await p.close()))
    throw error
  }
  return {
    cluster,
    proxies,
    viaProxy: proxies.map(p => p.address).join(','),
    set: async faults => { await Promise.all(proxies.map(async p => await p.set(faults))) },
    heal: async () => { await Promise.all(proxies.map(async p => await p.heal())) },
    stats: async () => {
      const all = await Promise.all(proxies.map(async p => await p.stats()))
      const sum = { ...all[0] }
      for (const s of all.slice(1)) for (const k of Object.keys(sum) as Array<keyof ProxyStats>) sum[k] += s[k]
      return sum
    },
    stop: async () => {
      await Promise.all(proxies.map(async p => await p.close()))
      await cluster.stop()
    }
  }
}

/** The target's record count, sampled every `intervalMs` straight from the brokers (never through a proxy). */
export class Progress {
  readonly samples: Array<{ at: number, count: number }> = []
  #stopped = false
  #loop: Promise<void>

  constructor (bootstrap: string, topic: string, intervalMs = 500) {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const started = Date.now()
        const n = await topicRecordCount(bootstrap, topic)
        if (n >= 0n) this.samples.push({ at: started, count: Number(n) })
        await sleep(Math.max(0, intervalMs - (Date.now() - started)))
      }
    })()
  }

  /** The last count sampled at or before `at` (0 before the first sample). */
  countAt (at: number): number {
    let count = 0
    for (const s of this.samples) if (s.at <= at) count = s.count
    return count
  }

  /** Records per second copied between two moments. */
  rate (from: number, to: number): number {
    return to > from ? (this.countAt(to) - this.countAt(from)) * 1000 / (to - from) : 0
  }

  /** When the count first went past `count` after `after`, or undefined. */
  firstAbove (count: number, after: number): number | undefined {
    return this.samples.find(s => s.at > after && s.count > count)?.at
  }

  /** When the count was last seen at 0 (before the first record arrived), or undefined. */
  lastEmpty (): number | undefined {
    let at: number | undefined
    for (const s of this.samples) if (s.count === 0) at = s.at
    return at
  }

  /** When the count first reached `count`, or undefined. */
  reached (count: number): number | undefined {
    return this.samples.find(s => s.count >= count)?.at
  }

  async stop (): Promise<void> {
    this.#stopped = true
    await this.#loop
  }
}

/** The machine's load, for notes on rates: other work on the same cores slows every rate. */
export function machineLoad (): string {
  return `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`
}

export const perSecond = (n: number): string => `${Math.round(n)} records/s`
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

export interface Finish {
  /** Empty when the mirror rode the fault out; else how it stopped, for the results. */
  stoppedOnError: string
  /** The mirror's exit code when it stopped by itself. */
  exitCode?: number
}

/**
 * Waits until the running mirror has committed the end of every partition and stops it with
 * SIGTERM. A mirror that stopped by itself (a fatal error) is restarted with --once, as an
 * operator would, so the records can still be counted; `stoppedOnError` tells how it stopped.
 */
export async function finishMirror (mirror: MirrorProcess, args: string[], source: string, group: string, topic: string, faultAt: number, timeoutMs = 300_000): Promise<Finish> {
  const deadline = Date.now() + timeoutMs
  let signalled: number | 'timeout' | undefined
  while (Date.now() < deadline) {
    if (mirror.done()) break
    if (await groupCaughtUp(source, group, topic).catch(() => false)) {
      // A mirror stopping on an error commits too: give it a moment to show that.
      await sleep(1000)
      if (!mirror.done() && !mirror.output().includes('the mirror stops on an error')) signalled = await signalMirror(mirror, 'SIGTERM')
      break
    }
    await sleep(250)
  }
  assert.ok(mirror.done() || signalled !== undefined, `the mirror neither caught up nor stopped in ${timeoutMs / 1000} s:\n${tailOf(mirror)}`)
  if (signalled === 0) return { stoppedOnError: '' }
  let how: string
  if (signalled === 'timeout') {
    how = 'the mirror caught up but did not exit within 30 s of SIGTERM (killed)'
  } else if (signalled !== undefined) {
    how = `the mirror caught up but exited ${signalled} on SIGTERM`
  } else {
    const error = /the mirror stops on an error err=(.{0,200})/.exec(mirror.output())?.[1] ?? tailOf(mirror, 3)
    how = `the mirror exited ${await mirror.exited} by itself ${(((mirror.exitedAt() ?? Date.now()) - faultAt) / 1000).toFixed(0)} s after the fault ("${error}…")`
  }
  const last = startMirror([...args, '--once'])
  assert.equal(await last.exited, 0, tailOf(last))
  return { stoppedOnError: `${how}; a restart with --once finished the copy`, exitCode: typeof signalled === 'number' ? signalled : mirror.done() ? await mirror.exited : undefined }
}

/** Lines of the mirror's output that mention a problem (warnings, errors), shortened, for notes and logs. */
export function problemLines (mirror: MirrorProcess, max = 8): string[] {
  const lines = mirror.output().split('\n').filter(l => /(\]|\dZ) (WARN|ERROR|FATAL) /.test(l))
  return lines.slice(0, max).map(l => l.length > 400 ? `${l.slice(0, 400)}…` : l)
}

/** Writes the mirror's whole output to a file under the temp dir, for a look after a failure; returns its path. */
export function saveMirrorOutput (mirror: MirrorProcess, name: string): string {
  const file = join(tmpdir(), `kafka-mirror-${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`)
  writeFileSync(file, mirror.output())
  return file
}

/**
 * The source offsets of records that are not on the target, as ranges per source partition
 * ("p3: 1200-5400 (4201)"), matched by timestamp (unique per record in these tests).
 */
export function missingRanges (sourceRecords: KcatRecord[], targetRecords: Array<{ timestamp: bigint }>, max = 12): string {
  const onTarget = new Set(targetRecords.map(r => r.timestamp))
  const byPartition = new Map<number, bigint[]>()
  for (const r of sourceRecords) if (!onTarget.has(r.timestamp)) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.offset])
  const ranges: string[] = []
  for (const [partition, offsets] of [...byPartition].sort((a, b) => a[0] - b[0])) {
    offsets.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    let from = offsets[0]
    let to = from
    for (const o of [...offsets.slice(1), -1n]) {
      if (o === to + 1n) { to = o; continue }
      ranges.push(`p${partition}: ${from}-${to} (${to - from + 1n})`)
      from = o
      to = o
    }
  }
  return ranges.length === 0 ? 'none' : ranges.slice(0, max).join(', ') + (ranges.length > max ? `, … (${ranges.length} ranges)` : '')
}

/**
 * The consumer group as the source sees it, for messages when a mirror stalls: state, members,
 * and per partition committed offset / end offset.
 */
export async function groupState (bootstrap: string, group: string, topic: string): Promise<string> {
  const admin = new Admin({ clientId: 'reliability-test', bootstrapBrokers: bootstrap.split(','), retries: 2, timeout: 10_000 })
  try {
    const g = (await admin.describeGroups({ groups: [group] })).get(group)
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0
    const ends = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] })
    const committed = new Map<number, bigint>()
    for (const c of await admin.listConsumerGroupOffsets({ groups: [group] })) {
      for (const t of c.topics) if (t.name === topic) for (const p of t.partitions) committed.set(p.partitionIndex, p.committedOffset)
    }
    const partitions = ends[0].partitions.map(p => `p${p.partitionIndex} ${committed.get(p.partitionIndex) ?? 'none'}/${p.offset}`).join(', ')
    return `group ${String(g?.state)} with ${g?.members.size ?? 0} members; committed/end: ${partitions}`
  } catch (error) {
    return `group state unknown: ${String(error)}`
  } finally {
    await admin.close().catch(() => {})
  }
}

/**
 * How often the source's group coordinator rebalanced the group, and why (its own words, the
 * first few distinct reasons), from the brokers' server.log.
 */
export function rebalances (cluster: KafkaCluster, group: string, max = 4): { count: number, reasons: string[] } {
  let count = 0
  const reasons = new Map<string, number>()
  for (const broker of cluster.brokers) {
    const file = join(broker.dir, 'logs', 'server.log')
    if (!existsSync(file)) continue
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes('Preparing to rebalance group') || !line.includes(` ${group} `)) continue
      count++
      const reason = (/\(reason: (.*?)\)?\.?\s*\([\w.$]+\)\s*$/.exec(line)?.[1] ?? /reason: (.*)$/.exec(line)?.[1] ?? '?').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '…').slice(0, 160)
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
    }
  }
  return { count, reasons: [...reasons].sort((a, b) => b[1] - a[1]).slice(0, max).map(([r, n]) => `${n}× ${r}`) }
}
