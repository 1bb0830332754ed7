// The kafka-mirror the benchmarks run.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))

let builtArgs: string[] | undefined

/**
 * The kafka-mirror users run: the JavaScript `npm run build` writes (what the package ships),
 * built once per bench run, with the Node flags of its first line (`#!/usr/bin/env -S node …`),
 * as the installed bin starts. Node arguments, for process.execPath. Running the TypeScript
 * sources instead costs type stripping at load and about 26 MiB more RSS, which is the checkout's
 * cost, not the product's.
 */
export function kafkaMirrorArgs (): string[] {
  if (builtArgs === undefined) {
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.ts')], { stdio: ['ignore', 'ignore', 'inherit'] })
    const bin = join(repoRoot, 'dist', 'bin', 'kafka-mirror.js')
    builtArgs = [...shebangFlags(readFileSync(bin, 'utf8').split('\n', 1)[0]), bin]
  }
  return builtArgs
}

/** The Node flags of a `#!/usr/bin/env -S node --flag …` line (none for `#!/usr/bin/env node`). */
export function shebangFlags (line: string): string[] {
  const m = /^#!\/usr\/bin\/env(?: -S)? node((?: \S+)*)\s*$/.exec(line)
  if (m === null) throw new Error(`dist/bin/kafka-mirror.js does not start with a #!/usr/bin/env node line: ${line}`)
  return m[1].split(' ').filter(Boolean)
}
