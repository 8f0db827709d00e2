import type * as Y from 'yjs'
import { isConversationSid, participantSidFor } from '../ids.ts'
import type { ContentBlock } from './content.ts'
import type { JsonObject } from './json.ts'
import { LIMITS } from './limits.ts'
import { isIdentity } from './validate.ts'

/**
 * How a conversation is laid out in its Yjs document. Every root is a Y.Map of plain JSON values,
 * keyed so that concurrent writers touch different keys wherever they can:
 *
 * - messages are append-only (`messages`, keyed by message id; one author's long burst stays linear),
 * - what changes after sending lives in keyed maps beside them (`edits`, `reactions`, `stamps`),
 * - per-person state is keyed by identity (`reads`, `prefs`), so nobody overwrites anyone else.
 */
export const ROOTS = {
  meta: 'meta',
  attributes: 'attributes',
  participants: 'participants',
  prefs: 'prefs',
  reads: 'reads',
  messages: 'messages',
  stamps: 'stamps',
  edits: 'edits',
  reactions: 'reactions',
} as const

/** A last-writer-wins register in `meta`: the value, when and by whom it was written. */
export interface MetaRecord<T> {
  v: T
  at: number
  by: string
}

/** Conversation lifecycle (Twilio's `state`). A closed conversation takes no new messages. */
export type ConversationStateName = 'active' | 'inactive' | 'closed'

/** The keys of `meta` and their value types. */
export interface MetaFields {
  sid: string
  createdBy: string
  dateCreated: number
  friendlyName: string | null
  uniqueName: string | null
  subject: string | null
  photoUrl: string | null
  welcomeMessages: string[]
  state: ConversationStateName
  /** Set once, by an admin: the conversation is deleted for everyone. */
  deleted: boolean
  /** Rewritten on every attributes change; its time counts toward `dateUpdated`. */
  updated: boolean
}

/** Participant kinds: chat users, or addresses bridged from other channels (bridging comes later). */
export type ParticipantType = 'chat' | 'sms' | 'whatsapp' | 'email'
/** What a participant may do with messages: read only, or read and write. */
export type Access = 'Read' | 'ReadWrite'
/** Roles, from most to least powerful. See docs/participants-and-roles.md for what each may do. */
export type Role = 'admin' | 'moderator' | 'member'

/** One participant, keyed in `participants` by identity (chat) or `type:address` (others). */
export interface ParticipantRecord {
  sid: string
  identity: string | null
  type: ParticipantType
  address: string | null
  proxyAddress: string | null
  attributes: JsonObject
  role: Role
  access: Access
  dateCreated: number
  dateUpdated: number
  addedBy: string
  /** Random id of this membership: a participant removed and added again gets a new one. */
  membership: string
}

/**
 * A participant record as its adder writes it. The sid derives from conversation and key (so two
 * devices adding the same person agree); `identity` is the key for chat participants. Defaults:
 * a `member` with `ReadWrite` access and no attributes.
 */
export const participantRecord = (
  conversation: string,
  key: string,
  fields: {
    at: number
    addedBy: string
    membership: string
    type?: ParticipantType
    address?: string | null
    proxyAddress?: string | null
    attributes?: JsonObject
    role?: Role
    access?: Access
  },
): ParticipantRecord => {
  const type = fields.type ?? 'chat'
  return {
    sid: participantSidFor(conversation, key),
    identity: type === 'chat' ? key : null,
    type,
    address: fields.address ?? null,
    proxyAddress: fields.proxyAddress ?? null,
    attributes: fields.attributes ?? {},
    role: fields.role ?? 'member',
    access: fields.access ?? 'ReadWrite',
    dateCreated: fields.at,
    dateUpdated: fields.at,
    addedBy: fields.addedBy,
    membership: fields.membership,
  }
}

/** A message as first written. Never modified afterwards (edits go to `edits`). */
export interface MessageRecord {
  id: string
  author: string
  participantSid: string | null
  content: ContentBlock[]
  attributes: JsonObject
  replyTo: string | null
  /** The author's clock when written; ordering of pending messages only. */
  createdAt: number
}

/**
 * The sequencer's stamp: the message's index and the server time it was accepted. A relay's stamp
 * also carries `s`, a MAC under the relay's stamp key, by which the relay recognises its own stamp
 * when a device returns it after a restore (see docs/relay.md); clients ignore it.
 */
export interface StampRecord {
  i: number
  t: number
  s?: string
  /** The message's author, under the relay's MAC (so only they can bring back a message whose stamp came back first). */
  a?: string
}

/** The latest edit of a message (the whole edited state, last writer wins). */
export interface EditRecord {
  content?: ContentBlock[]
  attributes?: JsonObject
  by: string
  at: number
}

/**
 * A moderator's hide, kept under its own key (`hiddenKey(id)` in `edits`) so that the author's
 * later edits cannot undo it. A hidden message shows no content to anyone.
 */
export interface HideRecord {
  by: string
  at: number
}

/** One read-horizon slot; see `reads.ts`. */
export interface ReadSlot {
  /** Raised by every backwards move (`updateLastReadMessageIndex`); advances keep it. */
  epoch: number
  index: number | null
  at: number
  /** The membership this slot was written under (see `ParticipantRecord.membership`). */
  m: string | null
}

/** Typed accessors for the roots of a conversation document. */
export class ConversationDocument {
  readonly doc: Y.Doc
  readonly meta: Y.Map<MetaRecord<unknown>>
  readonly attributes: Y.Map<unknown>
  readonly participants: Y.Map<ParticipantRecord>
  readonly prefs: Y.Map<unknown>
  readonly reads: Y.Map<ReadSlot>
  readonly messages: Y.Map<MessageRecord>
  readonly stamps: Y.Map<StampRecord>
  readonly edits: Y.Map<EditRecord | HideRecord>
  readonly reactions: Y.Map<number>

  constructor(doc: Y.Doc) {
    this.doc = doc
    this.meta = doc.getMap(ROOTS.meta)
    this.attributes = doc.getMap(ROOTS.attributes)
    this.participants = doc.getMap(ROOTS.participants)
    this.prefs = doc.getMap(ROOTS.prefs)
    this.reads = doc.getMap(ROOTS.reads)
    this.messages = doc.getMap(ROOTS.messages)
    this.stamps = doc.getMap(ROOTS.stamps)
    this.edits = doc.getMap(ROOTS.edits)
    this.reactions = doc.getMap(ROOTS.reactions)
  }

  /** The value of a meta field, or `fallback` when it was never written. */
  get<K extends keyof MetaFields>(key: K, fallback: MetaFields[K]): MetaFields[K] {
    const rec = this.meta.get(key) as MetaRecord<MetaFields[K]> | undefined
    return rec === undefined ? fallback : rec.v
  }

  /** The full register of a meta field (value, time, writer). */
  record<K extends keyof MetaFields>(key: K): MetaRecord<MetaFields[K]> | undefined {
    return this.meta.get(key) as MetaRecord<MetaFields[K]> | undefined
  }

  set<K extends keyof MetaFields>(key: K, value: MetaFields[K], by: string, at: number): void {
    this.meta.set(key, { v: value, at, by })
  }

  /** Whether the document holds a conversation at all (its creation record arrived). */
  get exists(): boolean {
    return this.meta.has('sid')
  }
}

/** Key of a reaction: message, person and emoji, so add/remove is idempotent and per person. */
export const reactionKey = (messageId: string, identity: string, emoji: string): string =>
  `${messageId}\n${identity}\n${emoji}`

export const parseReactionKey = (key: string): { messageId: string; identity: string; emoji: string } => {
  const [messageId = '', identity = '', ...rest] = key.split('\n')
  return { messageId, identity, emoji: rest.join('\n') }
}

/** Key, in `edits`, of a moderator's hide of message `id`. */
export const hiddenKey = (messageId: string): string => `${messageId}\nhidden`

/** The message id an `edits` key refers to (edits and hides alike). */
export const editTarget = (key: string): string => {
  const nl = key.indexOf('\n')
  return nl === -1 ? key : key.slice(0, nl)
}

/** Key of a per-person preference (`notificationLevel`, `markedUnread`). */
export const prefKey = (identity: string, field: string): string => `${identity}\n${field}`

/** Document names, so storage and the relay can tell documents apart. */
export const docNames = {
  conversation: (sid: string): string => `conv/${sid}`,
  inbox: (identity: string): string => `inbox/${identity}`,
  user: (identity: string): string => `user/${identity}`,
  local: (identity: string): string => `local/${identity}`,
} as const

/** The kinds of document the relay serves (a device's `local/` document never leaves it). */
export type SyncedDocKind = 'conv' | 'inbox' | 'user'

/**
 * The one parser of the names of documents a relay serves: `conv/<sid>` with a sid as
 * `newConversationSid` makes them, `inbox/<identity>` and `user/<identity>` with a valid identity.
 * Null for anything else, so a name is refused before anything is allocated for it.
 */
export const parseDocName = (name: string): { kind: SyncedDocKind; key: string } | null => {
  // Longer than any valid name: refused before it is sliced.
  if (name.length > 'inbox/'.length + LIMITS.identityLength) return null
  const slash = name.indexOf('/')
  if (slash < 0) return null
  const prefix = name.slice(0, slash)
  const key = name.slice(slash + 1)
  switch (prefix) {
    case 'conv':
      return isConversationSid(key) ? { kind: 'conv', key } : null
    case 'inbox':
    case 'user':
      return isIdentity(key) ? { kind: prefix, key } : null
    default:
      return null
  }
}
