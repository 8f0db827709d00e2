import * as Y from 'yjs'
import { DocUpdates } from '../crdt/doc-updates.ts'
import { STORAGE_ORIGIN } from '../origins.ts'
import { type Scheduler, systemScheduler, unrefTimer } from '../runtime.ts'
import type { StorageAdapter } from './adapter.ts'

/**
 * When to compact a log: after at least `minUpdates` appends, and once the bytes appended since the
 * last compaction reach a quarter of the compacted state. Compacting re-encodes the whole
 * document, so a fixed count would make a long history quadratic; this keeps the work linear in
 * what is appended, and the log at most ~1.25× the state.
 */
export class CompactionPolicy {
  #updates = 0
  #bytes = 0
  #stateBytes = 0
  readonly #minUpdates: number

  constructor(minUpdates = 500) {
    this.#minUpdates = minUpdates
  }

  /** The log as loaded: its entries and their total size (taken as the state's size). */
  loaded(entries: number, bytes: number): void {
    this.#updates = entries
    this.#bytes = 0
    this.#stateBytes = bytes
  }

  appended(bytes: number): void {
    this.#updates++
    this.#bytes += bytes
  }

  get due(): boolean {
    return this.#updates >= this.#minUpdates && this.#bytes >= this.#stateBytes / 4
  }

  /** Entries in the log now (what a compaction replaces). */
  get entries(): number {
    return this.#updates
  }

  /** `count` entries were replaced by a state of `stateBytes`. */
  compacted(count: number, stateBytes: number): void {
    this.#updates = this.#updates - count + 1
    this.#bytes = 0
    this.#stateBytes = stateBytes
  }
}

/** How long compaction waits once it is due (ms): a burst of updates is compacted once, after it. */
export const COMPACT_DELAY_MS = 1_000

/** Options of `DocPersistence.open`. */
export interface PersistenceOptions {
  /** Timers for the deferred compaction (a simulation passes its virtual clock). */
  scheduler?: Scheduler
  /**
   * How long a due compaction waits (default `COMPACT_DELAY_MS`). Compacting re-encodes the whole
   * document; deferring it lets a burst finish first, so it is done once instead of on the hot
   * path of every few hundred updates. 0 compacts at once.
   */
  compactDelayMs?: number
}

/**
 * Keeps one Y.Doc and its stored log in step: loads the log into the doc, appends every later
 * update (from any origin but storage itself), and compacts the log now and then. `flush()`
 * resolves when everything written so far is durable — what every client write awaits.
 */
export class DocPersistence {
  readonly doc: Y.Doc
  readonly name: string
  readonly #storage: StorageAdapter
  #chain: Promise<void> = Promise.resolve()
  readonly #policy = new CompactionPolicy()
  #error: unknown = null
  #destroyed = false
  readonly #onUpdate: (update: Uint8Array, origin: unknown) => void
  #unsubscribe: (() => void) | null = null
  readonly #scheduler: Scheduler
  readonly #compactDelayMs: number
  #compactTimer: unknown = null

  private constructor(doc: Y.Doc, name: string, storage: StorageAdapter, options: PersistenceOptions) {
    this.doc = doc
    this.name = name
    this.#storage = storage
    this.#scheduler = options.scheduler ?? systemScheduler
    this.#compactDelayMs = options.compactDelayMs ?? COMPACT_DELAY_MS
    this.#onUpdate = (update, origin) => {
      if (origin === STORAGE_ORIGIN || this.#destroyed) return
      this.#enqueue(async () => {
        await this.#storage.append(this.name, update)
        this.#policy.appended(update.byteLength)
        if (this.#policy.due) await this.#compactSoon()
      })
    }
  }

  /** Loads `name` from `storage` into `doc` and starts persisting its updates. */
  static async open(
    doc: Y.Doc,
    name: string,
    storage: StorageAdapter,
    options: PersistenceOptions = {},
  ): Promise<DocPersistence> {
    const p = new DocPersistence(doc, name, storage, options)
    const updates = await storage.load(name)
    if (updates.length > 0) {
      Y.transact(
        doc,
        () => {
          for (const u of updates) Y.applyUpdate(doc, u, STORAGE_ORIGIN)
        },
        STORAGE_ORIGIN,
      )
    }
    p.#policy.loaded(
      updates.length,
      updates.reduce((n, u) => n + u.byteLength, 0),
    )
    p.#unsubscribe = DocUpdates.of(doc).subscribe(p.#onUpdate)
    return p
  }

  /** Resolves once every update made so far is durable; rejects if storing one failed. */
  async flush(): Promise<void> {
    await this.#chain
    if (this.#error) throw this.#error
  }

  /** Writes the whole current state as one entry, replacing the log. */
  async compact(): Promise<void> {
    this.#enqueue(() => this.#compact())
    await this.flush()
  }

  /** Stops persisting (after flushing what is queued). */
  async destroy(): Promise<void> {
    this.#unsubscribe?.()
    if (this.#compactTimer !== null) this.#scheduler.clearTimeout(this.#compactTimer)
    this.#compactTimer = null
    await this.#chain
    this.#destroyed = true
  }

  /** Compacts now (no delay) or once the delay has passed, if it is still due then. */
  async #compactSoon(): Promise<void> {
    if (this.#compactDelayMs <= 0) return this.#compact()
    if (this.#compactTimer !== null || this.#destroyed) return
    this.#compactTimer = this.#scheduler.setTimeout(() => {
      this.#compactTimer = null
      if (!this.#destroyed && this.#policy.due) this.#enqueue(() => this.#compact())
    }, this.#compactDelayMs)
    unrefTimer(this.#compactTimer)
  }

  async #compact(): Promise<void> {
    const count = this.#policy.entries
    const state = Y.encodeStateAsUpdate(this.doc)
    await this.#storage.compact(this.name, state, count)
    this.#policy.compacted(count, state.byteLength)
  }

  #enqueue(task: () => Promise<void>): void {
    this.#chain = this.#chain.then(task).catch((error: unknown) => {
      this.#error ??= error
    })
  }
}
