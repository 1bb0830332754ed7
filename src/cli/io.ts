// What a command reads and writes; tests pass their own streams.
export interface CliIO {
  stdin: NodeJS.ReadableStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /** Aborted on SIGINT/SIGTERM: the command stops cleanly. */
  signal: AbortSignal
}

export type Command = (argv: string[], io: CliIO) => Promise<number>
