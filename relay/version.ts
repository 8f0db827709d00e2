/** The package's version, for the start-up log line and `colloquy_build_info`. */
import { readFileSync } from 'node:fs'

/**
 * Read from package.json: beside `relay/` when run from source, two levels up from
 * `dist/relay/` when built. `unknown` if neither is colloquy's (a bundler moved the code).
 */
const read = (): string => {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: unknown
        version?: unknown
      }
      if (pkg.name === 'colloquy' && typeof pkg.version === 'string') return pkg.version
    } catch {}
  }
  return 'unknown'
}

/** colloquy's version, e.g. `0.1.0`. */
export const RELAY_VERSION: string = read()
