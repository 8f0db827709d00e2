import { hasEverHeld } from '../crdt/map-history.ts'
import type { Access, ConversationDocument, ParticipantRecord, Role } from './layout.ts'

/**
 * Who may do what in a conversation. Pure functions over the document, shared by the client
 * (which refuses early with `FORBIDDEN`) and the relay (which refuses the update).
 *
 * | action | admin | moderator | member | creator who never took part |
 * |---|---|---|---|---|
 * | send, edit own messages | ✓ (ReadWrite) | ✓ (ReadWrite) | ✓ (ReadWrite) | — |
 * | remove own messages | ✓ | ✓ | ✓ | — |
 * | react, read state, own preferences, leave | ✓ | ✓ | ✓ | — |
 * | remove or hide anyone's message | ✓ | ✓ | — | — |
 * | add/remove members, change their access | ✓ | ✓ | — | ✓ |
 * | add/remove admins and moderators, change roles | ✓ | — | — | ✓ |
 * | update name, attributes, subject, state; delete the conversation | ✓ | — | — | ✓ |
 * | join without being added | — | — | — | ✓ |
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

const RANK: Record<Role, number> = { member: 0, moderator: 1, admin: 2 }

/** The participant record of `identity`, if they take part. */
export const participantOf = (doc: ConversationDocument, identity: string): ParticipantRecord | undefined =>
  doc.participants.get(identity)

/** Whether `identity` has, or ever had, a participant record here (the same in every replica, forever). */
export const hasTakenPart = (doc: ConversationDocument, identity: string): boolean =>
  hasEverHeld(doc.participants, identity)

/** Whether `identity` created the conversation and never took part: its admin, by creation alone. */
export const isUnjoinedCreator = (doc: ConversationDocument, identity: string): boolean =>
  identity !== '' && doc.get('createdBy', '') === identity && !hasTakenPart(doc, identity)

/** The effective role: the participant's, or admin for a creator who never took part. */
export const effectiveRole = (doc: ConversationDocument, identity: string): Role | null => {
  const p = participantOf(doc, identity)
  if (p) return p.role
  if (isUnjoinedCreator(doc, identity)) return 'admin'
  return null
}

const accessOf = (doc: ConversationDocument, identity: string): Access | null =>
  participantOf(doc, identity)?.access ?? null

/** Whether `identity` may perform `action`. */
export const can = (doc: ConversationDocument, identity: string, action: Action): boolean => {
  const isParticipant = participantOf(doc, identity) !== undefined
  const role = effectiveRole(doc, identity)
  if (role === null) return false
  switch (action) {
    case 'send':
      return isParticipant && accessOf(doc, identity) === 'ReadWrite'
    case 'react':
    case 'readState':
      return isParticipant
    case 'moderateMessages':
      return isParticipant && RANK[role] >= RANK.moderator
    case 'manageMembers':
      return RANK[role] >= RANK.moderator
    case 'manageRoles':
    case 'manageConversation':
      return role === 'admin'
  }
}

/** Whether `actor` may add or remove a participant who has (or will have) `targetRole`. */
export const canManageParticipant = (doc: ConversationDocument, actor: string, targetRole: Role): boolean =>
  targetRole === 'member' ? can(doc, actor, 'manageMembers') : can(doc, actor, 'manageRoles')
