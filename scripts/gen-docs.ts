// npm run docs: rewrites docs/configuration.md from the config declarations and docs/metrics.md
// from the metric declarations.
import { writeFileSync } from 'node:fs'
import { configurationMarkdown } from '../src/config/docs.ts'
import { metricsMarkdown } from '../src/metrics/docs.ts'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationMarkdown())
console.log('wrote docs/configuration.md')
writeFileSync(new URL('../docs/metrics.md', import.meta.url), await metricsMarkdown())
console.log('wrote docs/metrics.md')
