// kafka-mirror's version, from the package.json above this module (in src/ and in dist/src/ alike).
import { existsSync, readFileSync } from 'node:fs'

let cached: string | undefined

export function packageVersion (): string {
  if (cached !== undefined) return cached
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    const file = new URL('package.json', dir)
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'kafka-mirror' && pkg.version !== undefined) return (cached = pkg.version)
    }
    if (dir.pathname === '/') return (cached = 'unknown')
  }
}
