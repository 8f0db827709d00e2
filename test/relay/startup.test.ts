/**
 * Start-up errors of the relay's CLI: each ends with one line on stderr and a non-zero exit code,
 * never a stack trace. The Node version is checked before anything is loaded, in the source entry
 * and in the built bin (`dist/relay/cli.js`), since better-sqlite3 crashes Node 20 outright.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Cleanups } from '../support/cleanup.ts'
import { type CliRun, runCli } from '../support/cli.ts'
import { deadline, SECRET } from './helpers.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))

/**
 * One line on stderr, starting `colloquy-relay:`, and no stack frame anywhere (besides the relay's
 * JSON log lines, such as `relay_closed` when a relay that could not listen stores everything).
 */
const expectOneLine = (run: CliRun, code: number, text: string | RegExp): void => {
  expect(run.signal, run.stderr).toBeNull()
  expect(run.code, run.stderr).toBe(code)
  const lines = run.stderr
    .trimEnd()
    .split('\n')
    .filter((line) => !line.startsWith('{"time":'))
  expect(lines, run.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^colloquy-relay: /)
  expect(lines[0]).toMatch(text)
  expect(run.stderr + run.stdout).not.toMatch(/\n\s+at |Error:/)
}

/** A Node older than 22: the machine's own if it has one, else this Node told it is 20 (a preload). */
const oldNode = (dir: string): { node: string; args: string[]; version: string } => {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim().slice(1)
      if (Number.parseInt(version, 10) < 22) return { node: candidate, args: [], version }
    } catch {}
  }
  const preload = join(dir, 'old-node.mjs')
  writeFileSync(preload, "Object.defineProperty(process.versions, 'node', { value: '20.19.0' })\n")
  return { node: process.execPath, args: ['--import', preload], version: '20.19.0' }
}

describe('relay CLI: start-up errors', () => {
  const c = new Cleanups()
  afterEach(() => c.cleanup())

  const listening = async (): Promise<Server> => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    c.defer(() => new Promise<void>((resolve) => server.close(() => resolve())))
    return server
  }

  it('a port in use: exit 1, naming the address, and the store is released', async () => {
    const taken = await listening()
    const port = (taken.address() as { port: number }).port
    const db = join(c.tmpdir(), 'relay.sqlite')
    const run = await runCli(['--port', String(port), '--db', db, '--secret', SECRET])
    expectOneLine(run, 1, `cannot listen on 127.0.0.1:${port}: the port is already in use`)
    expect(existsSync(`${db}.lock`)).toBe(false)
  })

  it('an address this machine does not have: exit 1', async () => {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, never a local address.
    const run = await runCli(['--port', '0', '--host', '192.0.2.1', '--db', ':memory:', '--secret', SECRET])
    expectOneLine(run, 1, 'cannot listen on 192.0.2.1:0: no such address on this machine')
  })

  it('a missing public key file: exit 2', async () => {
    const run = await runCli(['--port', '0', '--db', ':memory:', '--public-key', '/nonexistent/key.pem'])
    expectOneLine(run, 2, 'cannot read the public key file /nonexistent/key.pem: no such file')
  })

  it('an unknown flag, a stray argument, a bad port, no secret: exit 2', async () => {
    expectOneLine(await runCli(['--prot', '80']), 2, "Unknown option '--prot'")
    expectOneLine(await runCli(['serve', '--secret', SECRET]), 2, "Unexpected argument 'serve'")
    expectOneLine(
      await runCli(['--port', '8o', '--secret', SECRET]),
      2,
      "--port must be an integer from 0 to 65535, not '8o'",
    )
    expectOneLine(await runCli(['--port', '70000', '--secret', SECRET]), 2, /--port must be/)
    const env = { ...process.env, COLLOQUY_SECRET: '' }
    expectOneLine(await runCli(['--port', '0', '--db', ':memory:'], { env }), 2, /set a token secret/)
    expectOneLine(await runCli(['--port', '0', '--db', ':memory:', '--secret', 'short']), 1, /at least 32 bytes/)
  })

  it('a store that cannot be written or is no database: exit 1, naming the file and the reason', async () => {
    const unwritable = '/proc/colloquy-startup-test.sqlite'
    expectOneLine(
      await runCli(['--port', '0', '--db', unwritable, '--secret', SECRET]),
      1,
      `cannot open the SQLite database ${unwritable}: unable to open database file`,
    )
    const notDb = join(c.tmpdir(), 'notes.txt')
    writeFileSync(notDb, 'these are my notes, not a database; '.repeat(20))
    expectOneLine(
      await runCli(['--port', '0', '--db', notDb, '--secret', SECRET]),
      1,
      `cannot open the SQLite database ${notDb}: file is not a database`,
    )
    expectOneLine(
      await runCli(['--port', '0', '--db', '/nonexistent-dir/relay.sqlite', '--secret', SECRET]),
      1,
      'the directory for the SQLite database does not exist: /nonexistent-dir',
    )
  })

  describe('Node older than 22', () => {
    const built = new Cleanups()
    afterAll(() => built.cleanup())
    let dist: string
    beforeAll(() => {
      // The published bin, as `npm run build` makes it (into a directory of its own). Its
      // dependencies resolve through a node_modules link, as in an installed package.
      dist = built.tmpdir('colloquy-dist-')
      symlinkSync(join(root, 'node_modules'), join(dist, 'node_modules'))
      execFileSync(
        process.execPath,
        [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', dist],
        { cwd: root, stdio: 'pipe' },
      )
    }, 120_000)

    it('the built bin refuses with one line before loading the relay (no crash)', async () => {
      const old = oldNode(c.tmpdir())
      const run = await runCli(['--port', '0', '--db', join(c.tmpdir(), 'relay.sqlite'), '--secret', SECRET], {
        node: old.node,
        entry: join(dist, 'relay/cli.js'),
        env: { ...process.env, NODE_OPTIONS: old.args.join(' ') },
      })
      expectOneLine(run, 1, `Node 22 or newer is required; this is Node ${old.version} (${old.node})`)
    })

    it('the built bin starts a relay on a current Node', async () => {
      const child = spawn(process.execPath, [join(dist, 'relay/cli.js'), '--port', '0', '--db', ':memory:'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, COLLOQUY_SECRET: SECRET },
      })
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      c.defer(async () => {
        if (child.exitCode === null) child.kill('SIGKILL')
        await exited
      })
      const port = await deadline(
        new Promise<number>((resolve) => {
          let out = ''
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString()
            const m = /\(port (\d+)\)/.exec(out)
            if (m) resolve(Number(m[1]))
          })
        }),
        10_000,
        'the built relay listens',
      )
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
      child.kill('SIGTERM')
      expect(await deadline(exited, 10_000, 'the built relay stops on SIGTERM')).toBe(0)
    })
  })
})
