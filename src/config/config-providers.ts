// Kafka's config providers: a value may say ${env:VAR} or ${file:/path/secrets.properties:key}
// instead of holding a secret, once the same properties file enables the provider:
//   config.providers=env,file
//   config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
//   config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//   config.providers.file.param.allowed.paths=/etc/kafka/secrets
// Stricter than Kafka, which leaves a reference it cannot resolve in place (and then sends the
// literal "${env:X}" as a password): every reference must resolve, or it is a problem. The file
// provider reads only inside allowed.paths, which kafka-mirror requires.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { isAbsolute, resolve, sep } from 'node:path'
import type { ConfigProblem } from '../errors.ts'
import type { ConfigKey } from './definition.ts'
import { abbreviate } from './messages.ts'
import { parseProperties } from './properties.ts'
import { rememberSecret } from './secrets.ts'
import { javaRegexToJs } from './topic-filter.ts'

const ENV_CLASS = 'org.apache.kafka.common.config.provider.EnvVarConfigProvider'
const FILE_CLASS = 'org.apache.kafka.common.config.provider.FileConfigProvider'
const supportedClasses = [ENV_CLASS, FILE_CLASS]
const PREFIX = 'config.providers'

export const configProviderKeys: ConfigKey[] = [
  { name: PREFIX, type: 'list', doc: 'Names of the config providers this file enables, comma-separated, such as env,file. A value may then say ${env:VAR} or ${file:/path/secrets.properties:key}; a reference to a provider not enabled here is an error. Default: none.' },
  { name: `${PREFIX}.<name>.class`, type: 'class', doc: `Class of the provider <name>: ${ENV_CLASS} (\${<name>:VAR} is the environment variable VAR) or ${FILE_CLASS} (\${<name>:path:key} is key in the properties file at path). Required for every name in config.providers.` },
  { name: `${PREFIX}.<name>.param.allowed.paths`, type: 'list', doc: 'Folders the file provider may read, comma-separated absolute paths; a path is checked after resolving symbolic links and "..". Required for the file provider (Kafka allows any file when it is unset; kafka-mirror does not).' },
  { name: `${PREFIX}.<name>.param.allowlist.pattern`, type: 'string', doc: 'Java regex that the names of environment variables read by the env provider must match whole. Default: any variable.' },
  { name: `${PREFIX}.<name>.param.<param>`, type: 'string', doc: 'Other provider parameters are accepted, with a warning that kafka-mirror ignores them.' }
]

interface Provider {
  name: string
  kind: 'env' | 'file'
  /** config.providers.<name>.param.allowed.paths, as written (made absolute) and as real paths. */
  allowedPaths?: Array<{ given: string, real: string }>
  allowlist?: RegExp
  /** Set when the provider itself is misconfigured; that problem is reported once. */
  broken: boolean
}

export interface ResolvedReferences {
  pairs: Array<[string, string]>
  /** Keys whose value came through a provider, with the text the user wrote: messages show it instead of the value. */
  referenced: Map<string, string>
  problems: ConfigProblem[]
  warnings: string[]
}

interface Reference {
  text: string
  provider: string
  path?: string
  key: string
}

/** Splits a value at its ${…} references; a malformed one gives an error instead. */
function scan (value: string): { parts: Array<string | Reference>, error?: string } {
  const parts: Array<string | Reference> = []
  let at = 0
  while (at < value.length) {
    const start = value.indexOf('${', at)
    if (start < 0) break
    if (start > at) parts.push(value.slice(at, start))
    const end = value.indexOf('}', start + 2)
    if (end < 0) return { parts, error: 'has "${" without a closing "}"' }
    const text = value.slice(start, end + 1)
    const inner = text.slice(2, -1)
    // As Kafka's pattern: provider up to the first ':', an optional path up to the next, then the key.
    const match = /^([^:${}]+):(?:([^:${}]*):)?([^${}]+)$/.exec(inner)
    if (match === null) return { parts, error: 'has a malformed ${…} reference' }
    parts.push({ text, provider: match[1], path: match[2], key: match[3] })
    at = end + 1
  }
  if (at < value.length) parts.push(value.slice(at))
  return { parts }
}

/** Whether `path` is `folder` or inside it; both are real paths. */
function inside (path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep)
}

/**
 * Reads the config.providers keys of one properties file and resolves every ${…} in its values.
 * `secret(name)` says which keys must not have even their reference text quoted when it is malformed.
 */
export function resolveConfigReferences (pairs: Array<[string, string]>, source: string, secret: (name: string) => boolean): ResolvedReferences {
  const problems: ConfigProblem[] = []
  const warnings: string[] = []
  // Properties files keep the last of repeated keys.
  const last = new Map(pairs)
  const providers = new Map<string, Provider>()
  const enabledText = last.get(PREFIX)
  const listed = [...new Set((enabledText ?? '').split(',').map(s => s.trim()).filter(s => s !== ''))]
  // A name is part of a key (config.providers.<name>.class) and of a reference (${<name>:…}).
  const enabled = listed.filter(name => /^[A-Za-z0-9_-]+$/.test(name))
  const badNames = listed.filter(name => !enabled.includes(name))
  if (badNames.length > 0) {
    problems.push({ source, key: PREFIX, message: `${badNames.slice(0, 3).map(n => `"${abbreviate(n, 40)}"`).join(', ')}${badNames.length > 3 ? ` and ${badNames.length - 3} more` : ''} ${badNames.length === 1 ? 'is not a provider name' : 'are not provider names'}`, fix: 'name providers with letters, digits, - and _, such as env,file' })
  }
  const enabledList = abbreviate(enabled.join(','), 60)
  const providerKey = (name: string, rest: string): string => `${PREFIX}.${name}.${rest}`

  for (const name of enabled) {
    const classKey = providerKey(name, 'class')
    const className = last.get(classKey)?.trim()
    const provider: Provider = { name, kind: 'env', broken: true }
    providers.set(name, provider)
    if (className === undefined || className === '') {
      problems.push({ source, key: classKey, message: `is missing: config.providers names "${name}"`, fix: `set ${classKey}=${ENV_CLASS} or ${FILE_CLASS}` })
      continue
    }
    if (!supportedClasses.includes(className)) {
      problems.push({ source, key: classKey, message: `"${abbreviate(className)}" is not supported: Java classes cannot run in kafka-mirror`, fix: `use ${ENV_CLASS} or ${FILE_CLASS}` })
      continue
    }
    provider.kind = className === ENV_CLASS ? 'env' : 'file'
    provider.broken = false
    const paramPrefix = providerKey(name, 'param.')
    for (const [key] of last) {
      if (!key.startsWith(paramPrefix)) continue
      const param = key.slice(paramPrefix.length)
      const known = provider.kind === 'env' ? 'allowlist.pattern' : 'allowed.paths'
      if (param !== known) warnings.push(`${source}: ${key} is ignored: the ${provider.kind} provider of kafka-mirror reads only the parameter ${known}`)
    }
    if (provider.kind === 'env') {
      const patternKey = providerKey(name, 'param.allowlist.pattern')
      const pattern = last.get(patternKey)
      if (pattern !== undefined) {
        try {
          const { source: js, flags } = javaRegexToJs(pattern.trim())
          provider.allowlist = new RegExp(`^(?:${js})$`, flags)
        } catch (error) {
          problems.push({ source, key: patternKey, message: `"${abbreviate(pattern)}" is not a valid regex: ${(error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`, fix: 'give a Java regex such as KAFKA_.*' })
          provider.broken = true
        }
      }
    } else {
      const pathsKey = providerKey(name, 'param.allowed.paths')
      const folders = (last.get(pathsKey) ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
      if (folders.length === 0) {
        problems.push({ source, key: pathsKey, message: `is missing: the file provider "${name}" reads only inside allowed folders (Kafka reads any file when it is unset; kafka-mirror does not)`, fix: `set ${pathsKey}=/etc/kafka/secrets (absolute folders, comma-separated)` })
        provider.broken = true
        continue
      }
      provider.allowedPaths = []
      const relative: string[] = []
      const missing: string[] = []
      for (const folder of folders) {
        if (!isAbsolute(folder)) { relative.push(folder); continue }
        try {
          provider.allowedPaths.push({ given: resolve(folder), real: realpathSync(folder) })
        } catch {
          missing.push(folder)
        }
      }
      // One problem for each kind, however long the list.
      const some = (items: string[]): string => items.slice(0, 3).map(i => abbreviate(i, 60)).join(', ') + (items.length > 3 ? ` and ${items.length - 3} more` : '')
      if (relative.length > 0) problems.push({ source, key: pathsKey, message: `${some(relative)} ${relative.length === 1 ? 'is not an absolute path' : 'are not absolute paths'}`, fix: 'give absolute folders such as /etc/kafka/secrets' })
      if (missing.length > 0) problems.push({ source, key: pathsKey, message: `${some(missing)} ${missing.length === 1 ? 'does not exist' : 'do not exist'}`, fix: 'give existing folders' })
      provider.broken = relative.length > 0 || missing.length > 0
    }
  }
  for (const [key] of last) {
    const family = /^config\.providers\.([^.]+)\.(class|param\..+)$/.exec(key)
    if (family !== null && !providers.has(family[1])) {
      warnings.push(`${source}: ${key} is ignored: config.providers does not name "${family[1]}"`)
    }
  }

  // Each file is read once, however many references it has.
  const files = new Map<string, { entries?: Map<string, string>, error?: string }>()
  const readFile = (path: string): { entries?: Map<string, string>, error?: string } => {
    let read = files.get(path)
    if (read === undefined) {
      try {
        read = statSync(path).isFile()
          ? { entries: new Map(parseProperties(readFileSync(path, 'utf8')).map(e => [e.key, e.value])) }
          : { error: `${path} is not a file` }
      } catch (error) {
        read = { error: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }
      }
      files.set(path, read)
    }
    return read
  }

  const enableFix = (name: string): string => `enable it in ${source}: config.providers=${abbreviate([...new Set([...enabled, name])].join(','), 60)} and ${providerKey(name, 'class')}=${name === 'file' ? FILE_CLASS : name === 'env' ? ENV_CLASS : `${ENV_CLASS} or ${FILE_CLASS}`}`

  /**
   * The value of one reference, or the problem with it. In a secret, a reference to a provider
   * nobody enabled may be a piece of a password that happens to hold "${": none of it is quoted.
   */
  const lookup = (ref: Reference, key: string, isSecret: boolean): { value?: string, problem?: ConfigProblem } => {
    const provider = providers.get(ref.provider)
    const quoted = ref.text
    if (provider === undefined) {
      if (isSecret && ref.provider !== 'env' && ref.provider !== 'file') {
        return { problem: { source, key, message: `has a \${…} reference to a config provider that ${source} does not enable`, fix: 'a reference reads ${provider:key} with the provider named in config.providers; a secret cannot hold "${" otherwise' } }
      }
      return { problem: { source, key, message: `${quoted} refers to the config provider "${ref.provider}", which ${enabledText === undefined ? 'config.providers does not enable' : `is not in config.providers=${enabledList}`}`, fix: enableFix(ref.provider) } }
    }
    if (provider.broken) return {} // its own problem is already reported
    if (provider.kind === 'env') {
      if (ref.path !== undefined) return { problem: { source, key, message: `${quoted}: the env provider takes no path`, fix: `write \${${ref.provider}:VARIABLE}` } }
      if (provider.allowlist !== undefined && !provider.allowlist.test(ref.key)) {
        return { problem: { source, key, message: `${quoted}: ${ref.key} does not match ${providerKey(ref.provider, 'param.allowlist.pattern')}`, fix: 'use an allowed variable, or widen the pattern' } }
      }
      const value = process.env[ref.key]
      if (value === undefined) return { problem: { source, key, message: `${quoted}: the environment variable ${ref.key} is not set`, fix: `set ${ref.key} in kafka-mirror's environment, or correct the name` } }
      return { value }
    }
    if (ref.path === undefined || ref.path.trim() === '') {
      return { problem: { source, key, message: `${quoted}: the file provider needs a path`, fix: `write \${${ref.provider}:/path/secrets.properties:${ref.key}}` } }
    }
    const pathsKey = providerKey(ref.provider, 'param.allowed.paths')
    const allowed = provider.allowedPaths!
    const outside = { source, key, message: `${quoted}: ${ref.path} is outside the folders of ${pathsKey}`, fix: `move the file into ${allowed.map(a => a.given).join(' or ')}, or add its folder to ${pathsKey}` }
    // The lexical check first, so that nothing outside is even looked at; then the real path,
    // so that a symbolic link or ".." cannot lead out.
    const lexical = resolve(ref.path)
    if (!allowed.some(folder => inside(lexical, folder.given) || inside(lexical, folder.real))) return { problem: outside }
    let real: string
    try {
      real = realpathSync(lexical)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      return { problem: { source, key, message: `${quoted}: ${code === 'ENOENT' ? `file ${ref.path} does not exist` : `cannot read ${ref.path}: ${code ?? (error as Error).message}`}`, fix: 'give the path of a readable properties file' } }
    }
    if (!allowed.some(folder => inside(real, folder.real))) return { problem: outside }
    const read = readFile(real)
    if (read.error !== undefined) return { problem: { source, key, message: `${quoted}: ${read.error}`, fix: 'give the path of a readable properties file' } }
    const value = read.entries!.get(ref.key)
    if (value === undefined) return { problem: { source, key, message: `${quoted}: ${ref.path} has no key ${ref.key}`, fix: `add ${ref.key}=… to ${ref.path}, or correct the key` } }
    return { value }
  }

  // A value with a problem is left out, so that nothing checks or uses its raw ${…} text.
  const out: Array<[string, string]> = []
  const referenced = new Map<string, string>()
  for (const [key, value] of pairs) {
    // The provider settings themselves are taken as written, as in Kafka.
    if (key === PREFIX || key.startsWith(`${PREFIX}.`) || !value.includes('${')) {
      out.push([key, value])
      continue
    }
    const isSecret = secret(key)
    const { parts, error } = scan(value)
    if (error !== undefined) {
      // In a secret, the "${" may be part of a password: no part of the value is quoted.
      problems.push({ source, key, message: error, fix: 'a reference reads ${provider:key} or ${provider:path:key}; a value cannot hold "${" otherwise' })
      continue
    }
    let resolved = ''
    let failed = false
    for (const part of parts) {
      if (typeof part === 'string') { resolved += part; continue }
      const found = lookup(part, key, isSecret)
      if (found.value === undefined) {
        failed = true
        if (found.problem !== undefined) problems.push(found.problem)
        continue
      }
      resolved += found.value
    }
    if (failed) continue
    if (isSecret) rememberSecret(resolved)
    referenced.set(key, value)
    out.push([key, resolved])
  }
  return { pairs: out, referenced, problems, warnings }
}
