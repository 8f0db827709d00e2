import * as Y from 'yjs'
import { Emitter } from '../events.ts'
import type { MessageSid, ParticipantSid } from '../ids.ts'
import type { ContentBlock } from '../schema/content.ts'
import { plaintextOf } from '../schema/content.ts'
import { cloneJson, type JsonObject } from '../schema/json.ts'
import { type EditRecord, hiddenKey, type MessageRecord, type StampRecord } from '../schema/layout.ts'
import type { Conversation } from './conversation.ts'
import type { Participant } from './participant.ts'

/** Where a message is on its way: written locally, sequenced by the relay, read by every other participant. */
export type DeliveryStatus = 'pending' | 'sent' | 'read'

/** Twilio's aggregated receipt: how many of the other chat participants have read the message. */
export interface AggregatedDeliveryReceipt {
  total: number
  sent: 'none' | 'some' | 'all'
  delivered: 'none' | 'some' | 'all'
  read: 'none' | 'some' | 'all'
  undelivered: 'none'
  failed: 'none'
}

/** One emoji's reactions on a message. */
export interface ReactionSummary {
  emoji: string
  count: number
  /** Whether I reacted with this emoji. */
  currentUserReacted: boolean
  /** Who reacted, oldest first. */
  users: string[]
}

/** Why a message changed. */
export type MessageUpdateReason =
  | 'body'
  | 'attributes'
  | 'content'
  | 'dateUpdated'
  | 'lastUpdatedBy'
  | 'index'
  | 'dateCreated'
  | 'deliveryReceipt'
  | 'reactions'

/** Events of one `Message` (also re-emitted by its conversation and the client). */
export interface MessageEvents {
  updated(payload: { message: Message; updateReasons: MessageUpdateReason[] }): void
  // biome-ignore lint/suspicious/noExplicitAny: index signature required by EventMap
  [key: string]: (...args: any[]) => void
}

/** @internal What a removed message shows: its state just before the transaction that removed it. */
export interface LastState {
  edit: EditRecord | undefined
  hidden: boolean
  stamp: StampRecord | undefined
  reactions: ReactionSummary[]
}

/**
 * @internal `map.get(key)`, or, when the running transaction deleted that entry, the value it held.
 * A removal deletes the message's edit, hide and reactions together with it; Yjs keeps a deleted
 * entry's content until the transaction's observers have run, so it can still be read from there.
 */
export const valueBefore = <T>(map: Y.Map<T>, key: string, tr: Y.Transaction): T | undefined => {
  if (map.has(key)) return map.get(key)
  const item = (map as unknown as { _map: Map<string, Y.Item> })._map.get(key)
  if (!item?.deleted || !Y.isDeleted(tr.deleteSet, item.id)) return undefined
  const content = item.content.getContent()
  return content[content.length - 1] as T | undefined
}

/**
 * A message, read live from its conversation: properties always show the current state (edits,
 * index once sequenced, reactions, receipts). A removed message keeps its last state and
 * `isRemoved` turns true.
 */
export class Message extends Emitter<MessageEvents> {
  readonly sid: MessageSid
  readonly conversation: Conversation
  #record: MessageRecord
  /** Set on removal: what the message showed then. */
  #last: LastState | null = null

  /** @internal */
  constructor(conversation: Conversation, record: MessageRecord) {
    super((error) => conversation._reportError(error))
    this.conversation = conversation
    this.sid = record.id as MessageSid
    this.#record = record
  }

  /** @internal */
  get _record(): MessageRecord {
    return this.#record
  }

  #edit(): EditRecord | undefined {
    if (this.#last) return this.#last.edit
    return this.conversation._doc.edits.get(this.sid) as EditRecord | undefined
  }

  #stamp(): StampRecord | undefined {
    if (this.#last) return this.#last.stamp
    return this.conversation._doc.stamps.get(this.sid)
  }

  /** Whether a moderator or admin hid the message: it then shows no content to anyone. */
  get isHidden(): boolean {
    if (this.#last) return this.#last.hidden
    return this.conversation._doc.edits.has(hiddenKey(this.sid))
  }

  /** The sequencer's index, or null while the message is pending. Never changes once set. */
  get index(): number | null {
    return this.#stamp()?.i ?? null
  }

  /** The author's identity (from the authenticated connection that wrote it). */
  get author(): string {
    return this.#record.author
  }

  /** The author's participant sid. */
  get participantSid(): ParticipantSid | null {
    return this.#record.participantSid as ParticipantSid | null
  }

  /** Content blocks (text, location, file). */
  get content(): readonly ContentBlock[] {
    if (this.isHidden) return []
    return this.#edit()?.content ?? this.#record.content
  }

  /** Text of the message (text blocks joined), or null when it has none. */
  get body(): string | null {
    return plaintextOf(this.content)
  }

  /** `text` when the message is text only, `media` when it holds a file or location. */
  get type(): 'text' | 'media' {
    return this.content.every((b) => b.type === 'text') ? 'text' : 'media'
  }

  /** Custom data. */
  get attributes(): JsonObject {
    return cloneJson(this.#edit()?.attributes ?? this.#record.attributes, 'attributes') as JsonObject
  }

  /** The sid of the message this one replies to, or null. */
  get referencedMessageSid(): MessageSid | null {
    return this.#record.replyTo as MessageSid | null
  }

  /** When the relay accepted it (server time); the author's clock while pending. */
  get dateCreated(): Date {
    const stamp = this.#stamp()
    return new Date(stamp ? stamp.t : this.#record.createdAt)
  }

  /** When it was last edited, or null. */
  get dateUpdated(): Date | null {
    const e = this.#edit()
    return e ? new Date(e.at) : null
  }

  /** Who last edited it, or null. */
  get lastUpdatedBy(): string | null {
    return this.#edit()?.by ?? null
  }

  /** Whether the message was removed (by its author or a moderator). It then keeps its last state. */
  get isRemoved(): boolean {
    return this.#last !== null
  }

  /** Delivery status: pending, sent, or read by every other current participant. */
  get status(): DeliveryStatus {
    const index = this.index
    if (index === null) return 'pending'
    const { read, total } = this.conversation._readCounts(index, this.author)
    return total > 0 && read === total ? 'read' : 'sent'
  }

  /** How many other current chat participants have read it. */
  get readCount(): number {
    const index = this.index
    if (index === null) return 0
    return this.conversation._readCounts(index, this.author).read
  }

  /** Twilio-style aggregated receipt over the other chat participants. */
  get aggregatedDeliveryReceipt(): AggregatedDeliveryReceipt {
    const index = this.index
    const { read, total } = index === null ? { read: 0, total: 0 } : this.conversation._readCounts(index, this.author)
    const level = (n: number): 'none' | 'some' | 'all' => (n === 0 ? 'none' : n >= total ? 'all' : 'some')
    const sent = index === null ? 'none' : 'all'
    return { total, sent, delivered: sent, read: level(read), undelivered: 'none', failed: 'none' }
  }

  /** Reactions grouped by emoji, in order of first use. */
  get reactions(): ReactionSummary[] {
    if (this.#last) return structuredClone(this.#last.reactions)
    return this.conversation._reactionsOf(this.sid)
  }

  /** The author as a participant, or null if they left. */
  async getParticipant(): Promise<Participant | null> {
    return this.conversation._participantByIdentity(this.author)
  }

  /** The message this one replies to, or null (also when it was removed). */
  async getReferencedMessage(): Promise<Message | null> {
    const sid = this.referencedMessageSid
    return sid ? this.conversation._messageBySid(sid) : null
  }

  /** Replaces the text (author only). Keeps non-text blocks. */
  async updateBody(body: string): Promise<Message> {
    await this.conversation._editMessage(this, { body })
    return this
  }

  /** Replaces the content blocks (author only). */
  async updateContent(content: ContentBlock[]): Promise<Message> {
    await this.conversation._editMessage(this, { content })
    return this
  }

  /** Replaces the attributes (author only). */
  async updateAttributes(attributes: JsonObject): Promise<Message> {
    await this.conversation._editMessage(this, { attributes })
    return this
  }

  /** Patches the attributes: `null` deletes a key, `undefined` keeps it (TalkJS `custom`). */
  async patchAttributes(patch: Record<string, unknown>): Promise<Message> {
    await this.conversation._editMessage(this, { patch })
    return this
  }

  /** Hides the message from everyone without removing it (moderators and admins). */
  async hide(): Promise<void> {
    await this.conversation._setHidden(this, true)
  }

  /** Shows a hidden message again (moderators and admins). */
  async unhide(): Promise<void> {
    await this.conversation._setHidden(this, false)
  }

  /** Removes the message for everyone (its author, or a moderator or admin). */
  async remove(): Promise<void> {
    await this.conversation._removeMessage(this)
  }

  /** Adds my reaction (idempotent). */
  async react(emoji: string): Promise<void> {
    await this.conversation._setReaction(this, emoji, true)
  }

  /** Removes my reaction (idempotent). */
  async unreact(emoji: string): Promise<void> {
    await this.conversation._setReaction(this, emoji, false)
  }

  /** @internal The message was removed; `last` is what it showed just before. */
  _markRemoved(last: LastState): void {
    this.#last ??= last
  }
}
