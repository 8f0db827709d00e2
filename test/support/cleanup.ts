import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A stack of cleanups run newest first after each test, so tests close everything they open. */
export class Cleanups {
  readonly #cleanups: Array<() => Promise<void> | void> = []

  defer(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn)
  }

  /** A fresh temp directory, removed at cleanup. */
  tmpdir(prefix = 'colloquy-test-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    this.defer(() => rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  /** Runs every cleanup, newest first; the first error is rethrown after all ran. */
  async cleanup(): Promise<void> {
    let first: unknown = null
    for (const fn of this.#cleanups.splice(0).reverse()) {
      try {
        await fn()
      } catch (error) {
        first ??= error
      }
    }
    if (first) throw first
  }
}
