import { Emitter } from '../events.ts'
import type { ParticipantSid } from '../ids.ts'
import { cloneJson, type JsonObject } from '../schema/json.ts'
import type { Access, ParticipantRecord, ParticipantType, Role } from '../schema/layout.ts'
import type { Conversation } from './conversation.ts'
import type { User } from './user.ts'

/** Why a participant changed. */
export type ParticipantUpdateReason =
  | 'attributes'
  | 'dateUpdated'
  | 'role'
  | 'access'
  | 'lastReadMessageIndex'
  | 'lastReadTimestamp'

/** Events of one `Participant` (also re-emitted by its conversation and the client). */
export interface ParticipantEvents {
  updated(payload: { participant: Participant; updateReasons: ParticipantUpdateReason[] }): void
  typingStarted(participant: Participant): void
  typingEnded(participant: Participant): void
  // biome-ignore lint/suspicious/noExplicitAny: index signature required by EventMap
  [key: string]: (...args: any[]) => void
}

/** A member of a conversation: a chat user, or an SMS/WhatsApp/email address. Read live. */
export class Participant extends Emitter<ParticipantEvents> {
  readonly conversation: Conversation
  /** Key in the participants map: identity for chat, `type:address` otherwise. */
  readonly key: string
  #record: ParticipantRecord

  /** @internal */
  constructor(conversation: Conversation, key: string, record: ParticipantRecord) {
    super((error) => conversation._reportError(error))
    this.conversation = conversation
    this.key = key
    this.#record = record
  }

  #current(): ParticipantRecord {
    const r = this.conversation._doc.participants.get(this.key)
    if (r) this.#record = r
    return this.#record
  }

  get sid(): ParticipantSid {
    return this.#current().sid as ParticipantSid
  }
  /** The user's identity (chat participants), or null. */
  get identity(): string | null {
    return this.#current().identity
  }
  get type(): ParticipantType {
    return this.#current().type
  }
  /** For non-chat participants: the address (phone number, email) and the proxy address that bridges it. */
  get address(): string | null {
    return this.#current().address
  }
  get proxyAddress(): string | null {
    return this.#current().proxyAddress
  }
  get attributes(): JsonObject {
    return cloneJson(this.#current().attributes, 'attributes') as JsonObject
  }
  get role(): Role {
    return this.#current().role
  }
  /** Twilio's name for the role. */
  get roleSid(): Role {
    return this.role
  }
  get access(): Access {
    return this.#current().access
  }
  get dateCreated(): Date {
    return new Date(this.#current().dateCreated)
  }
  get dateUpdated(): Date {
    return new Date(this.#current().dateUpdated)
  }
  /** Index of the newest message this participant has read, or null. */
  get lastReadMessageIndex(): number | null {
    return this.identity === null ? null : this.conversation._horizon(this.identity).index
  }
  /** When the read horizon last moved, or null. */
  get lastReadTimestamp(): Date | null {
    if (this.identity === null) return null
    const at = this.conversation._horizon(this.identity).at
    return at === null ? null : new Date(at)
  }
  /** Whether this participant is typing now. */
  get isTyping(): boolean {
    return this.identity !== null && this.conversation._isTyping(this.identity)
  }
  /** Whether the participant is still in the conversation. */
  get isActive(): boolean {
    return this.conversation._doc.participants.has(this.key)
  }

  /** The participant's user (chat participants only). */
  async getUser(): Promise<User> {
    return this.conversation._userOf(this)
  }

  /** Removes the participant from the conversation. */
  async remove(): Promise<void> {
    await this.conversation.removeParticipant(this)
  }

  /** Replaces the participant's attributes. */
  async updateAttributes(attributes: JsonObject): Promise<Participant> {
    await this.conversation._updateParticipant(this, { attributes })
    return this
  }

  /** Changes the role (admins only). */
  async updateRole(role: Role): Promise<Participant> {
    await this.conversation._updateParticipant(this, { role })
    return this
  }

  /** Changes read/write access (moderators and admins). */
  async updateAccess(access: Access): Promise<Participant> {
    await this.conversation._updateParticipant(this, { access })
    return this
  }
}
