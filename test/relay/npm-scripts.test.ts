/**
 * `npm run relay` and `npm start` under a process manager: SIGTERM (or SIGINT) sent to npm alone
 * must stop the server npm started, not leave it orphaned and serving. npm forwards the signal to
 * its child, so the scripts `exec` the server in place of the shell (dash forwards nothing).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanups } from '../support/cleanup.ts'
import { deadline, SECRET, waitUntil } from './helpers.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))

const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Resolves with the first match of `pattern` in the child's stdout. */
const printed = (child: ChildProcess, pattern: RegExp, what: string, ms: number): Promise<RegExpExecArray> =>
  deadline(
    new Promise((resolve, reject) => {
      let out = ''
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        const m = pattern.exec(out)
        if (m) resolve(m)
      })
      child.once('exit', (code) => reject(new Error(`exited (${code}) before ${what}: ${out}`)))
    }),
    ms,
    what,
  )

describe('npm scripts pass signals on to the server', () => {
  const c = new Cleanups()
  afterEach(() => c.cleanup())

  /** `npm run <script>` in the project; the server's pid is read from its store's lock file. */
  const npmRun = (script: string, args: string[], env: NodeJS.ProcessEnv, db: string) => {
    const npm = spawn('npm', ['run', '--silent', script, ...(args.length ? ['--', ...args] : [])], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const npmExited = new Promise<void>((resolve) => npm.once('exit', () => resolve()))
    c.defer(async () => {
      // Whatever happened, nothing this test started runs on.
      if (existsSync(`${db}.lock`)) {
        const pid = (JSON.parse(readFileSync(`${db}.lock`, 'utf8')) as { pid: number }).pid
        if (running(pid)) process.kill(pid, 'SIGKILL')
      }
      if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL')
      await npmExited
    })
    return { npm, npmExited, serverPid: () => (JSON.parse(readFileSync(`${db}.lock`, 'utf8')) as { pid: number }).pid }
  }

  const stopsOn = async (signal: NodeJS.Signals, run: ReturnType<typeof npmRun>, ports: number[]) => {
    const pid = run.serverPid()
    expect(pid).not.toBe(run.npm.pid)
    expect(running(pid)).toBe(true)
    run.npm.kill(signal)
    await waitUntil(() => !running(pid), `the server (pid ${pid}) stops after ${signal} to npm`, 15_000)
    await deadline(run.npmExited, 10_000, 'npm exits')
    for (const port of ports) await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow()
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`npm run relay: ${signal} to npm stops the relay`, async () => {
      const db = join(c.tmpdir(), 'relay.sqlite')
      const run = npmRun('relay', ['--port', '0', '--db', db], { COLLOQUY_SECRET: SECRET }, db)
      const [, port] = await printed(run.npm, /\(port (\d+)\)/, 'the relay listens', 15_000)
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
      await stopsOn(signal, run, [Number(port)])
      // Stopped cleanly: the store's lock is gone.
      expect(existsSync(`${db}.lock`)).toBe(false)
    })
  }

  it('npm start: SIGTERM to npm stops the example server', async () => {
    const db = join(c.tmpdir(), 'relay.sqlite')
    const run = npmRun('start', [], { PORT: '0', RELAY_PORT: '0', COLLOQUY_DB: db }, db)
    const [, relayPort, webPort] = await printed(
      run.npm,
      /relay listening on ws:\/\/\S+:(\d+)[\s\S]*web chat on http:\/\/\S+:(\d+)/,
      'the example server listens',
      60_000,
    )
    expect((await fetch(`http://127.0.0.1:${relayPort}/healthz`)).status).toBe(200)
    await stopsOn('SIGTERM', run, [Number(relayPort), Number(webPort)])
  }, 90_000)
})
