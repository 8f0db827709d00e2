import { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { ColloquyError, forbidden, invalidArgument, notFound } from '../errors.ts'
import { Emitter } from '../events.ts'
import { type ConversationSid, newMessageSid, randomHex } from '../ids.ts'
import { checkFunction, checkOptions, type OptionKeys } from '../options.ts'
import { LOCAL_ORIGIN } from '../origins.ts'
import type { Runtime } from '../runtime.ts'
import { type ContentBlock, checkContent } from '../schema/content.ts'
import { applyPatch, checkAttributes, type JsonObject } from '../schema/json.ts'
import {
  type Access,
  ConversationDocument,
  type ConversationStateName,
  type EditRecord,
  editTarget,
  hiddenKey,
  type MessageRecord,
  type MetaFields,
  type ParticipantRecord,
  type ParticipantType,
  parseReactionKey,
  participantRecord,
  prefKey,
  type Role,
  reactionKey,
} from '../schema/layout.ts'
import { DEFAULT_PAGE_SIZE, LIMITS } from '../schema/limits.ts'
import { MessageLog } from '../schema/message-log.ts'
import { can, canManageParticipant, effectiveRole } from '../schema/permissions.ts'
import { advanceHorizon, allHorizons, type ReadHorizon, setHorizon } from '../schema/reads.ts'
import {
  ACCESS,
  checkEmoji,
  checkIdentity,
  checkIndex,
  checkOneOf,
  checkOptionalName,
  checkPageSize,
  checkUniqueName,
  checkUrl,
  checkWelcomeMessages,
  NOTIFICATION_LEVELS,
  type NotificationLevel,
  ROLES,
  STATES,
} from '../schema/validate.ts'
import { type LastState, Message, type MessageUpdateReason, type ReactionSummary, valueBefore } from './message.ts'
import { Paginator } from './paginator.ts'
import { Participant, type ParticipantUpdateReason } from './participant.ts'
import {
  type ConversationSnapshot,
  type ListSubscription,
  type LiveSubscription,
  type MessageSnapshot,
  type ParticipantSnapshot,
  subscribeConversationState,
  subscribeMessageWindow,
  subscribeParticipantWindow,
  subscribeTypingState,
  type TypingSnapshot,
} from './subscriptions.ts'
import { TypingTracker } from './typing.ts'
import type { User } from './user.ts'

/** My relation to a conversation (Twilio's `status`). */
export type ConversationStatus = 'joined' | 'notParticipating'

/** Why a conversation changed. */
export type ConversationUpdateReason =
  | 'attributes'
  | 'friendlyName'
  | 'uniqueName'
  | 'subject'
  | 'photoUrl'
  | 'welcomeMessages'
  | 'state'
  | 'status'
  | 'dateUpdated'
  | 'lastMessage'
  | 'lastReadMessageIndex'
  | 'notificationLevel'
  | 'isUnread'

/** Events of one conversation. */
export interface ConversationEvents {
  updated(payload: { conversation: Conversation; updateReasons: ConversationUpdateReason[] }): void
  removed(conversation: Conversation): void
  messageAdded(message: Message): void
  messageUpdated(payload: { message: Message; updateReasons: MessageUpdateReason[] }): void
  messageRemoved(message: Message): void
  participantJoined(participant: Participant): void
  participantLeft(participant: Participant): void
  participantUpdated(payload: { participant: Participant; updateReasons: ParticipantUpdateReason[] }): void
  typingStarted(participant: Participant): void
  typingEnded(participant: Participant): void
  // biome-ignore lint/suspicious/noExplicitAny: index signature required by EventMap
  [key: string]: (...args: any[]) => void
}

/** What to send: text, or content blocks, with optional attributes and a message to reply to. */
export interface SendMessageInput {
  /** Text; becomes one text block. */
  body?: string
  /** Content blocks (text, location, file reference). Used instead of `body`. */
  content?: ContentBlock[]
  attributes?: JsonObject
  /** The sid of the message this one replies to. */
  referencedMessage?: string
}

/** @internal My local changes to a conversation, kept across a refused update (see `_carryOver`). */
export interface CarryOver {
  messages: MessageRecord[]
  reactions: Array<{ messageId: string; emoji: string; at: number }>
  edits: Array<{ id: string; edit: EditRecord }>
  horizon: number | null
  prefs: Record<string, unknown>
}

/** Options when adding a participant. */
export interface AddParticipantOptions {
  role?: Role
  access?: Access
}

const ADD_PARTICIPANT_OPTIONS: OptionKeys<AddParticipantOptions> = { role: true, access: true }
const SEND_MESSAGE_INPUT: OptionKeys<SendMessageInput> = {
  body: true,
  content: true,
  attributes: true,
  referencedMessage: true,
}

/** Limits that apply to this conversation. */
export interface ConversationLimits {
  messageBodyBytes: number
  attributesBytes: number
  contentBlocks: number
  distinctReactions: number
}

/** Conversation lifecycle with the time it last changed. */
export interface ConversationState {
  current: ConversationStateName
  dateUpdated: Date
}

/** @internal What a conversation needs from its client. */
export interface ConversationHost {
  readonly identity: string
  readonly typingTimeout: number
  readonly runtime: Runtime
  now(): number
  persist(doc: Y.Doc): Promise<void>
  user(identity: string): Promise<User>
  /** Throws CONFLICT if another known conversation holds `name`. */
  checkUniqueName(name: string, sid: string): void
  /** The sid of the conversation that holds `name`, by the winner rule. */
  uniqueNameOwner(name: string): string | null
  visibilityChanged(conversation: Conversation): void
  onError(error: unknown): void
}

/**
 * One conversation: its metadata, participants, messages, read state and typing. Every write
 * applies locally at once and resolves when it is stored on this device; the relay, when
 * connected, spreads it to the other participants.
 */
export class Conversation extends Emitter<ConversationEvents> {
  readonly sid: ConversationSid
  /** @internal */
  readonly _doc: ConversationDocument
  /** @internal */
  readonly _awareness: Awareness
  readonly #host: ConversationHost
  readonly #log: MessageLog
  readonly #typing: TypingTracker
  /**
   * Message objects handed out, held weakly: the same object comes back while the app holds it
   * (its listeners included), and a long history does not keep one object per message alive.
   */
  readonly #messages = new Map<string, WeakRef<Message>>()
  /** When to drop the entries of collected messages from `#messages` (amortised: see `#messageObject`). */
  #sweepAt = 1024
  readonly #participants = new Map<string, Participant>()
  readonly #reactionIndex = new Map<string, Set<string>>()
  /** The last states of messages the running transaction removed, taken before its observers run. */
  readonly #lastStates = new Map<string, LastState>()
  #horizons: Map<string, ReadHorizon> | null = null
  #visible = false
  #joined = false
  #destroyed = false
  #destroyedBecause: 'shutdown' | 'removed' = 'shutdown'
  readonly #changeListeners = new Set<() => void>()
  #changeQueued = false
  /** `createdAt` of my newest message here (null until my first send); see `#nextCreatedAt`. */
  #lastCreatedAt: number | null = null

  /** @internal */
  constructor(sid: ConversationSid, doc: Y.Doc, host: ConversationHost) {
    super((e) => host.onError(e))
    this.sid = sid
    this.#host = host
    this._doc = new ConversationDocument(doc)
    this._awareness = new Awareness(doc)
    this.#log = new MessageLog(this._doc)
    for (const key of this._doc.reactions.keys()) this.#indexReaction(key, true)
    this.#typing = new TypingTracker(
      this._awareness,
      host.identity,
      host.typingTimeout,
      () => host.now(),
      {
        started: (identity) => this.#typingChanged(identity, true),
        ended: (identity) => this.#typingChanged(identity, false),
      },
      host.runtime.scheduler,
    )
    this.#visible = this.#computeVisible()
    this.#joined = this.#computeJoined()
    this.#observe()
  }

  // ---------------------------------------------------------------- properties

  #meta<K extends keyof MetaFields>(key: K, fallback: MetaFields[K]): MetaFields[K] {
    return this._doc.get(key, fallback)
  }

  /**
   * Application-chosen unique name, or null. When two devices claimed the same name offline, the
   * earliest claim (then the smaller sid) keeps it; the other conversation's `uniqueName` reads null.
   */
  get uniqueName(): string | null {
    const name = this.#meta('uniqueName', null)
    if (name === null) return null
    return this.#host.uniqueNameOwner(name) === this.sid ? name : null
  }
  /** Display name (Twilio). */
  get friendlyName(): string | null {
    return this.#meta('friendlyName', null)
  }
  /** Subject (TalkJS). */
  get subject(): string | null {
    return this.#meta('subject', null)
  }
  get photoUrl(): string | null {
    return this.#meta('photoUrl', null)
  }
  /** Display-only messages shown to everyone at the top of the conversation. */
  get welcomeMessages(): readonly string[] {
    return this.#meta('welcomeMessages', [])
  }
  /** Custom data. */
  get attributes(): JsonObject {
    return this._doc.attributes.toJSON() as JsonObject
  }
  get createdBy(): string {
    return this.#meta('createdBy', '')
  }
  get dateCreated(): Date {
    return new Date(this.#meta('dateCreated', 0))
  }
  /** When metadata or attributes last changed. */
  get dateUpdated(): Date {
    let latest = this.#meta('dateCreated', 0)
    this._doc.meta.forEach((rec) => {
      if (rec.at > latest) latest = rec.at
    })
    return new Date(latest)
  }
  /** Whether I am a participant. */
  get status(): ConversationStatus {
    return this.#joined ? 'joined' : 'notParticipating'
  }
  get state(): ConversationState {
    const rec = this._doc.record('state')
    return {
      current: rec?.v ?? 'active',
      dateUpdated: new Date(rec?.at ?? this.#meta('dateCreated', 0)),
    }
  }
  /** The newest sequenced message's index and time, or null. */
  get lastMessage(): { index: number; dateCreated: Date } | null {
    const index = this.#log.lastIndex
    if (index === null) return null
    const entry = this.#log.at(this.#log.sequencedLength - 1)!
    return { index, dateCreated: new Date(this._doc.stamps.get(entry.id)!.t) }
  }
  /** My read horizon. */
  get lastReadMessageIndex(): number | null {
    return this._horizon(this.#host.identity).index
  }
  /** My notification level here. */
  get notificationLevel(): NotificationLevel {
    return (this._doc.prefs.get(prefKey(this.#host.identity, 'notificationLevel')) as NotificationLevel) ?? 'default'
  }
  /** Whether I have unread messages here, or marked it unread. */
  get isUnread(): boolean {
    if (this._doc.prefs.get(prefKey(this.#host.identity, 'markedUnread')) === true) return true
    return this.#unreadCount(true) > 0
  }
  /** The greatest index every current chat participant has read, or null if someone has read nothing. */
  get everyoneReadUntil(): number | null {
    const horizons = this.#allHorizons()
    let min: number | null = null
    let any = false
    for (const p of this._doc.participants.values()) {
      if (p.type !== 'chat' || p.identity === null) continue
      any = true
      const h = horizons.get(p.identity)?.index ?? null
      if (h === null) return null
      if (min === null || h < min) min = h
    }
    return any ? min : null
  }
  /** My role here (null when I am neither a participant nor the creator). */
  get role(): Role | null {
    return effectiveRole(this._doc, this.#host.identity)
  }
  /** My access here, or null when I am not a participant. */
  get access(): Access | null {
    return this._doc.participants.get(this.#host.identity)?.access ?? null
  }
  get limits(): ConversationLimits {
    return {
      messageBodyBytes: LIMITS.messageBodyBytes,
      attributesBytes: LIMITS.attributesBytes,
      contentBlocks: LIMITS.contentBlocks,
      distinctReactions: LIMITS.distinctReactions,
    }
  }
  /** Whether it was deleted (for everyone). */
  get isDeleted(): boolean {
    return this.#meta('deleted', false)
  }

  // ---------------------------------------------------------------- membership

  /** Adds me as a participant (the creator, or a participant already: no-op). */
  async join(): Promise<Conversation> {
    this.#assertUsable()
    const me = this.#host.identity
    if (this._doc.participants.has(me)) return this
    if (this.createdBy !== me) throw forbidden('only the creator may join this conversation; ask an admin to add you')
    await this.#write(() => this.#putParticipant(me, 'chat', null, null, {}, 'admin', 'ReadWrite'))
    return this
  }

  /** Removes me from the participants (no-op when I am not one). */
  async leave(): Promise<Conversation> {
    this.#assertUsable()
    const me = this.#host.identity
    if (!this._doc.participants.has(me)) return this
    await this.#write(() => this._doc.participants.delete(me))
    return this
  }

  /** Deletes the conversation for everyone (admins, or the creator). */
  async delete(): Promise<void> {
    this.#assertUsable()
    this.#require('manageConversation', 'delete this conversation')
    await this.#write(() => this._doc.set('deleted', true, this.#host.identity, this.#host.now()))
  }

  /** Adds a chat participant by identity. */
  async add(identity: string, attributes: JsonObject = {}, options: AddParticipantOptions = {}): Promise<Participant> {
    this.#assertUsable()
    const who = checkIdentity(identity)
    const attrs = checkAttributes(attributes, LIMITS.attributesBytes, 'participant attributes')
    checkOptions(options, ADD_PARTICIPANT_OPTIONS, 'add')
    const role = checkOneOf(options.role ?? 'member', ROLES, 'role')
    const access = checkOneOf(options.access ?? 'ReadWrite', ACCESS, 'access')
    if (!canManageParticipant(this._doc, this.#host.identity, role))
      throw forbidden(`you may not add ${role === 'member' ? 'participants' : `a ${role}`} here`)
    if (this._doc.participants.has(who)) throw new ColloquyError('CONFLICT', `${who} is already a participant`)
    await this.#write(() => this.#putParticipant(who, 'chat', null, null, attrs, role, access))
    return this.#participantObject(who)!
  }

  /**
   * Adds an SMS, WhatsApp or email participant. colloquy stores it; bridging messages to that
   * channel is a separate service.
   */
  async addNonChatParticipant(
    proxyAddress: string,
    address: string,
    attributes: JsonObject = {},
    options: { type?: Exclude<ParticipantType, 'chat'> } = {},
  ): Promise<Participant> {
    this.#assertUsable()
    const proxy = checkIdentity(proxyAddress, 'proxyAddress')
    const addr = checkIdentity(address, 'address')
    checkOptions(options, { type: true }, 'addNonChatParticipant')
    const type = checkOneOf(
      options.type ?? (addr.includes('@') ? 'email' : 'sms'),
      ['sms', 'whatsapp', 'email'],
      'type',
    )
    const attrs = checkAttributes(attributes, LIMITS.attributesBytes, 'participant attributes')
    if (!canManageParticipant(this._doc, this.#host.identity, 'member'))
      throw forbidden('you may not add participants here')
    const key = `${type}:${addr}`
    if (this._doc.participants.has(key)) throw new ColloquyError('CONFLICT', `${addr} is already a participant`)
    await this.#write(() => this.#putParticipant(key, type, addr, proxy, attrs, 'member', 'ReadWrite'))
    return this.#participantObject(key)!
  }

  /** Removes a participant, given by identity, sid or object. Removing myself is `leave()`. */
  async removeParticipant(participant: string | Participant): Promise<void> {
    this.#assertUsable()
    if (typeof participant !== 'string' && !(participant instanceof Participant))
      throw invalidArgument('removeParticipant takes an identity, a participant sid or a Participant')
    // A Participant of another conversation names nobody here, whatever its key; one of this
    // conversation (even from an earlier copy of it) is looked up again by its key.
    const p =
      typeof participant === 'string'
        ? this.#findParticipant(participant)
        : participant.conversation.sid === this.sid
          ? this.#participantObject(participant.key)
          : null
    if (!p?.isActive)
      throw notFound(`Participant ${typeof participant === 'string' ? participant : participant.sid} was not found`)
    if (p.identity === this.#host.identity) {
      await this.leave()
      return
    }
    if (!canManageParticipant(this._doc, this.#host.identity, p.role))
      throw forbidden('you may not remove this participant')
    // Their read slots stay (nobody writes another person's read state); a new membership id makes
    // them stale if they are added again.
    await this.#write(() => this._doc.participants.delete(p.key))
  }

  /** Every participant. */
  async getParticipants(): Promise<Participant[]> {
    return [...this._doc.participants.keys()].map((k) => this.#participantObject(k)!)
  }

  /** A participant by identity; rejects with NOT_FOUND. */
  async getParticipantByIdentity(identity: string): Promise<Participant> {
    checkIdentity(identity)
    const p = this.#participantObject(identity)
    if (!p || p.identity !== identity) throw notFound(`Participant with identity ${identity} was not found`)
    return p
  }

  /** A participant by sid; rejects with NOT_FOUND. */
  async getParticipantBySid(sid: string): Promise<Participant> {
    if (typeof sid !== 'string' || sid.length === 0) throw invalidArgument('sid must be a non-empty string')
    for (const [key, rec] of this._doc.participants.entries()) if (rec.sid === sid) return this.#participantObject(key)!
    throw notFound(`Participant with SID ${sid} was not found`)
  }

  async getParticipantsCount(): Promise<number> {
    return this._doc.participants.size
  }

  // ---------------------------------------------------------------- messages

  /**
   * Sends a message. It is stored locally and returned at once with status `pending`; its `index`
   * arrives when the sequencer (the relay) accepts it.
   *
   * @example
   * const m = await conversation.sendMessage('hello')
   * await conversation.sendMessage({ content: [{ type: 'location', latitude: 52.5, longitude: 13.4 }] })
   * await conversation.sendMessage({ body: 'agreed', referencedMessage: m.sid })
   */
  async sendMessage(input: string | SendMessageInput, attributes?: JsonObject): Promise<Message> {
    this.#assertUsable()
    const normalized: SendMessageInput = typeof input === 'string' ? { body: input } : input
    if (typeof normalized !== 'object' || normalized === null)
      throw invalidArgument('message must be a string or an object')
    checkOptions(normalized, SEND_MESSAGE_INPUT, 'sendMessage')
    let content: ContentBlock[]
    if (normalized.content !== undefined) content = checkContent(normalized.content)
    else {
      if (typeof normalized.body !== 'string') throw invalidArgument('message body must be a string')
      if (normalized.body.length === 0) throw invalidArgument('message body must not be empty')
      content = checkContent([{ type: 'text', text: normalized.body }])
    }
    const attrs = checkAttributes(
      attributes ?? normalized.attributes ?? {},
      LIMITS.attributesBytes,
      'message attributes',
    )
    const replyTo = normalized.referencedMessage ?? null
    if (replyTo !== null && !this._doc.messages.has(replyTo)) throw notFound(`Message ${replyTo} was not found`)
    if (this.state.current === 'closed') throw forbidden('the conversation is closed')
    const me = this.#host.identity
    if (!this._doc.participants.has(me)) throw forbidden('you are not a participant of this conversation')
    this.#require('send', 'send messages here (read-only access)')
    const record: MessageRecord = {
      id: newMessageSid(this.#host.runtime.random),
      author: me,
      participantSid: this._doc.participants.get(me)?.sid ?? null,
      content,
      attributes: attrs,
      replyTo,
      createdAt: this.#nextCreatedAt(me),
    }
    this.#typing.stop()
    await this.#write(() => {
      this._doc.messages.set(record.id, record)
      this._doc.prefs.delete(prefKey(me, 'markedUnread'))
    })
    return this.#messageObject(record.id)!
  }

  /**
   * A page of messages, items ascending. `anchor` is the index of the newest (backwards) or
   * oldest (forward) message of the page; without it the page ends at the newest message,
   * pending ones included.
   */
  async getMessages(
    pageSize: number = DEFAULT_PAGE_SIZE,
    anchor?: number,
    direction: 'backwards' | 'forward' = 'backwards',
  ): Promise<Paginator<Message>> {
    const size = checkPageSize(pageSize)
    if (anchor !== undefined) checkIndex(anchor, 'anchor')
    checkOneOf(direction, ['backwards', 'forward'], 'direction')
    const log = this.#log
    if (direction === 'backwards') {
      const end = anchor === undefined ? log.length : log.lowerBound(anchor + 1)
      return this.#page(Math.max(0, end - size), end, size)
    }
    const start = anchor === undefined ? 0 : log.lowerBound(anchor)
    return this.#page(start, Math.min(log.length, start + size), size)
  }

  #page(start: number, end: number, size: number): Paginator<Message> {
    const entries = []
    for (let p = start; p < end; p++) entries.push(this.#log.at(p)!)
    const items = entries.map((e) => this.#messageObject(e.id)!)
    const firstId = entries[0]?.id
    const lastId = entries[entries.length - 1]?.id
    const positionOf = (id: string | undefined, fallback: number): number => {
      if (id === undefined) return fallback
      const pos = this.#log.positionOf(id)
      return pos === -1 ? fallback : pos
    }
    return new Paginator(
      items,
      start > 0
        ? async () => {
            const s = positionOf(firstId, start)
            return this.#page(Math.max(0, s - size), s, size)
          }
        : null,
      end < this.#log.length
        ? async () => {
            const e = positionOf(lastId, end - 1) + 1
            return this.#page(e, Math.min(this.#log.length, e + size), size)
          }
        : null,
    )
  }

  /** A message by sid; rejects with NOT_FOUND. */
  async getMessageBySid(sid: string): Promise<Message> {
    if (typeof sid !== 'string' || sid.length === 0) throw invalidArgument('sid must be a non-empty string')
    const m = this.#messageObject(sid)
    if (!m) throw notFound(`Message ${sid} was not found`)
    return m
  }

  /** Messages here, sequenced and pending. */
  async getMessagesCount(): Promise<number> {
    return this.#log.length
  }

  // ---------------------------------------------------------------- read state

  /** Sets my read horizon, backwards or to null allowed. Resolves to my unread count. */
  async updateLastReadMessageIndex(index: number | null): Promise<number | null> {
    this.#assertUsable()
    const value = index === null ? null : checkIndex(index)
    this.#require('readState', 'change read state here')
    await this.#write(() => setHorizon(this._doc, this.#host.identity, value, this.#host.now()))
    return this.#unreadCount(false)
  }

  /** Moves my read horizon forward only; a lower index is ignored. Resolves to my unread count. */
  async advanceLastReadMessageIndex(index: number): Promise<number | null> {
    this.#assertUsable()
    const value = checkIndex(index)
    this.#require('readState', 'change read state here')
    await this.#write(() => advanceHorizon(this._doc, this.#host.identity, value, this.#host.now()))
    return this.#unreadCount(false)
  }

  /** Marks everything read (and clears a manual unread mark). Resolves to 0. */
  async setAllMessagesRead(): Promise<number> {
    this.#assertUsable()
    this.#require('readState', 'change read state here')
    const me = this.#host.identity
    const last = this.#log.lastIndex
    await this.#write(() => {
      if (last !== null) advanceHorizon(this._doc, me, last, this.#host.now())
      this._doc.prefs.delete(prefKey(me, 'markedUnread'))
    })
    return this.#unreadCount(false) ?? 0
  }

  /** Marks everything unread (horizon null). Resolves to the unread count. */
  async setAllMessagesUnread(): Promise<number> {
    this.#assertUsable()
    this.#require('readState', 'change read state here')
    await this.#write(() => setHorizon(this._doc, this.#host.identity, null, this.#host.now()))
    return this.#unreadCount(true)
  }

  /** TalkJS `markAsRead`: everything read, manual unread mark cleared. */
  async markAsRead(): Promise<void> {
    await this.setAllMessagesRead()
  }

  /** TalkJS `markAsUnread`: flags the conversation unread without touching the read horizon. */
  async markAsUnread(): Promise<void> {
    this.#assertUsable()
    this.#require('readState', 'change read state here')
    await this.#write(() => this._doc.prefs.set(prefKey(this.#host.identity, 'markedUnread'), true))
  }

  /**
   * My unread messages (others' sequenced messages after my horizon), or null when I have no
   * horizon yet. Rejects with FORBIDDEN when I am not a participant.
   */
  async getUnreadMessagesCount(): Promise<number | null> {
    this.#require('readState', 'read unread counts here')
    return this.#unreadCount(false)
  }

  // ---------------------------------------------------------------- typing, preferences, metadata

  /** Signals that I am typing. Cheap to call on every keystroke: renewals are rate limited. */
  async typing(): Promise<void> {
    this.#assertUsable()
    if (!this._doc.participants.has(this.#host.identity))
      throw forbidden('you are not a participant of this conversation')
    this.#typing.start()
  }

  /** Sets my notification level here. */
  async setUserNotificationLevel(level: NotificationLevel): Promise<void> {
    this.#assertUsable()
    const value = checkOneOf(level, NOTIFICATION_LEVELS, 'notification level')
    this.#require('readState', 'set a notification level here')
    await this.#write(() => this._doc.prefs.set(prefKey(this.#host.identity, 'notificationLevel'), value))
  }

  /** Replaces the attributes. */
  async updateAttributes(attributes: JsonObject): Promise<Conversation> {
    const next = checkAttributes(attributes, LIMITS.attributesBytes)
    return this.#updateAttributes(next)
  }

  /** Patches the attributes: `null` deletes a key, `undefined` keeps it (TalkJS `custom`). */
  async patchAttributes(patch: Record<string, unknown>): Promise<Conversation> {
    const next = checkAttributes(applyPatch(this.attributes, patch, 'attributes'), LIMITS.attributesBytes)
    return this.#updateAttributes(next, Object.keys(patch))
  }

  async #updateAttributes(next: JsonObject, only?: string[]): Promise<Conversation> {
    this.#assertUsable()
    this.#require('manageConversation', 'change this conversation')
    const map = this._doc.attributes
    await this.#write(() => {
      const keys = only ?? [...new Set([...map.keys(), ...Object.keys(next)])]
      for (const k of keys) {
        if (!(k in next)) map.delete(k)
        else if (JSON.stringify(map.get(k)) !== JSON.stringify(next[k])) map.set(k, next[k])
      }
      this._doc.set('updated', true, this.#host.identity, this.#host.now())
    })
    return this
  }

  async updateFriendlyName(name: string | null): Promise<Conversation> {
    return this.#setMeta('friendlyName', checkOptionalName(name, 'friendlyName', LIMITS.friendlyNameLength))
  }

  /** Claims a unique name (or releases it with null). Rejects with CONFLICT when another conversation holds it. */
  async updateUniqueName(name: string | null): Promise<Conversation> {
    const value = checkUniqueName(name)
    if (value !== null) this.#host.checkUniqueName(value, this.sid)
    return this.#setMeta('uniqueName', value)
  }

  async updateSubject(subject: string | null): Promise<Conversation> {
    return this.#setMeta('subject', checkOptionalName(subject, 'subject', LIMITS.friendlyNameLength))
  }

  async updatePhotoUrl(url: string | null): Promise<Conversation> {
    return this.#setMeta('photoUrl', checkUrl(url, 'photoUrl'))
  }

  async updateWelcomeMessages(messages: string[]): Promise<Conversation> {
    return this.#setMeta('welcomeMessages', checkWelcomeMessages(messages))
  }

  /** Sets the lifecycle state; a closed conversation takes no new messages. */
  async updateState(state: ConversationStateName): Promise<Conversation> {
    return this.#setMeta('state', checkOneOf(state, STATES, 'state'))
  }

  async #setMeta<K extends keyof MetaFields>(key: K, value: MetaFields[K]): Promise<Conversation> {
    this.#assertUsable()
    this.#require('manageConversation', 'change this conversation')
    await this.#write(() => this._doc.set(key, value, this.#host.identity, this.#host.now()))
    return this
  }

  // ---------------------------------------------------------------- internals used by Message / Participant

  /** @internal */
  _horizon(identity: string): ReadHorizon {
    return this.#allHorizons().get(identity) ?? { index: null, at: null, epoch: 0 }
  }

  /** @internal How many other current chat participants have read `index`. */
  _readCounts(index: number, author: string): { read: number; total: number } {
    const horizons = this.#allHorizons()
    let read = 0
    let total = 0
    for (const p of this._doc.participants.values()) {
      if (p.type !== 'chat' || p.identity === null || p.identity === author) continue
      total++
      const h = horizons.get(p.identity)?.index
      if (h !== undefined && h !== null && h >= index) read++
    }
    return { read, total }
  }

  /** @internal */
  _isTyping(identity: string): boolean {
    return this.#typing.isTyping(identity)
  }

  /** @internal Identities typing now, longest first. */
  _typists(): string[] {
    return this.#typing.typists()
  }

  /** @internal */
  async _participantByIdentity(identity: string): Promise<Participant | null> {
    return this.#participantObject(identity)
  }

  /** @internal */
  async _messageBySid(sid: string): Promise<Message | null> {
    return this.#messageObject(sid)
  }

  /** @internal */
  async _userOf(p: Participant): Promise<User> {
    if (p.type !== 'chat' || p.identity === null)
      throw new ColloquyError('INVALID_ARGUMENT', 'Getting User is not supported for this Participant type')
    return this.#host.user(p.identity)
  }

  /** @internal */
  _reactionsOf(messageId: string, timeOf = (key: string) => this._doc.reactions.get(key)): ReactionSummary[] {
    const keys = this.#reactionIndex.get(messageId)
    if (!keys) return []
    const byEmoji = new Map<string, Array<{ identity: string; at: number }>>()
    for (const key of keys) {
      const { identity, emoji } = parseReactionKey(key)
      const at = timeOf(key) ?? 0
      const list = byEmoji.get(emoji) ?? []
      list.push({ identity, at })
      byEmoji.set(emoji, list)
    }
    const me = this.#host.identity
    return [...byEmoji.entries()]
      .map(([emoji, list]) => {
        list.sort((a, b) => a.at - b.at || (a.identity < b.identity ? -1 : 1))
        return { emoji, list, first: list[0]!.at }
      })
      .sort((a, b) => a.first - b.first || (a.emoji < b.emoji ? -1 : 1))
      .map(({ emoji, list }) => ({
        emoji,
        count: list.length,
        currentUserReacted: list.some((r) => r.identity === me),
        users: list.map((r) => r.identity),
      }))
  }

  /** @internal */
  async _setReaction(message: Message, emoji: string, on: boolean): Promise<void> {
    this.#assertUsable()
    const e = checkEmoji(emoji)
    this.#require('react', 'react here')
    if (!this._doc.messages.has(message.sid)) throw notFound(`Message ${message.sid} was not found`)
    const key = reactionKey(message.sid, this.#host.identity, e)
    if (on === this._doc.reactions.has(key)) return
    if (on) {
      const emojis = new Set(this._reactionsOf(message.sid).map((r) => r.emoji))
      if (!emojis.has(e) && emojis.size >= LIMITS.distinctReactions)
        throw new ColloquyError(
          'LIMIT_EXCEEDED',
          `a message holds at most ${LIMITS.distinctReactions} distinct reactions`,
        )
    }
    await this.#write(() => {
      if (on) this._doc.reactions.set(key, this.#host.now())
      else this._doc.reactions.delete(key)
    })
  }

  /** @internal */
  async _editMessage(
    message: Message,
    change: { body?: string; content?: ContentBlock[]; attributes?: JsonObject; patch?: Record<string, unknown> },
  ): Promise<void> {
    this.#assertUsable()
    if (!this._doc.messages.has(message.sid)) throw notFound(`Message ${message.sid} was not found`)
    const me = this.#host.identity
    if (message.author !== me) throw forbidden('only the author may edit a message')
    this.#require('send', 'edit messages here (read-only access)')
    let content = message.content as ContentBlock[]
    let attributes = message.attributes
    if (change.body !== undefined) {
      if (typeof change.body !== 'string' || change.body.length === 0)
        throw invalidArgument('message body must be a non-empty string')
      content = checkContent([{ type: 'text', text: change.body }, ...content.filter((b) => b.type !== 'text')])
    }
    if (change.content !== undefined) content = checkContent(change.content)
    if (change.attributes !== undefined)
      attributes = checkAttributes(change.attributes, LIMITS.attributesBytes, 'message attributes')
    if (change.patch !== undefined)
      attributes = checkAttributes(applyPatch(attributes, change.patch, 'message attributes'), LIMITS.attributesBytes)
    const edit: EditRecord = { content, attributes, by: me, at: this.#host.now() }
    await this.#write(() => this._doc.edits.set(message.sid, edit))
  }

  /** @internal */
  async _setHidden(message: Message, hidden: boolean): Promise<void> {
    this.#assertUsable()
    if (!this._doc.messages.has(message.sid)) throw notFound(`Message ${message.sid} was not found`)
    this.#require('moderateMessages', 'hide messages here (moderators and admins only)')
    const key = hiddenKey(message.sid)
    if (hidden === this._doc.edits.has(key)) return
    await this.#write(() => {
      if (hidden) this._doc.edits.set(key, { by: this.#host.identity, at: this.#host.now() })
      else this._doc.edits.delete(key)
    })
  }

  /** @internal */
  async _removeMessage(message: Message): Promise<void> {
    this.#assertUsable()
    if (!this._doc.messages.has(message.sid)) return
    const me = this.#host.identity
    const isAuthor = message.author === me && this._doc.participants.has(me)
    if (!isAuthor && !can(this._doc, me, 'moderateMessages'))
      throw forbidden('only the author, a moderator or an admin may remove a message')
    const reactionKeys = [...(this.#reactionIndex.get(message.sid) ?? [])]
    await this.#write(() => {
      this._doc.messages.delete(message.sid)
      this._doc.edits.delete(message.sid)
      this._doc.edits.delete(hiddenKey(message.sid))
      for (const k of reactionKeys) this._doc.reactions.delete(k)
    })
  }

  /** @internal */
  async _updateParticipant(
    p: Participant,
    change: { attributes?: JsonObject; role?: Role; access?: Access },
  ): Promise<void> {
    this.#assertUsable()
    const rec = this._doc.participants.get(p.key)
    if (!rec) throw notFound(`Participant ${p.sid} was not found`)
    const next: ParticipantRecord = { ...rec, dateUpdated: this.#host.now() }
    const me = this.#host.identity
    if (change.attributes !== undefined) {
      next.attributes = checkAttributes(change.attributes, LIMITS.attributesBytes, 'participant attributes')
      if (p.identity !== me && !canManageParticipant(this._doc, me, rec.role))
        throw forbidden("you may not change this participant's attributes")
    }
    if (change.role !== undefined) {
      next.role = checkOneOf(change.role, ROLES, 'role')
      if (!can(this._doc, me, 'manageRoles')) throw forbidden('only admins may change roles')
    }
    if (change.access !== undefined) {
      next.access = checkOneOf(change.access, ACCESS, 'access')
      if (!canManageParticipant(this._doc, me, rec.role))
        throw forbidden("you may not change this participant's access")
    }
    await this.#write(() => this._doc.participants.set(p.key, next))
  }

  /** @internal Listeners for "something changed" (batched per microtask); used by live subscriptions. */
  _onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener)
    return () => this.#changeListeners.delete(listener)
  }

  /** @internal Errors thrown by listeners of this conversation's messages and participants. */
  _reportError(error: unknown): void {
    this.#host.onError(error)
  }

  /** @internal My messages the sequencer has not stamped yet. */
  _pendingRecords(): MessageRecord[] {
    const me = this.#host.identity
    return this.#log
      .pendingIds()
      .map((id) => this._doc.messages.get(id))
      .filter((m): m is MessageRecord => m !== undefined && m.author === me)
  }

  /**
   * @internal What I changed here that the relay may not have: my pending messages, my reactions,
   * my edits, my read horizon and my preferences. Taken before a refused copy is dropped.
   */
  _carryOver(): CarryOver {
    const me = this.#host.identity
    const reactions: CarryOver['reactions'] = []
    this._doc.reactions.forEach((at, key) => {
      const { messageId, identity, emoji } = parseReactionKey(key)
      if (identity === me) reactions.push({ messageId, emoji, at })
    })
    const edits: CarryOver['edits'] = []
    this._doc.edits.forEach((edit, key) => {
      if (editTarget(key) === key && edit.by === me && this._doc.messages.get(key)?.author === me)
        edits.push({ id: key, edit: edit as EditRecord })
    })
    const prefs: Record<string, unknown> = {}
    for (const field of ['notificationLevel', 'markedUnread']) {
      const v = this._doc.prefs.get(prefKey(me, field))
      if (v !== undefined) prefs[field] = v
    }
    return { messages: this._pendingRecords(), reactions, edits, horizon: this._horizon(me).index, prefs }
  }

  /**
   * @internal Re-applies a carry-over on a fresh copy, where it is still allowed; returns the ids
   * of messages that may no longer be sent. Nothing newer on the relay is overwritten: reactions
   * and preferences only fill gaps, edits only replace older ones, the horizon only moves forward.
   */
  async _restore(carry: CarryOver): Promise<string[]> {
    const me = this.#host.identity
    const doc = this._doc
    const dropped: string[] = []
    const mayWrite = !this.isDeleted
    const maySend = mayWrite && this.state.current !== 'closed' && can(doc, me, 'send')
    const mayReact = mayWrite && can(doc, me, 'react')
    const mayRead = mayWrite && can(doc, me, 'readState')
    const participantSid = doc.participants.get(me)?.sid ?? null
    await this.#write(() => {
      for (const record of carry.messages) {
        if (doc.messages.has(record.id)) continue
        if (maySend) doc.messages.set(record.id, { ...record, participantSid })
        else dropped.push(record.id)
      }
      if (mayReact) {
        for (const r of carry.reactions) {
          const key = reactionKey(r.messageId, me, r.emoji)
          if (doc.messages.has(r.messageId) && !doc.reactions.has(key)) doc.reactions.set(key, r.at)
        }
      }
      if (maySend) {
        for (const { id, edit } of carry.edits) {
          const current = doc.edits.get(id) as EditRecord | undefined
          if (doc.messages.get(id)?.author === me && (!current || current.at < edit.at)) doc.edits.set(id, edit)
        }
      }
      if (mayRead) {
        if (carry.horizon !== null) advanceHorizon(doc, me, carry.horizon, this.#host.now())
        for (const [field, value] of Object.entries(carry.prefs)) {
          if (!doc.prefs.has(prefKey(me, field))) doc.prefs.set(prefKey(me, field), value)
        }
      }
    })
    return dropped
  }

  /** @internal */
  _log(): MessageLog {
    return this.#log
  }

  /** @internal */
  _message(id: string): Message | null {
    return this.#messageObject(id)
  }

  /** @internal */
  _participant(key: string): Participant | null {
    return this.#participantObject(key)
  }

  /** @internal Unread count for snapshots: with no horizon, every message of others counts. */
  _unread(): number {
    return this.#unreadCount(true)
  }

  /** @internal */
  get _identity(): string {
    return this.#host.identity
  }

  // ---------------------------------------------------------------- live windows (TalkJS style)

  /** Live snapshot of this conversation (null once I no longer see it). */
  subscribe(
    onSnapshot: (conversation: ConversationSnapshot | null) => void,
  ): LiveSubscription<ConversationSnapshot | null> {
    checkFunction(onSnapshot, 'subscribe: the callback')
    return subscribeConversationState(this, onSnapshot)
  }

  /** Live window of the newest messages, newest first (default 30; `loadMore` up to 100 at a time). */
  subscribeMessages(
    onSnapshot: (messages: readonly MessageSnapshot[], loadedAll: boolean) => void,
    options: { limit?: number } = {},
  ): ListSubscription<MessageSnapshot> {
    checkFunction(onSnapshot, 'subscribeMessages: the callback')
    checkOptions(options, { limit: true }, 'subscribeMessages')
    return subscribeMessageWindow(this, onSnapshot, options.limit ?? 30)
  }

  /** Live window of participants, most recently joined first (default 10; `loadMore` up to 50). */
  subscribeParticipants(
    onSnapshot: (participants: readonly ParticipantSnapshot[], loadedAll: boolean) => void,
    options: { limit?: number } = {},
  ): ListSubscription<ParticipantSnapshot> {
    checkFunction(onSnapshot, 'subscribeParticipants: the callback')
    checkOptions(options, { limit: true }, 'subscribeParticipants')
    return subscribeParticipantWindow(this, onSnapshot, options.limit ?? 10)
  }

  /** Live typing indicator: up to five names, or "many". */
  subscribeTyping(onSnapshot: (typing: TypingSnapshot) => void): LiveSubscription<TypingSnapshot> {
    checkFunction(onSnapshot, 'subscribeTyping: the callback')
    return subscribeTypingState(this, onSnapshot)
  }

  /** @internal */
  get _visible(): boolean {
    return this.#visible
  }

  /** @internal */
  get _joined(): boolean {
    return this.#joined
  }

  /** @internal */
  _destroy(reason: 'shutdown' | 'removed' = 'shutdown'): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#destroyedBecause = reason
    this.#typing.destroy()
    this._awareness.destroy()
    this.#log.destroy()
    this.clear()
    // One last recompute for live subscriptions, so a conversation I no longer see turns null.
    for (const l of [...this.#changeListeners]) {
      try {
        l()
      } catch (e) {
        this.#host.onError(e)
      }
    }
    this.#changeListeners.clear()
  }

  // ---------------------------------------------------------------- private

  #assertUsable(): void {
    if (this.isDeleted) throw notFound(`Conversation ${this.sid} was deleted`)
    if (this.#destroyed) {
      if (this.#destroyedBecause === 'removed') throw forbidden('you no longer take part in this conversation')
      throw new ColloquyError('CLOSED', 'the client was shut down')
    }
  }

  #require(action: Parameters<typeof can>[2], what: string): void {
    if (!can(this._doc, this.#host.identity, action)) {
      if (
        !this._doc.participants.has(this.#host.identity) &&
        action !== 'manageConversation' &&
        action !== 'manageMembers'
      )
        throw forbidden(`you are not a participant of this conversation (needed to ${what})`)
      throw forbidden(`you may not ${what}`)
    }
  }

  /**
   * My clock for a new message, strictly after my previous message here. Pending messages list, and
   * the sequencer stamps a backlog, by (createdAt, id): two sends in one clock tick would otherwise
   * be ordered by their random ids, not in the order they were written.
   */
  #nextCreatedAt(me: string): number {
    if (this.#lastCreatedAt === null) {
      let last = Number.NEGATIVE_INFINITY
      for (const id of this.#log.pendingIds()) {
        const rec = this._doc.messages.get(id)
        if (rec && rec.author === me && rec.createdAt > last) last = rec.createdAt
      }
      this.#lastCreatedAt = last
    }
    const createdAt = Math.max(this.#host.now(), this.#lastCreatedAt + 1)
    this.#lastCreatedAt = createdAt
    return createdAt
  }

  async #write(fn: () => void): Promise<void> {
    Y.transact(this._doc.doc, fn, LOCAL_ORIGIN)
    await this.#host.persist(this._doc.doc)
  }

  #putParticipant(
    key: string,
    type: ParticipantType,
    address: string | null,
    proxyAddress: string | null,
    attributes: JsonObject,
    role: Role,
    access: Access,
  ): void {
    this._doc.participants.set(
      key,
      participantRecord(this.sid, key, {
        at: this.#host.now(),
        addedBy: this.#host.identity,
        membership: randomHex(8, this.#host.runtime.random),
        type,
        address,
        proxyAddress,
        attributes,
        role,
        access,
      }),
    )
  }

  #findParticipant(idOrSid: string): Participant | null {
    const direct = this.#participantObject(idOrSid)
    if (direct) return direct
    for (const [key, rec] of this._doc.participants.entries())
      if (rec.sid === idOrSid) return this.#participantObject(key)
    return null
  }

  #participantObject(key: string): Participant | null {
    const rec = this._doc.participants.get(key)
    if (!rec) return null
    let p = this.#participants.get(key)
    if (!p) {
      p = new Participant(this, key, rec)
      this.#participants.set(key, p)
    }
    return p
  }

  #messageObject(id: string): Message | null {
    const cached = this.#messages.get(id)?.deref()
    if (cached && !cached.isRemoved) return cached
    const rec = this._doc.messages.get(id)
    if (!rec) return null
    const m = new Message(this, rec)
    this.#messages.set(id, new WeakRef(m))
    // Entries of collected messages are dropped in a sweep once the map doubles (a finalization
    // registry would cost more per message than the sweeps do).
    if (this.#messages.size >= this.#sweepAt) {
      for (const [key, ref] of this.#messages) if (ref.deref() === undefined) this.#messages.delete(key)
      this.#sweepAt = Math.max(1024, this.#messages.size * 2)
    }
    return m
  }

  #allHorizons(): Map<string, ReadHorizon> {
    this.#horizons ??= allHorizons(this._doc)
    return this.#horizons
  }

  #unreadCount(nullAsAll: true): number
  #unreadCount(nullAsAll: false): number | null
  #unreadCount(nullAsAll: boolean): number | null {
    const me = this.#host.identity
    const h = this._horizon(me).index
    if (h === null && !nullAsAll) return null
    let n = 0
    for (const entry of this.#log.after(h)) {
      if (this._doc.messages.get(entry.id)?.author !== me) n++
    }
    return n
  }

  #computeVisible(): boolean {
    if (!this._doc.exists || this.isDeleted) return false
    const me = this.#host.identity
    return this._doc.participants.has(me) || this.createdBy === me
  }

  #computeJoined(): boolean {
    return this.#computeVisible() && this._doc.participants.has(this.#host.identity)
  }

  #indexReaction(key: string, present: boolean): string {
    const { messageId } = parseReactionKey(key)
    let set = this.#reactionIndex.get(messageId)
    if (present) {
      if (!set) {
        set = new Set()
        this.#reactionIndex.set(messageId, set)
      }
      set.add(key)
    } else if (set) {
      set.delete(key)
      if (set.size === 0) this.#reactionIndex.delete(messageId)
    }
    return messageId
  }

  #typingChanged(identity: string, started: boolean): void {
    const p = this.#participantObject(identity)
    this.#changed()
    if (!p) return
    if (started) {
      p.emit('typingStarted', p)
      this.emit('typingStarted', p)
    } else {
      p.emit('typingEnded', p)
      this.emit('typingEnded', p)
    }
  }

  #changed(): void {
    if (this.#changeQueued || this.#changeListeners.size === 0) return
    this.#changeQueued = true
    queueMicrotask(() => {
      this.#changeQueued = false
      for (const l of [...this.#changeListeners]) {
        try {
          l()
        } catch (e) {
          this.#host.onError(e)
        }
      }
    })
  }

  #updated(reasons: Set<ConversationUpdateReason>): void {
    if (reasons.size === 0) return
    this.emit('updated', { conversation: this, updateReasons: [...reasons] })
  }

  #messageUpdated(id: string, reasons: MessageUpdateReason[]): void {
    const m = this.#messages.get(id)?.deref() ?? (this.has('messageUpdated') ? this.#messageObject(id) : null)
    if (!m || m.isRemoved) return
    const payload = { message: m, updateReasons: reasons }
    m.emit('updated', payload)
    this.emit('messageUpdated', payload)
  }

  #observe(): void {
    const doc = this._doc
    const me = this.#host.identity
    doc.doc.on('afterTransaction', () => this.#changed())
    // A removal deletes a message's edit, hide and reactions with it: what the removed `Message`
    // keeps showing is read before any observer runs (reactions are re-indexed by one).
    doc.doc.on('beforeObserverCalls', (tr: Y.Transaction) => {
      for (const id of tr.changed.get(doc.messages as never) ?? []) {
        if (id === null || doc.messages.has(id)) continue
        this.#lastStates.set(id, {
          edit: valueBefore(doc.edits, id, tr) as EditRecord | undefined,
          hidden: valueBefore(doc.edits, hiddenKey(id), tr) !== undefined,
          stamp: valueBefore(doc.stamps, id, tr),
          reactions: this._reactionsOf(id, (key) => valueBefore(doc.reactions, key, tr)),
        })
      }
    })
    doc.doc.on('afterTransaction', () => this.#lastStates.clear())

    doc.meta.observe((event) => {
      const reasons = new Set<ConversationUpdateReason>()
      for (const key of event.keysChanged) {
        if (key === 'updated') reasons.add('dateUpdated')
        else if (['friendlyName', 'uniqueName', 'subject', 'photoUrl', 'welcomeMessages', 'state'].includes(key))
          reasons.add(key as ConversationUpdateReason)
        if (key !== 'sid' && key !== 'createdBy' && key !== 'dateCreated') reasons.add('dateUpdated')
      }
      this.#checkVisibility()
      if (this.#visible) this.#updated(reasons)
    })

    doc.attributes.observe(() => {
      if (this.#visible) this.#updated(new Set(['attributes']))
    })

    doc.prefs.observe((event) => {
      const reasons = new Set<ConversationUpdateReason>()
      for (const key of event.keysChanged) {
        if (key === prefKey(me, 'notificationLevel')) reasons.add('notificationLevel')
        if (key === prefKey(me, 'markedUnread')) reasons.add('isUnread')
      }
      this.#updated(reasons)
    })

    doc.reads.observe((event) => {
      const before = this.#horizons
      this.#horizons = null
      const after = this.#allHorizons()
      const identities = new Set<string>()
      for (const key of event.keysChanged) identities.add(key.slice(0, key.lastIndexOf('\n')))
      for (const identity of identities) {
        const a = before?.get(identity)
        const b = after.get(identity)
        if (a?.index === b?.index && a?.at === b?.at) continue
        if (identity === me) this.#updated(new Set(['lastReadMessageIndex', 'isUnread']))
        const p = this.#participantObject(identity)
        if (p) {
          const payload = {
            participant: p,
            updateReasons: ['lastReadMessageIndex', 'lastReadTimestamp'] as ParticipantUpdateReason[],
          }
          p.emit('updated', payload)
          this.emit('participantUpdated', payload)
        }
        this.#receiptsChanged(identity, a?.index ?? null, b?.index ?? null)
      }
    })

    doc.participants.observe((event) => {
      this.#horizons = null
      for (const [key, change] of event.changes.keys) {
        if (change.action === 'add') {
          const p = this.#participantObject(key)
          if (p) this.emit('participantJoined', p)
        } else if (change.action === 'delete') {
          const p = this.#participants.get(key) ?? new Participant(this, key, change.oldValue as ParticipantRecord)
          this.#participants.delete(key)
          this.emit('participantLeft', p)
        } else {
          const p = this.#participantObject(key)
          const old = change.oldValue as ParticipantRecord
          const cur = doc.participants.get(key)
          if (!p || !cur) continue
          const reasons: ParticipantUpdateReason[] = ['dateUpdated']
          if (old.role !== cur.role) reasons.push('role')
          if (old.access !== cur.access) reasons.push('access')
          if (JSON.stringify(old.attributes) !== JSON.stringify(cur.attributes)) reasons.push('attributes')
          const payload = { participant: p, updateReasons: reasons }
          p.emit('updated', payload)
          this.emit('participantUpdated', payload)
        }
      }
      this.#checkVisibility()
    })

    doc.messages.observe((event) => {
      for (const [id, change] of event.changes.keys) {
        if (change.action === 'add') {
          const rec = doc.messages.get(id)
          if (!rec) continue
          this.#typing.endFor(rec.author)
          this.emit('messageAdded', this.#messageObject(id)!)
        } else if (change.action === 'delete') {
          const m = this.#messages.get(id)?.deref() ?? new Message(this, change.oldValue as MessageRecord)
          m._markRemoved(
            this.#lastStates.get(id) ?? { edit: undefined, hidden: false, stamp: undefined, reactions: [] },
          )
          this.#messages.delete(id)
          this.emit('messageRemoved', m)
        }
      }
      this.#updated(new Set(['lastMessage']))
    })

    doc.stamps.observe((event) => {
      // A message that arrived with its stamp was announced by `messageAdded` already indexed.
      const arrived = event.transaction.changed.get(doc.messages as never)
      for (const id of event.keysChanged) {
        if (doc.messages.has(id) && !arrived?.has(id))
          this.#messageUpdated(id, ['index', 'dateCreated', 'deliveryReceipt'])
      }
      if (!arrived) this.#updated(new Set(['lastMessage']))
    })

    doc.edits.observe((event) => {
      for (const key of event.keysChanged) {
        const id = editTarget(key)
        if (doc.messages.has(id))
          this.#messageUpdated(id, ['body', 'content', 'attributes', 'dateUpdated', 'lastUpdatedBy'])
      }
    })

    doc.reactions.observe((event) => {
      const touched = new Set<string>()
      for (const [key, change] of event.changes.keys) touched.add(this.#indexReaction(key, change.action !== 'delete'))
      for (const id of touched) this.#messageUpdated(id, ['reactions'])
    })
  }

  /**
   * `identity`'s horizon moved from `from` to `to`: the receipts of the messages between changed.
   * Only message objects the app holds get the event (a first read of a long history would
   * otherwise emit once per message).
   */
  #receiptsChanged(identity: string, from: number | null, to: number | null): void {
    if (this.#messages.size === 0 || !this.has('messageUpdated')) return
    const lo = Math.min(from ?? -1, to ?? -1)
    const hi = Math.max(from ?? -1, to ?? -1)
    if (lo === hi) return
    for (const ref of [...this.#messages.values()]) {
      const m = ref.deref()
      if (!m) continue
      const index = m.index
      if (index === null || index <= lo || index > hi || m.author === identity || m.isRemoved) continue
      this.#messageUpdated(m.sid, ['deliveryReceipt'])
    }
  }

  #checkVisibility(): void {
    const visible = this.#computeVisible()
    const joined = this.#computeJoined()
    if (visible === this.#visible && joined === this.#joined) return
    const wasVisible = this.#visible
    const wasJoined = this.#joined
    this.#visible = visible
    this.#joined = joined
    if (wasJoined !== joined) this.#updated(new Set(['status']))
    // Before telling the client: a conversation I no longer see is destroyed there (listeners cleared).
    if (wasVisible && !visible) this.emit('removed', this)
    this.#host.visibilityChanged(this)
    void wasJoined
  }
}
