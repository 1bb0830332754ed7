// npm run docs: rewrites docs/configuration.md, the exit code table of docs/operations.md and
// docs/metrics.md from the declarations in src/.
import { readFileSync, writeFileSync } from 'node:fs'
import { configurationMarkdown, withExitCodes } from '../src/config/docs.ts'
import { metricsMarkdown } from '../src/metrics/docs.ts'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationMarkdown())
const operations = new URL('../docs/operations.md', import.meta.url)
writeFileSync(operations, withExitCodes(readFileSync(operations, 'utf8')))
writeFileSync(new URL('../docs/metrics.md', import.meta.url), await metricsMarkdown())
console.log('wrote docs/configuration.md, the exit codes of docs/operations.md and docs/metrics.md')
