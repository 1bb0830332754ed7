// kcat (librdkafka) is the independent client: what it reads from a cluster is what a user's
// other tools would see, not what our own decoder believes.
import { spawn } from 'node:child_process'

export interface KcatRecord {
  partition: number
  offset: bigint
  timestamp: bigint
  key: Buffer | null
  value: Buffer | null
  /** Headers as kcat prints them: `name=value` pairs joined by commas. */
  headers: string
}

async function run (args: string[], input?: Buffer | string, timeoutMs = 60_000): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`kcat ${args.join(' ')} timed out; stderr: ${err}`)) }, timeoutMs)
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', d => { err += String(d) })
    child.once('error', error => { clearTimeout(timer); reject(error) })
    child.once('exit', code => {
      clearTimeout(timer)
      if (code === 0) resolve(Buffer.concat(out))
      else reject(new Error(`kcat ${args.join(' ')} exited ${code}: ${err}`))
    })
    child.stdin.end(input)
  })
}

/** Produces `key:value` lines, each with the given headers, waiting for every ack. */
export async function kcatProduce (bootstrap: string, topic: string, lines: string[], headers: Record<string, string> = {}): Promise<void> {
  const headerArgs = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}=${v}`])
  await run(['-P', '-b', bootstrap, '-t', topic, '-K', ':', '-X', 'acks=all', '-X', 'enable.idempotence=true', ...headerArgs], lines.join('\n') + '\n')
}

/**
 * Reads a whole topic, from the beginning to the end offsets at the time of the call. `isolation`
 * sets isolation.level; without it, librdkafka's default (read_committed: to the last stable
 * offsets, records of aborted transactions left out).
 */
export async function kcatConsume (bootstrap: string, topic: string, options: { isolation?: 'read_committed' | 'read_uncommitted' } = {}): Promise<KcatRecord[]> {
  // A text line of lengths, then the raw key and value bytes: exact even for binary data.
  const raw = await run(['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', ...(options.isolation !== undefined ? ['-X', `isolation.level=${options.isolation}`] : []),
    '-f', '%p %o %T %K %S %h\n%k%s'])
  const records: KcatRecord[] = []
  let at = 0
  while (at < raw.length) {
    const newline = raw.indexOf(10, at)
    const fields = raw.subarray(at, newline).toString('utf8').split(' ')
    at = newline + 1
    const [partition, offset, timestamp, keyLength, valueLength] = fields.slice(0, 5).map(Number)
    const headers = fields.slice(5).join(' ')
    const key = keyLength < 0 ? null : raw.subarray(at, at + keyLength)
    at += Math.max(keyLength, 0)
    const value = valueLength < 0 ? null : raw.subarray(at, at + valueLength)
    at += Math.max(valueLength, 0)
    records.push({ partition, offset: BigInt(fields[1]), timestamp: BigInt(fields[2]), key, value, headers: headers === '' ? '' : headers })
    void offset; void timestamp
  }
  return records
}
