#!/usr/bin/env node
/**
 * The `colloquy-relay` command (built to `dist/relay/cli.js`, the package's bin; `npm run relay`).
 *
 * This file only checks the Node version, then loads the relay. The check must come before any
 * import of the relay: static imports are all loaded before a module's first line runs, and
 * better-sqlite3's native module crashes the process (a segfault, no message) on Node 20.
 * So nothing here imports anything, and the command itself is loaded by a dynamic import.
 */

/** The oldest Node the relay runs on (package.json `engines`). */
const MIN_NODE_MAJOR = 22

const major = Number.parseInt(process.versions.node, 10)
if (!(major >= MIN_NODE_MAJOR)) {
  process.stderr.write(
    `colloquy-relay: Node ${MIN_NODE_MAJOR} or newer is required; this is Node ${process.versions.node} (${process.execPath})\n`,
  )
  process.exit(1)
}

await import('./command.ts')
