import * as P from '../../src/policy/rules.ts'
import { participantRecord } from '../../src/schema/layout.ts'
import * as R from '../../src/schema/records.ts'
import { ann, creator, mia, mo, rita, SID, sam } from './actors.ts'

/** What a rule answers: a policy decision, a yes/no, or a record check's problem (null: none). */
export type Outcome = P.Decision | boolean | string | null
export type Example = readonly [what: string, run: () => Outcome]

/**
 * The examples for one clause of a cell of the rules table in docs/security.md ("Per root"):
 * `clause` is a verbatim part of that clause. `allowed: 'nobody'` for what no client may do.
 */
export interface RuleCase {
  row: string
  column: 'writing' | 'deleting'
  clause: string
  allowed: readonly Example[] | 'nobody'
  refused: readonly Example[]
}

export const isAllowed = (o: Outcome): boolean =>
  typeof o === 'boolean' ? o : o === null ? true : typeof o === 'string' ? false : o.ok

export const text = (t: string) => [{ type: 'text', text: t }]
export const big = 'x'.repeat(17 * 1024)
export const person = (key: string, fields: Partial<Parameters<typeof participantRecord>[2]> = {}) =>
  participantRecord(SID, key, { at: 1, addedBy: 'ann', membership: 'm1', ...fields })
export const message = (id: string, author: string, fields: Record<string, unknown> = {}) => ({
  id,
  author,
  participantSid: null,
  content: text('hi'),
  attributes: {},
  replyTo: null,
  createdAt: 1,
  ...fields,
})
export const meta = (v: unknown, by = 'ann') => ({ v, at: 1, by })
export const RW = { role: 'member', access: 'ReadWrite' } as const
export const active = { state: 'active' } as const
export const fresh = { idUsed: false }

export const adminsOnly = (row: string, column: RuleCase['column'], clause = 'admins only'): RuleCase => ({
  row,
  column,
  clause,
  allowed: [
    ['an admin', () => P.mayChangeConversation(ann)],
    ['the creator who never took part', () => P.mayChangeConversation(creator('never took part'))],
  ],
  refused: [
    ['a moderator', () => P.mayChangeConversation(mo)],
    ['a member', () => P.mayChangeConversation(mia)],
    ['someone who takes no part', () => P.mayChangeConversation(sam)],
    ['the creator, demoted to member', () => P.mayChangeConversation(creator({ role: 'member' }))],
    ['the creator, after taking part and leaving', () => P.mayChangeConversation(creator('took part and left'))],
  ],
})

export const ownSlotsOnly = (row: string, clause: string): RuleCase => ({
  row,
  column: 'deleting',
  clause,
  allowed: [
    ["mia's own", () => P.mayRemovePersonalState(mia, R.personalKeyOwner('mia\nnotificationLevel')?.owner ?? null)],
  ],
  refused: [
    ["ann's, by mia", () => P.mayRemovePersonalState(mia, R.personalKeyOwner('ann\nnotificationLevel')?.owner ?? null)],
    ["mia's, by an admin", () => P.mayRemovePersonalState(ann, R.personalKeyOwner('mia\nx')?.owner ?? null)],
  ],
})

export const participantsOnly = (row: string, run: (a: P.Actor) => Outcome): RuleCase => ({
  row,
  column: 'writing',
  clause: 'a participant',
  allowed: [
    ['a member', () => run(mia)],
    ['a read-only member', () => run(rita)],
  ],
  refused: [
    ['someone who takes no part', () => run(sam)],
    ['the creator who never took part', () => run(creator('never took part'))],
  ],
})
