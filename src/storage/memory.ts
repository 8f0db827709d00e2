import { ColloquyError, closedError } from '../errors.ts'
import type { StorageAdapter } from './adapter.ts'
import { checkBytes, checkCount, checkDocName, checkPrefix } from './checks.ts'

/**
 * A storage adapter that keeps every log in process memory.
 *
 * Use it for tests, previews and server-side scratch documents where losing the data on exit is
 * acceptable; nothing survives the process. It stores private copies of the bytes, so it behaves
 * like a real store: a caller that mutates an array it appended or loaded cannot corrupt the log,
 * and bugs that rely on sharing buffers with the store show up here rather than in production.
 */
export class MemoryStorage implements StorageAdapter {
  readonly #docs = new Map<string, Uint8Array[]>()
  #closed = false

  /** {@inheritDoc StorageAdapter.load} */
  async load(docName: string): Promise<Uint8Array[]> {
    this.#assertOpen()
    checkDocName(docName)
    return (this.#docs.get(docName) ?? []).map((update) => new Uint8Array(update))
  }

  /** {@inheritDoc StorageAdapter.append} */
  async append(docName: string, update: Uint8Array): Promise<void> {
    this.#assertOpen()
    checkDocName(docName)
    checkBytes(update, 'update')
    const log = this.#docs.get(docName)
    const copy = new Uint8Array(update)
    if (log) log.push(copy)
    else this.#docs.set(docName, [copy])
  }

  /** {@inheritDoc StorageAdapter.compact} */
  async compact(docName: string, state: Uint8Array, count: number): Promise<void> {
    this.#assertOpen()
    checkDocName(docName)
    checkBytes(state, 'state')
    checkCount(count)
    const log = this.#docs.get(docName) ?? []
    if (count > log.length) {
      throw new ColloquyError(
        'CONFLICT',
        `cannot compact ${count} updates: the log holds only ${log.length} (was it compacted concurrently?)`,
      )
    }
    const kept = log.slice(count)
    this.#docs.set(docName, [new Uint8Array(state), ...kept])
  }

  /** {@inheritDoc StorageAdapter.list} */
  async list(prefix = ''): Promise<string[]> {
    this.#assertOpen()
    checkPrefix(prefix)
    const names: string[] = []
    for (const [name, log] of this.#docs) {
      if (log.length > 0 && name.startsWith(prefix)) names.push(name)
    }
    return names.sort()
  }

  /** {@inheritDoc StorageAdapter.remove} */
  async remove(docName: string): Promise<void> {
    this.#assertOpen()
    checkDocName(docName)
    this.#docs.delete(docName)
  }

  /**
   * Drops every log and refuses further calls. Closing twice is harmless, so shutdown paths need no
   * bookkeeping.
   */
  async close(): Promise<void> {
    this.#closed = true
    this.#docs.clear()
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('MemoryStorage')
  }
}

/**
 * Creates an empty in-memory store. Prefer it over `new MemoryStorage()` so call sites read the
 * same as for the persistent adapters and can be swapped for one without other changes.
 */
export function createMemoryStorage(): MemoryStorage {
  return new MemoryStorage()
}
