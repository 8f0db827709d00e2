/**
 * A raw attacker client, built directly on the wire protocol: a `ws` socket, lib0 encoders,
 * y-protocols sync messages and Yjs documents of its own. It deliberately shares no code with the
 * colloquy client or the relay (not even `src/sync/protocol.ts`), so the frames it sends are
 * exactly the bytes written here.
 *
 *     frame = varString(docName) varUint(type) payload     (type 0 sync, 1 awareness, 2 auth, 3 query awareness)
 *
 * It syncs a document into its own replica (so it holds the live state, as any member does), then
 * crafts transactions on that replica and sends the resulting update — or hand-encodes updates
 * that no Yjs API would produce (items without a delete set, zero-length items, dangling origins).
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebSocket } from 'ws'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'

export const MSG = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3, unsubscribe: 100 } as const
export const SYNC = { step1: 0, step2: 1, update: 2 } as const

/** Origin of updates the raw client applies from the relay (never captured as "forged"). */
export const REMOTE = Symbol('raw-client.remote')

export interface Closed {
  code: number
  reason: string
}

export interface ParsedFrame {
  docName: string
  type: number
  /** For sync frames: step1 / step2 / update. */
  syncType: number | null
  /** For sync step2 / update frames: the Yjs update. For auth frames: null. */
  update: Uint8Array | null
  /** For auth (permission denied) frames: the reason. */
  denied: string | null
}

/** A frame header with a payload written by `write`. */
export const frame = (docName: string, type: number, write: (e: encoding.Encoder) => void = () => {}): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarString(e, docName)
  encoding.writeVarUint(e, type)
  write(e)
  return encoding.toUint8Array(e)
}

/** Sync step 1 with the state vector of `doc` (an empty doc: "send me everything"). */
export const step1Frame = (docName: string, doc: Y.Doc = new Y.Doc()): Uint8Array =>
  frame(docName, MSG.sync, (e) => syncProtocol.writeSyncStep1(e, doc))

/** Sync step 2 carrying `update`. */
export const step2Frame = (docName: string, update: Uint8Array): Uint8Array =>
  frame(docName, MSG.sync, (e) => {
    encoding.writeVarUint(e, SYNC.step2)
    encoding.writeVarUint8Array(e, update)
  })

/** A sync update message carrying `update`. */
export const updateFrame = (docName: string, update: Uint8Array): Uint8Array =>
  frame(docName, MSG.sync, (e) => syncProtocol.writeUpdate(e, update))

/** An awareness update, hand-encoded so any clientID, clock and state can be claimed. */
export const awarenessFrame = (
  docName: string,
  entries: Array<{ clientID: number; clock: number; state: unknown }>,
): Uint8Array => {
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, entries.length)
  for (const { clientID, clock, state } of entries) {
    encoding.writeVarUint(inner, clientID)
    encoding.writeVarUint(inner, clock)
    encoding.writeVarString(inner, JSON.stringify(state))
  }
  return frame(docName, MSG.awareness, (e) => encoding.writeVarUint8Array(e, encoding.toUint8Array(inner)))
}

/** Decodes a frame the relay sent; null when it does not parse. */
export const parseFrame = (bytes: Uint8Array): ParsedFrame | null => {
  try {
    const d = decoding.createDecoder(bytes)
    const docName = decoding.readVarString(d)
    const type = decoding.readVarUint(d)
    const out: ParsedFrame = { docName, type, syncType: null, update: null, denied: null }
    if (type === MSG.sync) {
      out.syncType = decoding.readVarUint(d)
      out.update = decoding.readVarUint8Array(d)
    } else if (type === MSG.auth) {
      decoding.readVarUint(d)
      out.denied = decoding.readVarString(d)
    }
    return out
  } catch {
    return null
  }
}

/** Item content (Yjs does not export its abstract content type). */
export type Content = ConstructorParameters<typeof Y.Item>[7]

/** One struct to hand-encode: a Yjs item (or GC) built by {@link item} or taken from `Y.decodeUpdate`. */
export type Struct = Y.Item | Y.GC

/**
 * Builds an item by hand. `parent` (a root name) and `parentSub` (a map key) are only encoded when
 * the item has neither origin, as Yjs does.
 */
export const item = (options: {
  client: number
  clock: number
  content: Content | unknown[]
  origin?: Y.ID | null
  rightOrigin?: Y.ID | null
  /** A root name, or the ID of the item holding a nested type. */
  parent?: string | Y.ID | null
  parentSub?: string | null
}): Y.Item => {
  const content = Array.isArray(options.content) ? new Y.ContentAny(options.content) : options.content
  return new Y.Item(
    Y.createID(options.client, options.clock),
    null,
    options.origin ?? null,
    null,
    options.rightOrigin ?? null,
    // A root name or an ID is what Yjs decodes for a parent: the constructor's typing is narrower.
    (options.parent ?? null) as never,
    options.parentSub ?? null,
    content as Content,
  )
}

/**
 * Hand-encodes a v1 update from `structs` (grouped by client, each group contiguous in clock
 * order) and an explicit delete set — which may leave out deletions a real Yjs update would carry.
 */
export const encodeUpdate = (
  structs: Struct[],
  deletes: Array<{ client: number; clock: number; len: number }> = [],
) => {
  const byClient = new Map<number, Struct[]>()
  for (const s of structs) {
    const list = byClient.get(s.id.client) ?? []
    list.push(s)
    byClient.set(s.id.client, list)
  }
  const clients = [...byClient.keys()].sort((a, b) => b - a)
  return encodeGroups(
    clients.map((c) => byClient.get(c)!),
    deletes,
  )
}

/**
 * Hand-encodes a v1 update from groups of structs, written in the order given, each under the
 * client and from the clock of its first struct (a struct's own clock is implied by the lengths
 * before it). Unlike {@link encodeUpdate} it may write one client in several groups, which Yjs
 * never does.
 */
export const encodeGroups = (
  groups: Struct[][],
  deletes: Array<{ client: number; clock: number; len: number }> = [],
) => {
  const encoder = new Y.UpdateEncoderV1()
  encoding.writeVarUint(encoder.restEncoder, groups.length)
  for (const list of groups) {
    encoding.writeVarUint(encoder.restEncoder, list.length)
    encoder.writeClient(list[0]!.id.client)
    encoding.writeVarUint(encoder.restEncoder, list[0]!.id.clock)
    for (const s of list) s.write(encoder, 0)
  }
  const dsByClient = new Map<number, Array<{ clock: number; len: number }>>()
  for (const d of deletes) {
    const list = dsByClient.get(d.client) ?? []
    list.push(d)
    dsByClient.set(d.client, list)
  }
  encoding.writeVarUint(encoder.restEncoder, dsByClient.size)
  for (const [client, ranges] of dsByClient) {
    encoding.writeVarUint(encoder.restEncoder, client)
    encoding.writeVarUint(encoder.restEncoder, ranges.length)
    for (const r of ranges) {
      encoding.writeVarUint(encoder.restEncoder, r.clock)
      encoding.writeVarUint(encoder.restEncoder, r.len)
    }
  }
  return encoder.toUint8Array()
}

/** The live item holding the current value of `map[key]` in `doc` (null when none). */
export const currentItem = (doc: Y.Doc, root: string, key: string): Y.Item | null => {
  const entry = (doc.getMap(root) as unknown as { _map: Map<string, Y.Item> })._map.get(key)
  return entry && !entry.deleted ? entry : null
}

/** A raw multiplexed (or single-document) connection to the relay. */
export class RawClient {
  readonly ws: WebSocket
  /** Every frame received, in order. */
  readonly frames: Uint8Array[] = []
  readonly opened: Promise<void>
  readonly closed: Promise<Closed>
  /** Replicas of the documents synced on this connection. */
  readonly docs = new Map<string, Y.Doc>()
  #closeInfo: Closed | null = null
  readonly #listeners = new Set<(f: Uint8Array) => void>()

  constructor(url: string) {
    this.ws = new WebSocket(url)
    this.ws.binaryType = 'nodebuffer'
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
      this.ws.once('close', (code) => reject(new Error(`closed (${code}) before opening`)))
    })
    this.opened.catch(() => {})
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code: number, reason: Buffer) => {
        this.#closeInfo = { code, reason: reason.toString() }
        resolve(this.#closeInfo)
      })
    })
    this.ws.on('error', () => {})
    this.ws.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data)
      this.frames.push(bytes)
      this.#applyIncoming(bytes)
      for (const l of [...this.#listeners]) l(bytes)
    })
  }

  /** Opens a multiplexed connection (`/?token=…`) and waits until the socket is open. */
  static async connect(baseUrl: string, token: string, path = '/'): Promise<RawClient> {
    const c = new RawClient(`${baseUrl}${path}?token=${encodeURIComponent(token)}`)
    await c.opened
    return c
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  get closeInfo(): Closed | null {
    return this.#closeInfo
  }

  /** Sends raw bytes (dropped once the socket is no longer open). */
  send(bytes: Uint8Array): void {
    if (this.isOpen) this.ws.send(bytes)
  }

  /** The replica of `docName` (created empty on first use). */
  doc(docName: string): Y.Doc {
    let d = this.docs.get(docName)
    if (!d) {
      d = new Y.Doc()
      this.docs.set(docName, d)
    }
    return d
  }

  /**
   * Syncs `docName` into the replica: sends step 1 with the replica's state vector and resolves
   * once the relay's step 2 answer is applied. Rejects with the reason of a permission-denied frame.
   */
  async sync(docName: string, ms = 5_000): Promise<Y.Doc> {
    const d = this.doc(docName)
    const mark = this.frames.length
    const reply = this.next(
      (f, i) => i >= mark && f.docName === docName && (f.syncType === SYNC.step2 || f.denied !== null),
      ms,
    )
    this.send(step1Frame(docName, d))
    const f = await reply
    if (f.denied !== null) throw new Error(`denied: ${f.denied}`)
    return d
  }

  /**
   * Runs `fn` in one transaction on the replica of `docName` and returns what it produced as a
   * single update, without sending it.
   */
  forge(docName: string, fn: (doc: Y.Doc) => void): Uint8Array {
    const d = this.doc(docName)
    const captured: Uint8Array[] = []
    const onUpdate = (u: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) captured.push(u)
    }
    d.on('update', onUpdate)
    try {
      Y.transact(d, () => fn(d), 'forged')
    } finally {
      d.off('update', onUpdate)
    }
    if (captured.length === 0) throw new Error('the forged transaction changed nothing')
    return Y.mergeUpdates(captured)
  }

  /** Sends `update` for `docName` as a sync update message. */
  sendUpdate(docName: string, update: Uint8Array): void {
    this.send(updateFrame(docName, update))
  }

  /** Sends an awareness update for `docName`. */
  sendAwareness(docName: string, entries: Array<{ clientID: number; clock: number; state: unknown }>): void {
    this.send(awarenessFrame(docName, entries))
  }

  /** The first frame (past or future, by position) matching `predicate`. */
  next(predicate: (f: ParsedFrame, index: number) => boolean, ms = 5_000): Promise<ParsedFrame> {
    for (const [i, bytes] of this.frames.entries()) {
      const f = parseFrame(bytes)
      if (f && predicate(f, i)) return Promise.resolve(f)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(listener)
        reject(new Error(`timed out after ${ms} ms waiting for a frame`))
      }, ms)
      const listener = (bytes: Uint8Array) => {
        const f = parseFrame(bytes)
        if (!f || !predicate(f, this.frames.length - 1)) return
        clearTimeout(timer)
        this.#listeners.delete(listener)
        resolve(f)
      }
      this.#listeners.add(listener)
    })
  }

  /** The reason of the next permission-denied frame for `docName` sent after now. */
  denied(docName: string, ms = 5_000): Promise<string> {
    const mark = this.frames.length
    return this.next((f, i) => i >= mark && f.docName === docName && f.denied !== null, ms).then((f) => f.denied!)
  }

  /**
   * Resolves once the relay has handled every frame sent before it: the relay answers one
   * connection's frames in order, so the answer to a step 1 comes after them.
   */
  async roundTrip(probeDoc: string, ms = 5_000): Promise<void> {
    const mark = this.frames.length
    const reply = this.next((f, i) => i >= mark && f.docName === probeDoc, ms)
    this.send(step1Frame(probeDoc))
    await reply
  }

  /** Resolves with the close code and reason; rejects after `ms`. */
  async waitClosed(ms = 5_000): Promise<Closed> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the relay did not close the connection within ${ms} ms`)), ms)
    })
    try {
      return await Promise.race([this.closed, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Closes the socket at once (idempotent). */
  close(): void {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.terminate()
    for (const d of this.docs.values()) d.destroy()
    this.docs.clear()
  }

  #applyIncoming(bytes: Uint8Array): void {
    const f = parseFrame(bytes)
    if (!f || f.type !== MSG.sync || f.update === null || f.syncType === SYNC.step1) return
    const d = this.docs.get(f.docName)
    if (!d) return
    try {
      Y.applyUpdate(d, f.update, REMOTE)
    } catch {
      // a replica that cannot apply what the relay sent is the test's business, not a crash here
    }
  }
}
