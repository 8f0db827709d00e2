import type { Access, ConversationDocument, ParticipantRecord, Role } from './layout.ts'

/**
 * Who may do what in a conversation. Pure functions over the document, shared by the client
 * (which refuses early with `FORBIDDEN`) and the relay (which refuses the update).
 *
 * | action | admin | moderator | member | creator, not a participant |
 * |---|---|---|---|---|
 * | send, edit own messages | ✓ (ReadWrite) | ✓ (ReadWrite) | ✓ (ReadWrite) | — |
 * | remove own messages | ✓ | ✓ | ✓ | — |
 * | react, read state, own preferences, leave | ✓ | ✓ | ✓ | — |
 * | remove or hide anyone's message | ✓ | ✓ | — | — |
 * | add/remove members, change their access | ✓ | ✓ | — | ✓ |
 * | add/remove admins and moderators, change roles | ✓ | — | — | ✓ |
 * | update name, attributes, subject, state; delete the conversation | ✓ | — | — | ✓ |
 *
 * The creator may manage a conversation they created without being in it (create, then add people),
 * and may join it; once they are a participant, their participant role decides.
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

/** The effective role: the participant's, or admin for a creator who is not a participant. */
export const effectiveRole = (doc: ConversationDocument, identity: string): Role | null => {
  const p = participantOf(doc, identity)
  if (p) return p.role
  if (doc.get('createdBy', '') === identity) return 'admin'
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
