// `npm run test:reliability`: the shared source and target clusters of test/global-setup.ts, and,
// in full mode, the heading of this run's table in test/reliability/results/<date>.md.
import { globalSetup as sharedSetup, globalTeardown as sharedTeardown } from '../global-setup.ts'
import { full, runDetails, startResultsRun } from './helpers.ts'

export async function globalSetup (): Promise<void> {
  await sharedSetup()
  if (full || process.env.KAFKA_MIRROR_RELIABILITY_RESULTS === '1') startResultsRun(runDetails())
}

export async function globalTeardown (): Promise<void> {
  await sharedTeardown()
}
