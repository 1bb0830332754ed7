// Process measurement for the benchmarks: CPU seconds (utime + stime) and peak RSS of a process and
// every process under it, sampled from /proc every 100 ms while it runs. Linux only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

let clockTicks: number | undefined

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (almost always 100). */
export function ticksPerSecond (): number {
  if (clockTicks === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
    const n = Number(out.stdout?.trim())
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100
  }
  return clockTicks
}

interface StatLine {
  ppid: number
  /** utime + stime, in clock ticks, of every thread of the process (not of its children). */
  ticks: number
}

function readStat (pid: number): StatLine | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) }
}

/** VmRSS and VmHWM (peak resident set) of a process, in bytes. */
function readMemory (pid: number): { rss: number, hwm: number } | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** The process and all its descendants alive now. */
export function processTree (root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    const stat = readStat(pid)
    if (stat === undefined) continue
    const list = children.get(stat.ppid)
    if (list === undefined) children.set(stat.ppid, [pid])
    else list.push(pid)
  }
  if (!existsSync(`/proc/${root}`)) return []
  const tree = [root]
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []))
  return tree
}

export interface Usage {
  /** utime + stime of every process of the tree, summed, in seconds. */
  cpuSeconds: number
  /** Highest resident set of the tree: the larger of the highest sampled sum of VmRSS and the highest VmHWM of one process. */
  peakRssBytes: number
  /** How many processes the tree held over its life. */
  processes: number
}

/** Samples a process tree every `intervalMs` until stop(); keeps the last values of processes that ended. */
export class TreeSampler {
  #root: number
  #ticks = new Map<number, number>()
  #hwm = new Map<number, number>()
  #peakSum = 0
  #timer: NodeJS.Timeout

  constructor (root: number, intervalMs = 100) {
    this.#root = root
    this.sample()
    this.#timer = setInterval(() => this.sample(), intervalMs)
    this.#timer.unref()
  }

  sample (): void {
    let sum = 0
    for (const pid of processTree(this.#root)) {
      const stat = readStat(pid)
      if (stat !== undefined) this.#ticks.set(pid, Math.max(stat.ticks, this.#ticks.get(pid) ?? 0))
      const memory = readMemory(pid)
      if (memory !== undefined) {
        sum += memory.rss
        this.#hwm.set(pid, Math.max(memory.hwm, memory.rss, this.#hwm.get(pid) ?? 0))
      }
    }
    this.#peakSum = Math.max(this.#peakSum, sum)
  }

  usage (): Usage {
    let ticks = 0
    for (const t of this.#ticks.values()) ticks += t
    const peakOne = Math.max(0, ...this.#hwm.values())
    return { cpuSeconds: ticks / ticksPerSecond(), peakRssBytes: Math.max(this.#peakSum, peakOne), processes: this.#ticks.size }
  }

  /** Takes a last sample (if the process still runs) and stops sampling. */
  stop (): Usage {
    this.sample()
    clearInterval(this.#timer)
    return this.usage()
  }
}

/** CPU seconds used so far by the given processes (for brokers: measured as a difference). */
export function cpuSecondsOf (pids: number[]): number {
  let ticks = 0
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0
  return ticks / ticksPerSecond()
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** performance.now() when the exit was seen. */
  at: number
}

export interface Measured {
  name: string
  child: ChildProcess
  pid: number
  /** performance.now() at spawn. */
  startedAt: number
  sampler: TreeSampler
  exited: Promise<Exit>
  /** Set once the process exited. */
  exit: Exit | undefined
  logFile: string
}

/** Spawns a command with stdout and stderr into `logFile` and starts sampling its process tree. */
export function spawnMeasured (name: string, command: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Measured {
  const out = openSync(logFile, 'a')
  const startedAt = performance.now()
  const child = spawn(command, args, { stdio: ['ignore', out, out], env: env ?? process.env })
  closeSync(out)
  if (child.pid === undefined) throw new Error(`Could not start ${name}: ${command}`)
  const measured: Measured = {
    name,
    child,
    pid: child.pid,
    startedAt,
    sampler: new TreeSampler(child.pid),
    exit: undefined,
    logFile,
    exited: new Promise(resolve => {
      child.once('exit', (code, signal) => {
        measured.exit = { code, signal, at: performance.now() }
        resolve(measured.exit)
      })
    })
  }
  liveChildren.add(child)
  child.once('exit', () => liveChildren.delete(child))
  return measured
}

const liveChildren = new Set<ChildProcess>()
// Whatever the benchmark started dies with it.
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL')
})

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function terminate (m: Measured, graceMs = 15_000): Promise<void> {
  if (m.exit !== undefined) return
  m.child.kill('SIGTERM')
  const killed = await Promise.race([m.exited.then(() => true), sleep(graceMs).then(() => false)])
  if (!killed && m.exit === undefined) {
    m.child.kill('SIGKILL')
    await m.exited
  }
}

/** The last lines of a log file, for error messages and the results. */
export function tailOf (file: string, lines = 30): string {
  if (!existsSync(file)) return `(no ${file})`
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
}
