// Which client errors a mirror rides out (a broker restarting, a leader moving, a network blip) and
// which end it at once (bad credentials, a denied ACL, a client bug): retrying those only hides
// the cause from the operator.
import { AuthenticationError, UnsupportedApiError, findErrorBy } from '@platformatic/kafka'

const fatalApiIds = [
  'SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE',
  'TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'DELEGATION_TOKEN_AUTHORIZATION_FAILED',
  'UNSUPPORTED_VERSION', 'INVALID_CONFIG', 'INVALID_REQUEST'
]

/** Every error inside `error`: itself, what it aggregates (`errors`) and their causes, down to `maxDepth`. */
export function * nestedErrors (error: unknown, maxDepth = 6, depth = 0): Generator<unknown> {
  if (error === undefined || error === null || depth > maxDepth) return
  yield error
  const e = error as { errors?: unknown[], cause?: unknown }
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield * nestedErrors(inner, maxDepth, depth + 1)
  if (e.cause !== undefined) yield * nestedErrors(e.cause, maxDepth, depth + 1)
}

/** The Kafka error code name (apiId) of a protocol error anywhere inside `error`, if one matches. */
export function hasApiError (error: unknown, apiId: string): boolean {
  for (const e of nestedErrors(error)) {
    if ((e as { apiId?: string }).apiId === apiId) return true
    if (e instanceof Error && findErrorBy(e, 'apiId', apiId) !== null) return true
  }
  return false
}

/** True when trying again cannot help: authentication, authorization, unsupported or invalid use. */
export function isFatalKafkaError (error: unknown): boolean {
  for (const e of nestedErrors(error)) {
    if (e instanceof AuthenticationError || e instanceof UnsupportedApiError) return true
    // UserError is the client's word for misuse, but it also says "Cannot find broker with node
    // id N" while a broker is away: at run time it is retried like the rest (config problems are
    // found before the mirror starts).
    const apiId = (e as { apiId?: string }).apiId
    if (apiId !== undefined && fatalApiIds.includes(apiId)) return true
    // TLS failures (unknown CA, bad certificate) never fix themselves.
    const code = (e as { code?: string }).code
    if (typeof code === 'string' && /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|CERT_)/.test(code)) return true
  }
  return false
}

/** The Kafka error name (NOT_LEADER_OR_FOLLOWER, ILLEGAL_GENERATION, ...) of the first protocol error inside `error`. */
export function kafkaErrorName (error: unknown): string | undefined {
  for (const e of nestedErrors(error)) {
    const apiId = (e as { apiId?: string }).apiId
    if (typeof apiId === 'string') return apiId
  }
  return undefined
}
