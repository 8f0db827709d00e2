/**
 * Drives the terminal chat example as a real process: through pipes, or through a pseudo-terminal
 * (util-linux `script`), where readline runs in terminal mode as it does for a person — the mode in
 * which `/quit` and Ctrl-D used to crash.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { signToken } from '../../relay/index.ts'

export const MAIN = fileURLToPath(new URL('../../examples/terminal-chat/main.ts', import.meta.url))
export const SECRET = 'terminal-chat-test-secret-0123456789abcdef'
export const WAIT_MS = 10_000

export const tokenFor = (identity: string): Promise<string> => signToken({ identity, secret: SECRET })

const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`

/** One terminal chat process; `waitFor` matches its output from where the last match ended. */
export class Terminal {
  readonly #proc: ChildProcessWithoutNullStreams
  output = ''
  #seen = 0
  readonly #exited: Promise<number | null>
  #listeners = new Set<() => void>()

  /**
   * `pty`: run it in a pseudo-terminal (stdin and stdout are TTYs); send lines with `\r` there.
   * `program`: another example script than the terminal chat; `env`: changes to this process's
   * environment (undefined: removed).
   */
  constructor(
    args: string[],
    options: { pty?: boolean; program?: string; env?: Record<string, string | undefined> } = {},
  ) {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', TERM: 'xterm', ...options.env }
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key]
    const command = [process.execPath, options.program ?? MAIN, ...args]
    this.#proc = options.pty
      ? spawn(
          'script',
          // -e: exit with the program's code; -f: flush output at once; -q: no banner.
          ['-qfec', command.map(shellQuote).join(' '), '/dev/null'],
          { stdio: ['pipe', 'pipe', 'pipe'], env },
        )
      : spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env })
    const take = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8')
      for (const l of [...this.#listeners]) l()
    }
    this.#proc.stdout.on('data', take)
    this.#proc.stderr.on('data', take)
    this.#exited = new Promise((resolve) => this.#proc.on('exit', (code) => resolve(code)))
  }

  send(line: string): void {
    this.#proc.stdin.write(`${line}\n`)
  }

  /** Writes raw bytes (keys in a pseudo-terminal: `\r` is Enter, `\x04` is Ctrl-D). */
  type(keys: string): void {
    this.#proc.stdin.write(keys)
  }

  /** Resolves with the first line containing `text` after the previous match. */
  waitFor(text: string, ms = WAIT_MS): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const at = this.output.indexOf(text, this.#seen)
        if (at === -1) return false
        const start = this.output.lastIndexOf('\n', at) + 1
        const end = this.output.indexOf('\n', at)
        this.#seen = end === -1 ? this.output.length : end
        resolve(this.output.slice(start, end === -1 ? undefined : end))
        return true
      }
      if (check()) return
      const listener = (): void => {
        if (check()) done()
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${ms} ms waiting for ${JSON.stringify(text)}; output:\n${this.output}`))
      }, ms)
      const done = (): void => {
        clearTimeout(timer)
        this.#listeners.delete(listener)
      }
      this.#listeners.add(listener)
    })
  }

  /** The output lines that contain `text` (or match it). */
  lines(text: string | RegExp): string[] {
    return this.output.split('\n').filter((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)))
  }

  /** Resolves with the exit code once the process ends by itself (rejects after the deadline). */
  async exit(ms = WAIT_MS): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; output:\n${this.output}`)), ms)
    })
    try {
      return await Promise.race([this.#exited, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Ends stdin (the chat quits cleanly) and resolves with the exit code. */
  async quit(): Promise<number | null> {
    this.#proc.stdin.end()
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), WAIT_MS)
    const code = await this.#exited
    clearTimeout(timer)
    return code
  }

  /** Sends a signal (the example server stops cleanly on SIGTERM). */
  signal(signal: NodeJS.Signals): void {
    this.#proc.kill(signal)
  }

  kill(): void {
    if (this.#proc.exitCode === null) this.#proc.kill('SIGKILL')
  }
}
