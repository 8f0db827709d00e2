import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { isPlainObject } from '../src/schema/json.ts'
import { ROOTS, type StampRecord } from '../src/schema/layout.ts'
import { LIMITS } from '../src/schema/limits.ts'
import { StampKey } from './stamp-mac.ts'
import { CLIENTS_ROOT, RELAY_IDENTITY, SEALS_ROOT } from './validate.ts'

/**
 * Taking back what a relay restored from a backup lost, from the devices that hold it.
 *
 * After a restore, a device that synced later holds writes the relay's store lacks: the relay's own
 * stamps and clientID bindings (written under clientIDs of the relay's earlier loads), its own
 * writes, and other people's writes it received. An update carrying them fails validation (relay
 * records from a client, clientIDs bound to someone else). {@link takeBack} looks at such a refused
 * update for evidence of a restore and splits it:
 *
 * - the relay's own records: clientIDs whose new structs are all stamps, bindings and seals with a
 *   valid MAC under the relay's stamp key (see `stamp-mac.ts`). They are taken back as they are,
 *   unless a stamp contradicts one the relay holds (a message with another index, an index with
 *   another message): that conversation cannot be recovered without changing an index someone
 *   has seen, and the caller stops serving it;
 * - other people's writes (clientIDs bound, in the store or in the taken-back bindings, to another
 *   identity): left on the device. The relay cannot check them as their author's (a delete says
 *   nothing of who made it); they come back with their author's own devices;
 * - the sender's own writes, with the deletions that touch only what the relay has (and, should
 *   those be refused, with only the deletions of the sender's own structs): validated as usual by
 *   the caller.
 *
 * Only a refused update is looked at, so updates of a relay that was never restored cost nothing.
 * The caller (`RelayCore._takeBack`) applies the parts, holds back a conversation's records until
 * its creation is back, and asks devices that kept something again once it can take more.
 */
export type TakeBack =
  /** No sign of a restore: refuse the update as usual. */
  | { kind: 'none' }
  /** Stamps that contradict the relay's: the conversation cannot be recovered as is. */
  | { kind: 'conflict'; reason: string }
  | {
      kind: 'take'
      /** The relay's own records, to apply as they are (null when none). */
      relayPart: Uint8Array | null
      /** The sender's own writes, to validate as usual (null when none). */
      ownPart: Uint8Array | null
      /**
       * The same with only the deletions of the sender's own structs, should `ownPart` be refused:
       * it may carry someone else's deletion of what the relay has (a read horizon they moved on),
       * which only they can bring back. Null when it would be the same as `ownPart`.
       */
      ownStrict: Uint8Array | null
      stamps: number
      /** ClientIDs of other identities whose writes stay on the device for now. */
      foreign: number
    }

const NONE: TakeBack = { kind: 'none' }

type Struct = Y.Item | Y.GC | Y.Skip

interface RunRecords {
  stamps: Map<string, unknown>
  bindings: Map<string, unknown>
  seals: Map<string, unknown>
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const STAMP_FIELDS = new Set(['i', 't', 's', 'a'])

/** Splits a refused update from `identity` (see above). */
export const takeBack = (
  doc: Y.Doc,
  docName: string,
  identity: string,
  update: Uint8Array,
  key: StampKey,
): TakeBack => {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch {
    return NONE
  }
  const store = doc.store
  const bindings = doc.getMap<string>(CLIENTS_ROOT)
  const seals = doc.getMap<string>(SEALS_ROOT)
  const stamps = doc.getMap<StampRecord>(ROOTS.stamps)

  // The structs of each client that the relay does not have yet, in clock order.
  const fresh = new Map<number, Struct[]>()
  for (const s of decoded.structs) {
    if (s.id.clock + s.length <= Y.getState(store, s.id.client)) continue
    const list = fresh.get(s.id.client) ?? []
    list.push(s)
    fresh.set(s.id.client, list)
  }

  // Clients whose new structs look like the relay's: one new map key each, in its own roots.
  const runs = new Map<number, RunRecords>()
  for (const [client, list] of fresh) {
    const records = relayRecords(doc, client, list, bindings.get(String(client)))
    if (records) runs.set(client, records)
  }
  const runBindings = new Map<string, unknown>()
  const runSeals = new Map<string, unknown>()
  for (const r of runs.values()) {
    for (const [k, v] of r.bindings) runBindings.set(k, v)
    for (const [k, v] of r.seals) runSeals.set(k, v)
  }
  const bindingMac = (clientID: string, who: unknown): string | null =>
    typeof who === 'string' && who.length <= LIMITS.identityLength ? key.binding(docName, clientID, who) : null
  // A run is the relay's only if every record in it carries the relay's MAC.
  for (const [client, r] of runs) {
    let valid = true
    for (const [id, st] of r.stamps) {
      const s = st as StampRecord
      if (
        !isPlainObject(s) ||
        !Object.keys(s).every((k) => STAMP_FIELDS.has(k)) ||
        !isIndex(s.i) ||
        typeof s.t !== 'number' ||
        !Number.isFinite(s.t) ||
        typeof s.a !== 'string' ||
        s.a.length > LIMITS.identityLength ||
        !StampKey.same(s.s, key.stamp(docName, id, s.i, s.t, s.a))
      )
        valid = false
    }
    for (const [clientID, who] of r.bindings) {
      const mac = bindingMac(clientID, who)
      if (mac === null || !StampKey.same(runSeals.get(clientID) ?? seals.get(clientID), mac)) valid = false
    }
    for (const [clientID, seal] of r.seals) {
      const mac = bindingMac(clientID, runBindings.get(clientID) ?? bindings.get(clientID))
      if (mac === null || !StampKey.same(seal, mac)) valid = false
    }
    if (!valid) runs.delete(client)
  }

  // Taken back, the relay's stamps must agree with its own: one index per message, one message per index.
  const owner = new Map<number, string>()
  if (runs.size > 0)
    stamps.forEach((s, id) => {
      if (isIndex(s?.i)) owner.set(s.i, id)
    })
  let stampCount = 0
  for (const r of runs.values()) {
    for (const [id, st] of r.stamps) {
      const { i } = st as StampRecord
      const live = stamps.get(id)
      if (live && live.i !== i)
        return { kind: 'conflict', reason: `message ${id} has index ${live.i} at the relay and ${i} on a device` }
      const other = owner.get(i)
      if (other !== undefined && other !== id)
        return { kind: 'conflict', reason: `index ${i} belongs to message ${other} at the relay and ${id} on a device` }
      owner.set(i, id)
      stampCount++
    }
    for (const [clientID, who] of r.bindings) {
      const live = bindings.get(clientID)
      if (live !== undefined && live !== who)
        return { kind: 'conflict', reason: `client id ${clientID} is bound to two identities` }
    }
  }

  // Other people's writes: clients bound to someone else, here or in the bindings taken back.
  const foreign = new Set<number>()
  for (const client of fresh.keys()) {
    if (runs.has(client)) continue
    const who = (runBindings.get(String(client)) as string | undefined) ?? bindings.get(String(client))
    if (who !== undefined && who !== identity) foreign.add(client)
  }
  // Without records of the relay's, the caller takes what is left only where the store is known
  // to lag (`StampState.behind`): other people's writes alone are no proof of a restore.

  const own = [...fresh.keys()].filter((c) => !runs.has(c) && !foreign.has(c))
  // Deletions: the sender's own structs, and what the relay has; never what stays on the device.
  const ownSet = new Set(own)
  const ownDeletes = new Map<number, Array<[number, number]>>()
  const mineDeletes = new Map<number, Array<[number, number]>>()
  for (const [client, ranges] of decoded.ds.clients) {
    const limit = ownSet.has(client) ? Number.POSITIVE_INFINITY : Y.getState(store, client)
    const kept: Array<[number, number]> = []
    for (const r of ranges) {
      const end = Math.min(r.clock + r.len, limit)
      if (end > r.clock) kept.push([r.clock, end - r.clock])
    }
    if (kept.length === 0) continue
    ownDeletes.set(client, kept)
    const who = (runBindings.get(String(client)) as string | undefined) ?? bindings.get(String(client))
    if (ownSet.has(client) || who === identity) mineDeletes.set(client, kept)
  }
  const allClients = new Set(decoded.structs.map((s) => s.id.client))
  const relayPart =
    runs.size === 0
      ? null
      : rebuild(
          update,
          decoded.ds,
          [...allClients].filter((c) => !runs.has(c)),
          new Map(),
        )
  const ownPart =
    own.length === 0 && ownDeletes.size === 0
      ? null
      : rebuild(
          update,
          decoded.ds,
          [...allClients].filter((c) => !ownSet.has(c)),
          ownDeletes,
        )
  const ownStrict =
    ownPart === null || mineDeletes.size === ownDeletes.size
      ? null
      : rebuild(
          update,
          decoded.ds,
          [...allClients].filter((c) => !ownSet.has(c)),
          mineDeletes,
        )
  if ((runs.size > 0 && relayPart === null) || (ownPart === null && (own.length > 0 || ownDeletes.size > 0)))
    return NONE
  return { kind: 'take', relayPart, ownPart, ownStrict, stamps: stampCount, foreign: foreign.size }
}

/**
 * The records of `client`'s new structs if they look like the relay's (each a new key, written
 * once, in `stamps`, `clients` or `seals`, continuing exactly where the relay's copy ends), else null.
 */
const relayRecords = (doc: Y.Doc, client: number, list: Struct[], bound: string | undefined): RunRecords | null => {
  // This load's own clientID is never returned by a device; one bound to a person is theirs.
  if (client === doc.clientID || (bound !== undefined && bound !== RELAY_IDENTITY)) return null
  const records: RunRecords = { stamps: new Map(), bindings: new Map(), seals: new Map() }
  let clock = Y.getState(doc.store, client)
  for (const s of list) {
    if (!(s instanceof Y.Item) || s.id.clock !== clock || s.length !== 1) return null
    clock++
    if (s.origin !== null || s.rightOrigin !== null || typeof s.parent !== 'string' || s.parentSub === null) return null
    if (!(s.content instanceof Y.ContentAny) || s.content.arr.length !== 1) return null
    const target =
      s.parent === ROOTS.stamps
        ? records.stamps
        : s.parent === CLIENTS_ROOT
          ? records.bindings
          : s.parent === SEALS_ROOT
            ? records.seals
            : null
    if (target === null || target.has(s.parentSub)) return null
    target.set(s.parentSub, s.content.arr[0])
  }
  return records
}

/** A delete set in Yjs's v1 encoding (clients in descending order, as Yjs writes them). */
const encodeDeletes = (ds: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>>): Uint8Array => {
  const encoder = encoding.createEncoder()
  const clients = [...ds.entries()].sort((a, b) => b[0] - a[0])
  encoding.writeVarUint(encoder, clients.length)
  for (const [client, ranges] of clients) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, ranges.length)
    for (const [clock, len] of ranges) {
      encoding.writeVarUint(encoder, clock)
      encoding.writeVarUint(encoder, len)
    }
  }
  return encoding.toUint8Array(encoder)
}

/**
 * `update` without the structs of `drop` and with `deletes` as its delete set. Yjs's diffUpdate
 * drops the structs (a state vector that claims every clock of those clients) and writes the
 * original delete set last, which is replaced; null if the bytes are not laid out as expected.
 */
const rebuild = (
  update: Uint8Array,
  original: ReturnType<typeof Y.decodeUpdate>['ds'],
  drop: number[],
  deletes: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>>,
): Uint8Array | null => {
  const sv = encoding.createEncoder()
  encoding.writeVarUint(sv, drop.length)
  for (const c of drop) {
    encoding.writeVarUint(sv, c)
    encoding.writeVarUint(sv, Number.MAX_SAFE_INTEGER)
  }
  const structs = Y.diffUpdate(update, encoding.toUint8Array(sv))
  const tail = encodeDeletes(
    new Map(
      [...original.clients].map(([c, ranges]) => [
        c,
        ranges.map((r: { clock: number; len: number }) => [r.clock, r.len] as const),
      ]),
    ),
  )
  const cut = structs.length - tail.length
  if (cut < 0 || !tail.every((b, i) => structs[cut + i] === b)) return null
  const ds = encodeDeletes(deletes)
  const out = new Uint8Array(cut + ds.length)
  out.set(structs.subarray(0, cut))
  out.set(ds, cut)
  return out
}

/** How long an answer to a step 1 waits for the client's own reply (see `CoreConnection.#hold`). */
export const HOLD_MS = 5_000

/** Whether state vector `sv` (a client's) holds structs `doc` lacks. */
export const aheadOf = (doc: Y.Doc, sv: Uint8Array): boolean => {
  for (const [client, clock] of Y.decodeStateVector(sv)) if (clock > Y.getState(doc.store, client)) return true
  return false
}

/** The larger of state vector `sv` and what `update` holds, per client (encoded). */
export const mergeStateVectors = (sv: Uint8Array, update: Uint8Array): Uint8Array => {
  const merged = Y.decodeStateVector(sv)
  let ofUpdate: Map<number, number>
  try {
    ofUpdate = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(update))
  } catch {
    return sv
  }
  for (const [client, clock] of ofUpdate) if (clock > (merged.get(client) ?? 0)) merged.set(client, clock)
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, merged.size)
  for (const [client, clock] of merged) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, clock)
  }
  return encoding.toUint8Array(encoder)
}
