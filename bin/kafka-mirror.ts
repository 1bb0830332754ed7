#!/usr/bin/env -S node --max-semi-space-size=8
// --max-semi-space-size=8 (MiB; V8's default here is 16): the copy loop makes much short-lived
// garbage, and a young generation half the default size holds peak RSS about 25 MiB lower at the
// same throughput (bench, W1 and W2). Whoever starts the file with `node` directly (the container
// image) passes the same flag; bench/bin.ts reads it from this line.
// The first file the bin loads. It must parse on any Node that may run it (an old one included),
// so it checks the version before it imports anything: an old Node gets a one-line answer, not a
// syntax error from somewhere in a dependency. Keep it to plain syntax and no static imports.
// The range is @platformatic/kafka's (">= 22.22.0 || >= 24.6.0" in its package.json, which as a
// semver range means 22.22.0 or newer), the same as our "engines".
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(`kafka-mirror needs Node.js 22.22.0 or newer (24 recommended); this is Node.js ${process.versions.node}.\n`)
  process.exit(1)
}

const { runCli } = await import('../src/cli/run-cli.ts')
const code = await runCli(process.argv.slice(2))
process.exitCode = code
// A client whose cluster went away can keep a socket open after the command is done: it must not
// keep the process alive past the stop deadline.
setTimeout(() => process.exit(code), 1000).unref()
