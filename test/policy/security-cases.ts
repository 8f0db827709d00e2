import { participantSidFor } from '../../src/ids.ts'
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

const text = (t: string) => [{ type: 'text', text: t }]
const big = 'x'.repeat(17 * 1024)
const person = (key: string, fields: Partial<Parameters<typeof participantRecord>[2]> = {}) =>
  participantRecord(SID, key, { at: 1, addedBy: 'ann', membership: 'm1', ...fields })
const message = (id: string, author: string, fields: Record<string, unknown> = {}) => ({
  id,
  author,
  participantSid: null,
  content: text('hi'),
  attributes: {},
  replyTo: null,
  createdAt: 1,
  ...fields,
})
const meta = (v: unknown, by = 'ann') => ({ v, at: 1, by })
const RW = { role: 'member', access: 'ReadWrite' } as const
const active = { state: 'active' } as const
const fresh = { idUsed: false }

const adminsOnly = (row: string, column: RuleCase['column'], clause = 'admins only'): RuleCase => ({
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

const ownSlotsOnly = (row: string, clause: string): RuleCase => ({
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

const participantsOnly = (row: string, run: (a: P.Actor) => Outcome): RuleCase => ({
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

export const SECURITY_CASES: readonly RuleCase[] = [
  // ---------------------------------------------------------------- meta
  {
    row: '`meta`',
    column: 'writing',
    clause: 'known fields only',
    allowed: [['friendlyName', () => R.isMetaField('friendlyName')]],
    refused: [['isAdmin', () => R.isMetaField('isAdmin')]],
  },
  {
    row: '`meta`',
    column: 'writing',
    clause: '`sid`, `createdBy`, `dateCreated` never change',
    allowed: [['subject', () => P.mayChangeMetaField('subject')]],
    refused: [
      ['sid', () => P.mayChangeMetaField('sid')],
      ['createdBy', () => P.mayChangeMetaField('createdBy')],
      ['dateCreated', () => P.mayChangeMetaField('dateCreated')],
    ],
  },
  adminsOnly('`meta`', 'writing', 'admins only (the creator counts as one until they first take part'),
  {
    row: '`meta`',
    column: 'writing',
    clause: '`by` is the writer',
    allowed: [['by ann, written by ann', () => R.metaRecordProblem('friendlyName', meta('Team'), 'ann')]],
    refused: [['by ann, written by mia', () => R.metaRecordProblem('friendlyName', meta('Team'), 'mia')]],
  },
  {
    row: '`meta`',
    column: 'writing',
    clause: 'values typed and within limits',
    allowed: [
      ['a name', () => R.metaRecordProblem('friendlyName', meta('Team'), 'ann')],
      ['state closed', () => R.metaRecordProblem('state', meta('closed'), 'ann')],
    ],
    refused: [
      ['a 300-character name', () => R.metaRecordProblem('friendlyName', meta('x'.repeat(300)), 'ann')],
      ['an unknown state', () => R.metaRecordProblem('state', meta('archived'), 'ann')],
      ['a javascript: photo URL', () => R.metaRecordProblem('photoUrl', meta('javascript:alert(1)'), 'ann')],
      ['an extra field', () => R.metaRecordProblem('subject', { ...meta('s'), extra: big }, 'ann')],
    ],
  },
  adminsOnly('`meta`', 'deleting'),
  {
    row: '`meta`',
    column: 'deleting',
    clause: 'never the immutable fields',
    allowed: [['subject', () => P.mayChangeMetaField('subject')]],
    refused: [['sid', () => P.mayChangeMetaField('sid')]],
  },
  // ---------------------------------------------------------------- attributes
  adminsOnly('`attributes`', 'writing'),
  {
    row: '`attributes`',
    column: 'writing',
    clause: 'each value JSON within 16 KiB, and all of them together too',
    allowed: [
      ['a small value', () => R.attributeValueProblem({ a: 1 })],
      ['two values of 8 KB', () => R.attributesProblem({ a: 'x'.repeat(8000), b: 'x'.repeat(8000) })],
    ],
    refused: [
      ['a 17 KiB value', () => R.attributeValueProblem(big)],
      ['two values of 9 KB', () => R.attributesProblem({ a: 'x'.repeat(9000), b: 'x'.repeat(9000) })],
    ],
  },
  adminsOnly('`attributes`', 'deleting'),
  // ---------------------------------------------------------------- participants
  {
    row: '`participants`',
    column: 'writing',
    clause: 'record well formed',
    allowed: [
      ['a chat participant', () => R.participantRecordProblem(SID, 'zed', person('zed'))],
      [
        'an SMS participant',
        () =>
          R.participantRecordProblem(
            SID,
            'sms:+15550100',
            person('sms:+15550100', { type: 'sms', address: '+15550100', proxyAddress: '+15550199' }),
          ),
      ],
    ],
    refused: [
      ["another conversation's sid", () => R.participantRecordProblem('CHother', 'zed', person('zed'))],
      ['an unknown role', () => R.participantRecordProblem(SID, 'zed', { ...person('zed'), role: 'owner' })],
      [
        'identity other than the key',
        () => R.participantRecordProblem(SID, 'zed', { ...person('zed'), identity: 'x' }),
      ],
      ['17 KiB of attributes', () => R.participantRecordProblem(SID, 'zed', person('zed', { attributes: { big } }))],
      ['an extra field', () => R.participantRecordProblem(SID, 'zed', { ...person('zed'), isAdmin: true })],
    ],
  },
  {
    row: '`participants`',
    column: 'writing',
    clause: 'Adding: `addedBy` is the writer',
    allowed: [
      ['added by ann, written by ann', () => P.mayAddParticipant(ann, 'zed', { role: 'member', addedBy: 'ann' })],
    ],
    refused: [
      ['added by mo, written by ann', () => P.mayAddParticipant(ann, 'zed', { role: 'member', addedBy: 'mo' })],
    ],
  },
  {
    row: '`participants`',
    column: 'writing',
    clause: 'adding oneself only for the creator who never took part',
    allowed: [
      [
        'the creator who never took part',
        () => P.mayAddParticipant(creator('never took part'), 'cora', { role: 'admin', addedBy: 'cora' }),
      ],
    ],
    refused: [
      [
        'the creator after leaving',
        () => P.mayAddParticipant(creator('took part and left'), 'cora', { role: 'member', addedBy: 'cora' }),
      ],
      ['someone who takes no part', () => P.mayAddParticipant(sam, 'sam', { role: 'member', addedBy: 'sam' })],
    ],
  },
  {
    row: '`participants`',
    column: 'writing',
    clause: 'adding others needs the right to manage that role',
    allowed: [
      ['a moderator adds a member', () => P.mayAddParticipant(mo, 'zed', { role: 'member', addedBy: 'mo' })],
      ['an admin adds a moderator', () => P.mayAddParticipant(ann, 'zed', { role: 'moderator', addedBy: 'ann' })],
      [
        'the creator adds an admin',
        () => P.mayAddParticipant(creator('never took part'), 'zed', { role: 'admin', addedBy: 'cora' }),
      ],
    ],
    refused: [
      ['a moderator adds a moderator', () => P.mayAddParticipant(mo, 'zed', { role: 'moderator', addedBy: 'mo' })],
      ['a member adds a member', () => P.mayAddParticipant(mia, 'zed', { role: 'member', addedBy: 'mia' })],
    ],
  },
  {
    row: '`participants`',
    column: 'writing',
    clause: 'Changing: the right to manage both the old and the new role, and role changes need an admin',
    allowed: [
      ['an admin promotes a member', () => P.mayChangeParticipant(ann, 'zed', RW, { ...RW, role: 'moderator' })],
      ['a moderator makes a member read-only', () => P.mayChangeParticipant(mo, 'zed', RW, { ...RW, access: 'Read' })],
    ],
    refused: [
      ['a moderator promotes a member to admin', () => P.mayChangeParticipant(mo, 'zed', RW, { ...RW, role: 'admin' })],
      [
        "a moderator changes an admin's access",
        () =>
          P.mayChangeParticipant(mo, 'ann', { role: 'admin', access: 'ReadWrite' }, { role: 'admin', access: 'Read' }),
      ],
      ['a member changes another member', () => P.mayChangeParticipant(mia, 'zed', RW, { ...RW, access: 'Read' })],
    ],
  },
  {
    row: '`participants`',
    column: 'writing',
    clause: "without that right one may change one's own record but not one's role or access",
    allowed: [['a member changes her own record', () => P.mayChangeParticipant(mia, 'mia', RW, RW)]],
    refused: [
      ['a member makes herself admin', () => P.mayChangeParticipant(mia, 'mia', RW, { ...RW, role: 'admin' })],
      [
        'a read-only member gives herself ReadWrite',
        () => P.mayChangeParticipant(rita, 'rita', { role: 'member', access: 'Read' }, RW),
      ],
    ],
  },
  {
    row: '`participants`',
    column: 'deleting',
    clause: 'leaving is always allowed',
    allowed: [
      ['a member leaves', () => P.mayRemoveParticipant(mia, 'mia', 'member')],
      ['a read-only member leaves', () => P.mayRemoveParticipant(rita, 'rita', 'member')],
      ['an admin leaves', () => P.mayRemoveParticipant(ann, 'ann', 'admin')],
    ],
    refused: [['a member removes another member', () => P.mayRemoveParticipant(mia, 'zed', 'member')]],
  },
  {
    row: '`participants`',
    column: 'deleting',
    clause: 'removing someone needs the right to manage their role',
    allowed: [
      ['a moderator removes a member', () => P.mayRemoveParticipant(mo, 'mia', 'member')],
      ['an admin removes an admin', () => P.mayRemoveParticipant(ann, 'zed', 'admin')],
    ],
    refused: [
      ['a moderator removes an admin', () => P.mayRemoveParticipant(mo, 'ann', 'admin')],
      ['a moderator removes a moderator', () => P.mayRemoveParticipant(mo, 'zed', 'moderator')],
    ],
  },
  // ---------------------------------------------------------------- messages
  {
    row: '`messages`',
    column: 'writing',
    clause: '`author` is the writer, a participant before or after this update, with `ReadWrite`',
    allowed: [
      ['a member', () => P.maySendMessage(mia, active, fresh)],
      ['her own message', () => R.messageRecordProblem(SID, 'IM1', message('IM1', 'mia'), 'mia')],
    ],
    refused: [
      ['someone who takes no part', () => P.maySendMessage(sam, active, fresh)],
      ['the creator who never took part', () => P.maySendMessage(creator('never took part'), active, fresh)],
      ['a read-only member', () => P.maySendMessage(rita, active, fresh)],
      ["ann's message, written by mia", () => R.messageRecordProblem(SID, 'IM1', message('IM1', 'ann'), 'mia')],
    ],
  },
  {
    row: '`messages`',
    column: 'writing',
    clause: "`participantSid` is null or the author's own",
    allowed: [
      ['null', () => R.messageRecordProblem(SID, 'IM1', message('IM1', 'mia'), 'mia')],
      [
        'her own',
        () =>
          R.messageRecordProblem(
            SID,
            'IM1',
            message('IM1', 'mia', { participantSid: participantSidFor(SID, 'mia') }),
            'mia',
          ),
      ],
    ],
    refused: [
      [
        "ann's",
        () =>
          R.messageRecordProblem(
            SID,
            'IM1',
            message('IM1', 'mia', { participantSid: participantSidFor(SID, 'ann') }),
            'mia',
          ),
      ],
    ],
  },
  {
    row: '`messages`',
    column: 'writing',
    clause: 'the conversation is not closed',
    allowed: [['inactive', () => P.maySendMessage(mia, { state: 'inactive' }, fresh)]],
    refused: [['closed', () => P.maySendMessage(ann, { state: 'closed' }, fresh)]],
  },
  {
    row: '`messages`',
    column: 'writing',
    clause: 'a message id is never reused, even after removal',
    allowed: [['a new id', () => P.maySendMessage(mia, active, { idUsed: false })]],
    refused: [['an id used before', () => P.maySendMessage(mia, active, { idUsed: true })]],
  },
  {
    row: '`messages`',
    column: 'writing',
    clause: 'content and attributes valid',
    allowed: [['text', () => R.messageRecordProblem(SID, 'IM1', message('IM1', 'mia'), 'mia')]],
    refused: [
      ['no blocks', () => R.messageRecordProblem(SID, 'IM1', message('IM1', 'mia', { content: [] }), 'mia')],
      [
        'a block with an extra field',
        () =>
          R.messageRecordProblem(
            SID,
            'IM1',
            message('IM1', 'mia', { content: [{ type: 'text', text: 'a', x: big }] }),
            'mia',
          ),
      ],
      [
        '17 KiB of attributes',
        () => R.messageRecordProblem(SID, 'IM1', message('IM1', 'mia', { attributes: { big } }), 'mia'),
      ],
    ],
  },
  {
    row: '`messages`',
    column: 'deleting',
    clause: "one's own message while a participant, or a moderator or admin",
    allowed: [
      ['her own', () => P.mayRemoveMessage(mia, { author: 'mia' })],
      ['her own, read-only', () => P.mayRemoveMessage(rita, { author: 'rita' })],
      ["a moderator, mia's", () => P.mayRemoveMessage(mo, { author: 'mia' })],
      ["an admin, mia's", () => P.mayRemoveMessage(ann, { author: 'mia' })],
    ],
    refused: [
      ["a member, ann's", () => P.mayRemoveMessage(mia, { author: 'ann' })],
      ['her own, no longer a participant', () => P.mayRemoveMessage(sam, { author: 'sam' })],
    ],
  },
  // ---------------------------------------------------------------- edits
  {
    row: '`edits`',
    column: 'writing',
    clause: "the author's edit, keyed by the message id: `by` is the writer, with `ReadWrite`",
    allowed: [
      ['the author', () => P.mayEditMessage(mia, { author: 'mia', stamped: true })],
      ['by the writer', () => R.editRecordProblem({ content: text('b'), by: 'mia', at: 1 }, 'mia')],
    ],
    refused: [
      ["a member, ann's message", () => P.mayEditMessage(mia, { author: 'ann', stamped: true })],
      ["an admin, mia's message", () => P.mayEditMessage(ann, { author: 'mia', stamped: true })],
      ['the author, read-only', () => P.mayEditMessage(rita, { author: 'rita', stamped: true })],
      ['by ann, written by mia', () => R.editRecordProblem({ content: text('b'), by: 'ann', at: 1 }, 'mia')],
    ],
  },
  {
    row: '`edits`',
    column: 'writing',
    clause: 'content and attributes valid.',
    allowed: [
      [
        'text and attributes',
        () => R.editRecordProblem({ content: text('b'), attributes: {}, by: 'mia', at: 1 }, 'mia'),
      ],
    ],
    refused: [
      ['no blocks', () => R.editRecordProblem({ content: [], by: 'mia', at: 1 }, 'mia')],
      ['17 KiB of attributes', () => R.editRecordProblem({ attributes: { big }, by: 'mia', at: 1 }, 'mia')],
      ['an extra field', () => R.editRecordProblem({ content: text('b'), by: 'mia', at: 1, x: 1 }, 'mia')],
    ],
  },
  {
    row: '`edits`',
    column: 'writing',
    clause: "Any participant's edit of a removed message is accepted",
    allowed: [
      ['a member', () => P.mayEditMessage(mia, { author: null, stamped: true })],
      ['a read-only member', () => P.mayEditMessage(rita, { author: null, stamped: true })],
    ],
    refused: [
      ['someone who takes no part', () => P.mayEditMessage(sam, { author: null, stamped: true })],
      ['a message that never was', () => P.mayEditMessage(mia, { author: null, stamped: false })],
    ],
  },
  {
    row: '`edits`',
    column: 'writing',
    clause: 'A hide, keyed `<id>\\nhidden`: exactly `{ by, at }`, moderators and admins only',
    allowed: [
      ['a moderator', () => P.mayHideMessage(mo, { exists: true })],
      ['an admin', () => P.mayHideMessage(ann, { exists: true })],
      ['{ by, at }', () => R.hideRecordProblem({ by: 'mo', at: 1 }, 'mo')],
    ],
    refused: [
      ['a member', () => P.mayHideMessage(mia, { exists: true })],
      ['the creator who never took part', () => P.mayHideMessage(creator('never took part'), { exists: true })],
      ['a message that is not there', () => P.mayHideMessage(mo, { exists: false })],
      ['by someone else', () => R.hideRecordProblem({ by: 'ann', at: 1 }, 'mo')],
    ],
  },
  {
    row: '`edits`',
    column: 'writing',
    clause: 'it carries no content',
    allowed: [['{ by, at }', () => R.hideRecordProblem({ by: 'mo', at: 1 }, 'mo')]],
    refused: [['with content', () => R.hideRecordProblem({ by: 'mo', at: 1, content: text('x') }, 'mo')]],
  },
  {
    row: '`edits`',
    column: 'deleting',
    clause: 'edits: the author, or a moderator or admin',
    allowed: [
      ['the author', () => P.mayRemoveEdit(mia, { author: 'mia', stamped: true }, { by: 'mia' })],
      ['a moderator', () => P.mayRemoveEdit(mo, { author: 'mia', stamped: true }, { by: 'mia' })],
    ],
    refused: [["a member, ann's", () => P.mayRemoveEdit(mia, { author: 'ann', stamped: true }, { by: 'ann' })]],
  },
  {
    row: '`edits`',
    column: 'deleting',
    clause: 'anyone their own edit of a removed message.',
    allowed: [['her own', () => P.mayRemoveEdit(mia, { author: null, stamped: true }, { by: 'mia' })]],
    refused: [["ann's", () => P.mayRemoveEdit(mia, { author: null, stamped: true }, { by: 'ann' })]],
  },
  {
    row: '`edits`',
    column: 'deleting',
    clause: 'Hides: moderators and admins (unhide), or the author together with removing the message',
    allowed: [
      ['a moderator', () => P.mayUnhideMessage(mo, { author: 'mia', removing: false })],
      ['the author, removing it', () => P.mayUnhideMessage(mia, { author: 'mia', removing: true })],
    ],
    refused: [
      ['the author, keeping it', () => P.mayUnhideMessage(mia, { author: 'mia', removing: false })],
      ['a member', () => P.mayUnhideMessage(mia, { author: 'ann', removing: true })],
    ],
  },
  // ---------------------------------------------------------------- reactions
  {
    row: '`reactions`',
    column: 'writing',
    clause: 'the key names the writer',
    allowed: [['her own', () => P.mayReact(mia, 'mia')]],
    refused: [
      ["ann's", () => P.mayReact(mia, 'ann')],
      ["ann's, arriving deleted", () => P.mayReact(mia, 'ann', true)],
    ],
  },
  {
    row: '`reactions`',
    column: 'writing',
    clause: 'emoji valid',
    allowed: [['👍', () => R.emojiProblem('👍')]],
    refused: [
      ['empty', () => R.emojiProblem('')],
      ['51 characters', () => R.emojiProblem('x'.repeat(51))],
    ],
  },
  participantsOnly('`reactions`', (a) => P.mayReact(a, a.identity)),
  {
    row: '`reactions`',
    column: 'writing',
    clause: 'the value a number',
    allowed: [['a time', () => R.reactionValueProblem(1)]],
    refused: [['a string', () => R.reactionValueProblem('x')]],
  },
  {
    row: '`reactions`',
    column: 'deleting',
    clause: "one's own, or a moderator or admin, or the message's author",
    allowed: [
      ['her own', () => P.mayRemoveReaction(mia, 'mia', 'ann')],
      ["a moderator, ann's", () => P.mayRemoveReaction(mo, 'ann', 'ann')],
      ["the message's author, ann's", () => P.mayRemoveReaction(mia, 'ann', 'mia')],
    ],
    refused: [["a member, ann's on ann's message", () => P.mayRemoveReaction(mia, 'ann', 'ann')]],
  },
  // ---------------------------------------------------------------- reads, prefs
  {
    row: '`reads`',
    column: 'writing',
    clause: "the key is one of the writer's own slots",
    allowed: [['her own', () => P.mayWriteReadState(mia, R.readSlotOwner('mia\n0'))]],
    refused: [
      ["ann's", () => P.mayWriteReadState(mia, R.readSlotOwner('ann\n0'))],
      ['not a slot key', () => P.mayWriteReadState(mia, R.readSlotOwner('mia\n0\nx'))],
    ],
  },
  participantsOnly('`reads`', (a) => P.mayWriteReadState(a, a.identity)),
  {
    row: '`reads`',
    column: 'writing',
    clause: 'slot well formed',
    allowed: [['a horizon', () => R.readSlotProblem({ epoch: 0, index: 3, at: 1, m: null })]],
    refused: [
      ['a negative epoch', () => R.readSlotProblem({ epoch: -1, index: 3, at: 1, m: null })],
      ['an extra field', () => R.readSlotProblem({ epoch: 0, index: 3, at: 1, m: null, x: big })],
    ],
  },
  ownSlotsOnly('`reads`', "one's own slots"),
  {
    row: '`prefs`',
    column: 'writing',
    clause: "one's own `notificationLevel` (`default`, `muted`, `mentions`) or `markedUnread` (`true`)",
    allowed: [
      ['her notification level', () => P.mayWritePreference(mia, 'mia', 'notificationLevel')],
      ['muted', () => R.preferenceValueProblem('notificationLevel', 'muted')],
      ['marked unread', () => R.preferenceValueProblem('markedUnread', true)],
    ],
    refused: [
      ["ann's", () => P.mayWritePreference(mia, 'ann', 'notificationLevel')],
      ['another field', () => P.mayWritePreference(mia, 'mia', 'isAdmin')],
      ['loud', () => R.preferenceValueProblem('notificationLevel', 'loud')],
      ['markedUnread false', () => R.preferenceValueProblem('markedUnread', false)],
    ],
  },
  participantsOnly('`prefs`', (a) => P.mayWritePreference(a, a.identity, 'markedUnread')),
  ownSlotsOnly('`prefs`', "one's own"),
  // ---------------------------------------------------------------- the relay's
  ...(['writing', 'deleting'] as const).map(
    (column): RuleCase => ({
      row: '`stamps`, `clients`',
      column,
      clause: 'the relay only',
      allowed: 'nobody',
      refused: ['stamps', 'clients'].map(
        (root): Example => [
          root,
          () => (column === 'writing' ? P.mayWriteRelayRoot(root) : P.mayRemoveFromRelayRoot(root)),
        ],
      ),
    }),
  ),
]
