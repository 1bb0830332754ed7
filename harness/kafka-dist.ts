// Fetches Apache Kafka jars from Maven Central, once, into a cache outside the repository.
// Each flavour is a pom under harness/maven/; the cache folder is keyed by the pom's hash, so a
// version bump in a pom fetches afresh and later runs need no network.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSync } from 'node:child_process'

export type KafkaFlavour = 'kafka-4' | 'kafka-3.9' | 'kafka-2.8' | 'kafka-2.4' | 'kafka-2.1' | 'kafka-1.1' | 'kafka-0.11' | 'kafka-0.10' | 'baselines'

const mavenDir = join(dirname(fileURLToPath(import.meta.url)), 'maven')

export function cacheRoot (): string {
  return process.env.KAFKA_MIRROR_CACHE ?? join(homedir(), '.cache', 'kafka-mirror')
}

export interface KafkaDist {
  flavour: KafkaFlavour
  /** The Kafka version the pom names. */
  version: string
  /** Folder holding every jar of the flavour; the classpath is `${libs}/*`. */
  libs: string
}

export function ensureKafkaDist (flavour: KafkaFlavour): KafkaDist {
  const pom = join(mavenDir, flavour, 'pom.xml')
  const text = readFileSync(pom, 'utf8')
  const version = /<kafka\.version>([^<]+)</.exec(text)?.[1] ?? 'unknown'
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12)
  const libs = join(cacheRoot(), `${flavour}-${version}-${hash}`, 'libs')
  if (existsSync(libs) && readdirSync(libs).some(f => f.endsWith('.jar'))) return { flavour, version, libs }

  mkdirSync(dirname(libs), { recursive: true })
  // Maven writes into a fresh folder that is renamed into place, so an interrupted fetch never
  // leaves a half-filled cache that later runs would trust.
  const partial = `${libs}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  process.stderr.write(`Fetching Apache Kafka ${version} (${flavour}) from Maven Central into ${dirname(libs)} (once)...\n`)
  const result = spawnSync('mvn', [
    '-q', '-B', '-f', pom, 'dependency:copy-dependencies',
    `-DoutputDirectory=${partial}`, '-DincludeScope=runtime'
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (result.error !== undefined) {
    throw new Error(`Cannot run Maven to fetch Kafka jars (${result.error.message}). Install Maven (apt-get install maven) and a JDK 17+.`)
  }
  if (result.status !== 0) {
    rmSync(partial, { recursive: true, force: true })
    throw new Error(`Maven could not fetch Kafka ${version} (${flavour}):\n${(result.stdout + result.stderr).slice(-4000)}`)
  }
  if (!existsSync(libs)) renameSync(partial, libs)
  else rmSync(partial, { recursive: true, force: true })
  return { flavour, version, libs }
}

export function javaBin (): string {
  return process.env.JAVA_HOME !== undefined ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java'
}
