// When the Mirror may copy record batches as they are (the fast path) instead of decoding records
// and producing them again. The passthrough writes each batch to the same partition number, with
// the source's keys, values, headers and timestamps untouched, so it fits only a mirror that
// transforms nothing.
import type { Base } from '@platformatic/kafka'
import type { MirrorSettings } from '../../config/mirror-config.ts'
import { FETCH_API_KEY, FETCH_VERSION } from '../../kafka/raw/fetch-v12.ts'
import { PRODUCE_API_KEY, PRODUCE_VERSION } from '../../kafka/raw/produce-v9.ts'

/** Why the settings rule the fast path out; empty when they allow it. */
export function fastPathBlockers (settings: Pick<MirrorSettings, 'partitioning' | 'abortOnSendFailure' | 'target'>): string[] {
  const blockers: string[] = []
  if (settings.partitioning !== 'source') blockers.push('--partitioning key picks target partitions from keys, so records must be decoded')
  if (settings.target.acks === 0) blockers.push('acks=0 gets no answer from the target, and the passthrough tracks every batch it writes')
  if (!settings.abortOnSendFailure) blockers.push('--abort.on.send.failure false skips refused records one by one, which needs them decoded')
  return blockers
}

/**
 * Whether the brokers serve the protocol versions the passthrough speaks (Fetch v12 on the source,
 * Kafka 2.7+; Produce v9 on the target, Kafka 2.4+): undefined when they do, else why not.
 */
export async function brokersRefusePassthrough (source: Base, target: Base): Promise<string | undefined> {
  const [sourceApis, targetApis] = await Promise.all([source.listApis(), target.listApis()])
  const serves = (apis: typeof sourceApis, key: number, version: number): boolean => apis.some(a => a.apiKey === key && a.minVersion <= version && a.maxVersion >= version)
  if (!serves(sourceApis, FETCH_API_KEY, FETCH_VERSION)) return `the source brokers do not serve Fetch v${FETCH_VERSION} (Kafka 2.7+)`
  if (!serves(targetApis, PRODUCE_API_KEY, PRODUCE_VERSION)) return `the target brokers do not accept Produce v${PRODUCE_VERSION} (Kafka 2.4+)`
  return undefined
}
