import * as P from '../../src/policy/rules.ts'
import * as R from '../../src/schema/records.ts'
import { ann, creator, mia, mo, rita, SID, sam } from './actors.ts'
import { adminsOnly, big, meta, person, type RuleCase, RW } from './examples.ts'

/** Examples for the conversation's rows of the rules table: `meta`, `attributes`, `participants`. */
export const CONVERSATION_CASES: readonly RuleCase[] = [
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
]
