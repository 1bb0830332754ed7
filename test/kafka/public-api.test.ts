// kafka-mirror uses @platformatic/kafka through its public API only: a private symbol (kGetConnection,
// kRefreshOffsetsAndFetch, ...) or a method patched on one of its objects is a hook point a client
// upgrade can move without notice, turning a guard into silently skipped records.
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as kafka from '@platformatic/kafka'

const root = fileURLToPath(new URL('../..', import.meta.url))

function sourceFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [])
}

test('no source file imports a private symbol of @platformatic/kafka, finds one by its description, or patches a client method', () => {
  const problems: string[] = []
  const files = [...sourceFiles(join(root, 'src')), ...sourceFiles(join(root, 'bin'))]
  assert.ok(files.length > 20)
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const where = relative(root, file)
    for (const match of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@platformatic\/kafka'/g)) {
      for (const raw of match[1].split(',')) {
        const name = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]
        if (name === '') continue
        // The library names its internal symbols kSomething; they are exported only for its own use.
        if (/^k[A-Z]/.test(name)) problems.push(`${where} imports the private symbol ${name}`)
        else if (!(name in kafka) && !/^[A-Z]/.test(name)) problems.push(`${where} imports ${name}, which the package does not export`)
      }
    }
    if (/\.description\s*===/.test(text)) problems.push(`${where} finds a symbol by its description`)
    if (/Object\.getOwnPropertySymbols|Reflect\.ownKeys/.test(text)) problems.push(`${where} looks up symbols of an object`)
    // Patching a client: assigning to a method of a consumer, producer or client object.
    for (const m of text.matchAll(/\b(consumer|client|producer|admin)\.(joinGroup|commit|fetch|listCommittedOffsets|send|metadata)\s*=[^=]/g)) problems.push(`${where} replaces ${m[1]}.${m[2]}`)
  }
  assert.deepEqual(problems, [])
})

test('the installed @platformatic/kafka is the exact version package.json pins', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  const pinned = pkg.dependencies['@platformatic/kafka']
  assert.match(pinned, /^\d+\.\d+\.\d+$/, 'an exact version, no range: the engine relies on the behaviours the contract tests check')
  const installed = JSON.parse(readFileSync(join(root, 'node_modules/@platformatic/kafka/package.json'), 'utf8')) as { version: string }
  assert.equal(installed.version, pinned)
})
