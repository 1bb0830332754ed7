// The requests of one transactional id to its transaction coordinator: InitProducerId (which
// fences every older holder of the id), AddPartitionsToTxn and EndTxn. The coordinator is found
// with FindCoordinator (key_type 1) and found again when it moves; the answers that only mean
// "not yet" (the coordinator loading, moving, or still finishing the previous transaction) are
// retried with a backoff until the deadline. A fenced producer (PRODUCER_FENCED,
// INVALID_PRODUCER_EPOCH) is a TransactionError with `fenced` set, never retried: a newer holder
// of the id exists, and the caller must let go of what it holds.
import { protocolErrorsCodesById, type Base, type Connection } from '@platformatic/kafka'
import { describeCause } from '../../errors.ts'
import { INIT_PRODUCER_ID } from './producer-versions.ts'
import { ADD_PARTITIONS_TO_TXN, END_TXN, FIND_COORDINATOR } from './transaction-versions.ts'
import { UnsupportedBrokerError, versionFor } from './versions.ts'

export const ERROR_INVALID_PRODUCER_EPOCH = 47
export const ERROR_PRODUCER_FENCED = 90
const ERROR_COORDINATOR_LOAD_IN_PROGRESS = 14
const ERROR_COORDINATOR_NOT_AVAILABLE = 15
const ERROR_NOT_COORDINATOR = 16
const ERROR_CONCURRENT_TRANSACTIONS = 51
/** AddPartitionsToTxn: another partition of the request failed, this one was not tried. */
const ERROR_OPERATION_NOT_ATTEMPTED = 55
const RETRIABLE = new Set([ERROR_COORDINATOR_LOAD_IN_PROGRESS, ERROR_COORDINATOR_NOT_AVAILABLE, ERROR_NOT_COORDINATOR, ERROR_CONCURRENT_TRANSACTIONS, ERROR_OPERATION_NOT_ATTEMPTED])
const FIND_AGAIN = new Set([ERROR_COORDINATOR_NOT_AVAILABLE, ERROR_NOT_COORDINATOR])

/** Whether an error code means a newer producer holds the transactional id. */
export function isFencedCode (code: number): boolean {
  return code === ERROR_PRODUCER_FENCED || code === ERROR_INVALID_PRODUCER_EPOCH
}

export class TransactionError extends Error {
  readonly errorCode: number
  readonly errorName: string
  readonly fenced: boolean

  constructor (transactionalId: string, operation: string, errorCode: number, options?: { cause?: unknown }) {
    const errorName = errorCode < 0 ? 'NETWORK_ERROR' : protocolErrorsCodesById[errorCode] ?? `ERROR_${errorCode}`
    super(`${operation} of transactional id ${transactionalId} failed: ${errorName}${options?.cause !== undefined ? ` (${describeCause(options.cause)})` : ''}`, options)
    this.name = 'TransactionError'
    this.errorCode = errorCode
    this.errorName = errorName
    this.fenced = isFencedCode(errorCode)
  }
}

/** The Kafka error codes in a library error (one, or several for a ResponseError); -1: none (a network error). */
function errorCodes (error: unknown): number[] {
  const e = error as { apiCode?: unknown, errors?: unknown[] }
  if (typeof e?.apiCode === 'number') return [e.apiCode]
  if (Array.isArray(e?.errors)) {
    const codes = e.errors.flatMap(errorCodes).filter(c => c >= 0)
    if (codes.length > 0) return codes
  }
  return [-1]
}

export interface TransactionCoordinatorOptions {
  requestTimeoutMs: number
  retryBackoffMs: number
  /** transaction.timeout.ms: the coordinator aborts a transaction left open longer. */
  transactionTimeoutMs: number
  /** How long one operation may keep getting "not yet" answers. */
  operationTimeoutMs: number
}

export class TransactionCoordinator {
  readonly transactionalId: string
  #base: Base
  #options: TransactionCoordinatorOptions
  #connection: Connection | undefined

  constructor (base: Base, transactionalId: string, options: TransactionCoordinatorOptions) {
    this.#base = base
    this.transactionalId = transactionalId
    this.#options = options
  }

  /** Takes the id's producer id with a new epoch: an open transaction of an older holder is aborted, and that holder fenced. */
  async initProducerId (): Promise<{ producerId: bigint, producerEpoch: number }> {
    return await this.#call('InitProducerId', async connection => {
      const { api } = await versionFor(connection, INIT_PRODUCER_ID, 'the target\'s transaction coordinator')
      return await api.async(connection, this.transactionalId, this.#options.transactionTimeoutMs)
    })
  }

  async addPartitions (producerId: bigint, producerEpoch: number, topics: Array<{ name: string, partitions: number[] }>): Promise<void> {
    await this.#call('AddPartitionsToTxn', async connection => {
      const { api } = await versionFor(connection, ADD_PARTITIONS_TO_TXN, 'the target\'s transaction coordinator')
      await api.async(connection, [{ transactionalId: this.transactionalId, producerId, producerEpoch, verifyOnly: false, topics }])
    })
  }

  async endTxn (producerId: bigint, producerEpoch: number, commit: boolean): Promise<void> {
    await this.#call(commit ? 'EndTxn(commit)' : 'EndTxn(abort)', async connection => {
      const { api } = await versionFor(connection, END_TXN, 'the target\'s transaction coordinator')
      await api.async(connection, this.transactionalId, producerId, producerEpoch, commit)
    })
  }

  async #coordinator (): Promise<Connection> {
    if (this.#connection !== undefined) return this.#connection
    const metadata = await this.#base.metadata({ topics: [] })
    const brokers = [...metadata.brokers.values()]
    const any = await this.#base.connections.get(brokers[Math.floor(Math.random() * brokers.length)])
    const { api } = await versionFor(any, FIND_COORDINATOR, 'the target broker')
    const response = await api.async(any, 1, [this.transactionalId])
    const found = response.coordinators[0]
    if (found === undefined || found.errorCode !== 0) throw new TransactionError(this.transactionalId, 'FindCoordinator', found?.errorCode ?? ERROR_COORDINATOR_NOT_AVAILABLE)
    this.#connection = await this.#base.connections.get({ host: found.host, port: found.port })
    return this.#connection
  }

  async #call<R> (operation: string, request: (connection: Connection) => Promise<R>): Promise<R> {
    const deadline = Date.now() + this.#options.operationTimeoutMs
    for (let attempt = 0; ; attempt++) {
      let code: number
      let cause: unknown
      try {
        return await request(await this.#coordinator())
      } catch (error) {
        // A broker too old for exactly-once mode stays so: no retry helps.
        if (error instanceof UnsupportedBrokerError) throw error
        cause = error
        const codes = error instanceof TransactionError ? [error.errorCode] : errorCodes(error)
        code = codes.find(c => !RETRIABLE.has(c) && c !== -1) ?? codes.find(c => c !== ERROR_OPERATION_NOT_ATTEMPTED) ?? codes[0]
      }
      if (code !== -1 && !RETRIABLE.has(code)) throw new TransactionError(this.transactionalId, operation, code, { cause })
      if (Date.now() > deadline) throw new TransactionError(this.transactionalId, operation, code, { cause })
      if (code === -1 || FIND_AGAIN.has(code)) this.#connection = undefined
      // The previous transaction's markers are usually written within milliseconds.
      const backoff = code === ERROR_CONCURRENT_TRANSACTIONS ? 20 : this.#options.retryBackoffMs
      await new Promise(resolve => setTimeout(resolve, Math.min(1000, backoff * 2 ** Math.min(attempt, 5))))
    }
  }
}
