// The offsets a worker may commit, and the one commit request it has in flight. Both workers (the
// decoding one and the batch passthrough) fill it only with offsets the target acknowledged.
//
// It also keeps the commits from making the member join its group again (guardGroupJoins): when
// @platformatic/kafka 2.12's Consumer#commit gets a generation or member error it calls joinGroup
// itself and sends the same offsets again under the new generation. For the group's leader, a
// JoinGroup while the group is stable starts a rebalance; when that join begins while the member's
// previous join is still finishing, the two overlap, and the leader's next heartbeat waits on the
// coordinator connection behind its own parked JoinGroup, comes back "generation id is not valid"
// and starts yet another join: the group rebalances once a heartbeat interval for minutes, and
// the leader's stream never fetches (its offset reads wait behind each JoinGroup). Seen after a
// network cut, when a commit sent before the cut failed that way after the heal (R7).
import { tracingChannel } from 'node:diagnostics_channel'
import type { Consumer } from '@platformatic/kafka'

export interface CommittableOffset {
  topic: string
  partition: number
  /** The next offset to read: one past the last record the target acknowledged. */
  offset: bigint
  leaderEpoch: number
}

export const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`

/** The commit's own rejoin was refused: the offsets stay pending, the heartbeat rejoins if needed. */
export class CommitRejoinRefused extends Error {
  constructor () {
    super('the group moved on while the offsets were being committed (generation or member id no longer valid); they stay pending and are committed again once the member is back in the group')
    this.name = 'CommitRejoinRefused'
  }
}

type JoinCallback = (error: Error | null, memberId?: string) => void
type JoinGroup = (options?: Record<string, unknown>, callback?: JoinCallback) => unknown

interface JoinState {
  /** Joins of the client under way (its own rejoins after a heartbeat error included). */
  flows: number
  /** Joins asked for while one was under way: they start once it is done. */
  waiting: Array<() => void>
  /** True while this member's commit request is with the client. */
  committing: boolean
}

const joinStates = new WeakMap<object, JoinState>()
/** How long a join waits for the one under way before it starts anyway. */
const JOIN_WAIT_MS = 60_000
let tracking = false

/** Counts each consumer's join flows, from the client's diagnostics channel (one subscription for all). */
function trackJoins (): void {
  if (tracking) return
  tracking = true
  const channel = tracingChannel<object, { client?: object, operation?: string, counted?: boolean }>('plt:kafka:consumer:group')
  const done = (ctx: { client?: object, operation?: string, counted?: boolean }): void => {
    if (ctx.counted !== true || ctx.client === undefined) return
    ctx.counted = false
    const state = joinStates.get(ctx.client)
    if (state === undefined) return
    state.flows = Math.max(0, state.flows - 1)
    if (state.flows === 0) for (const start of state.waiting.splice(0)) start()
  }
  channel.subscribe({
    start: ctx => {
      if (ctx.operation !== 'joinGroup' || ctx.client === undefined) return
      const state = joinStates.get(ctx.client)
      if (state === undefined) return
      state.flows++
      ctx.counted = true
    },
    end: () => {},
    asyncStart: done,
    asyncEnd: () => {},
    // A join that threw before it began never calls back.
    error: ctx => { if ((ctx as { error?: unknown }).error !== undefined) done(ctx) }
  })
}

/**
 * Makes the consumer's joinGroup (the public one: the client's commit, its consume() and this
 * project's rejoin after a failed one call it) refuse the rejoin a failed commit asks for, and
 * start any other join only once the join under way, if any, is done, so two never overlap. The
 * client's own rejoins after a heartbeat error are not touched: they are what brings a member back.
 */
function guardGroupJoins (consumer: Consumer): JoinState {
  const known = joinStates.get(consumer)
  if (known !== undefined) return known
  trackJoins()
  const state: JoinState = { flows: 0, waiting: [], committing: false }
  joinStates.set(consumer, state)
  const client = consumer as unknown as { joinGroup: JoinGroup }
  const join = client.joinGroup.bind(consumer) as JoinGroup
  /** Starts a join once no other is under way (one started in the same tick shares its request). */
  const serialized: JoinGroup = (options, callback) => {
    if (state.flows === 0) return join(options, callback)
    const started = new Promise<string | undefined>((resolve, reject) => {
      let begun = false
      const begin = (): void => {
        if (begun) return
        begun = true
        clearTimeout(timer)
        join(options, (error, memberId) => { if (error !== null) reject(error); else resolve(memberId) })
      }
      // Should a join never report back, this one is not held forever.
      const timer = setTimeout(begin, JOIN_WAIT_MS)
      timer.unref()
      state.waiting.push(begin)
    })
    if (typeof callback === 'function') {
      started.then(memberId => { callback(null, memberId) }, (error: Error) => { callback(error) })
      return undefined
    }
    return started
  }
  client.joinGroup = (options, callback) => {
    // Consumer#commit asks with an empty options object and a callback after a generation or
    // member error, and would then send the same offsets again under the new membership. The
    // member's heartbeat gets the same error if the member is really out of date, and rejoins;
    // if not (the commit was only late), a join here is one too many. Only when the error made
    // the client forget its member id (its heartbeat could not say who it is) does the member
    // join again here, without the commit.
    if (state.committing && typeof callback === 'function' && options !== undefined && Object.keys(options).length === 0) {
      callback(new CommitRejoinRefused())
      if (consumer.memberId === null || consumer.memberId === '') {
        serialized({}, error => { if (error !== null) consumer.emit('error', error) })
      }
      return undefined
    }
    return serialized(options, callback)
  }
  return state
}

export class OffsetCommitter {
  /** Acknowledged offsets not committed yet, keyed "topic:partition". */
  readonly pending = new Map<string, CommittableOffset>()
  #consumer: Consumer
  #committing: Promise<void> | undefined
  /** The one request that calls made while another was out wait for. */
  #next: Promise<void> | undefined
  #joins: JoinState

  constructor (consumer: Consumer) {
    this.#consumer = consumer
    this.#joins = guardGroupJoins(consumer)
  }

  /** A commit request is under way. */
  get busy (): boolean {
    return this.#committing !== undefined
  }

  set (offset: CommittableOffset): void {
    this.pending.set(partitionKey(offset.topic, offset.partition), offset)
  }

  /**
   * Commits the pending offsets (less those `hold` keeps back) and `extra`; concurrent calls
   * share one request. An offset set again while the request was out stays pending.
   */
  async commit (extra: CommittableOffset[] = [], hold?: (key: string) => boolean): Promise<void> {
    if (this.#committing !== undefined) {
      // Calls made while a request is out share one request after it: the periodic commit would
      // otherwise send one each per interval that passed (twenty after a 10 s network cut), all
      // with the same offsets, each failing the same way.
      if (extra.length > 0) await this.#committing.catch(() => {})
      else {
        const after = this.#committing
        this.#next ??= after.catch(() => {}).then(async () => {
          this.#next = undefined
          await this.commit([], hold)
        })
        await this.#next
        return
      }
    }
    const offsets = [...[...this.pending.entries()].filter(([key]) => hold === undefined || !hold(key)).map(([, o]) => o), ...extra]
    if (offsets.length === 0) return
    const run = (async () => {
      this.#joins.committing = true
      try {
        await this.#consumer.commit({ offsets })
      } finally {
        this.#joins.committing = false
      }
      for (const o of offsets) {
        const key = partitionKey(o.topic, o.partition)
        if (this.pending.get(key) === o) this.pending.delete(key)
      }
    })()
    this.#committing = run
    try {
      await run
    } finally {
      if (this.#committing === run) this.#committing = undefined
    }
  }
}
