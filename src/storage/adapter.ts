/**
 * The storage adapter interface. Every store — memory, IndexedDB, SQLite, or one an app writes —
 * keeps each document as an append-only log of Yjs updates that can be compacted into one.
 *
 * Adapters only move bytes; they never decode Yjs. A document is identified by its name
 * (`conv/<sid>`, `inbox/<identity>`, `user/<identity>`), which an adapter must treat as opaque
 * (any non-empty string, including `/`, spaces and non-ASCII characters).
 *
 * Every adapter must pass the contract suite in `colloquy/testing/storage-contract` (`runStorageAdapterTests`).
 */
export interface StorageAdapter {
  /**
   * Every update stored for `docName`, oldest first (after a compaction: the compacted state
   * first, then anything appended since). An unknown document yields an empty array.
   */
  load(docName: string): Promise<Uint8Array[]>
  /**
   * Appends one update to the document's log. Resolves only once the update is durable:
   * a process that crashes after the promise resolved finds it on the next `load`.
   */
  append(docName: string, update: Uint8Array): Promise<void>
  /**
   * Replaces the first `count` updates of the log (those a previous `load` returned) with
   * `state`, atomically: a crash leaves either the old log or the compacted one, never a mix
   * and never a loss. Updates appended after that `load` are kept, after `state`.
   */
  compact(docName: string, state: Uint8Array, count: number): Promise<void>
  /** Names of every stored document whose name starts with `prefix` (all when empty), sorted. */
  list(prefix?: string): Promise<string[]>
  /** Removes a document and all its updates. Removing an unknown document is not an error. */
  remove(docName: string): Promise<void>
  /** Releases the underlying resources. Calls after `close` reject with a `ColloquyError` (`CLOSED`). */
  close(): Promise<void>
}
