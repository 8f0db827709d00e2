import * as Y from 'yjs'
import { STORAGE_ORIGIN } from '../origins.ts'
import type { StorageAdapter } from './adapter.ts'

/** After this many appended updates, the log is compacted into one state update. */
const COMPACT_AFTER = 500

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
  #logLength = 0
  #error: unknown = null
  #destroyed = false
  readonly #onUpdate: (update: Uint8Array, origin: unknown) => void

  private constructor(doc: Y.Doc, name: string, storage: StorageAdapter) {
    this.doc = doc
    this.name = name
    this.#storage = storage
    this.#onUpdate = (update, origin) => {
      if (origin === STORAGE_ORIGIN || this.#destroyed) return
      this.#enqueue(async () => {
        await this.#storage.append(this.name, update)
        this.#logLength++
        if (this.#logLength >= COMPACT_AFTER) await this.#compact()
      })
    }
  }

  /** Loads `name` from `storage` into `doc` and starts persisting its updates. */
  static async open(doc: Y.Doc, name: string, storage: StorageAdapter): Promise<DocPersistence> {
    const p = new DocPersistence(doc, name, storage)
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
    p.#logLength = updates.length
    doc.on('update', p.#onUpdate)
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
    this.doc.off('update', this.#onUpdate)
    await this.#chain
    this.#destroyed = true
  }

  async #compact(): Promise<void> {
    const count = this.#logLength
    await this.#storage.compact(this.name, Y.encodeStateAsUpdate(this.doc), count)
    this.#logLength = this.#logLength - count + 1
  }

  #enqueue(task: () => Promise<void>): void {
    this.#chain = this.#chain.then(task).catch((error: unknown) => {
      this.#error ??= error
    })
  }
}
