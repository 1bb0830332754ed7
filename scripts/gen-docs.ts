// npm run docs: rewrites docs/configuration.md from the config declarations.
import { writeFileSync } from 'node:fs'
import { configurationMarkdown } from '../src/config/docs.ts'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationMarkdown())
console.log('wrote docs/configuration.md')
