// Java .properties files, as Kafka's tools read them (java.util.Properties.load): `#`/`!` comments,
// `=`, `:` or white space between key and value, `\` line continuations and escapes.

export interface PropertiesEntry {
  key: string
  value: string
  line: number
}

function unescape (text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) => {
    if (c.length === 5) return String.fromCharCode(parseInt(c.slice(1), 16))
    if (c === 't') return '\t'
    if (c === 'n') return '\n'
    if (c === 'r') return '\r'
    if (c === 'f') return '\f'
    return c
  })
}

export function parseProperties (text: string): PropertiesEntry[] {
  const entries: PropertiesEntry[] = []
  const lines = text.split(/\r\n|\r|\n/)
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1
    let logical = lines[i].replace(/^[ \t\f]+/, '')
    if (logical === '' || logical.startsWith('#') || logical.startsWith('!')) continue
    // An odd number of trailing backslashes continues the line.
    while (/(?:^|[^\\])(?:\\\\)*\\$/.test(logical) && i + 1 < lines.length) {
      logical = logical.slice(0, -1) + lines[++i].replace(/^[ \t\f]+/, '')
    }
    let keyEnd = 0
    while (keyEnd < logical.length) {
      const c = logical[keyEnd]
      if (c === '\\') { keyEnd += 2; continue }
      if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break
      keyEnd++
    }
    let valueStart = keyEnd
    while (valueStart < logical.length && /[ \t\f]/.test(logical[valueStart])) valueStart++
    if (logical[valueStart] === '=' || logical[valueStart] === ':') valueStart++
    while (valueStart < logical.length && /[ \t\f]/.test(logical[valueStart])) valueStart++
    entries.push({ key: unescape(logical.slice(0, keyEnd)), value: unescape(logical.slice(valueStart)), line: first })
  }
  return entries
}
