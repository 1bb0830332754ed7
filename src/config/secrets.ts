// Secrets (passwords, JAAS lines, private keys) never reach logs, error messages or printed config.
// The declarations say which keys are secret (type 'password', as in Kafka's ConfigDef); this file
// holds what every output path uses to keep them out: the "[hidden]" placeholder, a scrubber for
// text that may carry a secret anyway (a client library's error quoting a JAAS line), and a
// redactor for objects handed to the logger. It imports nothing, so errors.ts and log.ts can use it.

export const HIDDEN = '[hidden]'

/** Field names that carry secrets in objects that are not config maps (TLS and SASL options). */
const secretFieldName = /pass|secret|jaas|credential|token|^pfx$|(^|\.)key$/i

/** Whether a key nobody declared looks like it holds a secret (a typo of ssl.key.password, a newer client's key). */
export function looksSecret (name: string): boolean {
  return secretFieldName.test(name)
}

// Values of secret keys seen while loading config. Errors thrown deep inside a client library can
// quote a value we handed it; the last output step replaces any remembered secret with [hidden].
const remembered = new Set<string>()
/** `remembered`, longest first, so that a secret containing another is replaced whole. */
let longestFirst: string[] = []
// Shorter values would blank out ordinary words in messages; they are still hidden by key.
const MIN_REMEMBERED_LENGTH = 6

// password="…" inside a JAAS line, also in its JSON-escaped form (password=\"…\").
const jaasSecret = /\b((?:password|secret|token|clientSecret|client_secret)\s*=\s*)(\\"(?:[^"\\]|\\[^"])*\\"|"(?:[^"\\]|\\.)*")/gi

export function rememberSecret (value: string): void {
  const values = [value.trim()]
  // The password inside a JAAS line, which a client may quote on its own.
  for (const match of value.matchAll(jaasSecret)) values.push(match[2].replace(/^\\?"|\\?"$/g, '').replace(/\\(.)/g, '$1'))
  for (const secret of values) {
    if (secret.length < MIN_REMEMBERED_LENGTH) continue
    remembered.add(secret)
    // The same value as it appears inside a JSON log line.
    const escaped = JSON.stringify(secret).slice(1, -1)
    if (escaped !== secret) remembered.add(escaped)
  }
  if (remembered.size !== longestFirst.length) longestFirst = [...remembered].sort((a, b) => b.length - a.length)
}

/** Replaces remembered secrets and JAAS passwords in text about to be written anywhere. */
export function redactSecrets (text: string): string {
  let out = text.replace(jaasSecret, (whole, lead: string, quoted: string) => {
    const q = quoted.startsWith('\\"') ? '\\"' : '"'
    const inner = quoted.slice(q.length, -q.length)
    // Placeholders in fix hints (password="…") are not secrets.
    return inner === '' || inner === '…' || inner === HIDDEN ? whole : `${lead}${q}${HIDDEN}${q}`
  })
  for (const secret of longestFirst) {
    if (out.includes(secret)) out = out.split(secret).join(HIDDEN)
  }
  return out
}

/**
 * A copy of `value` with secret-looking fields set to [hidden] and strings scrubbed, for objects
 * that reach the logger (settings, client options, errors).
 */
export function redactObject (value: unknown, done = new Map<object, unknown>()): unknown {
  if (typeof value === 'string') return redactSecrets(value)
  if (value === null || typeof value !== 'object') return value
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof Date) return value
  // Shared objects are redacted once; a cycle gets the copy being built.
  if (done.has(value)) return done.get(value)
  if (Array.isArray(value)) {
    const out: unknown[] = []
    done.set(value, out)
    for (const item of value) out.push(redactObject(item, done))
    return out
  }
  const out: Record<string, unknown> = {}
  done.set(value, out)
  // The shape of pino's error serializer, with the text scrubbed.
  if (value instanceof Error) Object.assign(out, { type: value.name, message: redactSecrets(value.message), stack: redactSecrets(value.stack ?? '') })
  const entries = value instanceof Map ? [...value].map(([k, v]) => [String(k), v] as const) : Object.entries(value)
  for (const [k, v] of entries) {
    out[k] = v !== undefined && v !== null && v !== '' && looksSecret(k) ? HIDDEN : redactObject(v, done)
  }
  return out
}
