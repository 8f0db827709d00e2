/** `npm start` (examples/server.ts) as a newcomer runs it: what its start banner says. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Terminal } from './terminal.ts'

const SERVER = fileURLToPath(new URL('../../examples/server.ts', import.meta.url))

describe('example server', () => {
  let dir: string
  let server: Terminal | null

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'colloquy-example-server-'))
    server = null
  })

  afterEach(() => {
    server?.kill()
    rmSync(dir, { recursive: true, force: true })
  })

  it('names the file that keeps the development secret, with the path it uses', async () => {
    const db = join(dir, 'relay.sqlite')
    server = new Terminal([], {
      program: SERVER,
      env: { PORT: '0', RELAY_PORT: '0', COLLOQUY_DB: db, COLLOQUY_SECRET: undefined, COLLOQUY_LOG: undefined },
    })
    const banner = await server.waitFor('development token secret', 30_000)
    expect(banner).toContain(`(kept in ${db}-dev-secret)`)
    expect(existsSync(`${db}-dev-secret`)).toBe(true)
    expect(banner).toContain(readFileSync(`${db}-dev-secret`, 'utf8').trim())
    await server.waitFor('Press Ctrl-C')
    server.signal('SIGTERM')
    expect(await server.exit()).toBe(0)
  }, 40_000)
})
