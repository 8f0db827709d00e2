import * as Y from 'yjs'

/**
 * Decoding a client's update against the relay's live copy of a document, without applying it:
 * what it creates (root, key, values), what it deletes (and the value that goes), and which
 * clientIDs it uses. The relay's validator (`relay/validate.ts`) judges the result.
 *
 * What is decoded here must be exactly what `Y.applyUpdate` would integrate: anything Yjs applies
 * that this decoder passes over is applied unchecked.
 */

/** Root holding clientID → identity bindings; written by the relay only. */
export const CLIENTS_ROOT = 'clients'

/**
 * Largest clock, and clock + length, accepted from a client for a struct or a delete range. An
 * honest session advances its clock by one per map entry it writes; 2^32 of them in one document
 * would take more than 100 GiB, far beyond anything that loads. The bound keeps every sum of clocks
 * and lengths the relay computes an exact integer: from 2^53 on, `x + 1 === x`, which once let new
 * content pass for a repeat of what the relay had while Yjs integrated it.
 */
export const MAX_CLOCK = 2 ** 32

/** A refusal: the update breaks a rule (anything else thrown while validating is a relay bug). */
export class Refused extends Error {}
export const refuse = (reason: string): never => {
  throw new Refused(reason)
}

export interface NewItem {
  client: number
  clock: number
  length: number
  root: string
  key: string
  /** Values written (empty when the item arrived already deleted). */
  values: unknown[]
}

export interface Deletion {
  root: string
  key: string
  /** The value that is being deleted (null when it arrived already deleted). */
  old: unknown
}

/**
 * New clientIDs one update may bind. An honest update brings one per session of the device that
 * wrote since its last sync; each binding is stored forever and sent to every participant.
 */
const MAX_NEW_CLIENTS = 128

/** Whether `[clock, clock + length)` is a span a client may write or delete (see {@link MAX_CLOCK}). */
export const inClockRange = (clock: number, length: number): boolean =>
  Number.isSafeInteger(clock) &&
  Number.isSafeInteger(length) &&
  clock >= 0 &&
  length >= 0 &&
  clock <= MAX_CLOCK &&
  length <= MAX_CLOCK &&
  clock + length <= MAX_CLOCK

/** The client of each group of structs read by the current {@link decodeStrict} (synchronous: never shared). */
let groups: number[] = []
/** Yjs' v1 decoder, noting the client of each group of structs (the delete set reads its clients otherwise). */
class GroupRecorder extends Y.UpdateDecoderV1 {
  override readClient(): number {
    const client = super.readClient()
    groups.push(client)
    return client
  }
}

/**
 * `Y.decodeUpdate`, refusing what `Y.applyUpdate` would read differently. Yjs applies only the
 * last group of structs a client has in an update (it keys them by client), while the decoder
 * lists every group: a first, harmless group would be judged and a second one, under the same
 * clocks, integrated unjudged. Every clock and length must also be in range.
 */
export const decodeStrict = (update: Uint8Array): ReturnType<typeof Y.decodeUpdate> => {
  groups = []
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdateV2(update, GroupRecorder)
  } catch {
    return refuse('malformed update')
  }
  if (new Set(groups).size !== groups.length) refuse('a client appears twice in the update')
  for (const s of decoded.structs) if (!inClockRange(s.id.clock, s.length)) refuse('clock or length out of range')
  for (const ranges of decoded.ds.clients.values())
    for (const r of ranges) if (!inClockRange(r.clock, r.len)) refuse('delete range out of range')
  return decoded
}

/** The root `name` of `doc` as a map, or undefined when the document has none. */
const mapRoot = (doc: Y.Doc, name: string): Y.Map<unknown> | undefined =>
  doc.share.has(name) ? doc.getMap(name) : undefined

/**
 * In `list`, sorted by clock with spans that do not overlap (one client's structs, items or delete
 * ranges), the element whose span `[start, start + length)` holds `clock`; a binary search.
 */
export const spanAt = <T>(
  list: ReadonlyArray<T>,
  clock: number,
  startOf: (t: T) => number,
  lengthOf: (t: T) => number,
): T | undefined => {
  let lo = 0
  let hi = list.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const t = list[mid]!
    const start = startOf(t)
    if (clock < start) hi = mid - 1
    else if (clock >= start + lengthOf(t)) lo = mid + 1
    else return t
  }
  return undefined
}
export type DeleteRange = { clock: number; len: number }
const newItemClock = (it: NewItem): number => it.clock
const newItemLength = (it: NewItem): number => it.length
const structClock = (s: Y.Item | Y.GC | Y.Skip): number => s.id.clock
const structLength = (s: Y.Item | Y.GC | Y.Skip): number => s.length
const rangeClock = (r: DeleteRange): number => r.clock
const rangeLength = (r: DeleteRange): number => r.len

/**
 * Decodes an update against the live document: every new item with its map root and key, every
 * delete with the value it removes, and the clientIDs new to the document (to bind to the writer,
 * when `bind`).
 */
export const decodeChanges = (
  doc: Y.Doc,
  identity: string,
  update: Uint8Array,
  roots: ReadonlySet<string>,
  bind: boolean,
): { created: NewItem[]; deletions: Deletion[]; newClients: number[] } => {
  const store = doc.store
  const bindings = bind ? doc.getMap<string>(CLIENTS_ROOT) : null
  // A root the relay never typed (a profile it only stores and forwards) is a bare AbstractType,
  // without `has` or `get`: typing it as the map every schema root is re-parents its items to it,
  // so the names below must be taken after.
  for (const name of roots) mapRoot(doc, name)
  const rootNames = new Map<unknown, string>()
  for (const [name, type] of doc.share) rootNames.set(type, name)
  const { structs, ds } = decodeStrict(update)

  // Items of this update per client, in clock order, for origin and delete lookups.
  const own = new Map<number, NewItem[]>()
  const newClients = new Set<number>()
  const running = new Map<number, number>()
  const created: NewItem[] = []

  const findInUpdate = (client: number, clock: number): NewItem | undefined => {
    const list = own.get(client)
    return list && spanAt(list, clock, newItemClock, newItemLength)
  }
  const findInStore = (client: number, clock: number): Y.Item | Y.GC | null => {
    if (clock >= Y.getState(store, client)) return null
    const structsOf = store.clients.get(client)
    if (!structsOf) return null
    return structsOf[Y.findIndexSS(structsOf, clock)] ?? null
  }
  // Every struct of the update per client, in clock order. An origin may sit anywhere in the update:
  // Yjs writes clients by descending clientID, so a restarted device's new (larger) clientID comes
  // before the older clientID whose items its own build on.
  const inUpdate = new Map<number, Array<Y.Item | Y.GC | Y.Skip>>()
  for (const s of structs) {
    const list = inUpdate.get(s.id.client) ?? []
    list.push(s)
    inUpdate.set(s.id.client, list)
  }
  const itemInUpdate = (id: Y.ID): Y.Item | undefined => {
    const list = inUpdate.get(id.client)
    const s = list && spanAt(list, id.clock, structClock, structLength)
    return s instanceof Y.Item ? s : undefined
  }
  // Where an item of the update sits, following origins (iteratively: one key overwritten many
  // times offline is a long chain), remembered so each item is resolved once.
  const places = new Map<Y.Item, { root: string; key: string }>()
  const placeOf = (start: Y.Item): { root: string; key: string } => {
    const path = new Set<Y.Item>()
    let item = start
    let place: { root: string; key: string }
    for (;;) {
      const known = places.get(item)
      if (known) {
        place = known
        break
      }
      if (typeof item.parent === 'string') {
        if (item.parentSub === null) return refuse('only map keys are part of the schema')
        place = { root: item.parent, key: item.parentSub }
        break
      }
      if (item.parent !== null) return refuse('nested types are not part of the schema')
      if (path.has(item)) return refuse('update references unknown structs')
      path.add(item)
      const id = (item.origin ?? item.rightOrigin ?? refuse('item without parent')) as Y.ID
      const next = itemInUpdate(id)
      if (!next) {
        place = locate(id)
        break
      }
      item = next
    }
    places.set(item, place)
    for (const it of path) places.set(it, place)
    return place
  }
  const locate = (id: Y.ID): { root: string; key: string } => {
    const mine = itemInUpdate(id)
    if (mine) return placeOf(mine)
    const item = findInStore(id.client, id.clock)
    if (!(item instanceof Y.Item)) return refuse('update references unknown structs')
    const root = rootNames.get(item.parent)
    if (root === undefined || item.parentSub === null) return refuse('update references structs outside the schema')
    return { root, key: item.parentSub }
  }

  // Deletions an update makes without naming them: an item that arrives deleted still becomes its key's
  // newest entry, and Yjs deletes the key's live value when it integrates it.
  const implicit: Deletion[] = []
  for (const struct of structs) {
    if (struct instanceof Y.Skip) refuse('update has gaps')
    // Yjs never writes an empty struct, yet integrates one found at the writer's clock (which the
    // repeat check below would skip): as a key's newest entry it would delete the key's value unchecked.
    if (struct.length <= 0) refuse('empty structs are not part of the schema')
    const { client, clock } = struct.id
    const known = running.get(client) ?? Y.getState(store, client)
    // Yjs integrates a struct that starts at or before what it has of its client and ends after
    // it; one that starts later waits, pending, for a gap the validator would never see filled.
    if (clock > known) refuse('update references unknown structs')
    const end = clock + struct.length // exact: both are within MAX_CLOCK
    running.set(client, Math.max(known, end))
    if (end <= known) continue // already integrated, Yjs skips it too: a harmless repeat
    // The relay's own clientID (this load's) is never a client's, bound or not.
    if (client === doc.clientID) refuse('client id belongs to the relay')
    if (bindings) {
      const bound = bindings.get(String(client))
      if (bound !== undefined && bound !== identity) refuse('client id belongs to another identity')
      if (bound === undefined) newClients.add(client)
    } else if (Y.getState(store, client) === 0) newClients.add(client) // only its owner writes here
    // Clients never write GC structs into schema documents (roots are never deleted); a few bytes
    // each, they would let one frame claim tens of thousands of clientIDs.
    if (struct instanceof Y.GC) refuse('garbage-collected structs are not part of the schema')
    const item = struct as Y.Item
    let root: string
    let key: string
    if (typeof item.parent === 'string') {
      root = item.parent
      if (item.parentSub === null) refuse('only map keys are part of the schema')
      key = item.parentSub as string
    } else if (item.parent !== null) {
      refuse('nested types are not part of the schema')
    }
    if (item.origin) void locate(item.origin)
    if (item.rightOrigin) void locate(item.rightOrigin)
    if (typeof item.parent !== 'string') {
      const at = locate((item.origin ?? item.rightOrigin ?? refuse('item without parent')) as Y.ID)
      root = at.root
      key = at.key
    }
    if (!roots.has(root!)) refuse(`unknown root ${root!}`)
    if (clock < known) {
      // Yjs integrates only the new tail, right after the writer's struct at `known - 1`, whatever
      // origin the item claims (and deletes that struct if it lands as a key's newest entry): the
      // struct it continues must sit under the same key.
      const at = known - 1
      let prev: { root: string; key: string } | undefined
      if (at < Y.getState(store, client)) {
        const before = findInStore(client, at)
        const name = before instanceof Y.Item ? rootNames.get(before.parent) : undefined
        if (before instanceof Y.Item && name !== undefined && before.parentSub !== null)
          prev = { root: name, key: before.parentSub }
      } else prev = findInUpdate(client, at)
      if (prev?.root !== root! || prev.key !== key!) refuse('update overlaps structs it does not continue')
    }
    let values: unknown[]
    if (item.content instanceof Y.ContentAny) values = item.content.arr
    else if (item.content instanceof Y.ContentDeleted) {
      values = []
      const live = mapRoot(doc, root!)
      if (live?.has(key!)) implicit.push({ root: root!, key: key!, old: live.get(key!) ?? null })
    } else refuse('only plain JSON values are part of the schema')
    const entry: NewItem = { client, clock, length: item.length, root: root!, key: key!, values: values! }
    const list = own.get(client) ?? []
    list.push(entry)
    own.set(client, list)
    created.push(entry)
  }

  const deletions: Deletion[] = []
  for (const [client, ranges] of ds.clients) {
    for (const range of ranges) {
      let clock = range.clock
      const end = range.clock + range.len
      while (clock < end) {
        const mine = findInUpdate(client, clock)
        if (mine) {
          // The writer's own struct from this very update (its creation was checked above): deleting
          // it touches nothing anyone else wrote. It usually arrives with its content already gone
          // (say, a message sent and removed offline), so there is no old value to judge it by.
          clock = mine.clock + mine.length
          continue
        }
        const item = findInStore(client, clock)
        if (item === null) refuse('delete references unknown structs')
        if (item instanceof Y.Item && !item.deleted) {
          const root = rootNames.get(item.parent)
          if (root === undefined || item.parentSub === null) refuse('delete outside the schema')
          const content = item.content instanceof Y.ContentAny ? item.content.arr : []
          deletions.push({ root: root!, key: item.parentSub!, old: content[content.length - 1] ?? null })
        }
        clock = item!.id.clock + item!.length
      }
    }
  }

  if (newClients.size > MAX_NEW_CLIENTS) refuse('too many new client ids in one update')
  return { created, deletions: [...deletions, ...implicit], newClients: [...newClients] }
}

/** Whether applying `update` would change nothing (every struct known, every delete already done). */
export const isNoopUpdate = (doc: Y.Doc, update: Uint8Array): boolean => {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    // Out of range, or read otherwise by Yjs: never "nothing", so the validator judges it.
    decoded = decodeStrict(update)
  } catch {
    return false
  }
  const store = doc.store
  for (const struct of decoded.structs) {
    if (struct.id.clock + struct.length > Y.getState(store, struct.id.client)) return false
  }
  for (const [client, ranges] of decoded.ds.clients) {
    const structs = store.clients.get(client)
    for (const range of ranges) {
      if (!structs || range.clock + range.len > Y.getState(store, client)) return false
      let clock = range.clock
      while (clock < range.clock + range.len) {
        const struct = structs[Y.findIndexSS(structs, clock)]!
        if (struct instanceof Y.Item && !struct.deleted) return false
        clock = struct.id.clock + struct.length
      }
    }
  }
  return true
}

/**
 * What a document that goes to sleep keeps to recognise an update that would change nothing: its
 * state vector and its delete set (encoded as an update without structs: a few bytes per range).
 */
export interface SleepingState {
  sv: Map<number, number>
  /** Null when nothing was ever deleted. */
  deletes: Uint8Array | null
}

/** The {@link SleepingState} of `doc`. */
export const sleepingStateOf = (doc: Y.Doc): SleepingState => {
  const sv = new Map<number, number>()
  for (const [client, structs] of doc.store.clients) {
    const last = structs[structs.length - 1]!
    sv.set(client, last.id.clock + last.length)
  }
  const deleted = Y.createDeleteSetFromStructStore(doc.store).clients.size > 0
  return { sv, deletes: deleted ? Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc)) : null }
}

/** Whether the merged, sorted `ranges` of one client cover `[clock, clock + len)`. */
const covered = (ranges: ReadonlyArray<DeleteRange>, clock: number, len: number): boolean => {
  const r = spanAt(ranges, clock, rangeClock, rangeLength)
  return r !== undefined && clock + len <= r.clock + r.len
}

/** {@link isNoopUpdate} against a sleeping document's {@link SleepingState}. */
export const changesNothing = (state: SleepingState, update: Uint8Array): boolean => {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    // Out of range, or read otherwise by Yjs: never "nothing", so the validator judges it.
    decoded = decodeStrict(update)
  } catch {
    return false
  }
  for (const struct of decoded.structs) {
    if (struct.id.clock + struct.length > (state.sv.get(struct.id.client) ?? 0)) return false
  }
  if (decoded.ds.clients.size === 0) return true
  if (state.deletes === null) return false
  const known = Y.decodeUpdate(state.deletes).ds.clients
  for (const [client, ranges] of decoded.ds.clients) {
    const have = known.get(client)
    if (!have) return false
    for (const range of ranges) if (!covered(have, range.clock, range.len)) return false
  }
  return true
}
