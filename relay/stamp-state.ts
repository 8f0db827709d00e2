import { closeSync, openSync } from 'node:fs'
import Database from 'better-sqlite3'
import { ColloquyError } from '../src/errors.ts'
import { type Logger, silentLogger } from './log.ts'
import { STAMP_KEY_BYTES, StampKey } from './stamp-mac.ts'

/** Options of {@link StampState.open}. */
export interface StampStateOptions {
  /**
   * The relay's stamp-state file (SQLite): its stamp key and, per conversation, the highest index it
   * ever gave. It must live outside the store and be kept across a restore of the store (see
   * docs/relay.md, "Restoring a backup"). Null: no file — a random key for this process, no marks.
   */
  path: string | null
  /** A stamp key of your own (at least 32 bytes); otherwise the file's, created on first start. */
  key?: Uint8Array
  /** Where what is taken back after a restore, and what cannot be, is logged. */
  logger?: Logger
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS marks (doc TEXT PRIMARY KEY, high INTEGER NOT NULL, clocks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
`

/** A conversation's marks: the highest index given and the most its store held (clock sum). */
interface Mark {
  high: number
  clocks: number
}

/**
 * What the relay keeps outside its store so that a store restored from a backup neither forgets
 * its own stamps nor gives an index twice:
 *
 * - the **stamp key**, under which every stamp and clientID binding carries a MAC, so the relay can
 *   take them back from the devices that hold them;
 * - each conversation's **high-water mark**, the highest index it ever gave, written before the
 *   stamps that reach it are stored (and so before any device can see them). A conversation loaded
 *   from a store that lags its mark resumes above the mark: the indices in between belong to
 *   stamps some device may hold, and come back with those devices;
 * - how much each conversation's store held at most (the sum of its state vector's clocks, which
 *   only grows): while the store holds less, it was restored and is **behind** — devices may hold
 *   writes it lost, other people's included, and people it does not know as participants.
 *
 * Marks are written with `synchronous = NORMAL`: they survive a crash of the relay, and may lag
 * after a power failure (the store itself is fsynced; the mark is then below what the store holds
 * and changes nothing).
 */
export class StampState {
  readonly key: StampKey
  readonly logger: Logger
  readonly #db: Database.Database | null
  readonly #get: Database.Statement<[string], Mark> | null
  readonly #put: Database.Statement<[Mark & { doc: string }]> | null
  /** Marks read or written in this process. */
  readonly #marks = new Map<string, Mark>()
  /** Conversations the relay stopped serving, and why (see `RelayCore`). */
  readonly quarantined = new Map<string, string>()

  private constructor(key: StampKey, db: Database.Database | null, logger: Logger) {
    this.key = key
    this.logger = logger
    this.#db = db
    this.#get = db ? db.prepare<[string], Mark>('SELECT high, clocks FROM marks WHERE doc = ?') : null
    this.#put = db
      ? db.prepare<[Mark & { doc: string }]>(
          `INSERT INTO marks (doc, high, clocks) VALUES (@doc, @high, @clocks)
           ON CONFLICT (doc) DO UPDATE SET high = MAX(high, @high), clocks = MAX(clocks, @clocks)`,
        )
      : null
  }

  /** Opens (creating if needed) the stamp-state file. */
  static open(options: StampStateOptions): StampState {
    const given = options.key === undefined ? null : new StampKey(options.key)
    const logger = options.logger ?? silentLogger
    if (options.path === null) return new StampState(given ?? StampKey.random(), null, logger)
    let db: Database.Database
    try {
      // Created private: the file holds the stamp key (SQLite gives its -wal and -shm the same mode).
      closeSync(openSync(options.path, 'a', 0o600))
      db = new Database(options.path)
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.pragma('busy_timeout = 5000')
      db.exec(SCHEMA)
    } catch (cause) {
      throw new ColloquyError('INVALID_ARGUMENT', `cannot open the relay's stamp-state file ${options.path}`, {
        cause,
      })
    }
    if (given) return new StampState(given, db, logger)
    const read = db.prepare<[], Buffer>("SELECT value FROM secrets WHERE name = 'stamp-key'").pluck()
    let stored = read.get()
    if (stored === undefined) {
      db.prepare("INSERT OR IGNORE INTO secrets (name, value) VALUES ('stamp-key', randomblob(?))").run(STAMP_KEY_BYTES)
      stored = read.get()!
    }
    return new StampState(new StampKey(new Uint8Array(stored)), db, logger)
  }

  #read(docName: string): Mark {
    let m = this.#marks.get(docName)
    if (m === undefined) {
      const row = this.#get?.get(docName)
      m = { high: row?.high ?? -1, clocks: row?.clocks ?? 0 }
      this.#marks.set(docName, m)
    }
    return m
  }

  /** The highest index ever given in `docName` (-1 when none, or when there is no file). */
  mark(docName: string): number {
    return this.#read(docName).high
  }

  /** Whether `docName`'s store, holding `clocks` now, holds less than it once did (it was restored). */
  behind(docName: string, clocks: number): boolean {
    return clocks < this.#read(docName).clocks
  }

  /**
   * Records that indices up to `highest` were given in `docName` and that its store will hold
   * `clocks` (before those are stored).
   */
  issued(docName: string, highest: number, clocks: number): void {
    const m = this.#read(docName)
    if (highest <= m.high && clocks <= m.clocks) return
    m.high = Math.max(m.high, highest)
    m.clocks = Math.max(m.clocks, clocks)
    try {
      this.#put?.run({ doc: docName, high: m.high, clocks: m.clocks })
    } catch (error) {
      // The relay goes on serving (the store is fine); only a later restore is less protected.
      this.logger.error('stamp_mark_failed', {
        doc: docName,
        message: error instanceof Error ? error.message : String(error),
      })
    }
  }

  /**
   * Runs `fn` (which records marks) in one transaction of the file: a flush of many conversations
   * writes their marks in one commit (~40 µs) instead of one each.
   */
  batch(fn: () => void): void {
    const db = this.#db
    if (db === null || db.inTransaction) {
      fn()
      return
    }
    db.exec('BEGIN')
    try {
      fn()
    } finally {
      try {
        db.exec('COMMIT')
      } catch (error) {
        this.logger.error('stamp_mark_failed', { message: error instanceof Error ? error.message : String(error) })
        if (db.inTransaction) db.exec('ROLLBACK')
      }
    }
  }

  close(): void {
    if (this.#db?.open) this.#db.close()
  }
}
