// The kafka-mirror the benchmarks run.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))

let builtBin: string | undefined

/**
 * The kafka-mirror users run: the JavaScript `npm run build` writes (what the package ships),
 * built once per bench run. Running the TypeScript sources instead costs type stripping at load
 * and about 26 MiB more RSS, which is the checkout's cost, not the product's.
 */
export function kafkaMirrorBin (): string {
  if (builtBin === undefined) {
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.ts')], { stdio: ['ignore', 'ignore', 'inherit'] })
    builtBin = join(repoRoot, 'dist', 'bin', 'kafka-mirror.js')
  }
  return builtBin
}

