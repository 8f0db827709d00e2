/**
 * The package as npm publishes it. Packed from a copy of the sources without build output (what a
 * fresh clone holds: `prepack` must build), unpacked into a separate project whose node_modules
 * holds only the declared dependencies (linked from this checkout's, so no download), and used
 * there by its published names on this Node: a relay, a client on SQLite, one message through both.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))

/** What the build and the `files` list need; everything else a clone holds is left out to keep the copy small. */
const SOURCES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'CHANGELOG.md']
const SOURCE_DIRS = ['src', 'relay', 'docs']

interface Packed {
  filename: string
  files: Array<{ path: string }>
}

interface Manifest {
  dependencies: Record<string, string>
  exports: Record<string, { types: string; import: string }>
  bin: Record<string, string>
}

const CONSUMER = `
import assert from 'node:assert/strict'
import { Client, ColloquyError } from 'colloquy'
import { createRelay, signToken } from 'colloquy/relay'
import { createSqliteStorage } from 'colloquy/storage/sqlite'

const secret = 'packed-package-test-secret-0123456789abcdef'
const relay = await createRelay({ auth: { secret } })
await relay.listen(0)
const storage = createSqliteStorage({ path: ':memory:' })
const client = await Client.create({ relayUrl: relay.url, token: await signToken({ identity: 'alice', secret }), storage })
const conversation = await client.createConversation({ friendlyName: 'packed', join: true })
const message = await conversation.sendMessage('hello from the tarball')
const deadline = Date.now() + 10_000
while (message.index === null) {
  assert.ok(Date.now() < deadline, 'the relay never sequenced the message')
  await new Promise((resolve) => setTimeout(resolve, 20))
}
assert.equal(typeof ColloquyError, 'function')
await client.shutdown()
await storage.close()
await relay.close()
process.stdout.write(JSON.stringify({ index: message.index, body: message.body }))
`

describe('the packed package', () => {
  let dir: string
  let packed: Packed
  let installed: string
  let manifest: Manifest

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'colloquy-tarball-'))
    const source = join(dir, 'source')
    mkdirSync(source)
    for (const file of SOURCES) cpSync(join(root, file), join(source, file))
    for (const sub of SOURCE_DIRS) cpSync(join(root, sub), join(source, sub), { recursive: true })
    symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'), 'dir')
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: source,
      env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' },
      maxBuffer: 16 * 1024 * 1024,
    })
    packed = (JSON.parse(stdout) as Packed[])[0]!

    const consumer = join(dir, 'consumer')
    installed = join(consumer, 'node_modules', 'colloquy')
    mkdirSync(installed, { recursive: true })
    await run('tar', ['-xzf', join(dir, packed.filename), '-C', installed, '--strip-components=1'])
    manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Manifest
    // Only what the package declares: an import of anything else fails as it would for a user.
    for (const name of Object.keys(manifest.dependencies)) {
      mkdirSync(join(consumer, 'node_modules', name, '..'), { recursive: true })
      symlinkSync(join(root, 'node_modules', name), join(consumer, 'node_modules', name), 'dir')
    }
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    writeFileSync(join(consumer, 'use.js'), CONSUMER)
  }, 180_000)

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('holds the built code, its types, the docs, the license and the changelog, and no sources or tests', () => {
    const paths = packed.files.map((f) => f.path)
    for (const [entry, { types, import: code }] of Object.entries(manifest.exports)) {
      expect(paths, entry).toContain(code.replace(/^\.\//, ''))
      expect(paths, entry).toContain(types.replace(/^\.\//, ''))
    }
    expect(paths).toContain(manifest.bin['colloquy-relay']!.replace(/^\.\//, ''))
    for (const file of ['LICENSE', 'CHANGELOG.md', 'README.md', 'package.json', 'docs/security.md'])
      expect(paths).toContain(file)
    expect(paths.filter((p) => !/^(dist\/(src|relay)\/|docs\/)/.test(p)).sort()).toEqual(
      ['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json'].sort(),
    )
  })

  it('works when imported by its published names in another project', async () => {
    const { stdout } = await run(process.execPath, ['use.js'], { cwd: join(dir, 'consumer'), timeout: 60_000 })
    expect(JSON.parse(stdout)).toEqual({ index: 0, body: 'hello from the tarball' })
  }, 60_000)

  it('runs the relay command from the tarball', async () => {
    const cli = join(installed, manifest.bin['colloquy-relay']!)
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true)
    const { stdout } = await run(process.execPath, [cli, '--help'], { cwd: join(dir, 'consumer') })
    expect(stdout).toContain('--help')
  })
})
