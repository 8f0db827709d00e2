import { createStores } from 'lib0/indexeddb'
import { ColloquyError, closedError } from '../errors.ts'
import { checkOptions } from '../options.ts'
import type { StorageAdapter } from './adapter.ts'
import { checkBytes, checkCount, checkDocName, checkPrefix } from './checks.ts'

/** Options for {@link createIndexedDbStorage}. */
export interface IndexedDbStorageOptions {
  /**
   * Prepended to every document name to form its IndexedDB database name, so colloquy's databases
   * do not collide with an app's own and `list` can tell them apart. Default `colloquy:`.
   */
  prefix?: string
  /**
   * The IndexedDB implementation. Default `globalThis.indexedDB`; pass another factory (for
   * example fake-indexeddb's) to run in Node or to isolate tests from each other.
   */
  indexedDB?: IDBFactory
}

const UPDATES_STORE = 'updates'
const CUSTOM_STORE = 'custom'

/**
 * A storage adapter for browsers, on IndexedDB.
 *
 * It writes y-indexeddb's on-disk layout — one database per document named `${prefix}${docName}`,
 * with an auto-incrementing `updates` store of Yjs updates and an empty `custom` store — so an
 * app can switch between this adapter and y-indexeddb's `IndexeddbPersistence` (given the same
 * database name) without migrating data. Writes use `durability: 'strict'` transactions and
 * resolve only once the transaction has committed.
 */
export class IndexedDbStorage implements StorageAdapter {
  readonly #factory: IDBFactory
  readonly #prefix: string
  readonly #handles = new Map<string, Promise<IDBDatabase>>()
  readonly #pending = new Set<Promise<unknown>>()
  #closed = false

  /**
   * Prefer {@link createIndexedDbStorage}; the constructor exists so the class can be subclassed.
   * Throws `INVALID_ARGUMENT` when no IndexedDB implementation is available, so a server-side
   * render that picked the wrong adapter fails at startup rather than on the first write.
   */
  constructor(options: IndexedDbStorageOptions = {}) {
    checkOptions(options, { prefix: true, indexedDB: true }, 'IndexedDB storage')
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB
    if (!factory) {
      throw new ColloquyError(
        'INVALID_ARGUMENT',
        'IndexedDB is not available in this environment; pass `indexedDB` (e.g. fake-indexeddb) explicitly',
      )
    }
    const prefix = options.prefix ?? 'colloquy:'
    checkPrefix(prefix)
    this.#factory = factory
    this.#prefix = prefix
  }

  /** {@inheritDoc StorageAdapter.load} */
  load(docName: string): Promise<Uint8Array[]> {
    return this.#track(async () => {
      checkDocName(docName)
      const db = await this.#openExisting(docName)
      if (!db) return []
      const values = await transact(db, 'readonly', (store) => {
        const request = store.getAll()
        return () => request.result as unknown[]
      })
      return values.map(toBytes)
    })
  }

  /** {@inheritDoc StorageAdapter.append} */
  append(docName: string, update: Uint8Array): Promise<void> {
    return this.#track(async () => {
      checkDocName(docName)
      checkBytes(update, 'update')
      // Copy so a view into a larger buffer does not clone the whole buffer into the database.
      const copy = new Uint8Array(update)
      const db = await this.#open(docName)
      await transact(db, 'readwrite', (store) => {
        store.add(copy)
        return () => undefined
      })
    })
  }

  /** {@inheritDoc StorageAdapter.compact} */
  compact(docName: string, state: Uint8Array, count: number): Promise<void> {
    return this.#track(async () => {
      checkDocName(docName)
      checkBytes(state, 'state')
      checkCount(count)
      const copy = new Uint8Array(state)
      // Compacting into an empty log only makes sense for count 0; don't create a database to fail in.
      const db = count === 0 ? await this.#open(docName) : await this.#openExisting(docName)
      if (!db) throw conflict(count, 0)
      await transact(db, 'readwrite', (store, fail) => {
        // getAllKeys treats a limit of 0 as "no limit"; for count 0 only the first key matters.
        const keysRequest = store.getAllKeys(null, count === 0 ? 1 : count)
        keysRequest.onsuccess = () => {
          const keys = keysRequest.result as number[]
          if (count === 0) {
            const first = keys[0]
            if (first === undefined) store.add(copy)
            // Keys stay positive because y-indexeddb only reads keys >= 0.
            else store.put(copy, first > 1 ? first - 1 : first / 2)
            return
          }
          const last = keys[count - 1]
          if (last === undefined) {
            fail(conflict(count, keys.length))
            return
          }
          // Reusing the last replaced key keeps the state ahead of updates appended since the load.
          for (let i = 0; i < count - 1; i++) store.delete(keys[i] as number)
          store.put(copy, last)
        }
        return () => undefined
      })
    })
  }

  /** {@inheritDoc StorageAdapter.list} */
  list(prefix = ''): Promise<string[]> {
    return this.#track(async () => {
      checkPrefix(prefix)
      const full = this.#prefix + prefix
      const databases = await this.#factory.databases()
      const names: string[] = []
      for (const { name } of databases) {
        if (name?.startsWith(full) && name.length > this.#prefix.length) names.push(name.slice(this.#prefix.length))
      }
      return names.sort()
    })
  }

  /** {@inheritDoc StorageAdapter.remove} */
  remove(docName: string): Promise<void> {
    return this.#track(async () => {
      checkDocName(docName)
      const handle = this.#handles.get(docName)
      this.#handles.delete(docName)
      if (handle) await closeHandle(handle)
      await requestToPromise(this.#factory.deleteDatabase(this.#prefix + docName))
    })
  }

  /**
   * Waits for operations already started, then closes every open database connection. Closing
   * twice is harmless, so shutdown paths need no bookkeeping.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#pending])
    const handles = [...this.#handles.values()]
    this.#handles.clear()
    await Promise.all(handles.map(closeHandle))
  }

  #track<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(closedError('IndexedDbStorage'))
    const promise = operation()
    this.#pending.add(promise)
    const forget = () => {
      this.#pending.delete(promise)
    }
    promise.then(forget, forget)
    return promise
  }

  /** Opens (creating if needed) the document's database, sharing one connection per document. */
  #open(docName: string): Promise<IDBDatabase> {
    const cached = this.#handles.get(docName)
    if (cached) return cached
    const forget = () => {
      if (this.#handles.get(docName) === handle) this.#handles.delete(docName)
    }
    const handle = openDatabase(this.#factory, this.#prefix + docName, forget)
    this.#handles.set(docName, handle)
    handle.catch(forget)
    return handle
  }

  /** Like {@link #open}, but never creates a database, so loading an unknown document leaves no trace. */
  async #openExisting(docName: string): Promise<IDBDatabase | undefined> {
    if (this.#handles.has(docName) || typeof this.#factory.databases !== 'function') return this.#open(docName)
    const name = this.#prefix + docName
    const databases = await this.#factory.databases()
    if (!databases.some((info) => info.name === name)) return undefined
    return this.#open(docName)
  }
}

/**
 * Creates an IndexedDB-backed store. Cheap: databases are opened lazily, one per document, on
 * first use.
 *
 * @example
 * const storage = createIndexedDbStorage() // databases named `colloquy:<docName>`
 */
export function createIndexedDbStorage(options?: IndexedDbStorageOptions): IndexedDbStorage {
  return new IndexedDbStorage(options)
}

function openDatabase(factory: IDBFactory, name: string, onGone: () => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name)
    // Same stores as y-indexeddb creates, so either can open the other's databases.
    request.onupgradeneeded = () =>
      createStores(request.result, [[UPDATES_STORE, { autoIncrement: true }], [CUSTOM_STORE]])
    request.onerror = () => reject(wrapError(request.error, 'cannot open the IndexedDB database'))
    request.onsuccess = () => {
      const db = request.result
      // Another connection wants to delete or upgrade the database: step aside, reopen later.
      db.onversionchange = () => {
        db.close()
        onGone()
      }
      db.onclose = onGone
      resolve(db)
    }
  })
}

async function closeHandle(handle: Promise<IDBDatabase>): Promise<void> {
  try {
    ;(await handle).close()
  } catch {
    // A handle that failed to open has nothing to close.
  }
}

/**
 * Runs one transaction on the `updates` store and resolves with `body`'s result once the
 * transaction has committed (not merely when its requests succeeded), so a resolved write is
 * durable. `fail` aborts the transaction and rejects with the given error.
 */
function transact<T>(
  db: IDBDatabase,
  mode: IDBTransactionMode,
  body: (store: IDBObjectStore, fail: (error: Error) => void) => () => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const tx =
      mode === 'readwrite'
        ? db.transaction(UPDATES_STORE, mode, { durability: 'strict' })
        : db.transaction(UPDATES_STORE, mode)
    let failure: Error | undefined
    const fail = (error: Error) => {
      failure = error
      tx.abort()
    }
    // Events fire asynchronously, so attaching the handlers after running the body misses none.
    const result = body(tx.objectStore(UPDATES_STORE), fail)
    tx.oncomplete = () => resolve(result())
    tx.onabort = () => reject(failure ?? wrapError(tx.error, 'IndexedDB transaction aborted'))
  })
}

function requestToPromise<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(wrapError(request.error, 'IndexedDB request failed'))
  })
}

function wrapError(error: DOMException | null, message: string): Error {
  if (error?.name === 'QuotaExceededError') {
    return new ColloquyError('LIMIT_EXCEEDED', 'IndexedDB storage quota exceeded', { cause: error })
  }
  return error ?? new Error(message)
}

function conflict(count: number, length: number): ColloquyError {
  return new ColloquyError(
    'CONFLICT',
    `cannot compact ${count} updates: the log holds only ${length} (was it compacted concurrently?)`,
  )
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  throw new ColloquyError('INVALID_ARGUMENT', 'the IndexedDB updates store holds a value that is not binary')
}
