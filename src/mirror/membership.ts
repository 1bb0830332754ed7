// What the copy worker makes of a join of its consumer group.
import { partitionKey } from './offset-committer.ts'

/** The "topic:partition" keys of a join's assignment. */
export function ownedPartitions (assignments: Iterable<{ topic: string, partitions: number[] }>): Set<string> {
  const owned = new Set<string>()
  for (const a of assignments) for (const p of a.partitions) owned.add(partitionKey(a.topic, p))
  return owned
}

/**
 * Whether a member kept its membership from one join to the next. A member that missed a
 * generation (paused past its session, given a new member id) cannot know who owned its partitions
 * meanwhile, so what it held or acknowledged before is not its to send or commit.
 */
export class Membership {
  #generation: number | undefined
  #memberId: string | null = null

  /** Records a join; true when it continues the last one (same member id, the same or the next generation), or is the first. */
  joined (memberId: string | null, generation: number): boolean {
    const continuous = this.#generation === undefined ||
      (memberId === this.#memberId && (generation === this.#generation || generation === this.#generation + 1))
    this.#generation = generation
    this.#memberId = memberId
    return continuous
  }
}
