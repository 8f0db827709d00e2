import { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { ColloquyError, invalidArgument, notFound } from '../errors.ts'
import { Emitter } from '../events.ts'
import { type ConversationSid, newConversationSid } from '../ids.ts'
import { checkFunction, checkMethods, checkOptions, type OptionKeys } from '../options.ts'
import { LOCAL_ORIGIN } from '../origins.ts'
import { defaultRuntime, newDoc, type Runtime } from '../runtime.ts'
import { checkAttributes, type JsonObject } from '../schema/json.ts'
import { ConversationDocument, type ConversationStateName, docNames } from '../schema/layout.ts'
import { DEFAULT_TYPING_TIMEOUT, LIMITS } from '../schema/limits.ts'
import { Sequencer } from '../schema/sequencer.ts'
import {
  checkCount,
  checkDuration,
  checkIdentity,
  checkOneOf,
  checkOptionalName,
  checkUniqueName,
  checkUrl,
  checkWelcomeMessages,
  STATES,
} from '../schema/validate.ts'
import type { StorageAdapter } from '../storage/adapter.ts'
import { MemoryStorage } from '../storage/memory.ts'
import { DocPersistence } from '../storage/persistence.ts'
import { encodeToken } from '../sync/protocol.ts'
import { rankByRecords } from '../sync/split.ts'
import { type BackoffOptions, type ConnectionState, SyncClient } from '../sync/sync-client.ts'
import { readClaims, TokenManager, type TokenSource } from '../sync/token.ts'
import { CloseCode, type Transport } from '../sync/transport.ts'
import { createWebSocketTransport, type WebSocketConstructor } from '../sync/websocket.ts'
import { type CarryOver, Conversation, type ConversationEvents } from './conversation.ts'

/** Two carry-overs of one conversation (two refusals before a resync completed), oldest first. */
const mergeCarry = (a: CarryOver, b: CarryOver): CarryOver => ({
  messages: [...a.messages, ...b.messages.filter((m) => !a.messages.some((x) => x.id === m.id))],
  reactions: [...a.reactions, ...b.reactions],
  edits: [...a.edits, ...b.edits],
  horizon: a.horizon === null ? b.horizon : b.horizon === null ? a.horizon : Math.max(a.horizon, b.horizon),
  prefs: { ...a.prefs, ...b.prefs },
})

import type { Message } from './message.ts'
import { type Paginator, pageByPosition } from './paginator.ts'
import {
  type ConversationListSubscription,
  type ConversationSnapshot,
  subscribeConversationList,
} from './subscriptions.ts'
import { User, type UserUpdateReason } from './user.ts'

/** Options of `Client.create`. */
export interface ClientOptions {
  /**
   * Who I am. With a relay, the identity comes from the signed token (this may be omitted, and
   * must match it if given); without one (local-only apps, tests) it is taken as given.
   */
  identity?: string
  /** The relay's WebSocket URL, e.g. `wss://chat.example.com`. Needs `token`. */
  relayUrl?: string
  /**
   * A JWT signed by your backend, or a function that fetches a fresh one. With a function the
   * client refreshes the token before it expires; otherwise call `updateToken`.
   */
  token?: TokenSource
  /** WebSocket implementation for `relayUrl` (default: the global `WebSocket`). */
  WebSocket?: WebSocketConstructor
  /** Where documents are kept on this device. Default: memory (nothing survives a restart). */
  storage?: StorageAdapter
  /**
   * How to reach the relay. Without one the client is local-only and sequences its own
   * messages (one device, no sync).
   */
  transport?: Transport
  /** Typing timeout in ms (default 5 000; receivers end typing one second later). */
  typingTimeout?: number
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
  /** Reconnect backoff (base 250 ms doubling to 10 s, jittered; a connection counts as a success once open `stableMs`, 5 s). */
  backoff?: Partial<BackoffOptions>
  /**
   * Timers and randomness (ids, Yjs clientIDs). For deterministic simulations only
   * (`colloquy/testing`); apps leave it unset.
   */
  runtime?: Partial<Runtime>
}

/** What to create. */
export interface CreateConversationOptions {
  friendlyName?: string | null
  uniqueName?: string | null
  attributes?: JsonObject
  subject?: string | null
  photoUrl?: string | null
  welcomeMessages?: string[]
  state?: ConversationStateName
  /** Add me as a participant (admin) right away. Default false, as in Twilio; TalkJS-style apps pass true. */
  join?: boolean
}

const CLIENT_OPTIONS: OptionKeys<ClientOptions> = {
  identity: true,
  relayUrl: true,
  token: true,
  WebSocket: true,
  storage: true,
  transport: true,
  typingTimeout: true,
  now: true,
  backoff: true,
  runtime: true,
}
const BACKOFF_OPTIONS: OptionKeys<BackoffOptions> = { baseMs: true, maxMs: true, random: true, stableMs: true }
const RUNTIME_OPTIONS: OptionKeys<Runtime> = { scheduler: true, random: true }
const CREATE_CONVERSATION_OPTIONS: OptionKeys<CreateConversationOptions> = {
  friendlyName: true,
  uniqueName: true,
  attributes: true,
  subject: true,
  photoUrl: true,
  welcomeMessages: true,
  state: true,
  join: true,
}
const STORAGE_METHODS = ['load', 'append', 'compact', 'list', 'remove', 'close'] as const
const FEED_QUERY: OptionKeys<FeedQuery> = { since: true, until: true, limit: true }

/** Only `Client.create` holds this: `new Client(…)` from outside gets a typed error instead of a crash. */
const CREATE = Symbol('Client.create')

/** The conversation events the client re-emits for every conversation, with the same payloads. */
type ForwardedEvents = Pick<
  ConversationEvents,
  | 'messageAdded'
  | 'messageUpdated'
  | 'messageRemoved'
  | 'participantJoined'
  | 'participantLeft'
  | 'participantUpdated'
  | 'typingStarted'
  | 'typingEnded'
>

/** Events of the client: every conversation's events, plus the client's own. */
export interface ClientEvents extends ForwardedEvents {
  conversationAdded(conversation: Conversation): void
  conversationJoined(conversation: Conversation): void
  conversationLeft(conversation: Conversation): void
  conversationRemoved(conversation: Conversation): void
  conversationUpdated(payload: Parameters<ConversationEvents['updated']>[0]): void
  userUpdated(payload: { user: User; updateReasons: UserUpdateReason[] }): void
  connectionStateChanged(state: ConnectionState): void
  /** The token expires within a minute (or 10% of its lifetime): call `updateToken` unless you gave a token function. */
  tokenAboutToExpire(): void
  /** The token expired (or the relay said so) and no fresh one is in place. */
  tokenExpired(): void
  /** The relay refused the connection for good (bad token, a limit, a refused update). */
  connectionError(payload: { terminal: boolean; code: number; message: string }): void
  /** Errors with nowhere else to go (a failed background write). */
  error(error: unknown): void
  // biome-ignore lint/suspicious/noExplicitAny: index signature required by EventMap
  [key: string]: (...args: any[]) => void
}

/** Cross-conversation feed query. */
export interface FeedQuery {
  /** Oldest time included (ms or Date). */
  since?: number | Date
  /** Newest time excluded (ms or Date). */
  until?: number | Date
  /** At most this many, the newest ones (1–100, default 50). */
  limit?: number
}

interface Tracked {
  conversation: Conversation
  persistence: DocPersistence
  sequencer: Sequencer | null
  visible: boolean
  joined: boolean
  offs: Array<() => void>
}

/** Whether the stored conversation `name` holds a message by `identity` that was never stamped. */
const holdsUnsentOf = async (storage: StorageAdapter, name: string, identity: string): Promise<boolean> => {
  const doc = new Y.Doc()
  try {
    for (const u of await storage.load(name)) Y.applyUpdate(doc, u)
    const conv = new ConversationDocument(doc)
    for (const [id, m] of conv.messages.entries()) if (m.author === identity && !conv.stamps.has(id)) return true
    return false
  } finally {
    doc.destroy()
  }
}

const FORWARDED = [
  'messageAdded',
  'messageUpdated',
  'messageRemoved',
  'participantJoined',
  'participantLeft',
  'participantUpdated',
  'typingStarted',
  'typingEnded',
] as const

/**
 * The entry point: one signed-in user on one device. Holds the user's conversations, keeps them
 * in local storage, and syncs them through the relay when one is configured.
 *
 * @example
 * const client = await Client.create({ identity: 'alice', storage: createMemoryStorage() })
 * const conversation = await client.createConversation({ friendlyName: 'Team', join: true })
 * await conversation.sendMessage('hello')
 */
export class Client extends Emitter<ClientEvents> {
  /** The signed-in user. */
  readonly user: User
  readonly #identity: string
  readonly #storage: StorageAdapter
  readonly #ownsStorage: boolean
  readonly #now: () => number
  readonly #runtime: Runtime
  readonly #typingTimeout: number
  readonly #sync: SyncClient | null
  readonly #persistence = new Map<Y.Doc, DocPersistence>()
  readonly #conversations = new Map<string, Tracked>()
  readonly #opening = new Map<string, Promise<Tracked | null>>()
  readonly #users = new Map<string, Promise<User>>()
  /** Users whose profile document has synced with the relay at least once. */
  readonly #profilesKnown = new Set<string>()
  readonly #local: Y.Doc
  readonly #inbox: Y.Doc
  #tokens: TokenManager | null = null
  readonly #presence: Awareness[] = []
  readonly #rejections = new Map<string, number>()
  #uniqueNames: Map<string, string> | null = null
  #shutdown = false

  private constructor(
    key: typeof CREATE,
    identity: string,
    storage: StorageAdapter,
    ownsStorage: boolean,
    options: ClientOptions,
    docs: { local: Y.Doc; inbox: Y.Doc; me: Y.Doc },
  ) {
    super((e) => this.emit('error', e))
    // Twilio apps start with `new Client(token)`; here that needs a relay URL and local storage.
    if (key !== CREATE)
      throw invalidArgument(
        'a Client is not constructed with `new`: use `await Client.create({ relayUrl, token })` (Client.create is async and loads local storage first)',
      )
    this.#identity = identity
    this.#storage = storage
    this.#ownsStorage = ownsStorage
    this.#now = options.now ?? Date.now
    this.#runtime = { ...defaultRuntime, ...options.runtime }
    this.#typingTimeout = options.typingTimeout ?? DEFAULT_TYPING_TIMEOUT
    this.#local = docs.local
    this.#inbox = docs.inbox
    this.#sync = options.transport ? new SyncClient(options.transport, options.backoff, this.#runtime.scheduler) : null
    this.user = this.#newUser(identity, docs.me, this.#presenceFor(docs.me))
    this.#users.set(identity, Promise.resolve(this.user))
    if (this.#sync) {
      this.#sync.on('connectionStateChanged', (state) => this.emit('connectionStateChanged', state))
      this.#sync.on('docDenied', (name, reason) => this.#denied(name, reason))
      // Nothing is dropped: the relay says it cannot serve this conversation for now (say, after a
      // restore it cannot recover without changing an index); the app hears why.
      this.#sync.on('docUnavailable', (name, reason) => {
        const sid = name.startsWith('conv/') ? name.slice('conv/'.length) : null
        const error = new ColloquyError('REJECTED', `the relay does not serve ${name} for now: ${reason}`)
        this.emit('error', sid === null ? error : Object.assign(error, { conversationSid: sid }))
      })
      this.#sync.on('closedByRelay', (code, reason) => this.#closedByRelay(code, reason))
      this.#sync.on('updateRejected', (name, reason) => this.#updateRejected(name, reason))
      this.#sync.on('documentSetAside', (name, error) => this.#setAside(name, error))
      this.#sync.on('documentLimited', (name, reason) => {
        const error = new ColloquyError(
          'LIMIT_EXCEEDED',
          `the relay did not sync ${name} on this connection: ${reason}`,
        )
        this.emit('error', Object.assign(error, { document: name }))
      })
    }
  }

  /**
   * Opens the client: loads everything stored on this device (so it works offline at once), then
   * connects to the relay if a transport is given.
   */
  static async create(options: ClientOptions): Promise<Client> {
    if (typeof options !== 'object' || options === null)
      throw invalidArgument('Client.create: options must be an object')
    checkOptions(options, CLIENT_OPTIONS, 'Client.create')
    checkOptions(options.backoff, BACKOFF_OPTIONS, 'Client.create backoff')
    checkOptions(options.runtime, RUNTIME_OPTIONS, 'Client.create runtime')
    let transport = options.transport
    let firstToken: string | null = null
    let identity: string
    if (options.relayUrl !== undefined) {
      if (typeof options.relayUrl !== 'string' || !/^wss?:\/\//.test(options.relayUrl))
        throw invalidArgument('relayUrl must be a ws:// or wss:// URL')
      if (options.token === undefined) throw invalidArgument('a relay needs a token')
      firstToken = await TokenManager.first(options.token)
      identity = checkIdentity(readClaims(firstToken).identity, 'token subject')
      if (options.identity !== undefined && options.identity !== identity)
        throw invalidArgument('identity does not match the token subject')
    } else {
      if (options.token !== undefined || options.WebSocket !== undefined)
        throw invalidArgument('Client.create: token and WebSocket go with relayUrl (without it they would be ignored)')
      identity = checkIdentity(options.identity)
    }
    if (options.typingTimeout !== undefined) checkCount(options.typingTimeout, 3_600_000, 'typingTimeout')
    if (options.now !== undefined) checkFunction(options.now, 'now')
    if (options.WebSocket !== undefined) checkFunction(options.WebSocket, 'WebSocket')
    checkDuration(options.backoff?.baseMs, 0, 'backoff.baseMs')
    checkDuration(options.backoff?.maxMs, 0, 'backoff.maxMs')
    if (options.backoff?.random !== undefined) checkFunction(options.backoff.random, 'backoff.random')
    if (options.storage !== undefined) checkMethods(options.storage, STORAGE_METHODS, 'storage')
    if (options.transport !== undefined) checkMethods(options.transport, ['connect'], 'transport')
    if (options.transport !== undefined && options.relayUrl !== undefined)
      throw invalidArgument('Client.create: give either relayUrl (with token) or transport, not both')
    const storage = options.storage ?? new MemoryStorage()
    const runtime: Runtime = { ...defaultRuntime, ...options.runtime }
    const open = async (name: string): Promise<[Y.Doc, DocPersistence]> => {
      const doc = newDoc(runtime)
      return [doc, await DocPersistence.open(doc, name, storage, { scheduler: runtime.scheduler })]
    }
    const [local, pLocal] = await open(docNames.local(identity))
    const [inbox, pInbox] = await open(docNames.inbox(identity))
    const [me, pMe] = await open(docNames.user(identity))
    let client: Client | null = null
    let tokens: TokenManager | null = null
    if (firstToken !== null) {
      tokens = new TokenManager(firstToken, options.token!, {
        aboutToExpire: () => client?.emit('tokenAboutToExpire'),
        expired: () => client?.emit('tokenExpired'),
        refreshed: (token) => client?._sendControl(encodeToken(token)),
        error: (error) => client?.emit('error', error),
      })
      const manager = tokens
      transport = createWebSocketTransport({
        url: options.relayUrl!,
        token: () => manager.token,
        WebSocket: options.WebSocket,
      })
    }
    client = new Client(
      CREATE,
      identity,
      storage,
      options.storage === undefined,
      { ...options, transport },
      { local, inbox, me },
    )
    client.#tokens = tokens
    client.#persistence.set(local, pLocal)
    client.#persistence.set(inbox, pInbox)
    client.#persistence.set(me, pMe)
    const sids = new Set<string>([
      ...client.#localList().keys(),
      ...client.#inboxList().keys(),
      ...client.#unsentList().keys(),
    ])
    // A stored conversation no list names any more (the relay took it off my inbox: I was removed)
    // may still hold messages I wrote that never reached the relay, if the app stopped before the
    // relay refused me the document. Open it so that refusal reports them instead of losing them.
    for (const name of await storage.list('conv/')) {
      const sid = name.slice('conv/'.length)
      if (!sids.has(sid) && (await holdsUnsentOf(storage, name, identity))) sids.add(sid)
    }
    // My inbox and profile go first: a relay limits the documents on one connection and refuses
    // those beyond it, so these must never be the ones left over (say, after an inbox flood).
    if (client.#sync) {
      client.#sync.add(docNames.inbox(identity), inbox, null)
      client.#sync.add(docNames.user(identity), me, client.user._awareness)
    }
    await Promise.all([...sids].map((sid) => client.#open(sid)))
    client.#inboxList().observe((event) => {
      for (const [sid, change] of event.changes.keys) {
        if (change.action === 'add' && !client.#conversations.has(sid)) void client.#open(sid)
      }
    })
    for (const sid of client.#unsentList().keys()) {
      void client.#resendUnsent(sid, 'refused before a restart').catch((e) => client.emit('error', e))
    }
    client.#sync?.start()
    return client
  }

  /** @internal Every tracked conversation, visible or not (simulation checks). */
  _peekAll(): Conversation[] {
    return [...this.#conversations.values()].map((t) => t.conversation)
  }

  /** @internal A tracked conversation, visible or not (simulation checks). */
  _peek(sid: string): Conversation | null {
    return this.#conversations.get(sid)?.conversation ?? null
  }

  /** @internal */
  _sendControl(frame: Uint8Array): void {
    this.#sync?.send(frame)
  }

  /** Installs a fresh token (same identity) on the live connection and for reconnects. */
  async updateToken(token: string): Promise<void> {
    this.#assertOpen()
    if (!this.#tokens) throw invalidArgument('this client has no relay token')
    this.#tokens.update(token)
    // A fresh token is worth a new attempt even after the relay refused the old one.
    if (this.#sync && (this.#sync.state === 'disconnected' || this.#sync.state === 'denied')) this.#sync.resume()
  }

  /** My identity. */
  get identity(): string {
    return this.#identity
  }

  /** The link to the relay (`disconnected` when there is none). */
  get connectionState(): ConnectionState {
    return this.#sync?.state ?? 'disconnected'
  }

  /** Resolves when every open document has synced with the relay (at once without a relay). */
  async whenSynced(options: { signal?: AbortSignal } = {}): Promise<void> {
    checkOptions(options, { signal: true }, 'whenSynced')
    if (options.signal !== undefined) checkMethods(options.signal, ['addEventListener'], 'whenSynced: signal')
    if (!this.#sync) return
    const sync = this.#sync
    const names = [
      docNames.inbox(this.#identity),
      ...[...this.#users.keys()].map(docNames.user),
      ...[...this.#conversations.keys()].map(docNames.conversation),
    ]
    const all = Promise.all(names.map((n) => sync.channel(n)?.whenSynced()))
    if (!options.signal) {
      await all
      return
    }
    const signal = options.signal
    await new Promise<void>((resolve, reject) => {
      const abort = () => reject(new ColloquyError('ABORTED', 'whenSynced was aborted'))
      if (signal.aborted) abort()
      signal.addEventListener('abort', abort, { once: true })
      all.then(() => resolve(), reject)
    })
  }

  /** Creates a conversation. I am its creator (and admin); pass `join: true` to also become a participant. */
  async createConversation(options: CreateConversationOptions = {}): Promise<Conversation> {
    this.#assertOpen()
    checkOptions(options, CREATE_CONVERSATION_OPTIONS, 'createConversation')
    const friendlyName = checkOptionalName(options.friendlyName, 'friendlyName', LIMITS.friendlyNameLength)
    const uniqueName = checkUniqueName(options.uniqueName)
    const subject = checkOptionalName(options.subject, 'subject', LIMITS.friendlyNameLength)
    const photoUrl = checkUrl(options.photoUrl, 'photoUrl')
    const attributes = checkAttributes(options.attributes ?? {}, LIMITS.attributesBytes)
    const state = checkOneOf(options.state ?? 'active', STATES, 'state')
    const welcomeMessages = options.welcomeMessages === undefined ? null : checkWelcomeMessages(options.welcomeMessages)
    if (uniqueName !== null) this.#checkUniqueName(uniqueName, '')
    const sid = newConversationSid(this.#runtime.random)
    const doc = newDoc(this.#runtime)
    const persistence = await DocPersistence.open(doc, docNames.conversation(sid), this.#storage, {
      scheduler: this.#runtime.scheduler,
    })
    const me = this.#identity
    const now = this.#now()
    const cdoc = new ConversationDocument(doc)
    Y.transact(
      doc,
      () => {
        cdoc.set('sid', sid, me, now)
        cdoc.set('createdBy', me, me, now)
        cdoc.set('dateCreated', now, me, now)
        if (friendlyName !== null) cdoc.set('friendlyName', friendlyName, me, now)
        if (uniqueName !== null) cdoc.set('uniqueName', uniqueName, me, now)
        if (subject !== null) cdoc.set('subject', subject, me, now)
        if (photoUrl !== null) cdoc.set('photoUrl', photoUrl, me, now)
        if (welcomeMessages !== null) cdoc.set('welcomeMessages', welcomeMessages, me, now)
        if (state !== 'active') cdoc.set('state', state, me, now)
        for (const [k, v] of Object.entries(attributes)) cdoc.attributes.set(k, v)
      },
      LOCAL_ORIGIN,
    )
    Y.transact(this.#local, () => this.#localList().set(sid, { addedAt: now }), LOCAL_ORIGIN)
    await Promise.all([persistence.flush(), this.#persist(this.#local)])
    const tracked = this.#track(sid as ConversationSid, doc, persistence)
    if (options.join) await tracked.conversation.join()
    return tracked.conversation
  }

  /** A conversation I take part in (or created). Rejects with NOT_FOUND. */
  async getConversationBySid(sid: string): Promise<Conversation> {
    this.#assertOpen()
    if (typeof sid !== 'string' || sid.length === 0) throw invalidArgument('sid must be a non-empty string')
    const t = this.#conversations.get(sid) ?? (await this.#opening.get(sid))
    if (!t?.visible) throw notFound(`Conversation with SID ${sid} was not found`)
    return t.conversation
  }

  /** A conversation by unique name. Rejects with NOT_FOUND. */
  async getConversationByUniqueName(uniqueName: string): Promise<Conversation> {
    this.#assertOpen()
    const name = checkUniqueName(uniqueName)
    if (name === null) throw invalidArgument('uniqueName must be a string')
    const sid = this.#uniqueNameOwner(name)
    const t = sid ? this.#conversations.get(sid) : undefined
    if (!t) throw notFound(`Conversation with unique name ${name} was not found`)
    return t.conversation
  }

  /** The conversations I take part in or created, oldest first, 50 a page. */
  async getSubscribedConversations(): Promise<Paginator<Conversation>> {
    this.#assertOpen()
    return pageByPosition(this.#visible(), 0, 50)
  }

  /** A user's profile, kept in sync while the client runs. */
  async getUser(identity: string): Promise<User> {
    this.#assertOpen()
    const who = checkIdentity(identity)
    let p = this.#users.get(who)
    if (!p) {
      p = (async () => {
        const doc = newDoc(this.#runtime)
        const persistence = await DocPersistence.open(doc, docNames.user(who), this.#storage, {
          scheduler: this.#runtime.scheduler,
        })
        this.#persistence.set(doc, persistence)
        const awareness = this.#presenceFor(doc)
        this.#sync?.add(docNames.user(who), doc, awareness)
        return this.#newUser(who, doc, awareness)
      })()
      this.#users.set(who, p)
    }
    return p
  }

  /**
   * Messages across all my conversations with `since ≤ dateCreated < until`, the newest `limit`,
   * returned oldest first. Pending messages count with their local time.
   */
  async getMessages(query: FeedQuery = {}): Promise<Message[]> {
    this.#assertOpen()
    checkOptions(query, FEED_QUERY, 'getMessages')
    const toMs = (v: number | Date | undefined, what: string, fallback: number): number => {
      if (v === undefined) return fallback
      const ms = v instanceof Date ? v.getTime() : v
      if (typeof ms !== 'number' || Number.isNaN(ms)) throw invalidArgument(`${what} must be a time in ms or a Date`)
      return ms
    }
    const since = toMs(query.since, 'since', Number.NEGATIVE_INFINITY)
    const until = toMs(query.until, 'until', Number.POSITIVE_INFINITY)
    const limit = query.limit === undefined ? 50 : checkCount(query.limit, LIMITS.maxPageSize, 'limit')
    const found: Message[] = []
    for (const conversation of this.#visible()) {
      const log = conversation._log()
      let taken = 0
      for (let pos = log.length - 1; pos >= 0 && taken < limit; pos--) {
        const entry = log.at(pos)!
        const m = conversation._message(entry.id)
        if (!m) continue
        const t = m.dateCreated.getTime()
        if (t >= until) continue
        if (t < since) {
          if (entry.index !== null) break
          continue
        }
        found.push(m)
        taken++
      }
    }
    found.sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime() || (a.sid < b.sid ? -1 : 1))
    return found.slice(Math.max(0, found.length - limit))
  }

  /**
   * A live window of my conversations, most recently active first (TalkJS style).
   *
   * @example
   * const sub = client.subscribeConversations((list) => render(list))
   * await sub.loadMore(10)
   */
  subscribeConversations(
    onSnapshot: (conversations: readonly ConversationSnapshot[], loadedAll: boolean) => void,
    options: { limit?: number } = {},
  ): ConversationListSubscription {
    this.#assertOpen()
    checkFunction(onSnapshot, 'subscribeConversations: the callback')
    checkOptions(options, { limit: true }, 'subscribeConversations')
    return subscribeConversationList(
      {
        list: () => this.#visible(),
        onChange: (listener) => {
          const offs = [
            this.on('conversationAdded', listener),
            this.on('conversationRemoved', listener),
            this.on('conversationUpdated', listener),
            this.on('messageAdded', listener),
            this.on('messageUpdated', listener),
            this.on('messageRemoved', listener),
            this.on('participantUpdated', listener),
          ]
          return () => {
            for (const off of offs) off()
          }
        },
      },
      onSnapshot,
      options.limit ?? 20,
    )
  }

  /** Stops syncing, stores everything, releases timers. The client cannot be used afterwards. */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return
    this.#shutdown = true
    this.#sync?.stop()
    this.#tokens?.stop()
    for (const aw of this.#presence) aw.destroy()
    for (const t of this.#conversations.values()) {
      for (const off of t.offs) off()
      t.sequencer?.destroy()
      t.conversation._destroy()
    }
    await Promise.all([...this.#persistence.values()].map((p) => p.destroy()))
    for (const doc of this.#persistence.keys()) doc.destroy()
    this.#persistence.clear()
    this.#conversations.clear()
    if (this.#ownsStorage) await this.#storage.close()
    this.clear()
  }

  // ---------------------------------------------------------------- private

  #assertOpen(): void {
    if (this.#shutdown) throw new ColloquyError('CLOSED', 'the client was shut down')
  }

  #localList(): Y.Map<{ addedAt: number }> {
    return this.#local.getMap('conversations')
  }

  #inboxList(): Y.Map<unknown> {
    return this.#inbox.getMap('conversations')
  }

  #visible(): Conversation[] {
    return [...this.#conversations.values()]
      .filter((t) => t.visible)
      .map((t) => t.conversation)
      .sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime() || (a.sid < b.sid ? -1 : 1))
  }

  async #persist(doc: Y.Doc): Promise<void> {
    const p = this.#persistence.get(doc)
    if (!p) throw new ColloquyError('CLOSED', 'the client was shut down')
    await p.flush()
  }

  /** Presence rides on awareness of the user's document; the client itself publishes nothing there. */
  #presenceFor(doc: Y.Doc): Awareness | null {
    if (!this.#sync) return null
    const awareness = new Awareness(doc)
    awareness.setLocalState(null)
    this.#presence.push(awareness)
    return awareness
  }

  /**
   * The relay refused an update to `name`. The refused change must not be sent again, so the
   * local copy is dropped (synchronously, before the reconnect) and fetched fresh from the relay;
   * my pending messages that may still be sent are written again, the others are reported.
   */
  #updateRejected(name: string, reason: string): void {
    const sid = name.startsWith('conv/') ? name.slice('conv/'.length) : null
    const t = sid === null ? undefined : this.#conversations.get(sid)
    if (!t || sid === null) {
      this.emit('error', new ColloquyError('REJECTED', `the relay refused an update: ${reason}`))
      return
    }
    const retries = (this.#rejections.get(sid) ?? 0) + 1
    this.#rejections.set(sid, retries)
    const carry = t.conversation._carryOver()
    this.#sync?.remove(name)
    void (async () => {
      // Set my unsent messages aside durably before the refused copy is dropped: re-sent after the
      // resync (even after a restart), or reported when the relay denies the conversation.
      // The third refusal in a row resyncs without them: a fourth would set the document aside.
      if (retries < 3) {
        const kept = this.#unsentList().get(sid)
        Y.transact(this.#local, () => this.#unsentList().set(sid, kept ? mergeCarry(kept, carry) : carry), LOCAL_ORIGIN)
        await this.#persist(this.#local)
      }
      await this.#forget(sid, true, false)
      await this.#open(sid)
      await this.#resendUnsent(sid, reason, retries >= 3 ? carry.messages.map((m) => m.id) : [])
    })().catch((e) => this.emit('error', e))
  }

  /**
   * The sync layer stopped syncing `name` (refused too often, or holding a change no frame can
   * carry): its local copy stays as it is, unsynced until the client is created again.
   */
  #setAside(name: string, error: ColloquyError): void {
    const sid = name.startsWith('conv/') ? name.slice('conv/'.length) : undefined
    this.emit('error', Object.assign(error, { document: name, setAside: true, conversationSid: sid }))
  }

  #unsentList(): Y.Map<CarryOver> {
    return this.#local.getMap('unsent')
  }

  /** Once the fresh copy of `sid` is synced, writes the set-aside messages again and reports what could not be. */
  async #resendUnsent(sid: string, reason: string, alreadyDropped: string[] = []): Promise<void> {
    const t = this.#conversations.get(sid)
    if (!t || this.#shutdown) return
    await this.#sync?.channel(docNames.conversation(sid))?.whenSynced()
    const kept = this.#unsentList().get(sid)
    if (kept === undefined || this.#shutdown) return
    const dropped = [...alreadyDropped, ...(await t.conversation._restore(kept))]
    Y.transact(this.#local, () => this.#unsentList().delete(sid), LOCAL_ORIGIN)
    const error = new ColloquyError('REJECTED', `the relay refused a change to conversation ${sid}: ${reason}`)
    this.emit('error', Object.assign(error, { conversationSid: sid, droppedMessages: dropped }))
  }

  #closedByRelay(code: number, reason: string): void {
    if (code === CloseCode.tokenExpired) {
      this.emit('tokenExpired')
      const tokens = this.#tokens
      if (tokens) {
        void tokens.refresh().then((ok) => {
          if (ok && !this.#shutdown) this.#sync?.resume()
        })
      }
      return
    }
    this.emit('connectionError', { terminal: true, code, message: reason })
  }

  #newUser(identity: string, doc: Y.Doc, awareness: Awareness | null): User {
    const user = new User(
      identity,
      doc,
      {
        identity: this.#identity,
        now: () => this.#now(),
        persist: (d) => this.#persist(d),
        onError: (e) => this.emit('error', e),
        presenceKnown: (who) =>
          this.connectionState === 'connected' && this.#sync?.channel(docNames.user(who))?.synced === true,
        // Once synced, a profile stays known across disconnections: it only grows from there.
        profileKnown: (who) => this.#sync === null || this.#profilesKnown.has(who),
      },
      awareness,
    )
    user.on('updated', (payload) => this.emit('userUpdated', payload))
    if (this.#sync) this.#followPresence(user)
    return user
  }

  /**
   * `isOnline` turns null when the connection goes, and known again once the relay has answered
   * for the user's document on the new one: both are announced (`reachabilityOnline`).
   */
  #followPresence(user: User): void {
    const sync = this.#sync!
    let waiting = false
    const check = () => {
      const channel = sync.channel(docNames.user(user.identity))
      if (channel?.synced) this.#profilesKnown.add(user.identity)
      user._reachabilityChanged()
      if (waiting || !channel || channel.synced || sync.state !== 'connected') return
      waiting = true
      void channel.whenSynced().then(() => {
        waiting = false
        this.#profilesKnown.add(user.identity)
        if (!this.#shutdown) user._reachabilityChanged()
      })
    }
    sync.on('connectionStateChanged', check)
    queueMicrotask(check)
  }

  /** Loads a conversation from storage and starts syncing it. */
  #open(sid: string): Promise<Tracked | null> {
    const existing = this.#conversations.get(sid)
    if (existing) return Promise.resolve(existing)
    const pending = this.#opening.get(sid)
    if (pending) return pending
    const p = (async () => {
      const doc = newDoc(this.#runtime)
      const persistence = await DocPersistence.open(doc, docNames.conversation(sid), this.#storage, {
        scheduler: this.#runtime.scheduler,
      })
      if (this.#shutdown) return null
      return this.#track(sid as ConversationSid, doc, persistence)
    })()
    this.#opening.set(sid, p)
    void p.finally(() => this.#opening.delete(sid))
    return p
  }

  #track(sid: ConversationSid, doc: Y.Doc, persistence: DocPersistence): Tracked {
    this.#persistence.set(doc, persistence)
    const conversation: Conversation = new Conversation(sid, doc, {
      identity: this.#identity,
      typingTimeout: this.#typingTimeout,
      runtime: this.#runtime,
      now: () => this.#now(),
      persist: (d) => this.#persist(d),
      user: (identity) => this.getUser(identity),
      checkUniqueName: (name, own) => this.#checkUniqueName(name, own),
      uniqueNameOwner: (name) => this.#uniqueNameOwner(name),
      visibilityChanged: (c) => this.#visibilityChanged(c),
      onError: (e) => this.emit('error', e),
    })
    const offs: Array<() => void> = []
    for (const event of FORWARDED) {
      offs.push(conversation.on(event, ((arg: never) => this.emit(event, arg)) as never))
    }
    offs.push(
      conversation.on('updated', (payload) => {
        if (payload.updateReasons.includes('uniqueName')) this.#uniqueNames = null
        this.emit('conversationUpdated', payload)
      }),
    )
    const tracked: Tracked = {
      conversation,
      persistence,
      sequencer: this.#sync ? null : new Sequencer(doc, { now: this.#now }),
      visible: false,
      joined: false,
      offs,
    }
    this.#conversations.set(sid, tracked)
    this.#uniqueNames = null
    // A backlog split over several frames goes out oldest session first (a restart while offline
    // leaves one device with two clientIDs), so that it is sequenced in the order it was written.
    this.#sync?.add(docNames.conversation(sid), doc, conversation._awareness, () =>
      rankByRecords(conversation._doc.messages, (m) => m.createdAt),
    )
    this.#visibilityChanged(conversation)
    return tracked
  }

  #visibilityChanged(conversation: Conversation): void {
    const t = this.#conversations.get(conversation.sid)
    if (!t) return
    const visible = conversation._visible
    const joined = conversation._joined
    const wasVisible = t.visible
    const wasJoined = t.joined
    t.visible = visible
    t.joined = joined
    this.#uniqueNames = null
    if (!wasVisible && visible) this.emit('conversationAdded', conversation)
    if (!wasJoined && joined) this.emit('conversationJoined', conversation)
    if (wasJoined && !joined) this.emit('conversationLeft', conversation)
    if (wasVisible && !visible) {
      this.emit('conversationRemoved', conversation)
      // Without a relay, drop it now (after the transaction that hid it is stored). With one, keep
      // syncing until the relay refuses us the document: that is when it has applied the change
      // (my own leave or delete, possibly written offline, or someone removing me).
      if (!this.#sync) queueMicrotask(() => void this.#forget(conversation.sid, true))
    }
  }

  /** Stops tracking a conversation I no longer see, and removes its local copy. */
  async #forget(sid: string, removeStored: boolean, unlist = true): Promise<void> {
    const t = this.#conversations.get(sid)
    if (!t) return
    if (t.visible) {
      t.visible = false
      t.joined = false
      this.emit('conversationRemoved', t.conversation)
    }
    this.#conversations.delete(sid)
    this.#uniqueNames = null
    for (const off of t.offs) off()
    this.#sync?.remove(docNames.conversation(sid))
    t.sequencer?.destroy()
    t.conversation._destroy('removed')
    await t.persistence.destroy()
    this.#persistence.delete(t.persistence.doc)
    t.persistence.doc.destroy()
    if (unlist && this.#localList().has(sid)) {
      Y.transact(this.#local, () => this.#localList().delete(sid), LOCAL_ORIGIN)
    }
    if (removeStored) await this.#storage.remove(docNames.conversation(sid)).catch((e) => this.emit('error', e))
  }

  /**
   * The relay refuses me a conversation (I was removed, it was deleted, or I never belonged).
   * Messages I wrote there that never reached it cannot be delivered any more: they are reported
   * in an `error` event (`FORBIDDEN`, with `droppedMessages`), never dropped silently.
   */
  #denied(name: string, reason: string): void {
    if (!name.startsWith('conv/')) return
    const sid = name.slice('conv/'.length)
    const t = this.#conversations.get(sid)
    if (!t) return
    const unsent = [...(this.#unsentList().get(sid)?.messages ?? []), ...t.conversation._pendingRecords()].map(
      (m) => m.id,
    )
    if (this.#unsentList().has(sid)) Y.transact(this.#local, () => this.#unsentList().delete(sid), LOCAL_ORIGIN)
    if (t.visible) {
      t.visible = false
      t.joined = false
      this.emit('conversationRemoved', t.conversation)
    }
    void this.#forget(sid, true)
    if (unsent.length > 0) {
      const error = new ColloquyError(
        'FORBIDDEN',
        `conversation ${sid} is no longer available (${reason}); ${unsent.length} unsent message(s) were dropped`,
      )
      this.emit('error', Object.assign(error, { conversationSid: sid, droppedMessages: unsent }))
    }
  }

  #claims(): Map<string, string> {
    if (this.#uniqueNames) return this.#uniqueNames
    const best = new Map<string, { sid: string; at: number }>()
    for (const [sid, t] of this.#conversations) {
      if (!t.visible) continue
      const rec = t.conversation._doc.record('uniqueName')
      if (!rec || rec.v === null) continue
      const cur = best.get(rec.v)
      if (!cur || rec.at < cur.at || (rec.at === cur.at && sid < cur.sid)) best.set(rec.v, { sid, at: rec.at })
    }
    this.#uniqueNames = new Map([...best].map(([name, v]) => [name, v.sid]))
    return this.#uniqueNames
  }

  #uniqueNameOwner(name: string): string | null {
    return this.#claims().get(name) ?? null
  }

  #checkUniqueName(name: string, own: string): void {
    const owner = this.#uniqueNameOwner(name)
    if (owner !== null && owner !== own) throw new ColloquyError('CONFLICT', `unique name ${name} is taken`)
  }
}
