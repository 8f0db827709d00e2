/** Running the relay's CLI to completion in tests: its exit code and what it printed. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The CLI's source entry (run by Node ≥ 22.18 with type stripping). */
export const CLI_SOURCE = fileURLToPath(new URL('../../relay/cli.ts', import.meta.url))

/** How a finished run ended. */
export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs `node <entry> ...args` until it exits; rejects (after killing it) if it still runs after
 * `ms`. `node` defaults to the Node running the tests.
 */
export const runCli = (
  args: string[],
  options: { env?: NodeJS.ProcessEnv; node?: string; entry?: string; ms?: number; cwd?: string } = {},
): Promise<CliRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, [options.entry ?? CLI_SOURCE, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const ms = options.ms ?? 10_000
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the CLI still ran after ${ms} ms: ${stderr}`))
    }, ms)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
