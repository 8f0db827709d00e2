import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  exports: Record<string, { types: string; import: string }>
  bin: Record<string, string>
}

/** `./dist/src/x.js` → `src/x.ts`: the source a published entry is built from. */
const sourceOf = (built: string): string => built.replace(/^\.\/dist\//, '').replace(/\.(d\.ts|js)$/, '.ts')

describe('package exports', () => {
  it('every entry has matching types and code built from a source that exists', () => {
    for (const [entry, { types, import: code }] of Object.entries(pkg.exports)) {
      expect(sourceOf(types), entry).toBe(sourceOf(code))
      expect(existsSync(`${root}${sourceOf(code)}`), `${entry} → ${sourceOf(code)}`).toBe(true)
    }
  })

  it('every entry loads and exports something, and the main entry names the API', async () => {
    for (const [entry, { import: code }] of Object.entries(pkg.exports)) {
      const mod = (await import(`${root}${sourceOf(code)}`)) as Record<string, unknown>
      expect(Object.keys(mod).length, entry).toBeGreaterThan(0)
    }
    const main = (await import(`${root}src/index.ts`)) as Record<string, unknown>
    for (const name of ['Client', 'Conversation', 'Message', 'Participant', 'User', 'Paginator', 'ColloquyError'])
      expect(typeof main[name], name).toBe('function')
    const relay = (await import(`${root}relay/index.ts`)) as Record<string, unknown>
    for (const name of ['createRelay', 'signToken']) expect(typeof relay[name], name).toBe('function')
  })

  it('the relay command is built from the CLI, which starts with a shebang', () => {
    const cli = pkg.bin['colloquy-relay']!
    expect(sourceOf(cli)).toBe('relay/cli.ts')
    expect(readFileSync(`${root}relay/cli.ts`, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true)
  })
})
