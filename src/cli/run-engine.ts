// The part of a long-running command that both engines share (`kafka-mirror` and `kafka-mirror
// mm2`): Ctrl+C or SIGTERM asks the engine to stop (it delivers what it fetched, then commits), the
// error that ends the process is also a log line of the log's own format, and what the command
// opened beside the engine (the HTTP listener) is closed however it ends.
import { KafkaMirrorError, describeCause } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { CliIO } from './io.ts'

/** Something the command closes when it ends, whatever the way. */
export interface Closable {
  close: () => Promise<void>
}

/**
 * Runs `body` (which starts the engine and waits for its end) with the command's signal wired to
 * `stop`. `body` hands what it opens to `opened`, closed after it returns or throws.
 */
export async function runEngine<T> (io: Pick<CliIO, 'signal'>, log: Logger, logFormat: 'text' | 'json', stop: () => Promise<void>, body: (opened: (closable: Closable) => void) => Promise<T>): Promise<T> {
  const onAbort = (): void => {
    log.info('stopping: delivering what was fetched, then committing')
    stop().catch(() => {})
  }
  io.signal.addEventListener('abort', onAbort, { once: true })
  const closables: Closable[] = []
  try {
    return await body(closable => { closables.push(closable) })
  } catch (error) {
    // Log collectors see the error that ends the process as a line of their own format too.
    if (logFormat === 'json') log.fatal({ err: describeCause(error), code: error instanceof KafkaMirrorError ? error.code : undefined }, 'kafka-mirror exits on an error')
    throw error
  } finally {
    io.signal.removeEventListener('abort', onAbort)
    for (const closable of closables) await closable.close()
  }
}
