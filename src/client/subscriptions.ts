import { ColloquyError } from '../errors.ts'
import type { ContentBlock } from '../schema/content.ts'
import { type JsonObject, jsonEqual } from '../schema/json.ts'
import type { Access, ConversationStateName, ParticipantType, Role } from '../schema/layout.ts'
import { checkCount, type NotificationLevel } from '../schema/validate.ts'
import type { Conversation, ConversationStatus } from './conversation.ts'
import type { DeliveryStatus, Message, ReactionSummary } from './message.ts'
import type { Participant } from './participant.ts'

/** A message, frozen. */
export interface MessageSnapshot {
  readonly id: string
  readonly index: number | null
  readonly author: string
  readonly type: 'text' | 'media'
  readonly content: readonly ContentBlock[]
  /** The text (text blocks joined), or null. */
  readonly plaintext: string | null
  readonly custom: JsonObject
  readonly createdAt: number
  readonly editedAt: number | null
  /** The message this one replies to (one level deep: its own `referencedMessage` is null). */
  readonly referencedMessage: MessageSnapshot | null
  readonly referencedMessageId: string | null
  readonly status: DeliveryStatus
  readonly readCount: number
  readonly reactions: readonly ReactionSummary[]
}

/** A conversation as I see it, frozen. */
export interface ConversationSnapshot {
  readonly id: string
  readonly friendlyName: string | null
  readonly uniqueName: string | null
  readonly subject: string | null
  readonly photoUrl: string | null
  readonly welcomeMessages: readonly string[]
  readonly custom: JsonObject
  readonly createdAt: number
  readonly createdBy: string
  /** When I joined (null when I am not a participant). */
  readonly joinedAt: number | null
  readonly lastMessage: MessageSnapshot | null
  /** Unread messages; with no read horizon, every message of others counts. */
  readonly unreadMessageCount: number
  readonly readUntil: number | null
  readonly everyoneReadUntil: number | null
  readonly isUnread: boolean
  readonly access: Access | null
  readonly role: Role | null
  readonly notificationLevel: NotificationLevel
  readonly status: ConversationStatus
  readonly state: ConversationStateName
  /** max(last message time, joined time, creation time): the list's order. */
  readonly lastActivityAt: number
}

/** A participant, frozen. */
export interface ParticipantSnapshot {
  readonly sid: string
  readonly identity: string | null
  readonly type: ParticipantType
  readonly access: Access
  readonly role: Role
  readonly joinedAt: number
  readonly custom: JsonObject
  readonly lastReadMessageIndex: number | null
  readonly isTyping: boolean
}

/** Who is typing: up to five names (longest typing first), or just "many". Never me. */
export type TypingSnapshot = { readonly many: false; readonly users: readonly string[] } | { readonly many: true }

/** Lifecycle of a live subscription. */
export type SubscriptionState = 'pending' | 'active' | 'unsubscribed' | 'error'

const freeze = <T>(value: T): T => {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) freeze(v)
  }
  return value
}

/** A list item's identity: `id` (conversations, messages) or `sid` (participants). */
const keyOf = (v: unknown): unknown =>
  v && typeof v === 'object' ? ((v as { id?: unknown }).id ?? (v as { sid?: unknown }).sid) : undefined

/** Returns `prev` (or its parts) wherever `next` is structurally equal, so unchanged snapshots keep their identity. */
const reuse = <T>(prev: T | null, next: T): T => {
  if (prev === null || prev === undefined) return next
  if (jsonEqual(prev, next)) return prev
  if (Array.isArray(prev) && Array.isArray(next)) {
    const byId = new Map<unknown, unknown>()
    for (const p of prev) if (keyOf(p) !== undefined) byId.set(keyOf(p), p)
    return next.map((n) => {
      const id = keyOf(n)
      const p = id === undefined ? undefined : byId.get(id)
      return p !== undefined && jsonEqual(p, n) ? p : n
    }) as T
  }
  return next
}

/**
 * A live window of snapshots (TalkJS style). The callback runs with a new snapshot whenever what
 * it shows changes, never with an equal one; unchanged parts keep their object identity, so UI
 * frameworks can skip re-rendering them.
 */
export class LiveSubscription<T> {
  #state: SubscriptionState = 'pending'
  #latest: T | null = null
  #off: (() => void) | null = null
  readonly #compute: () => T
  readonly #emit: (snapshot: T) => void
  #queued = false
  #resolveConnected!: (value: LiveSubscription<T>) => void
  #resolveTerminated!: () => void
  /** Resolves with the subscription once the first snapshot was delivered. */
  readonly connected: Promise<LiveSubscription<T>>
  /** Resolves when the subscription ends (unsubscribed or error). */
  readonly terminated: Promise<void>
  /** Set when the state is `error`. */
  error: unknown = null

  readonly #extra: () => unknown
  #lastExtra: unknown = undefined
  readonly #listeners = new Set<() => void>()

  /**
   * @internal `extra` is a value delivered alongside the snapshot (a list's `loadedAll`): a change
   * of it alone also calls back.
   */
  constructor(
    compute: () => T,
    subscribe: (listener: () => void) => () => void,
    emit: (snapshot: T) => void,
    extra: () => unknown = () => undefined,
  ) {
    this.#compute = compute
    this.#emit = emit
    this.#extra = extra
    this.connected = new Promise((resolve) => {
      this.#resolveConnected = resolve
    })
    this.terminated = new Promise((resolve) => {
      this.#resolveTerminated = resolve
    })
    this.#off = subscribe(() => this.refresh())
    this.refresh()
  }

  get state(): SubscriptionState {
    return this.#state
  }

  /** The last snapshot delivered, or null before the first. */
  get latestSnapshot(): T | null {
    return this.#latest
  }

  /**
   * Attaches `onChange`, called after each new snapshot (read it with `getSnapshot`) and once if
   * the window fails; returns what detaches it, without ending the window. With `getSnapshot`,
   * the pair external stores expect (React's `useSyncExternalStore`).
   */
  subscribe(onChange: () => void): () => void {
    if (typeof onChange !== 'function') throw new ColloquyError('INVALID_ARGUMENT', 'onChange must be a function')
    const entry = () => onChange() // wrapped: attaching one function twice makes two attachments
    this.#listeners.add(entry)
    return () => void this.#listeners.delete(entry)
  }

  /** The last snapshot delivered, or null before the first (the same as `latestSnapshot`). */
  getSnapshot(): T | null {
    return this.#latest
  }

  /** Stops updates. Idempotent. */
  unsubscribe(): void {
    if (this.#state === 'unsubscribed' || this.#state === 'error') return
    this.#state = 'unsubscribed'
    this.#end()
  }

  /** @internal Recomputes on the next microtask (batched). */
  refresh(): void {
    if (this.#queued || this.#state === 'unsubscribed' || this.#state === 'error') return
    this.#queued = true
    queueMicrotask(() => {
      this.#queued = false
      if (this.#state === 'unsubscribed' || this.#state === 'error') return
      let next: T
      try {
        next = freeze(reuse(this.#latest, this.#compute()))
      } catch (error) {
        this.error = error
        this.#state = 'error'
        this.#end()
        this.#notify()
        return
      }
      const first = this.#state === 'pending'
      const extra = this.#extra()
      if (!first && next === this.#latest && extra === this.#lastExtra) return
      this.#lastExtra = extra
      this.#latest = next
      this.#state = 'active'
      this.#emit(next)
      if (first) this.#resolveConnected(this)
      this.#notify()
    })
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener()
  }

  #end(): void {
    this.#off?.()
    this.#off = null
    this.#resolveTerminated()
  }
}

/** A live list window that can grow. */
export class ListSubscription<T> extends LiveSubscription<readonly T[]> {
  readonly #window: { size: number; max: number; total: () => number }
  /** @internal */
  constructor(
    window: { size: number; max: number; total: () => number },
    compute: (size: number) => readonly T[],
    subscribe: (listener: () => void) => () => void,
    emit: (items: readonly T[], loadedAll: boolean) => void,
  ) {
    super(
      () => compute(window.size),
      subscribe,
      (items) => emit(items, window.size >= window.total()),
      () => window.size >= window.total(),
    )
    this.#window = window
  }

  /** Whether the window holds everything there is. */
  get loadedAll(): boolean {
    return this.#window.size >= this.#window.total()
  }

  /** Grows the window by `count` (1..max) items; resolves once the new snapshot is delivered. */
  async loadMore(count?: number): Promise<void> {
    const n = count === undefined ? Math.min(this.#window.max, 30) : checkCount(count, this.#window.max)
    if (this.state === 'unsubscribed' || this.state === 'error')
      throw new ColloquyError('CLOSED', 'the subscription has ended')
    this.#window.size += n
    this.refresh()
    await new Promise<void>((resolve) => queueMicrotask(() => queueMicrotask(resolve)))
  }
}

/** The live window of `Client.subscribeConversations`. */
export type ConversationListSubscription = ListSubscription<ConversationSnapshot>

// ---------------------------------------------------------------- snapshot builders

export const messageSnapshot = (m: Message, depth = 0): MessageSnapshot => {
  const ref = m.referencedMessageSid
  const refMessage = depth === 0 && ref ? m.conversation._message(ref) : null
  return {
    id: m.sid,
    index: m.index,
    author: m.author,
    type: m.type,
    content: m.content,
    plaintext: m.body,
    custom: m.attributes,
    createdAt: m.dateCreated.getTime(),
    editedAt: m.dateUpdated?.getTime() ?? null,
    referencedMessage: refMessage ? messageSnapshot(refMessage, depth + 1) : null,
    referencedMessageId: ref,
    status: m.status,
    readCount: m.readCount,
    reactions: m.reactions,
  }
}

/** @internal A conversation's frozen view, as live windows deliver it. */
export const conversationSnapshot = (c: Conversation): ConversationSnapshot => {
  const log = c._log()
  const lastEntry = log.sequencedLength > 0 ? log.at(log.sequencedLength - 1) : undefined
  const last = lastEntry ? c._message(lastEntry.id) : null
  const me = c._doc.participants.get(c._identity)
  const lastMessage = last ? messageSnapshot(last) : null
  const createdAt = c.dateCreated.getTime()
  return {
    id: c.sid,
    friendlyName: c.friendlyName,
    uniqueName: c.uniqueName,
    subject: c.subject,
    photoUrl: c.photoUrl,
    welcomeMessages: [...c.welcomeMessages],
    custom: c.attributes,
    createdAt,
    createdBy: c.createdBy,
    joinedAt: me?.dateCreated ?? null,
    lastMessage,
    unreadMessageCount: c._unread(),
    readUntil: c.lastReadMessageIndex,
    everyoneReadUntil: c.everyoneReadUntil,
    isUnread: c.isUnread,
    access: c.access,
    role: c.role,
    notificationLevel: c.notificationLevel,
    status: c.status,
    state: c.state.current,
    lastActivityAt: Math.max(createdAt, me?.dateCreated ?? 0, lastMessage?.createdAt ?? 0),
  }
}

/** @internal A participant's frozen view, as live windows deliver it. */
export const participantSnapshot = (p: Participant): ParticipantSnapshot => ({
  sid: p.sid,
  identity: p.identity,
  type: p.type,
  access: p.access,
  role: p.role,
  joinedAt: p.dateCreated.getTime(),
  custom: p.attributes,
  lastReadMessageIndex: p.lastReadMessageIndex,
  isTyping: p.isTyping,
})

/** @internal */
export const subscribeConversationList = (
  source: { list: () => Conversation[]; onChange: (listener: () => void) => () => void },
  onSnapshot: (items: readonly ConversationSnapshot[], loadedAll: boolean) => void,
  limit: number,
): ConversationListSubscription =>
  new ListSubscription<ConversationSnapshot>(
    { size: checkCount(limit, 30, 'limit'), max: 30, total: () => source.list().length },
    (size) =>
      source
        .list()
        .map(conversationSnapshot)
        .sort((a, b) => b.lastActivityAt - a.lastActivityAt || (a.id < b.id ? -1 : 1))
        .slice(0, size),
    source.onChange,
    onSnapshot,
  )

/** @internal */
export const subscribeMessageWindow = (
  c: Conversation,
  onSnapshot: (messages: readonly MessageSnapshot[], loadedAll: boolean) => void,
  limit: number,
): ListSubscription<MessageSnapshot> => {
  const log = c._log()
  return new ListSubscription<MessageSnapshot>(
    { size: checkCount(limit, 100, 'limit'), max: 100, total: () => log.length },
    (size) => {
      const out: MessageSnapshot[] = []
      for (let pos = log.length - 1; pos >= 0 && out.length < size; pos--) {
        const m = c._message(log.at(pos)!.id)
        if (m) out.push(messageSnapshot(m))
      }
      return out
    },
    (l) => c._onChange(l),
    onSnapshot,
  )
}

/** @internal */
export const subscribeParticipantWindow = (
  c: Conversation,
  onSnapshot: (participants: readonly ParticipantSnapshot[], loadedAll: boolean) => void,
  limit: number,
): ListSubscription<ParticipantSnapshot> =>
  new ListSubscription<ParticipantSnapshot>(
    { size: checkCount(limit, 50, 'limit'), max: 50, total: () => c._doc.participants.size },
    (size) =>
      [...c._doc.participants.keys()]
        .map((k) => participantSnapshot(c._participant(k)!))
        .sort((a, b) => b.joinedAt - a.joinedAt || (a.sid < b.sid ? -1 : 1))
        .slice(0, size),
    (l) => c._onChange(l),
    onSnapshot,
  )

/** At most this many typists are named; more is "many". */
export const TYPING_NAMES = 5

/** @internal */
export const subscribeTypingState = (
  c: Conversation,
  onSnapshot: (typing: TypingSnapshot) => void,
): LiveSubscription<TypingSnapshot> =>
  new LiveSubscription<TypingSnapshot>(
    () => {
      const users = c._typists()
      return users.length > TYPING_NAMES ? { many: true } : { many: false, users }
    },
    (l) => c._onChange(l),
    onSnapshot,
  )

/** @internal */
export const subscribeConversationState = (
  c: Conversation,
  onSnapshot: (conversation: ConversationSnapshot | null) => void,
): LiveSubscription<ConversationSnapshot | null> =>
  new LiveSubscription<ConversationSnapshot | null>(
    () => (c._visible ? conversationSnapshot(c) : null),
    (l) => c._onChange(l),
    onSnapshot,
  )
