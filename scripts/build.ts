// npm run build (and prepack): the installable package in dist/. Node does not strip types under
// node_modules, so the package ships JavaScript: tsc (tsconfig.build.json) writes dist/bin and
// dist/src with .d.ts beside them, and the files under src/ that are not TypeScript (the
// dashboard's pages, for one) are copied to the same place under dist/src/.
import { execFileSync } from 'node:child_process'
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')

rmSync(dist, { recursive: true, force: true })
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })

// tsc rewrites `./x.ts` to `./x.js` in the JavaScript but leaves declarations importing `./x.ts`;
// older TypeScript in a user's project resolves only the `.js` form, so declarations get it too.
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue
  const file = join(entry.parentPath, entry.name)
  const text = readFileSync(file, 'utf8')
  const rewritten = text.replace(/((?:from |import\()\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1$2.js$3')
  if (rewritten !== text) writeFileSync(file, rewritten)
}

let assets = 0
for (const entry of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue
  const from = join(entry.parentPath, entry.name)
  cpSync(from, join(dist, 'src', relative(join(root, 'src'), from)))
  assets++
}
console.log(`built ${relative(process.cwd(), dist) || '.'}: JavaScript and declarations from src/ and bin/, ${assets} other file${assets === 1 ? '' : 's'} from src/`)
