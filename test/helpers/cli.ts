// Runs kafka-mirror commands in this process, as a user would type them, with their own stdin,
// stdout, stderr and interrupt signal.
import { PassThrough } from 'node:stream'
import { runCli } from '../../src/cli/run-cli.ts'

export interface CliRun { code: number, stdout: string, stderr: string }

/** Starts one command: write to its stdin, interrupt it (Ctrl+C), await its end. */
export function startCli (argv: string[], input?: string): { stdin: PassThrough, interrupt: () => void, output: () => string, finished: Promise<CliRun> } {
  const stdin = new PassThrough()
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: Buffer[] = []
  const err: Buffer[] = []
  stdout.on('data', (d: Buffer) => out.push(d))
  stderr.on('data', (d: Buffer) => err.push(d))
  if (input !== undefined) stdin.end(input)
  const controller = new AbortController()
  const finished = runCli(argv, { stdin, stdout, stderr, signal: controller.signal })
    .then(code => ({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }))
  return { stdin, interrupt: () => controller.abort(), output: () => Buffer.concat(out).toString('utf8'), finished }
}

/** Runs one command to its end; stdin holds `input` and then ends. */
export async function runKafkaMirror (argv: string[], input = ''): Promise<CliRun> {
  return await startCli(argv, input).finished
}
