/**
 * Transaction origins. Every change to a document carries one, so observers can tell a local
 * write (persist it, send it) from what came from storage (neither) or the network (persist only).
 */
export const LOCAL_ORIGIN = Symbol('colloquy.local')
/** Loaded from the local store: neither stored again nor sent. */
export const STORAGE_ORIGIN = Symbol('colloquy.storage')
/** Received from the relay: stored, not sent back. */
export const REMOTE_ORIGIN = Symbol('colloquy.remote')
