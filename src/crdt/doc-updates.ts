import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'

/**
 * Receives each update of a document with the origin of the transaction that made it, and that
 * transaction (null for an update applied with `applyRemote`).
 */
export type UpdateListener = (update: Uint8Array, origin: unknown, tr: Transaction | null) => void

type Struct = Y.Item | Y.GC
type StructStore = { clients: Map<number, Struct[]>; pendingStructs: unknown; pendingDs: unknown }
type DeleteSet = { clients: Map<number, Array<{ clock: number; len: number }>> }
/** The parts of a Yjs transaction read here. */
export type Transaction = {
  origin: unknown
  beforeState: Map<number, number>
  afterState: Map<number, number>
  deleteSet: DeleteSet
}

/** Whether a transaction added or deleted anything. */
const transactionChanged = (tr: Transaction): boolean => {
  if (tr.deleteSet.clients.size > 0) return true
  for (const [client, clock] of tr.afterState) if (tr.beforeState.get(client) !== clock) return true
  return false
}

/** Deleted ranges by client, as in a Yjs delete set. */
export type DeleteRanges = Map<number, Array<{ clock: number; len: number }>>

/** Adds a transaction's deletions to `into` (sorted and merged when encoded). */
export const addDeletes = (into: DeleteRanges, tr: { deleteSet: DeleteSet }): void => {
  for (const [client, ranges] of tr.deleteSet.clients) {
    const list = into.get(client)
    if (list) for (const r of ranges) list.push({ clock: r.clock, len: r.len })
    else
      into.set(
        client,
        ranges.map((r) => ({ clock: r.clock, len: r.len })),
      )
  }
}

const sortAndMerge = (ranges: Array<{ clock: number; len: number }>): Array<{ clock: number; len: number }> => {
  const sorted = ranges.slice().sort((a, b) => a.clock - b.clock)
  const out: Array<{ clock: number; len: number }> = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last && last.clock + last.len >= r.clock) last.len = Math.max(last.len, r.clock + r.len - last.clock)
    else out.push({ clock: r.clock, len: r.len })
  }
  return out
}

/**
 * Everything `doc` gained since the state vector `before` — every struct past it, then the
 * deletions `deletes` — in Yjs's v1 update format. For one transaction (its starting state and
 * delete set) these are the bytes Yjs produces for its `update` event; for several transactions
 * in a row (the first one's starting state, all their deletions) it is their merged update, at the
 * cost of what they added, where `Y.mergeUpdates` costs quadratic time in the number of updates.
 */
export const encodeUpdateSince = (doc: Y.Doc, before: Map<number, number>, deletes: DeleteRanges): Uint8Array => {
  const store = doc.store as unknown as StructStore
  const encoder = new Y.UpdateEncoderV1()
  const from: Array<[number, number]> = []
  for (const [client, structs] of store.clients) {
    const last = structs[structs.length - 1]!
    const clock = before.get(client) ?? 0
    if (last.id.clock + last.length > clock) from.push([client, clock])
  }
  // Higher client ids first, as Yjs writes them.
  from.sort((a, b) => b[0] - a[0])
  encoding.writeVarUint(encoder.restEncoder, from.length)
  for (const [client, since] of from) {
    const structs = store.clients.get(client)!
    const clock = Math.max(since, structs[0]!.id.clock)
    const start = Y.findIndexSS(structs, clock)
    encoding.writeVarUint(encoder.restEncoder, structs.length - start)
    encoder.writeClient(client)
    encoding.writeVarUint(encoder.restEncoder, clock)
    const first = structs[start]!
    first.write(encoder, clock - first.id.clock)
    for (let i = start + 1; i < structs.length; i++) structs[i]!.write(encoder, 0)
  }
  const clients = [...deletes].sort((a, b) => b[0] - a[0])
  encoding.writeVarUint(encoder.restEncoder, clients.length)
  for (const [client, ranges] of clients) {
    const merged = sortAndMerge(ranges)
    encoder.resetDsCurVal()
    encoding.writeVarUint(encoder.restEncoder, client)
    encoding.writeVarUint(encoder.restEncoder, merged.length)
    for (const r of merged) {
      encoder.writeDsClock(r.clock)
      encoder.writeDsLen(r.len)
    }
  }
  return encoder.toUint8Array()
}

const hubs = new WeakMap<Y.Doc, DocUpdates>()

/**
 * The updates of one document, for its local store and its sync channel, without re-encoding
 * what came from the network.
 *
 * Yjs encodes every transaction again for its `update` event as soon as anyone listens to it,
 * remote ones included — about a quarter of what a reader spends per message. Here, an update
 * applied with `applyRemote` is handed on as the bytes that arrived (only if it changed
 * something or left structs waiting for their dependencies), and only the other transactions are
 * encoded, after Yjs's own cleanup (the moment Yjs would encode them).
 */
export class DocUpdates {
  readonly doc: Y.Doc
  readonly #listeners = new Set<UpdateListener>()
  #raw: Uint8Array | null = null
  #rawOrigin: unknown = null

  private constructor(doc: Y.Doc) {
    this.doc = doc
    doc.on('afterTransactionCleanup', (tr: Transaction) => this.#onCleanup(tr))
  }

  /** The hub of `doc` (one per document). */
  static of(doc: Y.Doc): DocUpdates {
    let hub = hubs.get(doc)
    if (!hub) {
      hub = new DocUpdates(doc)
      hubs.set(doc, hub)
    }
    return hub
  }

  /** Calls `listener` with every later update; returns the function that stops it. */
  subscribe(listener: UpdateListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Applies an update that came from elsewhere; listeners get `update` itself. */
  applyRemote(update: Uint8Array, origin: unknown): void {
    // Inside another transaction the update would join it: let that one be encoded as usual.
    const nested = (this.doc as unknown as { _transaction: unknown })._transaction !== null
    if (!nested) {
      this.#raw = update
      this.#rawOrigin = origin
    }
    try {
      Y.applyUpdate(this.doc, update, origin)
    } finally {
      this.#raw = null
      this.#rawOrigin = null
    }
  }

  #onCleanup(tr: Transaction): void {
    if (this.#listeners.size === 0) return
    const raw = this.#raw
    if (raw !== null && tr.origin === this.#rawOrigin) {
      // The first transaction with the remote origin is the update's own (nested ones that its
      // observers cause come after it, with their own origins).
      this.#raw = null
      const store = this.doc.store as unknown as StructStore
      if (transactionChanged(tr) || store.pendingStructs !== null || store.pendingDs !== null) {
        this.#emit(raw, tr.origin, null)
      }
      return
    }
    if (!transactionChanged(tr)) return
    // Yjs has sorted and merged the transaction's delete set by now.
    this.#emit(encodeUpdateSince(this.doc, tr.beforeState, tr.deleteSet.clients), tr.origin, tr)
  }

  #emit(update: Uint8Array, origin: unknown, tr: Transaction | null): void {
    for (const listener of this.#listeners) listener(update, origin, tr)
  }
}
