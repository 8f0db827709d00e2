import type * as Y from 'yjs'

/**
 * Whether `map` holds, or ever held, an entry under `key`. A removed map key keeps its last entry
 * as a deleted item (Yjs' `_map`), in every replica and in every stored or compacted log, so this
 * answers the same everywhere and forever.
 */
export const hasEverHeld = <T>(map: Y.Map<T>, key: string): boolean =>
  (map as unknown as { _map: Map<string, unknown> })._map.has(key)
