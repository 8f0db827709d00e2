import { hasEverHeld } from '../crdt/map-history.ts'
import { forbidden } from '../errors.ts'
import {
  type Actor,
  type Decision,
  isModerator,
  mayChangeConversation,
  mayManageParticipant,
  mayReact,
  mayReadConversation,
  maySend,
  mayWriteReadState,
  effectiveRole as roleOf,
} from '../policy/rules.ts'
import type { ConversationDocument, ParticipantRecord, Role } from './layout.ts'

/**
 * Who may do what, asked of a conversation document: the facts the policy needs are read here
 * ({@link actorOf}) and the rules themselves live in `src/policy/rules.ts`, which the relay's
 * validator asks too. The client refuses early with `FORBIDDEN`; the relay refuses the update.
 *
 * Ownership: creating a conversation makes you its admin until your first participant record (your
 * own join, or someone adding you). From then on that record alone decides, as for anyone: a
 * demotion holds, and once you leave or are removed you are added back like anyone else.
 * `createdBy` stays as a fact and grants nothing more.
 */
export type Action =
  | 'send'
  | 'react'
  | 'readState'
  | 'moderateMessages'
  | 'manageMembers'
  | 'manageRoles'
  | 'manageConversation'

/** The participant record of `identity`, if they take part. */
export const participantOf = (doc: ConversationDocument, identity: string): ParticipantRecord | undefined =>
  doc.participants.get(identity)

/** Whether `identity` has, or ever had, a participant record here (the same in every replica, forever). */
export const hasTakenPart = (doc: ConversationDocument, identity: string): boolean =>
  hasEverHeld(doc.participants, identity)

/** Whether `identity` created the conversation and never took part: its admin, by creation alone. */
export const isUnjoinedCreator = (doc: ConversationDocument, identity: string): boolean =>
  identity !== '' && doc.get('createdBy', '') === identity && !hasTakenPart(doc, identity)

/** `identity` as the policy sees them in `doc`: their participant record and the creator rule. */
export const actorOf = (doc: ConversationDocument, identity: string): Actor => {
  const p = participantOf(doc, identity)
  return {
    identity,
    participant: p ? { role: p.role, access: p.access } : null,
    unjoinedCreator: isUnjoinedCreator(doc, identity),
  }
}

/** The effective role: the participant's, or admin for a creator who never took part. */
export const effectiveRole = (doc: ConversationDocument, identity: string): Role | null =>
  roleOf(actorOf(doc, identity))

/** Whether `identity` may perform `action`. */
export const can = (doc: ConversationDocument, identity: string, action: Action): boolean => {
  const actor = actorOf(doc, identity)
  switch (action) {
    case 'send':
      return maySend(actor).ok
    case 'react':
      return mayReact(actor, identity).ok
    case 'readState':
      return mayWriteReadState(actor, identity).ok
    case 'moderateMessages':
      return isModerator(actor)
    case 'manageMembers':
      return mayManageParticipant(actor, 'member')
    case 'manageRoles':
      return mayManageParticipant(actor, 'admin')
    case 'manageConversation':
      return mayChangeConversation(actor).ok
  }
}

/** Whether `actor` may add or remove a participant who has (or will have) `targetRole`. */
export const canManageParticipant = (doc: ConversationDocument, actor: string, targetRole: Role): boolean =>
  mayManageParticipant(actorOf(doc, actor), targetRole)

/** Whether `identity` may read the conversation (sync it, see it listed). */
export const canRead = (doc: ConversationDocument, identity: string): boolean =>
  mayReadConversation(actorOf(doc, identity), { exists: doc.exists, deleted: doc.get('deleted', false) })

/**
 * A client command's early refusal: throws `FORBIDDEN` with the policy's reason, as the relay would
 * refuse the update. E.g. `allowOrThrow(mayEditMessage(actorOf(doc, me), { author, stamped: true }))`.
 */
export const allowOrThrow = (decision: Decision): void => {
  if (!decision.ok) throw forbidden(decision.reason)
}
