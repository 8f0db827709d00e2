import type { Access, ConversationStateName, Role } from '../schema/layout.ts'

/**
 * Who may do what in a conversation: the one encoding of the rules, used by the client's commands
 * (to refuse early with `FORBIDDEN`) and by the relay's validator (the verdict). Pure functions over
 * plain facts — roles, access, authors, membership — so that both sides, and the table test against
 * `docs/security.md` (`test/policy/rules.test.ts`), ask exactly the same question. Record shapes
 * (fields, types, sizes, "`by` is the writer") are the schema's: `src/schema/records.ts`.
 *
 * The tables these rules implement, each checked clause by clause: docs/security.md ("Write
 * validation, rule by rule") and docs/participants-and-roles.md ("Who may do what").
 *
 * Ownership: creating a conversation makes you its admin until your first participant record (your
 * own join, or someone adding you). From then on that record alone decides, as for anyone: a
 * demotion holds, and once you leave or are removed you are added back like anyone else.
 */

/** Who acts, as the conversation knows them before the action. */
export interface Actor {
  readonly identity: string
  /** Their participant record's role and access, or null when they take no part. */
  readonly participant: { readonly role: Role; readonly access: Access } | null
  /** Whether they created the conversation and never took part: its admin by creation alone. */
  readonly unjoinedCreator: boolean
}

/** A rule's answer: allowed, or refused with a reason (sent to the writer, never a secret). */
export type Decision = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const ALLOWED: Decision = { ok: true }
const refused = (reason: string): Decision => ({ ok: false, reason })
const RANK: Record<Role, number> = { member: 0, moderator: 1, admin: 2 }

/** The effective role: the participant's, or admin for a creator who never took part. */
export const effectiveRole = (actor: Actor): Role | null =>
  actor.participant?.role ?? (actor.unjoinedCreator ? 'admin' : null)

/** Whether `actor` takes part as a moderator or an admin (the creator's rights do not moderate). */
export const isModerator = (actor: Actor): boolean =>
  actor.participant !== null && RANK[actor.participant.role] >= RANK.moderator

const isAdmin = (actor: Actor): boolean => effectiveRole(actor) === 'admin'

/** Whether `actor` may add, remove or change the access of a participant with `targetRole`. */
export const mayManageParticipant = (actor: Actor, targetRole: Role): boolean => {
  const role = effectiveRole(actor)
  if (role === null) return false
  return targetRole === 'member' ? RANK[role] >= RANK.moderator : role === 'admin'
}

// ------------------------------------------------------------------ the conversation

/**
 * Reading a conversation: its participants, and its creator until they first take part (so that
 * an app can create a conversation and stay out of it); nobody once it is deleted; anyone before
 * it exists, so that it can be created.
 */
export const mayReadConversation = (actor: Actor, conversation: { exists: boolean; deleted: boolean }): boolean => {
  if (!conversation.exists) return true
  if (conversation.deleted) return false
  return actor.participant !== null || actor.unjoinedCreator
}

/** The fields set once, at creation. */
export const IMMUTABLE_META: ReadonlySet<string> = new Set(['sid', 'createdBy', 'dateCreated'])

/** Creating: the creation record names this document and the writer as its creator. */
export const mayCreateConversation = (
  writer: string,
  record: { sid: unknown; createdBy: unknown },
  documentSid: string,
): Decision => {
  if (record.sid !== documentSid) return refused('conversation sid does not match the document')
  if (record.createdBy !== writer) return refused('the creator must be the writer')
  return ALLOWED
}

/** Changing name, subject, state, attributes…, or deleting the conversation: admins only. */
export const mayChangeConversation = (actor: Actor): Decision =>
  isAdmin(actor) ? ALLOWED : refused('only admins may change the conversation')

/** Whether a meta field may be written or removed once the conversation exists. */
export const mayChangeMetaField = (field: string): Decision =>
  IMMUTABLE_META.has(field) ? refused(`${field} cannot change`) : ALLOWED

// ------------------------------------------------------------------ participants

/** Joining without being added: only the creator, before first taking part. */
export const mayJoin = (actor: Actor): Decision =>
  actor.unjoinedCreator ? ALLOWED : refused('only the creator, before first taking part, may join without being added')

/** Adding the participant keyed `key` with `record` (the actor's own key: joining). */
export const mayAddParticipant = (actor: Actor, key: string, record: { role: Role; addedBy: string }): Decision => {
  if (record.addedBy !== actor.identity) return refused('addedBy must be the writer')
  if (key === actor.identity) return mayJoin(actor)
  return mayManageParticipant(actor, record.role) ? ALLOWED : refused('not allowed to add this participant')
}

/**
 * Changing the participant keyed `key` from `before` to `after`. Everyone may change their own
 * record (its attributes), but not their own role or access without the right to manage them.
 */
export const mayChangeParticipant = (
  actor: Actor,
  key: string,
  before: { role: Role; access: Access },
  after: { role: Role; access: Access },
): Decision => {
  if (key === actor.identity && !mayManageParticipant(actor, before.role)) {
    if (after.role !== before.role || after.access !== before.access)
      return refused('participants may not change their own role or access')
    return ALLOWED
  }
  if (!mayManageParticipant(actor, before.role) || !mayManageParticipant(actor, after.role))
    return refused('not allowed to change this participant')
  if (after.role !== before.role && !isAdmin(actor)) return refused('only admins may change roles')
  return ALLOWED
}

/** Removing the participant keyed `key`, who has `role`: leaving is always allowed. */
export const mayRemoveParticipant = (actor: Actor, key: string, role: Role): Decision => {
  if (key === actor.identity) return ALLOWED
  return mayManageParticipant(actor, role) ? ALLOWED : refused('not allowed to remove this participant')
}

// ------------------------------------------------------------------ messages

/** Sending at all: a participant with `ReadWrite` access. */
export const maySend = (actor: Actor): Decision => {
  if (actor.participant === null) return refused('only participants may send')
  if (actor.participant.access !== 'ReadWrite') return refused('read-only participants may not send')
  return ALLOWED
}

/**
 * Sending a message (its record names its author: the schema checks that the author is the
 * writer). `idUsed`: the id was ever used here, even by a message since removed.
 */
export const maySendMessage = (
  actor: Actor,
  conversation: { state: ConversationStateName },
  message: { idUsed: boolean },
): Decision => {
  const sending = maySend(actor)
  if (!sending.ok) return sending
  if (conversation.state === 'closed') return refused('the conversation is closed')
  return message.idUsed ? refused('message ids cannot be reused') : ALLOWED
}

/**
 * Editing a message: only its author, with `ReadWrite` access. `author` is null when the message
 * is not there; `stamped` when it was (removed since: its stamp stays). An edit racing the
 * message's removal is a harmless orphan that any participant may write; an edit of a message
 * that never was is refused.
 */
export const mayEditMessage = (actor: Actor, message: { author: string | null; stamped: boolean }): Decision => {
  if (message.author === null) {
    if (!message.stamped) return refused('edit of an unknown message')
    return actor.participant === null ? refused('only participants may edit') : ALLOWED
  }
  if (message.author !== actor.identity) return refused('only the author may edit a message')
  if (actor.participant?.access !== 'ReadWrite') return refused('read-only participants may not edit')
  return ALLOWED
}

/** Removing a message: its author while a participant, or a moderator or admin. */
export const mayRemoveMessage = (actor: Actor, message: { author: string | null }): Decision => {
  if (message.author === actor.identity && actor.participant !== null) return ALLOWED
  return isModerator(actor) ? ALLOWED : refused('only the author or a moderator may remove a message')
}

/** Hiding a message (it shows no content to anyone): moderators and admins. */
export const mayHideMessage = (actor: Actor, message: { exists: boolean }): Decision => {
  if (!isModerator(actor)) return refused('only moderators and admins may hide messages')
  return message.exists ? ALLOWED : refused('hide of an unknown message')
}

/**
 * Unhiding: moderators and admins; the author may clear a hide only together with removing the
 * message (`removing`).
 */
export const mayUnhideMessage = (actor: Actor, message: { author: string | null; removing: boolean }): Decision =>
  isModerator(actor) || (message.author === actor.identity && message.removing)
    ? ALLOWED
    : refused('only moderators and admins may unhide messages')

/**
 * Removing an edit: the message's author, or a moderator or admin; anyone their own edit of a
 * removed message (`author` null, `stamped`), which harms no one.
 */
export const mayRemoveEdit = (
  actor: Actor,
  message: { author: string | null; stamped: boolean },
  edit: { by: unknown },
): Decision => {
  if (message.author === actor.identity || isModerator(actor)) return ALLOWED
  if (message.author === null && message.stamped && edit.by === actor.identity) return ALLOWED
  return refused('only the author or a moderator may remove an edit')
}

// ------------------------------------------------------------------ per-person state

/*
 * Per-person keys name their owner. An entry that arrives already deleted leaves no value (it is
 * judged as a deletion too): only whose key it is matters then, not whether they take part.
 */

/** Reacting, as the person the reaction key names (`reactor`): one's own, as a participant. */
export const mayReact = (actor: Actor, reactor: string, arrivesDeleted = false): Decision => {
  if (reactor !== actor.identity) return refused('reactions are per person: not yours')
  return actor.participant === null && !arrivesDeleted ? refused('only participants may react') : ALLOWED
}

/**
 * Removing the reaction of `reactor` to a message by `messageAuthor`: one's own, or a moderator's
 * or admin's, or the message's author's (removing a message takes its reactions with it).
 */
export const mayRemoveReaction = (actor: Actor, reactor: string, messageAuthor: string | null): Decision =>
  reactor === actor.identity || isModerator(actor) || messageAuthor === actor.identity
    ? ALLOWED
    : refused('reactions are per person: not yours')

/** Writing read state in the slot of `owner` (null: not a well-formed slot key). */
export const mayWriteReadState = (actor: Actor, owner: string | null, arrivesDeleted = false): Decision => {
  if (owner !== actor.identity) return refused('read state is per person: not yours')
  return actor.participant === null && !arrivesDeleted ? refused('only participants have read state') : ALLOWED
}

/** The preferences a person sets for themselves. */
export const PREFERENCE_FIELDS: readonly string[] = ['notificationLevel', 'markedUnread']

/** Writing the preference `field` of `owner`. */
export const mayWritePreference = (
  actor: Actor,
  owner: string | null,
  field: string,
  arrivesDeleted = false,
): Decision => {
  if (owner !== actor.identity || !PREFERENCE_FIELDS.includes(field))
    return refused('preferences are per person: not yours')
  return actor.participant === null && !arrivesDeleted ? refused('only participants have preferences') : ALLOWED
}

/** Removing read state or a preference of `owner`: one's own only. */
export const mayRemovePersonalState = (actor: Actor, owner: string | null): Decision =>
  owner === actor.identity ? ALLOWED : refused('read state and preferences are per person: not yours')

// ------------------------------------------------------------------ the relay's own roots

/** Roots only the relay writes: stamps (indices, server time) and clientID bindings. */
export const mayWriteRelayRoot = (root: string): Decision =>
  refused(root === 'stamps' ? 'only the relay stamps messages' : `${root} is written by the relay only`)

/** Removing from a root only the relay writes. */
export const mayRemoveFromRelayRoot = (root: string): Decision => refused(`${root} is written by the relay only`)
