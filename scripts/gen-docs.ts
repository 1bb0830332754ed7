// npm run docs: rewrites docs/configuration.md and the exit code table of docs/operations.md
// from the declarations in src/.
import { readFileSync, writeFileSync } from 'node:fs'
import { configurationMarkdown, withExitCodes } from '../src/config/docs.ts'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationMarkdown())
const operations = new URL('../docs/operations.md', import.meta.url)
writeFileSync(operations, withExitCodes(readFileSync(operations, 'utf8')))
console.log('wrote docs/configuration.md and the exit codes of docs/operations.md')
