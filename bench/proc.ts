/**
 * Child processes for the benchmarks: every relay and every group of clients runs in its own
 * Node process, driven over IPC with request/response calls. Each call has a deadline and every
 * child is killed when the scenario ends, so a stuck run fails instead of hanging.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Token secret shared by the benchmark relays and clients (loopback only, throwaway). */
export const SECRET = 'colloquy-bench-secret-0123456789abcdef-0123'

/** A monotonic clock in ms shared by every process on the machine (CLOCK_MONOTONIC). */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs a full garbage collection when the process was started with `--expose-gc`. */
export const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc
  if (g) {
    g()
    g()
  }
}

/** The script path of a benchmark module (`bench/<name>`). */
export const script = (name: string): string => fileURLToPath(new URL(name, import.meta.url))

/** A fresh temporary directory, removed by the returned cleanup. */
export const tempDir = (prefix: string): { dir: string; remove: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), `colloquy-bench-${prefix}-`))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

interface Reply {
  id: number
  ok: boolean
  result?: unknown
  error?: string
}

/** Rejects after `ms` unless `p` settles first. */
export const withDeadline = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    p.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })

/** A benchmark child process, talking JSON over IPC. */
export class Child {
  readonly name: string
  readonly proc: ChildProcess
  readonly ready: Promise<Record<string, unknown>>
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  #nextId = 1
  #stderr = ''
  readonly #exited: Promise<void>

  constructor(name: string, file: string, args: string[] = [], options: { gc?: boolean; execArgv?: string[] } = {}) {
    this.name = name
    // BENCH_PROFILE=<dir>: every child writes a V8 CPU profile there when it exits.
    const profile = process.env.BENCH_PROFILE
    const execArgv = [
      ...(options.gc ? ['--expose-gc'] : []),
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
      ...(options.execArgv ?? []),
    ]
    this.proc = spawn(process.execPath, [...execArgv, script(file), ...args], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000)
    })
    this.#exited = new Promise((resolve) => this.proc.once('exit', () => resolve()))
    this.ready = new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`${name} exited (${code}) before it was ready: ${this.#stderr}`))
      this.proc.once('exit', onExit)
      this.proc.on('message', (m: { type?: string } & Record<string, unknown>) => {
        if (m.type === 'ready') {
          this.proc.off('exit', onExit)
          resolve(m)
          return
        }
        const reply = m as unknown as Reply
        const p = this.#pending.get(reply.id)
        if (!p) return
        this.#pending.delete(reply.id)
        if (reply.ok) p.resolve(reply.result)
        else p.reject(new Error(`${name}: ${reply.error}`))
      })
    })
    this.proc.once('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${name} exited (${code}): ${this.#stderr}`))
      this.#pending.clear()
    })
  }

  /** Calls `cmd` in the child; rejects after `ms`. */
  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}, ms = 120_000): Promise<T> {
    const id = this.#nextId++
    const p = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.proc.send({ id, cmd, args })
    })
    return withDeadline(p, ms, `${this.name}.${cmd}`).catch((e: unknown) => {
      this.#pending.delete(id)
      throw e
    })
  }

  /** Waits up to `ms` for the child to exit by itself. */
  async exit(ms: number): Promise<void> {
    await Promise.race([this.#exited, sleep(ms)])
  }

  /** Ends the child: it exits by itself once IPC is closed; after `graceMs` it is killed. */
  async kill(graceMs = 2_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    if (this.proc.connected) this.proc.disconnect()
    await this.exit(graceMs)
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL')
    await this.#exited
  }
}

/** The child side: answers the parent's calls with `handlers` and says it is ready. */
export const serve = (
  handlers: Record<string, (args: Record<string, unknown>) => unknown>,
  ready: Record<string, unknown> = {},
): void => {
  process.on('message', (m: { id: number; cmd: string; args: Record<string, unknown> }) => {
    const handler = handlers[m.cmd]
    if (!handler) {
      process.send!({ id: m.id, ok: false, error: `unknown command ${m.cmd}` })
      return
    }
    Promise.resolve()
      .then(() => handler(m.args))
      .then(
        (result) => process.send!({ id: m.id, ok: true, result }),
        (error: unknown) =>
          process.send!({
            id: m.id,
            ok: false,
            error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error),
          }),
      )
  })
  // The parent going away ends the child (no orphans).
  process.on('disconnect', () => process.exit(0))
  process.send!({ type: 'ready', ...ready })
}

/** Kills every child, ignoring errors. */
export const killAll = async (children: Array<Child | null | undefined>): Promise<void> => {
  await Promise.all(children.map((c) => c?.kill().catch(() => {})))
}
