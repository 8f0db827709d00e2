import * as Y from 'yjs'
import type { Actor } from '../../src/policy/rules.ts'
import { type Access, ConversationDocument, participantRecord, type Role } from '../../src/schema/layout.ts'
import { actorOf } from '../../src/schema/permissions.ts'

/** The conversation the examples take place in. */
export const SID = 'CHpolicy'

const who = (identity: string, participant: readonly [Role, Access] | null, unjoinedCreator = false): Actor => ({
  identity,
  participant: participant && { role: participant[0], access: participant[1] },
  unjoinedCreator,
})

/** One actor per kind the rules tell apart, each under their own identity. */
export const ann = who('ann', ['admin', 'ReadWrite'])
export const mo = who('mo', ['moderator', 'ReadWrite'])
export const mia = who('mia', ['member', 'ReadWrite'])
/** A member with `Read` access. */
export const rita = who('rita', ['member', 'Read'])
/** Someone who takes no part. */
export const sam = who('sam', null)

/**
 * The creator as a real document records them (`actorOf` reads `createdBy` and whether they ever
 * had a participant record): before taking part, after being added with `role`, or after being
 * added and then leaving.
 */
export const creator = (history: 'never took part' | { role: Role } | 'took part and left'): Actor => {
  const conv = new ConversationDocument(new Y.Doc())
  conv.set('sid', SID, 'cora', 1)
  conv.set('createdBy', 'cora', 'cora', 1)
  if (history !== 'never took part') {
    const role = history === 'took part and left' ? 'admin' : history.role
    conv.participants.set('cora', participantRecord(SID, 'cora', { at: 2, addedBy: 'cora', membership: 'm1', role }))
    if (history === 'took part and left') conv.participants.delete('cora')
  }
  return actorOf(conv, 'cora')
}
