import { participantSidFor } from '../../src/ids.ts'
import * as P from '../../src/policy/rules.ts'
import * as R from '../../src/schema/records.ts'
import { ann, creator, mia, mo, rita, SID, sam } from './actors.ts'
import {
  active,
  big,
  type Example,
  fresh,
  message,
  ownSlotsOnly,
  participantsOnly,
  type RuleCase,
  text,
} from './examples.ts'

/** Examples for the rows of messages, their facets, per-person state and the relay's roots. */
export const MESSAGE_CASES: readonly RuleCase[] = [
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
      row: '`stamps`, `clients`, `seals`',
      column,
      clause: 'the relay only',
      allowed: 'nobody',
      refused: ['stamps', 'clients', 'seals'].map(
        (root): Example => [
          root,
          () => (column === 'writing' ? P.mayWriteRelayRoot(root) : P.mayRemoveFromRelayRoot(root)),
        ],
      ),
    }),
  ),
]
