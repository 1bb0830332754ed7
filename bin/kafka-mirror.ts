#!/usr/bin/env node
import { runCli } from '../src/cli/run-cli.ts'

const code = await runCli(process.argv.slice(2))
process.exitCode = code
// A client whose cluster went away can keep a socket open after the command is done: it must not
// keep the process alive past the stop deadline.
setTimeout(() => process.exit(code), 1000).unref()
