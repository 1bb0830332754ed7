// Which version of a protocol API the engine speaks to one broker: the highest version that both
// kafka-mirror implements (one file per version, or the library's own for the group and producer-id
// APIs) and the broker serves, taken from that broker's own ApiVersions answer. Asked once per
// connection, so a cluster in the middle of a rolling upgrade gets each broker's own answer.
import { apiVersionsV1, type Connection } from '@platformatic/kafka'
import { ErrorCodes, KafkaMirrorError } from '../../errors.ts'

export interface ApiRange {
  minVersion: number
  maxVersion: number
}

/** The broker serves none of the versions kafka-mirror has for an API it needs; no retry helps. */
export class UnsupportedBrokerError extends KafkaMirrorError {
  readonly apiName: string
  readonly brokerRange: ApiRange | undefined

  constructor (what: string, apiName: string, brokerRange: ApiRange | undefined, supported: string) {
    const served = brokerRange === undefined ? 'does not serve it at all' : `serves v${brokerRange.minVersion}..v${brokerRange.maxVersion}`
    super(ErrorCodes.CONNECTION, `${what} is too old or too new for kafka-mirror: for ${apiName} it ${served}; kafka-mirror speaks ${supported} ` +
      '(brokers from Kafka 0.11 on, the first with record-batch v2, are supported; see docs/compatibility.md)', { retriable: false })
    this.name = 'UnsupportedBrokerError'
    this.apiName = apiName
    this.brokerRange = brokerRange
  }
}

/** One API and the versions kafka-mirror has of it, each with the oldest Kafka serving it. */
export interface VersionedApi<T> {
  name: string
  key: number
  /** Highest first. */
  versions: Array<{ version: number, since: string, api: T }>
}

/** "v12 (Kafka 2.7+) or v5 (Kafka 0.11+)". */
export function describeVersions (api: VersionedApi<unknown>): string {
  return `${api.name} ` + api.versions.map(v => `v${v.version} (Kafka ${v.since}+)`).join(' or ')
}

/** The highest version both sides have, or undefined. */
export function pickVersion<T> (api: VersionedApi<T>, range: ApiRange | undefined): { version: number, api: T } | undefined {
  if (range === undefined) return undefined
  return api.versions.find(v => v.version >= range.minVersion && v.version <= range.maxVersion)
}

const answers = new WeakMap<Connection, Promise<Map<number, ApiRange>>>()

/** The broker's ApiVersions answer on this connection (v1: served by Kafka 0.10.1 to 4.x), asked once. */
export async function brokerApis (connection: Connection): Promise<Map<number, ApiRange>> {
  let answer = answers.get(connection)
  if (answer === undefined) {
    answer = apiVersionsV1.api.async(connection, 'kafka-mirror', '0').then(response => new Map(response.apiKeys.map(a => [a.apiKey, { minVersion: a.minVersion, maxVersion: a.maxVersion }])))
    answers.set(connection, answer)
    // A failed ask is asked again on the next call, not remembered.
    answer.catch(() => { if (answers.get(connection) === answer) answers.delete(connection) })
  }
  return await answer
}

const chosen = new WeakMap<Connection, Map<number, unknown>>()

/** The version of `api` to use on this connection, remembered for it; throws UnsupportedBrokerError. */
export async function versionFor<T> (connection: Connection, api: VersionedApi<T>, what: string): Promise<{ version: number, api: T }> {
  const known = chosen.get(connection)?.get(api.key) as { version: number, api: T } | undefined
  if (known !== undefined) return known
  const range = (await brokerApis(connection)).get(api.key)
  const picked = pickVersion(api, range)
  if (picked === undefined) throw new UnsupportedBrokerError(`${what} (${connection.host ?? '?'}:${connection.port ?? '?'})`, api.name, range, describeVersions(api))
  let map = chosen.get(connection)
  if (map === undefined) chosen.set(connection, map = new Map())
  map.set(api.key, picked)
  return picked
}

/** The version already chosen for this connection, when there is one: the synchronous path. */
export function knownVersionFor<T> (connection: Connection, api: VersionedApi<T>): { version: number, api: T } | undefined {
  return chosen.get(connection)?.get(api.key) as { version: number, api: T } | undefined
}

/**
 * Checks the bootstrap brokers' ApiVersions (`apis`, from Base#listApis) allow some version of
 * each of `needed`, so a mirror pointed at a broker too old fails at start with the reason.
 */
export function checkApis (apis: Array<{ apiKey: number, minVersion: number, maxVersion: number }>, needed: Array<VersionedApi<unknown>>, what: string): void {
  for (const api of needed) {
    const range = apis.find(a => a.apiKey === api.key)
    if (pickVersion(api, range) === undefined) throw new UnsupportedBrokerError(what, api.name, range, describeVersions(api))
  }
}
