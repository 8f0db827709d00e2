import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { addDeletes, type DeleteRanges, encodeUpdateSince, type Transaction } from '../src/crdt/doc-updates.ts'
import { invalidArgument } from '../src/errors.ts'
import { unrefTimer } from '../src/runtime.ts'
import { ConversationDocument, parseDocName, type SyncedDocKind } from '../src/schema/layout.ts'
import { isUnjoinedCreator } from '../src/schema/permissions.ts'
import { Sequencer } from '../src/schema/sequencer.ts'
import { checkDuration, checkOneOf } from '../src/schema/validate.ts'
import type { StorageAdapter } from '../src/storage/adapter.ts'
import { COMPACT_DELAY_MS, CompactionPolicy } from '../src/storage/persistence.ts'
import {
  encodeAwarenessFrame,
  encodeDenied,
  encodeRefused,
  encodeUnavailable,
  encodeUpdateFrame,
  MessageType,
  RefusalCode,
  readFrame,
  startFrame,
} from '../src/sync/protocol.ts'
import { CloseCode } from '../src/sync/transport.ts'
import { absentSyncAnswer, changesNothingAbsent } from './absent.ts'
import { AwarenessClaims, decideAwareness, forgetClient } from './awareness.ts'
import { type ClientIdLimits, ClientIdQuota } from './client-ids.ts'
import { IdentityHoldings } from './holdings.ts'
import {
  type InboxLastMessage,
  inboxEntryFor,
  inboxMap,
  lastMessageOf,
  putInboxEntry,
  removeInboxEntry,
  summaryOf,
} from './inbox.ts'
import { type Logger, silentLogger } from './log.ts'
import type { RelayMetrics } from './metrics.ts'
import { type QuotaLimits, Quotas } from './quotas.ts'
import { aheadOf, HOLD_MS, mergeStateVectors, takeBack } from './restore.ts'
import { StampState } from './stamp-state.ts'
import {
  CLIENTS_ROOT,
  changesNothing,
  isNoopUpdate,
  RELAY_IDENTITY,
  SEALS_ROOT,
  type SleepingState,
  sleepingStateOf,
  validateConversationUpdate,
  validateProfileUpdate,
  validatorErrorFields,
} from './validate.ts'

/** Transaction origin of the relay's own writes (clientID bindings). */
export const RELAY_ORIGIN = Symbol('colloquy.relay')

/** Marks a client whose structs of one turn came from more than one origin. */
const MIXED = Symbol('mixed')

/** Placeholder until a record's first Y.Doc is built (never used as a document). */
const DESTROYED_DOC = (() => {
  const doc = new Y.Doc({ guid: 'colloquy-none' })
  doc.destroy()
  return doc
})()

/** A map nobody may write: what a sleeping record holds instead of its per-turn collections. */
class SealedMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('colloquy: a sleeping document was written to')
  }
}
class SealedSet<T> extends Set<T> {
  override add(): this {
    throw new Error('colloquy: a sleeping document was written to')
  }
}
const SEALED_MAP = new SealedMap<never, never>()
const SEALED_SET = new SealedSet<never>()

/** WebSocket close reasons are limited to 123 bytes. */
const shortReason = (text: string): string => (text.length > 120 ? `${text.slice(0, 117)}...` : text)

/** Where the core sends frames for one connection. */
export interface CoreSocket {
  send(data: Uint8Array): void
  close(code: number, reason: string): void
  /**
   * The client reads `refused` frames (it authenticated with a token frame): a refused update or a
   * document over the limit is refused alone and the connection goes on. Otherwise (a stock
   * y-websocket client, or any client with its token in the URL) the connection is closed with
   * 4422 or 4429.
   */
  refusalFrames?: boolean
}

/** Options of the relay core. */
export interface RelayCoreOptions {
  storage: StorageAdapter
  /** Server clock (stamps, inbox). Default `Date.now`. */
  now?: () => number
  /** How long a document with no subscribers stays in memory. Default 30 s. */
  idleUnloadMs?: number
  /**
   * How long a document that clients are subscribed to stays in memory without changes or typing
   * (ms, default 30 000; 0 keeps it loaded while anyone is subscribed). After that only who is
   * subscribed is kept — about 3 KiB instead of a whole Y.Doc — and the next frame that
   * needs it loads it again from the store. Most of a user's conversations are quiet most of the
   * time. A conversation loaded only to answer a first sync goes back to sleep at once (unless 0).
   */
  sleepAfterMs?: number
  /**
   * How often a busy conversation's last message is copied to its members' inboxes (ms, default
   * 1 000). Membership changes reach inboxes at once; activity is batched so a fast conversation
   * does not write every member's inbox on every message.
   */
  inboxIntervalMs?: number
  /**
   * Updates appended to a document's log before it may be compacted (default 500); it is compacted
   * once the bytes appended since also reach a quarter of the last compacted state.
   */
  compactEvery?: number
  /**
   * How long a due compaction waits (ms, default 1 000), so a burst is compacted once after it
   * rather than on its way. 0 compacts at once.
   */
  compactDelayMs?: number
  /**
   * When the updates gathered for a document are stored and broadcast: at the end of the event-loop
   * turn (`'turn'`, the default: everything that arrived in one read of the sockets goes out as one
   * stored entry and one frame per reader) or after the current microtasks (`'microtask'`: no
   * timers, for in-process simulations that step the relay themselves).
   */
  batch?: 'turn' | 'microtask'
  /**
   * Under load, the least time between two flushes (ms, default 2; 0 flushes every turn): a burst
   * is stored and broadcast in fewer, larger updates. Updates at a normal rate are not delayed.
   */
  batchWindowMs?: number
  /** Called with errors that have nowhere else to go (storage failures). */
  onError?: (error: unknown) => void
  /**
   * Documents one connection may sync at once (default 5,000); one beyond it is refused with a
   * `refused` frame (code 429), or the connection closed with 4429 if it cannot read one.
   */
  maxDocumentsPerConnection?: number
  /**
   * Distinct documents one identity may sync at once across all its connections (default 10,000);
   * beyond it the connection asking for one more is closed with 4429.
   */
  maxDocumentsPerIdentity?: number
  /** Quotas on creating conversations and adding participants (see `QuotaLimits`; defaults there). */
  quotas?: Partial<QuotaLimits>
  /** Counters for `/metrics`. */
  metrics?: RelayMetrics
  /** Where the core reports what the operator must know (a failure inside the validator). Default: silent. */
  logger?: Logger
  /** New Yjs clientIDs one identity may bring into one document (see `relay/client-ids.ts`). */
  clientIdLimits?: ClientIdLimits
  /**
   * @internal The stamp key and high-water marks kept outside the store (see `stamp-state.ts`;
   * `createRelay` opens them from `stampStatePath`). Default: a random key for this process and no
   * marks (nothing survives a restore).
   */
  stampState?: StampState
  /**
   * Validate every conversation update before applying it (default true). Turning it off lets any
   * participant forge anything; it exists only to measure what validation costs.
   */
  validate?: boolean
}

type DocKind = SyncedDocKind

interface LoadedDoc {
  name: string
  kind: DocKind
  key: string
  doc: Y.Doc
  conv: ConversationDocument | null
  awareness: awarenessProtocol.Awareness | null
  sequencer: Sequencer | null
  subscribers: Map<CoreConnection, Set<number>>
  /** Persist-then-broadcast, in update order. */
  chain: Promise<void>
  log: CompactionPolicy
  members: Set<string>
  last: InboxLastMessage | null
  kicks: Set<string>
  /**
   * Changes of this turn, not yet stored or broadcast (see `#onTransaction`): the state vector
   * before the first of them (null when there are none) and their deletions.
   */
  pendingSince: Map<number, number> | null
  pendingDeletes: DeleteRanges
  pendingOrigins: Set<unknown>
  /** Which connection wrote each client's structs of this turn (`MIXED` when more than one did). */
  pendingAuthors: Map<number, CoreConnection | typeof MIXED>
  /** Members this update removed: they still get the update that removes them, then nothing. */
  leavers: Set<string>
  /** Which connection publishes awareness under which clientID, and which identity did before. */
  claims: AwarenessClaims<CoreConnection>
  /**
   * Nothing is stored for it and no Y.Doc was built: a name someone asked for that does not exist
   * (yet). Only its subscribers are kept; the first frame that would change it (a creation) loads it.
   */
  absent: boolean
  /** While an absent document's Y.Doc is being built. */
  materialising: Promise<LoadedDoc> | null
  idleTimer: ReturnType<typeof setTimeout> | null
  /**
   * Asleep: subscribed, but its Y.Doc was let go; the next frame that needs it loads it again (an
   * update that would change nothing, an unsubscribe or an awareness query do not).
   */
  asleep: boolean
  /** While asleep: what tells an update that would change nothing. */
  slept: SleepingState | null
  /** Nothing was written or typed since it was loaded (or woken). */
  quiet: boolean
  /** The one stored entry it was built from, while nothing changed: the answer to a first sync, as is. */
  loadedFrom: Uint8Array | null
  /** When it last changed or saw typing (performance.now()), for going to sleep. */
  activeAt: number
  sleepTimer: ReturnType<typeof setTimeout> | null
  compactTimer: ReturnType<typeof setTimeout> | null
  inboxDirty: boolean
  inboxTimer: ReturnType<typeof setTimeout> | null
  /** The sum of its state vector's clocks: how much it holds (see `StampState.behind`). */
  clocks: number
}

/**
 * The relay's core, independent of sockets: documents, who may sync them, the sequencer, the
 * per-user inboxes, persistence before broadcast. The WebSocket server wraps it; the in-process
 * test network (`colloquy/testing`) drives it directly.
 */
export class RelayCore {
  readonly #storage: StorageAdapter
  readonly #now: () => number
  readonly #idleUnloadMs: number
  readonly #sleepAfterMs: number
  readonly #batchWindowMs: number
  #lastFlush = Number.NEGATIVE_INFINITY
  /** Documents with changes of this turn not yet stored or broadcast. */
  readonly #dirty = new Set<LoadedDoc>()
  /** Documents asleep (see `sleepAfterMs`), by name. */
  readonly #asleep = new Map<string, LoadedDoc>()
  readonly #compactEvery: number
  readonly #compactDelayMs: number
  readonly #defer: (fn: () => void) => void
  readonly #newLog: (updates: Uint8Array[]) => CompactionPolicy
  readonly #inboxIntervalMs: number
  readonly #onError: (error: unknown) => void
  readonly #docs = new Map<string, Promise<LoadedDoc>>()
  readonly #connections = new Set<CoreConnection>()
  readonly #online = new Map<string, number>()
  readonly #maxDocs: number
  readonly #maxDocsPerIdentity: number
  /** The documents each identity's connections are subscribed to. */
  readonly #holdings = new IdentityHoldings<LoadedDoc>()
  /** Absent documents (see `LoadedDoc.absent`), by name. */
  readonly #absent = new Map<string, LoadedDoc>()
  /** Names being loaded for the first time that may come back absent. */
  readonly #mayBeAbsent = new Set<string>()
  /**
   * Step 1 frames of people a conversation that is behind did not know as participants (see
   * `_behind`), handled again once it does: after a restore, the update that added them may come
   * back later than they do.
   */
  readonly #waiting = new Map<LoadedDoc, Map<CoreConnection, Uint8Array>>()
  /**
   * Connections whose devices kept something of a conversation the relay could not take yet: asked
   * again when it may (`#askAgain`), and their answers are never refused for what they forward.
   */
  readonly #leftOn = new Map<LoadedDoc, Set<CoreConnection>>()
  readonly metrics: RelayMetrics | null
  /** @internal */
  readonly _logger: Logger
  /** @internal */
  readonly _validate: boolean
  /** @internal */
  readonly _clientIds: ClientIdQuota
  readonly _quotas: Quotas
  readonly _stamps: StampState
  #closed = false

  constructor(options: RelayCoreOptions) {
    this.#storage = options.storage
    this.#now = options.now ?? Date.now
    this.#idleUnloadMs = checkDuration(options.idleUnloadMs, 30_000, 'idleUnloadMs')
    this.#sleepAfterMs = checkDuration(options.sleepAfterMs, 30_000, 'sleepAfterMs')
    const every = options.compactEvery ?? 500
    if (!Number.isInteger(every) || every < 1) throw invalidArgument('compactEvery must be a positive integer')
    this.#compactEvery = every
    this.#compactDelayMs = checkDuration(options.compactDelayMs, COMPACT_DELAY_MS, 'compactDelayMs')
    const batch = options.batch === undefined ? 'turn' : checkOneOf(options.batch, ['turn', 'microtask'], 'batch')
    this.#defer = batch === 'microtask' ? queueMicrotask : (fn) => setImmediate(fn)
    this.#batchWindowMs = batch === 'microtask' ? 0 : checkDuration(options.batchWindowMs, 2, 'batchWindowMs')
    this.#newLog = (updates) => {
      const log = new CompactionPolicy(every)
      log.loaded(
        updates.length,
        updates.reduce((n, u) => n + u.byteLength, 0),
      )
      return log
    }
    this.#inboxIntervalMs = checkDuration(options.inboxIntervalMs, 1000, 'inboxIntervalMs')
    this.#onError = options.onError ?? (() => {})
    this.#maxDocs = options.maxDocumentsPerConnection ?? 5000
    this.#maxDocsPerIdentity = options.maxDocumentsPerIdentity ?? 10_000
    this.metrics = options.metrics ?? null
    this._logger = options.logger ?? silentLogger
    this._validate = options.validate ?? true
    this._stamps = options.stampState ?? StampState.open({ path: null })
    this._quotas = new Quotas(options.quotas, this.#now)
    this._clientIds = new ClientIdQuota(options.clientIdLimits, this.#now)
  }

  /** @internal An exception inside the validator: a relay bug, logged and counted, never blamed on the client. */
  _validatorFailed(docName: string, identity: string, update: Uint8Array, error: unknown): void {
    if (this.metrics) this.metrics.validatorErrors++
    this._logger.error('validator_error', validatorErrorFields(docName, identity, update, error))
  }

  /** Accepts an authenticated connection for `identity`. */
  connect(identity: string, socket: CoreSocket): CoreConnection {
    const conn = new CoreConnection(this, identity, socket)
    this.#connections.add(conn)
    const n = (this.#online.get(identity) ?? 0) + 1
    this.#online.set(identity, n)
    if (n === 1) this.#setPresence(identity, true)
    return conn
  }

  /** Open connections of `identity`. */
  connectionsOf(identity: string): number {
    return this.#online.get(identity) ?? 0
  }

  /**
   * @internal The document's awareness, created on first use (conversations and user documents
   * only): each instance runs a timer, and most documents never see typing or presence.
   */
  _awarenessOf(d: LoadedDoc): awarenessProtocol.Awareness | null {
    if (d.awareness) return d.awareness
    if ((d.kind !== 'conv' && d.kind !== 'user') || d.doc.isDestroyed) return null
    const awareness = new awarenessProtocol.Awareness(d.doc)
    d.quiet = false
    // The relay publishes no state of its own (presence aside, set by the caller).
    awareness.setLocalState(null)
    awareness.on('update', ({ added, updated, removed }: AwarenessChange, origin: unknown) => {
      const changed = added.concat(updated, removed)
      const frame = encodeAwarenessFrame(d.name, awarenessProtocol.encodeAwarenessUpdate(awareness, changed))
      for (const conn of d.subscribers.keys()) if (conn !== origin && this._mayRead(conn.identity, d)) conn.send(frame)
    })
    d.awareness = awareness
    return awareness
  }

  /** Publishes whether `identity` is connected, as awareness on their user document. */
  #setPresence(identity: string, online: boolean): void {
    const p = this._load(`user/${identity}`)
    if (!p) return
    p.then((d) => {
      if (d.doc.isDestroyed || (this.#online.get(identity) ?? 0) > 0 !== online) return
      if (!online && !d.awareness) return
      this._awarenessOf(d)?.setLocalState(online ? { online: true } : null)
      if (!online && d.subscribers.size === 0) this.#scheduleUnload(d)
    }).catch(this.#onError)
  }

  /** Number of documents in memory. */
  get loadedDocuments(): number {
    return this.#docs.size - this.#asleep.size - this.#absent.size
  }

  /**
   * Number of documents someone is subscribed to that are not in memory: asleep, or absent (names
   * of conversations that do not exist, or of users with nothing stored, that someone asked for).
   */
  get sleepingDocuments(): number {
    return this.#asleep.size + this.#absent.size
  }

  /**
   * @internal Puts every document that may sleep to sleep now, whatever `sleepAfterMs` says
   * (simulations step it at chosen points); resolves with how many are asleep.
   */
  async _sleepNow(): Promise<number> {
    for (const p of [...this.#docs.values()]) {
      const d = await p.catch(() => null)
      if (!d || d.asleep) continue
      this._flushPending(d)
      await d.chain
      this.#sleep(d, true)
    }
    return this.#asleep.size
  }

  /** @internal Whether the document `name` is asleep. */
  _isAsleep(name: string): boolean {
    return this.#asleep.has(name)
  }

  /** Number of live connections. */
  get connectionCount(): number {
    return this.#connections.size
  }

  /** Waits until every queued write is stored. */
  async flush(): Promise<void> {
    for (const p of [...this.#docs.values()]) {
      const d = await p
      this._flushPending(d)
      await d.chain
    }
  }

  /** Closes every connection and unloads every document after storing it. */
  async close(): Promise<void> {
    if (this.#closed) return
    // Write batched inbox activity (this loads inbox documents, so before refusing loads).
    for (const p of [...this.#docs.values()]) {
      const d = await p.catch(() => null)
      if (d?.inboxTimer) this.#writeInboxes(d)
    }
    this.#closed = true
    for (const conn of [...this.#connections]) conn.close(CloseCode.goingAway, 'relay shutting down')
    await this.flush()
    for (const p of [...this.#docs.values()]) this.#destroyDoc(await p)
    this.#docs.clear()
    this.#asleep.clear()
    this.#absent.clear()
    this.#holdings.clear()
    this.#dirty.clear()
  }

  /** @internal */
  _dropConnection(conn: CoreConnection): void {
    if (!this.#connections.delete(conn)) return
    for (const d of [...conn.docs]) this._unsubscribe(conn, d)
    const n = (this.#online.get(conn.identity) ?? 1) - 1
    if (n <= 0) {
      this.#online.delete(conn.identity)
      if (!this.#closed) this.#setPresence(conn.identity, false)
    } else this.#online.set(conn.identity, n)
  }

  /** @internal */
  get _maxDocs(): number {
    return this.#maxDocs
  }

  /**
   * @internal Why `conn` may not subscribe to `d` now (the per-connection or per-identity
   * document limit), or null. A document its identity already syncs on another connection counts
   * once.
   */
  _documentLimit(conn: CoreConnection, d: LoadedDoc): { metric: string; reason: string } | null {
    if (conn.docs.size >= this.#maxDocs) {
      return { metric: 'documents_per_connection', reason: 'too many documents on one connection' }
    }
    const h = this.#holdings
    if (h.count(conn.identity) >= this.#maxDocsPerIdentity && !h.holds(conn.identity, d)) {
      return { metric: 'documents_per_identity', reason: 'too many documents for this identity' }
    }
    return null
  }

  /** Distinct documents the connections of `identity` are subscribed to. */
  documentsOf(identity: string): number {
    return this.#holdings.count(identity)
  }

  /** @internal Loads (or returns the loaded) document `name`, or null for a name no one may use. */
  _load(name: string): Promise<LoadedDoc> | null {
    const p = this._open(name, false)
    if (!p) return null
    // Only a name that is (or may come back) absent takes the extra step: the others resolve as
    // early as they did before there were absent documents.
    if (!this.#absent.has(name) && !this.#mayBeAbsent.has(name)) return p
    return p.then((d) => (d.absent ? this.#materialise(d) : d))
  }

  /**
   * @internal Like `_load`, but a name nothing is stored for comes back absent (see
   * `LoadedDoc.absent`), without a Y.Doc: answering it costs a record, not a document.
   */
  _open(name: string, absentOk = true): Promise<LoadedDoc> | null {
    const cached = this.#docs.get(name)
    if (cached) {
      const sleeper = this.#asleep.get(name)
      if (!sleeper) return cached
      this.#asleep.delete(name)
      const woken = this.#wake(sleeper)
      this.#docs.set(name, woken)
      woken.catch((error: unknown) => {
        // Its store failed: whoever was subscribed is cut off (they reconnect and try again).
        this.#onError(error)
        if (this.#docs.get(name) === woken) this.#docs.delete(name)
        for (const conn of [...sleeper.subscribers.keys()]) conn.close(CloseCode.goingAway, 'storage failure')
      })
      return woken
    }
    const parsed = parseDocName(name)
    if (!parsed || this.#closed) return null
    const p = this.#loadFresh(name, parsed.kind, parsed.key, absentOk)
    this.#docs.set(name, p)
    p.catch(() => this.#docs.delete(name))
    if (absentOk) {
      this.#mayBeAbsent.add(name)
      const settled = () => this.#mayBeAbsent.delete(name)
      p.then(settled, settled)
    }
    return p
  }

  /** Builds the Y.Doc of an absent document (into the same record: its subscribers stay). */
  #materialise(d: LoadedDoc): Promise<LoadedDoc> {
    d.materialising ??= (async () => {
      try {
        const updates = await this.#storage.load(d.name)
        if (d.absent) {
          this.#attach(d, updates)
          d.absent = false
          this.#absent.delete(d.name)
          this.#touch(d)
        }
        return d
      } finally {
        d.materialising = null
      }
    })()
    return d.materialising
  }

  /** Lets go of a loaded document's Y.Doc when nothing is stored for it: it becomes absent. */
  #makeAbsent(d: LoadedDoc): void {
    if (d.sleepTimer) clearTimeout(d.sleepTimer)
    d.sleepTimer = null
    this.#release(d)
    d.absent = true
    this.#absent.set(d.name, d)
    if (d.subscribers.size === 0) this.#forgetAbsent(d)
  }

  /** Drops an absent document nobody is subscribed to: there is nothing to keep of it. */
  #forgetAbsent(d: LoadedDoc): void {
    if (!d.absent || d.subscribers.size > 0 || d.materialising || this.#absent.get(d.name) !== d) return
    this.#absent.delete(d.name)
    this.#docs.delete(d.name)
    if (d.idleTimer) clearTimeout(d.idleTimer)
    d.idleTimer = null
  }

  /** @internal Whether `identity` may read `d` now. */
  _mayRead(identity: string, d: LoadedDoc): boolean {
    switch (d.kind) {
      case 'inbox':
        return d.key === identity
      case 'user':
        return true
      case 'conv': {
        const conv = d.conv
        // Absent: it does not exist, anyone may ask (and gets nothing).
        if (d.absent) return true
        // Asleep (never the case where this is asked, but safe): members as of when it slept.
        if (conv === null) return d.members.has(identity)
        if (!conv.exists) return true
        if (conv.get('deleted', false)) return false
        return conv.participants.has(identity) || isUnjoinedCreator(conv, identity)
      }
    }
  }

  /** @internal Whether `identity` may write `d` at all (finer rules are the validator's). */
  _mayWrite(identity: string, d: LoadedDoc): boolean {
    if (d.kind === 'inbox') return false
    if (d.kind === 'user') return d.key === identity
    return this._mayRead(identity, d)
  }

  /**
   * @internal Binds `clients` to `identity` in a conversation, each binding with the relay's MAC
   * beside it (in `seals`), so the relay recognises it if a device returns it after a restore.
   * Call inside a transaction, or it makes one of its own.
   */
  _bind(d: LoadedDoc, clients: number[], identity: string): void {
    const bindings = d.doc.getMap<string>(CLIENTS_ROOT)
    const seals = d.doc.getMap<string>(SEALS_ROOT)
    Y.transact(
      d.doc,
      () => {
        for (const c of clients) {
          bindings.set(String(c), identity)
          seals.set(String(c), this._stamps.key.binding(d.name, c, identity))
        }
      },
      RELAY_ORIGIN,
    )
  }

  /**
   * @internal A conversation update from `conn` failed validation: if it carries what a restore
   * made the relay forget (see `restore.ts`), takes back the relay's own stamps and bindings and
   * the sender's own writes, leaves other people's writes on the device, and returns true (the
   * update is then not refused: refusing would make the device drop its copy). Stamps that
   * contradict the relay's put the conversation in quarantine.
   */
  _takeBack(conn: CoreConnection, d: LoadedDoc, update: Uint8Array): boolean {
    if (!d.conv) return false
    const found = takeBack(d.doc, d.name, conn.identity, update, this._stamps.key)
    if (found.kind === 'none') return false
    // Without records of the relay's, only where the store is known to lag or from a device already
    // known to hold what a restore lost: other people's writes alone are no proof of a restore.
    if (found.kind === 'take' && found.relayPart === null && !this._behind(d) && !this.#leftOn.get(d)?.has(conn))
      return false
    if (found.kind === 'conflict') {
      this._quarantine(d, found.reason)
      return true
    }
    let relayApplied = false
    let own = 'none'
    if (found.relayPart !== null && !d.conv.exists) {
      // A conversation created after the backup: anyone may read one that does not exist, so its
      // records come back only together with its creation, from its creator.
      if (found.ownPart !== null && this.#createsWith(d, conn, found.relayPart, found.ownPart)) {
        relayApplied = true
        own = 'applied'
      }
    } else if (found.relayPart !== null) {
      Y.applyUpdate(d.doc, found.relayPart, conn)
      relayApplied = true
    }
    for (const part of [found.ownPart, found.ownStrict]) {
      if (own === 'none' && found.relayPart !== null && !relayApplied) break
      if (part === null || own === 'applied') continue
      const verdict = validateConversationUpdate(
        d.conv,
        d.key,
        conn.identity,
        part,
        this._clientIds,
        this._stampedFor(d),
      )
      if (verdict.ok) {
        if (verdict.newClients.length > 0) this._bind(d, verdict.newClients, conn.identity)
        Y.applyUpdate(d.doc, part, conn)
        own = part === found.ownPart ? 'applied' : 'applied without others’ deletions'
      } else own = `left on the device: ${verdict.reason}`
    }
    const applied = relayApplied || own.startsWith('applied')
    // What stays on this device may be taken once the relay knows more: ask it again then.
    if (
      found.foreign > 0 ||
      (found.relayPart !== null && !relayApplied) ||
      (found.ownPart !== null && own !== 'applied')
    ) {
      const left = this.#leftOn.get(d) ?? new Set<CoreConnection>()
      left.add(conn)
      this.#leftOn.set(d, left)
    }
    if (applied) this.#askAgain(d, conn)
    this.metrics?.reject('restore_take_back')
    this._stamps.logger.info('restore_take_back', {
      doc: d.name,
      identity: conn.identity,
      stamps: relayApplied ? found.stamps : 0,
      foreignClients: found.foreign,
      own,
    })
    return true
  }

  /**
   * Applies `relayPart` then `ownPart` in one transaction if, with the relay's records taken back,
   * `ownPart` passes validation and creates the conversation (checked on a scratch copy of the
   * document, which does not exist yet and so is small).
   */
  #createsWith(d: LoadedDoc, conn: CoreConnection, relayPart: Uint8Array, ownPart: Uint8Array): boolean {
    const scratch = new Y.Doc({ gc: true })
    try {
      Y.applyUpdate(scratch, Y.encodeStateAsUpdate(d.doc))
      Y.applyUpdate(scratch, relayPart)
      const conv = new ConversationDocument(scratch)
      const verdict = validateConversationUpdate(conv, d.key, conn.identity, ownPart, this._clientIds, (id, author) => {
        return conv.stamps.get(id)?.a === author
      })
      if (!verdict.ok) return false
      Y.applyUpdate(scratch, ownPart)
      if (!conv.exists) return false
      Y.transact(
        d.doc,
        () => {
          Y.applyUpdate(d.doc, relayPart, conn)
          if (verdict.newClients.length > 0) this._bind(d, verdict.newClients, conn.identity)
          Y.applyUpdate(d.doc, ownPart, conn)
        },
        conn,
      )
      return true
    } catch {
      return false
    } finally {
      scratch.destroy()
    }
  }

  /**
   * Sends the relay's sync step 1 again to the connections whose devices kept something of `d` the
   * relay could not take yet (see `_takeBack`), but `except`: each answers with what the relay still
   * lacks, which it may take now. Only after the relay took something, so it ends.
   */
  #askAgain(d: LoadedDoc, except: CoreConnection | null): void {
    const left = this.#leftOn.get(d)
    if (!left) return
    let step1: Uint8Array | null = null
    for (const conn of [...left]) {
      if (!d.subscribers.has(conn)) left.delete(conn)
      else if (conn !== except) {
        if (step1 === null) {
          const encoder = startFrame(d.name, MessageType.sync)
          syncProtocol.writeSyncStep1(encoder, d.doc)
          step1 = encoding.toUint8Array(encoder)
        }
        conn.send(step1)
      }
    }
    if (left.size === 0) this.#leftOn.delete(d)
  }

  /**
   * @internal Whether the stamp of message `id` names `author` (every stamp the relay holds is its
   * own or was taken back under its MAC): only they may bring back a message the relay never held.
   */
  _stampedFor(d: LoadedDoc): (id: string, author: string) => boolean {
    return (id, author) => d.conv?.stamps.get(id)?.a === author
  }

  /**
   * @internal Stops serving a conversation the relay cannot recover without changing an index a
   * device has seen (see docs/relay.md, "Restoring a backup"): its subscribers get an
   * `unavailable` frame, which keeps their copies, and every later frame for it gets the same.
   */
  _quarantine(d: LoadedDoc, reason: string): void {
    if (this._stamps.quarantined.has(d.name)) return
    this._stamps.quarantined.set(d.name, reason)
    this.metrics?.reject('restore_conflict')
    this._stamps.logger.error('conversation_quarantined', { doc: d.name, reason })
    const frame = encodeUnavailable(d.name, `the relay cannot serve this conversation (${reason})`)
    for (const conn of [...d.subscribers.keys()]) {
      conn.send(frame)
      this._unsubscribe(conn, d)
    }
  }

  /**
   * @internal Whether this conversation's store holds less than it once did (it was restored from a
   * backup, and devices have not brought back as much yet): its membership may be behind too.
   */
  _behind(d: LoadedDoc): boolean {
    return d.conv !== null && this._stamps.behind(d.name, d.clocks)
  }

  /** @internal Handles `frame` (a step 1 from `conn`) again once `conn.identity` may read `d`. */
  _waitToRead(d: LoadedDoc, conn: CoreConnection, frame: Uint8Array): void {
    const waiting = this.#waiting.get(d) ?? new Map<CoreConnection, Uint8Array>()
    waiting.set(conn, frame)
    this.#waiting.set(d, waiting)
  }

  /** @internal */
  _subscribe(conn: CoreConnection, d: LoadedDoc): void {
    if (d.subscribers.has(conn)) return
    d.subscribers.set(conn, new Set())
    conn.docs.add(d)
    this.#holdings.add(conn.identity, d)
    if (d.idleTimer) clearTimeout(d.idleTimer)
    d.idleTimer = null
  }

  /** @internal */
  _unsubscribe(conn: CoreConnection, d: LoadedDoc): void {
    const clients = d.subscribers.get(conn)
    if (!clients) return
    d.subscribers.delete(conn)
    conn.docs.delete(d)
    this.#holdings.remove(conn.identity, d)
    // Its states go with it, and everyone else is told they are gone.
    for (const id of clients) d.claims.release(conn, id)
    if (d.awareness && clients.size > 0) awarenessProtocol.removeAwarenessStates(d.awareness, [...clients], conn)
    if (d.subscribers.size === 0) this._letGo(d)
  }

  /** @internal Called once nobody is subscribed to `d`: unloads it in a while, or forgets it now if absent. */
  _letGo(d: LoadedDoc): void {
    if (d.subscribers.size > 0) return
    if (d.absent) this.#forgetAbsent(d)
    else this.#scheduleUnload(d)
  }

  #scheduleUnload(d: LoadedDoc): void {
    if (d.absent) {
      this.#forgetAbsent(d)
      return
    }
    if (d.idleTimer || this.#closed || (d.kind === 'user' && this.connectionsOf(d.key) > 0)) return
    d.idleTimer = setTimeout(() => {
      d.idleTimer = null
      if (d.subscribers.size > 0) return
      void d.chain.then(() => {
        if (d.subscribers.size > 0 || this.#docs.get(d.name) === undefined) return
        this.#docs.delete(d.name)
        this.#asleep.delete(d.name)
        this.#destroyDoc(d)
      })
    }, this.#idleUnloadMs)
  }

  #destroyDoc(d: LoadedDoc): void {
    this.#waiting.delete(d)
    this.#leftOn.delete(d)
    if (d.idleTimer) clearTimeout(d.idleTimer)
    d.idleTimer = null
    if (d.sleepTimer) clearTimeout(d.sleepTimer)
    d.sleepTimer = null
    this.#release(d)
  }

  /** Lets go of the Y.Doc and what hangs on it (timers of its own included). */
  #release(d: LoadedDoc): void {
    if (d.compactTimer) clearTimeout(d.compactTimer)
    d.compactTimer = null
    if (d.inboxTimer) clearTimeout(d.inboxTimer)
    d.inboxTimer = null
    d.sequencer?.destroy()
    d.sequencer = null
    d.awareness?.destroy()
    d.awareness = null
    if (!d.doc.isDestroyed) d.doc.destroy()
    // A destroyed Y.Doc still holds its whole store: drop the references.
    d.doc = DESTROYED_DOC
    d.conv = null
    d.loadedFrom = null
  }

  /** Notes activity on `d` and makes sure it goes to sleep once quiet (if it may). */
  #touch(d: LoadedDoc): void {
    d.activeAt = performance.now()
    if (d.sleepTimer || this.#sleepAfterMs <= 0 || this.#closed) return
    // One timer per document, re-armed for what is left of the quiet time (not reset on every update).
    const arm = (ms: number) => {
      d.sleepTimer = setTimeout(() => {
        d.sleepTimer = null
        const quietFor = performance.now() - d.activeAt
        if (quietFor < this.#sleepAfterMs) arm(this.#sleepAfterMs - quietFor + 1)
        else void d.chain.then(() => this.#sleep(d))
      }, ms)
      unrefTimer(d.sleepTimer)
    }
    arm(this.#sleepAfterMs)
  }

  /** Puts a quiet document to sleep: only its subscribers (and who typed under which clientID) stay. */
  #sleep(d: LoadedDoc, now = false): void {
    const busy =
      d.asleep ||
      d.doc.isDestroyed ||
      this.#docs.get(d.name) === undefined ||
      d.subscribers.size === 0 ||
      (!now && performance.now() - d.activeAt < this.#sleepAfterMs) ||
      d.pendingSince !== null ||
      d.inboxDirty ||
      d.inboxTimer !== null ||
      d.kicks.size > 0 ||
      d.leavers.size > 0 ||
      (d.awareness !== null && d.awareness.getStates().size > 0)
    if (busy) {
      if (!now && !d.asleep && !d.doc.isDestroyed && d.subscribers.size > 0) this.#touch(d)
      return
    }
    // A due compaction is done now rather than lost with the document.
    const compact = d.compactTimer !== null
    if (compact) {
      clearTimeout(d.compactTimer!)
      d.compactTimer = null
      d.chain = d.chain
        .then(() => this.#compactNow(d))
        .then(() => this.#sleep(d))
        .catch(this.#onError)
      return
    }
    // Asleep, nothing writes these (waking makes new ones): a sleeping record stays small.
    d.pendingDeletes = SEALED_MAP
    d.pendingOrigins = SEALED_SET
    d.pendingAuthors = SEALED_MAP
    d.kicks = SEALED_SET
    d.leavers = SEALED_SET
    // Nothing stored (a conversation not created, a user with no profile): absent, not asleep.
    if (d.doc.store.clients.size === 0) {
      this.#makeAbsent(d)
      return
    }
    d.asleep = true
    d.slept = sleepingStateOf(d.doc)
    this.#asleep.set(d.name, d)
    this.#release(d)
  }

  /**
   * @internal After answering a first sync: a conversation loaded (or woken) only for that, with
   * nothing written or typed since, goes back to sleep at once. A client that opens a thousand
   * conversations leaves a thousand sleeping records, not a thousand Y.Docs.
   */
  _answered(d: LoadedDoc): void {
    // One that does not exist yet goes back to being absent (`#sleep` tells).
    if (d.kind !== 'conv' || !d.quiet || d.asleep || d.absent || this.#sleepAfterMs <= 0) return
    this.#sleep(d, true)
  }

  /**
   * @internal Handles a frame for a document asleep without waking it, when nothing in the frame
   * needs the document: an unsubscribe, an awareness query (nobody publishes any on a sleeping
   * document), an update that would change nothing (a client's answer to the relay's sync step 1,
   * typically). Returns whether it did.
   */
  _whileAsleep(conn: CoreConnection, name: string, type: number, decoder: decoding.Decoder): boolean {
    const d = this.#asleep.get(name)
    if (!d?.subscribers.has(conn) || conn._holds(d)) return false
    switch (type) {
      case MessageType.unsubscribe:
        this._unsubscribe(conn, d)
        return true
      case MessageType.queryAwareness:
        return true
      case MessageType.sync: {
        const dec = decoding.clone(decoder)
        const kind = decoding.readVarUint(dec)
        if (kind !== syncProtocol.messageYjsSyncStep2 && kind !== syncProtocol.messageYjsUpdate) return false
        return d.slept !== null && changesNothing(d.slept, decoding.readVarUint8Array(dec))
      }
      default:
        return false
    }
  }

  /** Loads an asleep document again, into the same record (its subscribers stay subscribed). */
  async #wake(d: LoadedDoc): Promise<LoadedDoc> {
    const updates = await this.#storage.load(d.name)
    this.#attach(d, updates)
    d.asleep = false
    this.#touch(d)
    return d
  }

  async #loadFresh(name: string, kind: DocKind, key: string, absentOk: boolean): Promise<LoadedDoc> {
    const updates = await this.#storage.load(name)
    const d: LoadedDoc = {
      name,
      kind,
      key,
      doc: DESTROYED_DOC,
      conv: null,
      awareness: null,
      sequencer: null,
      subscribers: new Map(),
      chain: Promise.resolve(),
      members: SEALED_SET,
      last: null,
      pendingSince: null,
      claims: new AwarenessClaims(),
      absent: false,
      materialising: null,
      idleTimer: null,
      asleep: false,
      // What `#attach` (below) makes anew on every load and wake.
      log: this.#newLog([]),
      kicks: SEALED_SET,
      pendingDeletes: SEALED_MAP,
      pendingOrigins: SEALED_SET,
      pendingAuthors: SEALED_MAP,
      leavers: SEALED_SET,
      slept: null,
      quiet: true,
      loadedFrom: null,
      activeAt: performance.now(),
      sleepTimer: null,
      compactTimer: null,
      inboxDirty: false,
      inboxTimer: null,
      clocks: 0,
    }
    if (updates.length === 0 && absentOk) {
      // A name nothing is stored for: no Y.Doc until a frame would change it.
      d.absent = true
      this.#absent.set(name, d)
      return d
    }
    this.#attach(d, updates)
    this.#touch(d)
    return d
  }

  /** Builds `d`'s Y.Doc from its stored log, with the sequencer and the observers the relay keeps. */
  #attach(d: LoadedDoc, updates: Uint8Array[]): void {
    // The name as guid: Yjs would draw a random UUID (32 calls to the CSPRNG) for every load.
    const doc = new Y.Doc({ gc: true, guid: d.name })
    Y.transact(doc, () => {
      for (const u of updates) Y.applyUpdate(doc, u)
    })
    const conv = d.kind === 'conv' ? new ConversationDocument(doc) : null
    d.doc = doc
    d.conv = conv
    d.awareness = null
    d.sequencer = null
    d.log = this.#newLog(updates)
    d.slept = null
    d.quiet = true
    d.loadedFrom = updates.length === 1 ? updates[0]! : null
    d.clocks = 0
    for (const structs of doc.store.clients.values()) {
      const last = structs[structs.length - 1]
      if (last) d.clocks += last.id.clock + last.length
    }
    d.pendingDeletes = new Map()
    d.pendingOrigins = new Set()
    d.pendingAuthors = new Map()
    d.kicks = new Set()
    d.leavers = new Set()
    doc.on('afterTransactionCleanup', (tr: Transaction) => this.#onTransaction(d, tr))
    // This load's clientID is never bound up front (that would write to every document loaded, even
    // only to be read): the validator refuses it to clients outright, and the sequencer binds it in
    // the transaction of its first stamps.
    if (conv) {
      d.members = this.#membersOf(conv)
      d.last = lastMessageOf(conv)
      // The relay's clientID is bound in the same transaction as its first stamps (a load that
      // only answers reads writes nothing).
      const bindings = doc.getMap<string>(CLIENTS_ROOT)
      const self = doc.clientID
      const key = this._stamps.key
      d.sequencer = new Sequencer(doc, {
        now: this.#now,
        beforeStamp: () => {
          if (!bindings.has(String(self))) this._bind(d, [self], RELAY_IDENTITY)
        },
        // Above every index this conversation ever gave: after a restore, those the store lost
        // belong to stamps that devices hold and will bring back.
        floor: this._stamps.mark(d.name) + 1,
        sign: (m, i, t) => ({ a: m.author, s: key.stamp(d.name, m.id, i, t, m.author) }),
      })
      conv.participants.observe((event) => {
        for (const [identity, change] of event.changes.keys) {
          if (change.action === 'delete') d.kicks.add(identity)
        }
        this.#refreshMembers(d)
      })
      conv.meta.observe(() => this.#refreshMembers(d))
      conv.stamps.observe((event) => {
        if (this.metrics) this.metrics.messagesSequenced += event.keysChanged.size
        for (const key of event.keysChanged) {
          const stamp = conv.stamps.get(key)
          const m = conv.messages.get(key)
          if (stamp && m && (d.last === null || stamp.i > d.last.index)) d.last = summaryOf(conv, key)
        }
        this.#markInboxDirty(d, false)
      })
      conv.messages.observe((event) => {
        if (d.last && event.keysChanged.has(d.last.id) && !conv.messages.has(d.last.id)) {
          d.last = lastMessageOf(conv)
          this.#markInboxDirty(d)
        }
      })
    }
  }

  #membersOf(conv: ConversationDocument): Set<string> {
    const out = new Set<string>()
    if (!conv.exists || conv.get('deleted', false)) return out
    conv.participants.forEach((p, key) => {
      if (p.type === 'chat') out.add(key)
    })
    const creator = conv.get('createdBy', '')
    if (isUnjoinedCreator(conv, creator)) out.add(creator)
    return out
  }

  #refreshMembers(d: LoadedDoc): void {
    const next = this.#membersOf(d.conv!)
    const removed = [...d.members].filter((m) => !next.has(m))
    d.members = next
    for (const identity of removed) d.leavers.add(identity)
    const waiting = this.#waiting.get(d)
    if (waiting) {
      for (const [conn, frame] of waiting) {
        if (!this._mayRead(conn.identity, d)) continue
        waiting.delete(conn)
        conn.receive(frame)
      }
      if (waiting.size === 0) this.#waiting.delete(d)
    }
    // Someone's writes left on a device may be acceptable now (a creation came back, say).
    this.#askAgain(d, null)
    const sid = d.conv!.get('sid', d.key)
    // Whoever may no longer read (removed, or never allowed once the conversation was created) is cut off.
    for (const conn of d.subscribers.keys()) d.kicks.add(conn.identity)
    for (const identity of removed) {
      this.#withInbox(identity, (inbox) => removeInboxEntry(inbox, sid))
    }
    this.#markInboxDirty(d)
  }

  /** Schedules an inbox refresh: at once (membership) or within `inboxIntervalMs` (activity). */
  #markInboxDirty(d: LoadedDoc, urgent = true): void {
    if (urgent || this.#inboxIntervalMs === 0) {
      if (d.inboxTimer) clearTimeout(d.inboxTimer)
      d.inboxTimer = null
      if (d.inboxDirty) return
      d.inboxDirty = true
      queueMicrotask(() => this.#writeInboxes(d))
      return
    }
    if (d.inboxDirty || d.inboxTimer) return
    d.inboxTimer = setTimeout(() => this.#writeInboxes(d), this.#inboxIntervalMs)
  }

  #writeInboxes(d: LoadedDoc): void {
    d.inboxDirty = false
    if (d.inboxTimer) clearTimeout(d.inboxTimer)
    d.inboxTimer = null
    const conv = d.conv!
    if (d.doc.isDestroyed || !conv.exists) return
    for (const identity of d.members) {
      this.#withInbox(identity, (inbox) => {
        const prev = inboxMap(inbox).get(conv.get('sid', d.key))
        putInboxEntry(inbox, inboxEntryFor(conv, d.last, prev, this.#now()))
      })
    }
  }

  #withInbox(identity: string, fn: (inbox: Y.Doc) => void): void {
    const p = this._load(`inbox/${identity}`)
    if (!p) return
    p.then((d) => {
      fn(d.doc)
      if (d.subscribers.size === 0) this.#scheduleUnload(d)
    }).catch(this.#onError)
  }

  /**
   * Updates of one turn (a client's update and the stamps it caused; under load, every update that
   * arrived in one read of the sockets) are merged and handled together at the end of the turn:
   * one stored entry and one broadcast frame instead of one per update, so readers apply a burst
   * of messages and their stamps in one transaction.
   */
  #onTransaction(d: LoadedDoc, tr: Transaction): void {
    // One pass over the state vector: which clients this transaction wrote, and whether it changed anything.
    const author = tr.origin instanceof CoreConnection ? tr.origin : MIXED
    let changed = tr.deleteSet.clients.size > 0
    for (const [client, clock] of tr.afterState) {
      const before = tr.beforeState.get(client) ?? 0
      if (before === clock) continue
      changed = true
      d.clocks += clock - before
      const known = d.pendingAuthors.get(client)
      d.pendingAuthors.set(client, known === undefined || known === author ? author : MIXED)
    }
    if (!changed) return
    d.activeAt = performance.now()
    d.quiet = false
    d.loadedFrom = null
    addDeletes(d.pendingDeletes, tr)
    d.pendingOrigins.add(tr.origin)
    if (d.pendingSince !== null) return
    d.pendingSince = tr.beforeState
    // Every document changed in this turn is flushed by one callback, so their appends share one
    // commit in stores that group them.
    this.#dirty.add(d)
    if (this.#dirty.size > 1) return
    // Under load, flushes are at least `batchWindowMs` apart: a burst goes out in fewer, larger
    // updates (readers pay per update as much as per message). At a normal rate the last flush is
    // long past and this one happens at the end of the turn.
    const wait = this.#lastFlush + this.#batchWindowMs - performance.now()
    if (wait > 0) setTimeout(() => this.#flushDirty(), wait)
    else this.#defer(() => this.#flushDirty())
  }

  #flushDirty(): void {
    if (this.#dirty.size === 0) return
    this.#lastFlush = performance.now()
    const dirty = [...this.#dirty]
    this.#dirty.clear()
    // One commit of the stamp-state file for every conversation's mark of this flush.
    this._stamps.batch(() => {
      for (const d of dirty) this._flushPending(d)
    })
  }

  /** @internal Stores and broadcasts what `#onTransaction` gathered (now, if anything is waiting). */
  _flushPending(d: LoadedDoc): void {
    this.#dirty.delete(d)
    if (d.pendingSince === null || d.doc.isDestroyed) return
    // One update for the whole turn, encoded from the document (not Yjs's per-transaction
    // encoding, nor a merge of those).
    const update = encodeUpdateSince(d.doc, d.pendingSince, d.pendingDeletes)
    const echoes = this.#echoes(d)
    d.pendingSince = null
    d.pendingDeletes = new Map()
    d.pendingOrigins = new Set()
    d.pendingAuthors = new Map()
    const kicks = d.conv ? [...d.kicks] : []
    d.kicks.clear()
    const leavers = new Set(d.leavers)
    d.leavers.clear()
    // The append starts now (a burst shares one commit in stores that group them); the chain only
    // keeps broadcasts in update order, each after its own update is stored.
    const started = performance.now()
    // The high-water mark is written before the stamps it covers are stored, so it is never below
    // an index a device can have seen.
    if (d.sequencer) this._stamps.issued(d.name, d.sequencer.next - 1, d.clocks)
    const stored = this.#storage.append(d.name, update)
    d.chain = d.chain
      .then(async () => {
        await stored
        this.metrics?.observeStore((performance.now() - started) / 1000)
        d.log.appended(update.byteLength)
        const frame = encodeUpdateFrame(d.name, update)
        // Only to those who may read now, and to members this very update removed (so their
        // replica learns it). Whoever subscribed before the conversation existed gets nothing.
        // A writer gets the turn without what it wrote itself (or nothing, if that was all), after
        // everyone else: it has its own update already.
        for (const conn of d.subscribers.keys()) {
          if (echoes.has(conn) || (!this._mayRead(conn.identity, d) && !leavers.has(conn.identity))) continue
          conn.send(frame)
        }
        for (const [conn, echo] of echoes) {
          if (echo === null || !d.subscribers.has(conn)) continue
          if (this._mayRead(conn.identity, d) || leavers.has(conn.identity)) conn.send(echo)
        }
        for (const identity of kicks) {
          for (const conn of [...d.subscribers.keys()]) {
            if (conn.identity === identity && !this._mayRead(identity, d)) {
              conn.send(encodeDenied(d.name, 'removed from conversation'))
              this._unsubscribe(conn, d)
            }
          }
        }
        if (d.log.due) await this.#compactSoon(d)
      })
      .catch(this.#onError)
  }

  /**
   * What each connection that wrote in this turn gets back: null when everything came from it,
   * else the turn without the structs of the clients only it wrote (its own message, typically,
   * leaving the stamp). Connections not in the map get the whole turn.
   */
  #echoes(d: LoadedDoc): Map<CoreConnection, Uint8Array | null> {
    const out = new Map<CoreConnection, Uint8Array | null>()
    const writers = new Set<CoreConnection>()
    for (const o of d.pendingOrigins) if (o instanceof CoreConnection) writers.add(o)
    if (writers.size === 0) return out
    if (d.pendingOrigins.size === 1) {
      out.set([...writers][0]!, null)
      return out
    }
    // Many writers in one turn: each gets the whole turn (its own part is a harmless repeat).
    if (writers.size > 4) return out
    for (const w of writers) {
      const since = new Map(d.pendingSince!)
      for (const [client, author] of d.pendingAuthors) {
        if (author === w) since.set(client, Y.getState(d.doc.store, client))
      }
      out.set(w, encodeUpdateFrame(d.name, encodeUpdateSince(d.doc, since, d.pendingDeletes)))
    }
    return out
  }

  /** Compacts `d`'s log now (no delay) or, on the chain, once the delay has passed. */
  async #compactSoon(d: LoadedDoc): Promise<void> {
    if (this.#compactDelayMs <= 0) return this.#compactNow(d)
    if (d.compactTimer) return
    d.compactTimer = setTimeout(() => {
      d.compactTimer = null
      d.chain = d.chain.then(() => this.#compactNow(d)).catch(this.#onError)
    }, this.#compactDelayMs)
    unrefTimer(d.compactTimer)
  }

  async #compactNow(d: LoadedDoc): Promise<void> {
    if (!d.log.due || d.doc.isDestroyed) return
    const count = d.log.entries
    const state = Y.encodeStateAsUpdate(d.doc)
    await this.#storage.compact(d.name, state, count)
    d.log.compacted(count, state.byteLength)
  }
}

interface AwarenessChange {
  added: number[]
  updated: number[]
  removed: number[]
}

/** One authenticated connection, as the core sees it. Frames are handled one at a time, in order. */
export class CoreConnection {
  readonly identity: string
  readonly docs = new Set<LoadedDoc>()
  readonly #core: RelayCore
  readonly #socket: CoreSocket
  #queue: Promise<void> = Promise.resolve()
  #closed = false
  /**
   * Documents refused on this connection: their frames are dropped until the client starts over
   * with a sync step 1 (or unsubscribes). What it sent after the refused update, before it heard of
   * the refusal, builds on it and would only be refused again.
   */
  readonly #refused = new Set<string>()

  constructor(core: RelayCore, identity: string, socket: CoreSocket) {
    this.#core = core
    this.identity = identity
    this.#socket = socket
  }

  /** Sends a frame to the client (dropped once closed). */
  send(data: Uint8Array): void {
    if (!this.#closed) this.#socket.send(data)
  }

  /** Handles one frame from the client. */
  receive(data: Uint8Array): void {
    if (this.#closed) return
    this.#queue = this.#queue
      .then(() => this.#handle(data))
      .then(() => this.#answerHeld(data))
      .catch(() => this.close(CloseCode.protocolError, 'malformed frame'))
  }

  /** Resolves once every frame received so far has been handled. */
  whenIdle(): Promise<void> {
    return this.#queue
  }

  /** Closes the connection (idempotent). */
  close(code: number = CloseCode.normal, reason = ''): void {
    if (this.#closed) return
    this.#closed = true
    this.#core._dropConnection(this)
    this.#socket.close(code, reason)
  }

  /** The socket closed on the client's side. */
  closed(): void {
    if (this.#closed) return
    this.#closed = true
    this.#core._dropConnection(this)
  }

  /**
   * Refuses an update: nothing of it is stored or forwarded. A client that reads `refused` frames
   * gets one for the document and the connection goes on with its other documents (see `#refuse`);
   * another one's connection is closed with 4422.
   */
  #reject(d: LoadedDoc, reason: string): void {
    this.#core.metrics?.reject('update_rejected')
    this.#core._logger.warn('update_refused', { identity: this.identity, document: d.name, reason })
    if (this.#socket.refusalFrames) {
      this.#core._unsubscribe(this, d)
      this.#refuse(d.name, RefusalCode.update, reason)
    } else this.close(CloseCode.updateRejected, shortReason(`${d.name}: ${reason}`))
  }

  /** Sends a `refused` frame for `docName` and drops its frames until the client starts over. */
  #refuse(docName: string, code: number, reason: string): void {
    // A client that goes on opening documents it was refused is not one of ours: the set is bounded.
    if (this.#refused.size >= this.#core._maxDocs) {
      this.close(CloseCode.limitExceeded, 'too many refused documents on one connection')
      return
    }
    this.#refused.add(docName)
    // A reason may quote the client's input (a field name): never echo more than a line of it.
    this.send(encodeRefused(docName, code, reason.length > 200 ? `${reason.slice(0, 197)}...` : reason))
  }

  /**
   * Whether `docName` would be one document too many on this connection; if so it is refused (before
   * it is loaded, while it is not subscribed yet).
   */
  #overLimit(docName: string): boolean {
    if (this.docs.size < this.#core._maxDocs) return false
    for (const d of this.docs) if (d.name === docName) return false
    this.#core.metrics?.reject('documents_per_connection')
    if (this.#socket.refusalFrames) this.#refuse(docName, RefusalCode.limit, 'too many documents on one connection')
    else this.close(CloseCode.limitExceeded, 'too many documents on one connection')
    return true
  }

  /** Whether a frame for a refused document is dropped (see `#refused`); a fresh start lifts it. */
  #dropRefused(docName: string, type: number, decoder: decoding.Decoder): boolean {
    if (!this.#refused.has(docName)) return false
    const restart =
      type === MessageType.unsubscribe ||
      (type === MessageType.sync && decoding.peekVarUint(decoder) === syncProtocol.messageYjsSyncStep1)
    if (!restart) return true
    this.#refused.delete(docName)
    return false
  }

  /**
   * A frame for an absent document (nothing stored, no Y.Doc): a first sync is answered with the
   * empty state, and what changes nothing (an empty answer to the relay's step 1, awareness, an
   * awareness query) is handled without loading it. Resolves null when the frame was handled, or
   * with the document loaded when the frame would change it (a creation).
   */
  async #whileAbsent(d: LoadedDoc, type: number, decoder: decoding.Decoder): Promise<LoadedDoc | null> {
    if (type === MessageType.sync) {
      const dec = decoding.clone(decoder)
      const syncType = decoding.readVarUint(dec)
      if (syncType === syncProtocol.messageYjsSyncStep1) {
        for (const frame of absentSyncAnswer(d.name)) this.send(frame)
        return null
      }
      if (changesNothingAbsent(decoding.readVarUint8Array(dec))) return null
    } else return null
    const loaded = await this.#core._load(d.name)
    return this.#closed || !loaded ? null : loaded
  }

  /** Step 1 answers held until this connection's sync reply for the document (see `#handle`). */
  readonly #held = new Map<string, { d: LoadedDoc; sv: Uint8Array; timer: ReturnType<typeof setTimeout> }>()

  /** @internal Whether an answer to this connection's step 1 for `d` waits for its reply. */
  _holds(d: LoadedDoc): boolean {
    return this.#held.get(d.name)?.d === d
  }

  #hold(d: LoadedDoc, sv: Uint8Array): void {
    const previous = this.#held.get(d.name)
    if (previous) clearTimeout(previous.timer)
    // A client that never answers the relay's step 1 still gets its answer.
    const timer = setTimeout(() => {
      if (this.#held.get(d.name)?.timer !== timer) return
      this.#held.delete(d.name)
      this.#queue = this.#queue
        .then(() => (this.#closed || !d.subscribers.has(this) ? undefined : this.#answer(d, sv, false)))
        .catch(() => this.close(CloseCode.protocolError, 'malformed frame'))
    }, HOLD_MS)
    unrefTimer(timer)
    this.#held.set(d.name, { d, sv, timer })
  }

  /** After the client's reply to the relay's step 1 (any update for that document), the held answer. */
  async #answerHeld(data: Uint8Array): Promise<void> {
    if (this.#held.size === 0) return
    const { docName, type, decoder } = readFrame(data)
    const held = this.#held.get(docName)
    if (!held || type !== MessageType.sync || decoding.readVarUint(decoder) === syncProtocol.messageYjsSyncStep1) return
    this.#held.delete(docName)
    clearTimeout(held.timer)
    if (this.#closed || !held.d.subscribers.has(this)) return
    // What it just sent is not sent back.
    await this.#answer(held.d, mergeStateVectors(held.sv, decoding.readVarUint8Array(decoder)), false)
  }

  /**
   * Answers a step 1 (state vector `sv`) with sync step 2 (and, unless already sent, the relay's
   * own step 1 and the awareness states).
   */
  async #answer(d: LoadedDoc, sv: Uint8Array, withStep1: boolean): Promise<void> {
    const docName = d.name
    // Answer only with what is stored: a stamp must never reach anyone before it is durable.
    // The answer is taken now and sent once everything applied before it is stored; what is
    // applied while we wait reaches this (already subscribed) connection by the broadcast,
    // after it is stored.
    const encoder = startFrame(docName, MessageType.sync)
    encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2)
    // A client with nothing (an empty state vector) gets the one stored entry the document
    // was built from, if nothing changed since: the same state, without encoding it again.
    encoding.writeVarUint8Array(
      encoder,
      d.loadedFrom !== null && sv.length === 1 && sv[0] === 0 ? d.loadedFrom : Y.encodeStateAsUpdate(d.doc, sv),
    )
    const step1 = startFrame(docName, MessageType.sync)
    syncProtocol.writeSyncStep1(step1, d.doc)
    // Updates of this turn are in the answer: put them on the chain before waiting for it.
    this.#core._flushPending(d)
    await d.chain
    const awareness =
      withStep1 && d.awareness && d.awareness.getStates().size > 0
        ? encodeAwarenessFrame(
            docName,
            awarenessProtocol.encodeAwarenessUpdate(d.awareness, [...d.awareness.getStates().keys()]),
          )
        : null
    // A user's presence goes before the answer: a client that has the answer then knows whether
    // that person is online (no state means offline), instead of guessing in between.
    if (awareness && d.kind === 'user') this.send(awareness)
    this.send(encoding.toUint8Array(encoder))
    if (!withStep1) {
      this.#core._answered(d)
      return
    }
    this.send(encoding.toUint8Array(step1))
    if (awareness && d.kind !== 'user') this.send(awareness)
    this.#core._answered(d)
  }

  async #handle(data: Uint8Array): Promise<void> {
    const { docName, type, decoder } = readFrame(data)
    if (this.#dropRefused(docName, type, decoder)) return
    const quarantined = this.#core._stamps.quarantined.get(docName)
    if (quarantined !== undefined) {
      if (type !== MessageType.unsubscribe)
        this.send(encodeUnavailable(docName, `the relay cannot serve this conversation (${quarantined})`))
      return
    }
    if (this.#core._whileAsleep(this, docName, type, decoder)) return
    if (type !== MessageType.unsubscribe && this.#overLimit(docName)) return
    // Names are parsed before anything is allocated for them, and someone else's inbox is refused
    // before it is loaded.
    const parsed = parseDocName(docName)
    if (parsed?.kind === 'inbox' && parsed.key !== this.identity) {
      this.#core.metrics?.reject('not_participant')
      this.send(encodeDenied(docName, 'not a participant'))
      return
    }
    const loading = parsed && this.#core._open(docName)
    if (!loading) {
      this.send(encodeDenied(docName, 'unknown document'))
      return
    }
    let d = await loading
    // Put back to sleep while this frame waited (`_sleepNow` can, between the load and this turn).
    while (d.asleep && !this.#closed) {
      const again = this.#core._open(docName)
      if (!again) return
      d = await again
    }
    if (this.#closed) {
      this.#core._letGo(d)
      return
    }
    if (type === MessageType.unsubscribe) {
      this.#core._unsubscribe(this, d)
      this.#core._letGo(d)
      return
    }
    if (!d.subscribers.has(this)) {
      if (!this.#core._mayRead(this.identity, d)) {
        this.#core.metrics?.reject('not_participant')
        // Restored from a backup, the store may not know yet that this person was added: a denial
        // would make their device drop its copy, which may hold their own writes and nobody else's.
        if (this.#core._behind(d)) {
          this.send(encodeUnavailable(docName, 'not a participant as far as the relay knows after a restore'))
          if (type === MessageType.sync && decoding.peekVarUint(decoder) === syncProtocol.messageYjsSyncStep1)
            this.#core._waitToRead(d, this, data)
        } else {
          this.#core._logger.info('document_refused', {
            identity: this.identity,
            document: docName,
            reason: 'not_participant',
          })
          this.send(encodeDenied(docName, 'not a participant'))
          this.#core._letGo(d)
        }
        return
      }
      const limit = this.#core._documentLimit(this, d)
      if (limit) {
        this.#core.metrics?.reject(limit.metric)
        if (this.#socket.refusalFrames) this.#refuse(docName, RefusalCode.limit, limit.reason)
        else this.close(CloseCode.limitExceeded, limit.reason)
        this.#core._letGo(d)
        return
      }
      this.#core._subscribe(this, d)
    }
    if (d.absent) {
      const absent = await this.#whileAbsent(d, type, decoder)
      if (absent === null) return
      d = absent
    }
    switch (type) {
      case MessageType.sync: {
        const syncType = decoding.peekVarUint(decoder)
        if (syncType === syncProtocol.messageYjsSyncStep1) {
          decoding.readVarUint(decoder)
          const sv = decoding.readVarUint8Array(decoder)
          if (d.conv && aheadOf(d.doc, sv)) {
            // The device holds writes the relay lacks (an offline backlog; after a restore, perhaps
            // stamps the relay forgot): the relay asks for them first and answers once they are
            // handled, so that nothing it holds reaches the device before what the device holds was
            // checked against it — a stamp that contradicts the relay's stops serving the
            // conversation before any device is sent two indices for one message.
            const step1 = startFrame(docName, MessageType.sync)
            syncProtocol.writeSyncStep1(step1, d.doc)
            this.send(encoding.toUint8Array(step1))
            this.#hold(d, sv)
            return
          }
          await this.#answer(d, sv, true)
          return
        }
        const syncKind = decoding.readVarUint(decoder)
        const update = decoding.readVarUint8Array(decoder)
        if (!this.#core._mayWrite(this.identity, d)) {
          // A sync reply to a document one may only read repeats what the relay has: nothing to do.
          // (Where one may write, the validator already passes over what is known.) One that holds
          // more — what a relay restored from a backup forgot: its own inbox writes, other people's
          // profiles — is left on the device, not refused: nothing of it is applied either way.
          if (syncKind !== syncProtocol.messageYjsSyncStep2 && !isNoopUpdate(d.doc, update))
            this.#reject(d, 'this document is read-only for you')
          return
        }
        if (d.kind === 'user' && this.#core._validate) {
          const verdict = validateProfileUpdate(d.doc, this.identity, update, this.#core._clientIds)
          if (!verdict.ok) {
            if (verdict.internal) this.#core._validatorFailed(d.name, this.identity, update, verdict.error)
            this.#reject(d, verdict.reason)
            return
          }
        }
        if (d.conv && this.#core._validate) {
          const verdict = validateConversationUpdate(
            d.conv,
            d.key,
            this.identity,
            update,
            this.#core._clientIds,
            this.#core._stampedFor(d),
          )
          if (!verdict.ok) {
            if (verdict.internal) this.#core._validatorFailed(d.name, this.identity, update, verdict.error)
            // What a relay restored from a backup forgot is taken back rather than refused.
            if (!this.#core._takeBack(this, d, update)) this.#reject(d, verdict.reason)
            return
          }
          // Quotas on creations and additions: refused whole, with the quota in the reason.
          const overQuota = verdict.effects ? this.#core._quotas.admit(this.identity, verdict.effects) : null
          if (overQuota !== null) {
            this.#reject(d, overQuota)
            return
          }
          if (verdict.newClients.length > 0) this.#core._bind(d, verdict.newClients, this.identity)
        }
        this.#core.metrics && this.#core.metrics.updatesApplied++
        Y.applyUpdate(d.doc, update, this)
        return
      }
      case MessageType.awareness: {
        const update = decoding.readVarUint8Array(decoder)
        const own = d.subscribers.get(this)
        const decision = decideAwareness(update, {
          kind: d.kind,
          conn: this,
          current: own?.values().next().value,
          relayClientID: d.awareness?.clientID ?? d.doc.clientID,
          claims: d.claims,
          boundTo: (clientID) => (d.conv ? d.doc.getMap<string>(CLIENTS_ROOT).get(String(clientID)) : undefined),
          forget: (clientID) => forgetClient(d.awareness, clientID),
        })
        if (decision.action === 'refuse') {
          this.#reject(d, decision.reason)
          return
        }
        if (decision.action === 'drop') {
          this.#core.metrics?.reject(decision.why)
          return
        }
        const awareness = this.#core._awarenessOf(d)
        if (!awareness) return
        // The same identity on a new connection (its old one not closed yet) takes the clientID over.
        const previous = d.claims.claim(this, decision.clientID)
        if (previous) d.subscribers.get(previous)?.delete(decision.clientID)
        own?.add(decision.clientID)
        awarenessProtocol.applyAwarenessUpdate(awareness, update, this)
        return
      }
      case MessageType.queryAwareness: {
        if (!d.awareness) return
        this.send(
          encodeAwarenessFrame(
            docName,
            awarenessProtocol.encodeAwarenessUpdate(d.awareness, [...d.awareness.getStates().keys()]),
          ),
        )
        return
      }
      default:
        return
    }
  }
}
