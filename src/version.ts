// The package's version, read from package.json when the process starts. The same module runs
// from src/ (type stripping, in development) and from dist/src/ (the installed package), one
// folder deeper, so it looks in both places; a JSON import would pin one of them.
import { readFileSync } from 'node:fs'

function readVersion (): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (manifest.name === 'kafka-mirror' && typeof manifest.version === 'string') return manifest.version
    } catch {
      // Not here: try the next folder up.
    }
  }
  return 'unknown'
}

/** This kafka-mirror's version, as in its package.json. */
export const version: string = readVersion()
