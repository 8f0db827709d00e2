import { statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { ColloquyError, closedError } from '../errors.ts'
import { checkOptions } from '../options.ts'
import type { StorageAdapter } from './adapter.ts'
import { checkBytes, checkCount, checkDocName, checkPrefix } from './checks.ts'

/** Options for {@link createSqliteStorage}. */
export interface SqliteStorageOptions {
  /**
   * The database file, or `:memory:` for a private in-memory database (handy in tests).
   * The directory must already exist: the adapter never creates directories, so a typo in a
   * configured path fails loudly at startup instead of silently writing data somewhere else.
   */
  path: string
}

// One row per update. `seq` orders a document's log; compaction reuses the seq of the last
// update it replaces, so the compacted state sorts before everything appended after the load.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS updates (
  doc TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (doc, seq)
)`

/**
 * A storage adapter for Node.js servers, desktop apps and CLIs, on a single SQLite file.
 *
 * Chosen for durability on one machine: the database runs in WAL mode with `synchronous = FULL`,
 * so every `append` is committed and fsynced before its promise resolves and survives a crash or
 * power loss. Compaction runs in one `BEGIN IMMEDIATE` transaction, so a crash leaves either the
 * old log or the compacted one. Several processes may share the file; SQLite serialises writers
 * (waiting up to five seconds for a busy lock).
 */
export class SqliteStorage implements StorageAdapter {
  readonly #db: Database.Database
  readonly #selectLog: Database.Statement<[string], Buffer>
  readonly #insertNext: Database.Statement<[{ doc: string; data: Uint8Array }]>
  readonly #seqAt: Database.Statement<[string, number], number>
  readonly #minSeq: Database.Statement<[string], number | null>
  readonly #deleteUpTo: Database.Statement<[string, number]>
  readonly #insertAt: Database.Statement<[string, number, Uint8Array]>
  readonly #docsFrom: Database.Statement<[string], string>
  readonly #deleteDoc: Database.Statement<[string]>
  readonly #compact: (docName: string, state: Uint8Array, count: number) => void
  #closed = false
  #batch: Array<{ doc: string; data: Uint8Array; resolve: () => void; reject: (error: unknown) => void }> = []
  readonly #insertBatch: (batch: ReadonlyArray<{ doc: string; data: Uint8Array }>) => void

  /**
   * Opens (creating if needed) the database at `options.path`. Prefer {@link createSqliteStorage};
   * the constructor exists so the class can be subclassed or instantiated by DI containers.
   */
  constructor(options: SqliteStorageOptions) {
    const path = checkOptions(options, { path: true }, 'SQLite storage').path
    if (typeof path !== 'string' || path.length === 0) {
      throw new ColloquyError('INVALID_ARGUMENT', 'SQLite storage needs a non-empty `path` (or ":memory:")')
    }
    if (path !== ':memory:') checkDirectory(path)
    let db: Database.Database
    try {
      db = new Database(path)
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      db.pragma('busy_timeout = 5000')
      db.exec(SCHEMA)
    } catch (cause) {
      // The path and SQLite's reason ("unable to open database file", "file is not a database",
      // "attempt to write a readonly database"): what an operator needs to fix a start-up.
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new ColloquyError('INVALID_ARGUMENT', `cannot open the SQLite database ${path}: ${reason}`, { cause })
    }
    this.#db = db
    this.#selectLog = db.prepare<[string], Buffer>('SELECT data FROM updates WHERE doc = ? ORDER BY seq').pluck()
    this.#insertNext = db.prepare<{ doc: string; data: Uint8Array }>(
      'INSERT INTO updates (doc, seq, data) SELECT @doc, COALESCE(MAX(seq), 0) + 1, @data FROM updates WHERE doc = @doc',
    )
    this.#seqAt = db
      .prepare<[string, number], number>('SELECT seq FROM updates WHERE doc = ? ORDER BY seq LIMIT 1 OFFSET ?')
      .pluck()
    this.#minSeq = db.prepare<[string], number | null>('SELECT MIN(seq) FROM updates WHERE doc = ?').pluck()
    this.#deleteUpTo = db.prepare<[string, number]>('DELETE FROM updates WHERE doc = ? AND seq <= ?')
    this.#insertAt = db.prepare<[string, number, Uint8Array]>('INSERT INTO updates (doc, seq, data) VALUES (?, ?, ?)')
    this.#docsFrom = db
      .prepare<[string], string>('SELECT DISTINCT doc FROM updates WHERE doc >= ? ORDER BY doc')
      .pluck()
    this.#deleteDoc = db.prepare<[string]>('DELETE FROM updates WHERE doc = ?')

    const compact = db.transaction((docName: string, state: Uint8Array, count: number) => {
      if (count === 0) {
        const min = this.#minSeq.get(docName) ?? null
        this.#insertAt.run(docName, min === null ? 1 : min - 1, state)
        return
      }
      const last = this.#seqAt.get(docName, count - 1)
      if (last === undefined) {
        throw new ColloquyError(
          'CONFLICT',
          `cannot compact ${count} updates: the log holds fewer (was it compacted concurrently?)`,
        )
      }
      this.#deleteUpTo.run(docName, last)
      this.#insertAt.run(docName, last, state)
    })
    const insertBatch = db.transaction((batch: ReadonlyArray<{ doc: string; data: Uint8Array }>) => {
      for (const b of batch) this.#insertNext.run({ doc: b.doc, data: b.data })
    })
    this.#insertBatch = (batch) => insertBatch.immediate(batch)
    // IMMEDIATE takes the write lock before reading, so another process cannot append or compact
    // between choosing the rows to replace and replacing them.
    this.#compact = (docName, state, count) => compact.immediate(docName, state, count)
  }

  /** {@inheritDoc StorageAdapter.load} */
  async load(docName: string): Promise<Uint8Array[]> {
    this.#assertOpen()
    checkDocName(docName)
    this.#flush()
    return this.#selectLog.all(docName).map(toPlainBytes)
  }

  /**
   * {@inheritDoc StorageAdapter.append}
   *
   * Group commit: appends made in the same synchronous run (and the microtasks it queues) are
   * written in one transaction (one fsync), in call order; each promise resolves only once that
   * transaction is committed. (Waiting for the next turn of the event loop would add a turn of
   * latency to every write, the relay's broadcasts included.)
   */
  append(docName: string, update: Uint8Array): Promise<void> {
    try {
      this.#assertOpen()
      checkDocName(docName)
      checkBytes(update, 'update')
    } catch (error) {
      return Promise.reject(error)
    }
    return new Promise<void>((resolve, reject) => {
      this.#batch.push({ doc: docName, data: update.slice(), resolve, reject })
      if (this.#batch.length === 1) queueMicrotask(() => this.#flush())
    })
  }

  /** Writes every queued append in one transaction. Other calls run it first, so order holds. */
  #flush(): void {
    const batch = this.#batch
    if (batch.length === 0) return
    this.#batch = []
    try {
      this.#insertBatch(batch)
    } catch (error) {
      for (const b of batch) b.reject(error)
      return
    }
    for (const b of batch) b.resolve()
  }

  /** {@inheritDoc StorageAdapter.compact} */
  async compact(docName: string, state: Uint8Array, count: number): Promise<void> {
    this.#assertOpen()
    checkDocName(docName)
    checkBytes(state, 'state')
    checkCount(count)
    this.#flush()
    this.#compact(docName, state, count)
  }

  /** {@inheritDoc StorageAdapter.list} */
  async list(prefix = ''): Promise<string[]> {
    this.#assertOpen()
    this.#flush()
    checkPrefix(prefix)
    const names: string[] = []
    // Names sharing a prefix are contiguous in SQLite's byte order, so stop at the first miss.
    for (const name of this.#docsFrom.iterate(prefix)) {
      if (!name.startsWith(prefix)) break
      names.push(name)
    }
    // Re-sort in JavaScript order so every adapter lists names identically.
    return names.sort()
  }

  /** {@inheritDoc StorageAdapter.remove} */
  async remove(docName: string): Promise<void> {
    this.#assertOpen()
    checkDocName(docName)
    this.#flush()
    this.#deleteDoc.run(docName)
  }

  /**
   * Closes the database file (checkpointing the WAL). Closing twice is harmless, so shutdown paths
   * need no bookkeeping.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#flush()
    this.#closed = true
    this.#db.close()
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('SqliteStorage')
  }
}

/**
 * Opens a SQLite-backed store. Synchronous on purpose: a bad path or a file that is not a SQLite
 * database throws a `ColloquyError` (`INVALID_ARGUMENT`) right at startup rather than on the first
 * write.
 *
 * @example
 * const storage = createSqliteStorage({ path: './data/colloquy.sqlite' })
 */
export function createSqliteStorage(options: SqliteStorageOptions): SqliteStorage {
  return new SqliteStorage(options)
}

function checkDirectory(path: string): void {
  const dir = dirname(resolve(path))
  let isDirectory = false
  try {
    isDirectory = statSync(dir).isDirectory()
  } catch {
    isDirectory = false
  }
  if (!isDirectory) {
    throw new ColloquyError('INVALID_ARGUMENT', `the directory for the SQLite database does not exist: ${dir}`)
  }
}

// better-sqlite3 returns Buffers; hand out plain Uint8Arrays so callers see the same type from
// every adapter. Each Buffer owns a fresh allocation, so a view is already a private copy.
function toPlainBytes(buffer: Buffer): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) {
    return new Uint8Array(buffer.buffer, 0, buffer.byteLength)
  }
  return new Uint8Array(buffer)
}
