import * as decoding from 'lib0/decoding'
import type * as awarenessProtocol from 'y-protocols/awareness'

/**
 * Entries one awareness frame from a client may carry. A client publishes its own state and
 * nothing else (the colloquy client and stock y-websocket providers send one entry per change), so
 * a frame naming more is a flood, dropped unread: a frame of 20,000 fresh clientIDs costs the
 * relay one varint, not 20,000 states kept and forwarded to every watcher.
 */
export const MAX_AWARENESS_ENTRIES = 1

/**
 * ClientIDs remembered per identity in one document (see {@link AwarenessClaims}). Above the
 * default 20 connections per identity, so every tab of one person may type; bounded, so one account
 * opening connection after connection with a new clientID each time cannot grow the relay's memory.
 */
export const REMEMBERED_CLIENTS_PER_IDENTITY = 32

/** One connection as the claims see it (`CoreConnection`, without the import cycle). */
export interface Publisher {
  readonly identity: string
}

/** Why an awareness frame was dropped without a word to its sender (a metric label each). */
export type AwarenessDrop =
  | 'awareness_empty'
  | 'awareness_entries'
  | 'awareness_user_document'
  | 'awareness_second_client'
  | 'awareness_client_ids'

/** What to do with an awareness frame: apply it (one entry), drop it, or refuse it (`4422`). */
export type AwarenessDecision =
  | { action: 'apply'; clientID: number }
  | { action: 'drop'; why: AwarenessDrop }
  | { action: 'refuse'; reason: string }

/**
 * Who publishes awareness under which clientID in one document, kept by the relay so that nobody
 * types under someone else's clientID and nobody floods a document with clientIDs of their own.
 *
 * - `owners`: the connection that publishes under a clientID now (its state is live).
 * - who published under a clientID before, kept while the document record lives (asleep included)
 *   across reconnects, so another identity cannot squat a clientID while its owner reconnects; at
 *   most {@link REMEMBERED_CLIENTS_PER_IDENTITY} per identity, the oldest not live forgotten first.
 */
export class AwarenessClaims<C extends Publisher = Publisher> {
  // Made on first use: most documents (absent and sleeping ones above all) never see awareness.
  #owners: Map<number, C> | null = null
  #identities: Map<number, string> | null = null
  /** Per identity, its remembered clientIDs, oldest first. */
  #byIdentity: Map<string, number[]> | null = null

  /** The connection that publishes under `clientID` now, if any. */
  ownerOf(clientID: number): C | undefined {
    return this.#owners?.get(clientID)
  }

  /** Number of clientIDs some connection publishes under now (for tests and bounds). */
  get live(): number {
    return this.#owners?.size ?? 0
  }

  /** The identity that published under `clientID` (now or before), if remembered. */
  identityOf(clientID: number): string | undefined {
    return this.#identities?.get(clientID)
  }

  /** Number of clientIDs remembered (for tests and bounds). */
  get size(): number {
    return this.#identities?.size ?? 0
  }

  /**
   * Whether `identity` may take one more clientID: true when it has room, or once the oldest of
   * its clientIDs that no connection publishes under now is forgotten (handed to `forget`, so
   * the awareness can drop what it keeps of it). False when all of them are live.
   */
  makeRoom(identity: string, forget: (clientID: number) => void): boolean {
    const list = this.#byIdentity?.get(identity)
    if (!list || list.length < REMEMBERED_CLIENTS_PER_IDENTITY) return true
    const i = list.findIndex((id) => !this.#owners?.has(id))
    if (i === -1) return false
    const [old] = list.splice(i, 1)
    this.#identities?.delete(old!)
    forget(old!)
    return true
  }

  /**
   * Records that `conn` publishes under `clientID`; returns the connection of the same identity it
   * takes the clientID over from (an older connection not closed yet), if any.
   */
  claim(conn: C, clientID: number): C | undefined {
    this.#owners ??= new Map()
    this.#identities ??= new Map()
    this.#byIdentity ??= new Map()
    const previous = this.#owners.get(clientID)
    this.#owners.set(clientID, conn)
    if (!this.#identities.has(clientID)) {
      this.#identities.set(clientID, conn.identity)
      const list = this.#byIdentity.get(conn.identity)
      if (list) list.push(clientID)
      else this.#byIdentity.set(conn.identity, [clientID])
    }
    return previous === conn ? undefined : previous
  }

  /** `conn` no longer publishes under `clientID` (it left the document or closed). */
  release(conn: C, clientID: number): void {
    if (this.#owners?.get(clientID) === conn) this.#owners.delete(clientID)
  }
}

/** What {@link decideAwareness} needs to know of the document and the sender. */
export interface AwarenessContext<C extends Publisher> {
  /** The document's kind: clients publish typing on conversations only. */
  kind: 'conv' | 'user' | 'inbox'
  conn: C
  /** The clientID this connection already publishes under in this document, if any. */
  current: number | undefined
  /** The relay's own clientID in this document's awareness. */
  relayClientID: number
  claims: AwarenessClaims<C>
  /** The identity a clientID is bound to by its writes in this document, if any. */
  boundTo: (clientID: number) => string | undefined
  /** Called with each clientID the claims forget to make room (see {@link AwarenessClaims.makeRoom}). */
  forget: (clientID: number) => void
}

/**
 * Decides what to do with one awareness update from a client. A spoof (another's clientID, a state
 * not of the sender's own typing) is refused as before; what is merely too much — more than
 * {@link MAX_AWARENESS_ENTRIES} entries, a second clientID on one connection, anything on a user
 * document, clientIDs beyond the identity's remembered bound — is dropped: nothing of it is kept or
 * forwarded, and an honest client never sends it.
 */
export const decideAwareness = <C extends Publisher>(
  update: Uint8Array,
  ctx: AwarenessContext<C>,
): AwarenessDecision => {
  const dec = decoding.createDecoder(update)
  const n = decoding.readVarUint(dec)
  if (n === 0) return { action: 'drop', why: 'awareness_empty' }
  // Counted before anything is read: a frame claiming thousands of entries is not decoded at all.
  if (n > MAX_AWARENESS_ENTRIES) return { action: 'drop', why: 'awareness_entries' }
  const clientID = decoding.readVarUint(dec)
  decoding.readVarUint(dec)
  const state = JSON.parse(decoding.readVarString(dec)) as unknown
  const identity = ctx.conn.identity
  const owner = ctx.relayClientID === clientID ? null : ctx.claims.ownerOf(clientID)
  // A clientID stays its identity's while the document is known, across reconnects, and one bound
  // to someone's writes is theirs before they publish: claimed by another while they are away, it
  // would get their own typing refused.
  const holder = ctx.claims.identityOf(clientID) ?? ctx.boundTo(clientID)
  if (
    owner === null ||
    (owner !== undefined && owner.identity !== identity) ||
    (holder !== undefined && holder !== identity)
  ) {
    return { action: 'refuse', reason: 'awareness for a client id that is not yours' }
  }
  if (state !== null && !validState(ctx.kind, identity, state)) {
    return { action: 'refuse', reason: 'awareness state must carry your own identity' }
  }
  // Presence on user documents is the relay's own; a client's (even `{}`) would only reach watchers.
  if (ctx.kind !== 'conv') return { action: 'drop', why: 'awareness_user_document' }
  if (ctx.current !== undefined && ctx.current !== clientID) return { action: 'drop', why: 'awareness_second_client' }
  if (ctx.claims.identityOf(clientID) === undefined && !ctx.claims.makeRoom(identity, ctx.forget)) {
    return { action: 'drop', why: 'awareness_client_ids' }
  }
  return { action: 'apply', clientID }
}

/** Typing state on conversations is the only awareness clients publish. */
const validState = (kind: string, identity: string, state: unknown): boolean => {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return false
  const keys = Object.keys(state)
  // Stock y-websocket providers start with an empty state: it says nothing, so it is allowed.
  if (keys.length === 0) return true
  if (kind !== 'conv') return false
  const s = state as { identity?: unknown; typing?: unknown }
  return s.identity === identity && s.typing === true && keys.length === 2
}

/**
 * Lets the awareness forget the clock it keeps for a clientID the relay no longer remembers
 * (y-protocols keeps one for every clientID it ever saw). Only clientIDs no connection publishes
 * under are forgotten, so there is no state to remove.
 */
export const forgetClient = (awareness: awarenessProtocol.Awareness | null, clientID: number): void => {
  if (!awareness || awareness.getStates().has(clientID)) return
  awareness.meta.delete(clientID)
}
