// Topic selection as MirrorMaker 1 did it: a Java regex that must match the whole topic name, with
// `,` also separating names ("a,b" means "a|b"). Kafka's internal topics are never selected.
import type { ConfigProblem } from '../errors.ts'
import { abbreviate } from './messages.ts'

export const internalTopics = new Set(['__consumer_offsets', '__transaction_state', '__share_group_state', '__cluster_metadata', '__remote_log_metadata'])

export interface TopicFilter {
  include: RegExp
  exclude?: RegExp
  /** The user's text, for messages. */
  description: string
  /** Decides alone when given (MirrorMaker 2's filters and policies); include and exclude are then not used. */
  accept?: (topic: string) => boolean
}

/** Translates the parts of Java's regex syntax that JavaScript spells differently. */
export function javaRegexToJs (pattern: string): { source: string, flags: string } {
  let source = pattern
  let flags = ''
  // Java allows inline flags at the start: (?i) for case-insensitive.
  const inline = /^\(\?([imsx]+)\)/.exec(source)
  if (inline !== null) {
    source = source.slice(inline[0].length)
    for (const f of inline[1]) if (f !== 'x' && !flags.includes(f)) flags += f
  }
  source = source
    .replace(/\\A/g, '^')
    .replace(/\\[Zz]/g, '$')
    // Possessive quantifiers only change backtracking; greedy ones match the same names.
    .replace(/([*+?}])\+/g, '$1')
    .replace(/\\Q(.*?)(?:\\E|$)/g, (_, literal: string) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return { source, flags }
}

/** MirrorMaker 1's clean-up of --whitelist: commas become alternation, quotes and spaces go. */
export function normalizeTopicList (text: string): string {
  return text.trim().replace(/^["']+|["']+$/g, '').replace(/\s+/g, '').split(',').filter(s => s !== '').join('|')
}

export function compileTopicRegex (text: string, flag: string, problems: ConfigProblem[]): RegExp | undefined {
  const normalized = normalizeTopicList(text)
  if (normalized === '') {
    problems.push({ source: 'command line', key: flag, message: 'is empty', fix: 'give a topic name or a regex such as "orders.*"' })
    return undefined
  }
  const { source, flags } = javaRegexToJs(normalized)
  try {
    return new RegExp(`^(?:${source})$`, flags)
  } catch (error) {
    problems.push({ source: 'command line', key: flag, message: `"${abbreviate(text)}" is not a valid regex: ${(error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`, fix: 'escape special characters with \\, for example "orders\\.v1"' })
    return undefined
  }
}

export function topicMatches (filter: TopicFilter, topic: string): boolean {
  if (internalTopics.has(topic)) return false
  if (filter.accept !== undefined) return filter.accept(topic)
  if (!filter.include.test(topic)) return false
  return filter.exclude === undefined || !filter.exclude.test(topic)
}
