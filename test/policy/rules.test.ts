/**
 * The rules tables of the docs, checked row by row against the policy (`src/policy/rules.ts`) and
 * the record checks (`src/schema/records.ts`), so that the docs and the code cannot drift: every
 * clause of every cell needs examples here (allowed and refused), and every example's clause must
 * still be in the docs.
 */
import { describe, expect, it } from 'vitest'
import * as P from '../../src/policy/rules.ts'
import { ann, creator, mia, mo, rita, sam } from './actors.ts'
import { CONVERSATION_CASES } from './conversation-cases.ts'
import { type Example, isAllowed, type RuleCase } from './examples.ts'
import { clausesOf, tableRows } from './markdown-table.ts'
import { MESSAGE_CASES } from './message-cases.ts'

const SECURITY_CASES: readonly RuleCase[] = [...CONVERSATION_CASES, ...MESSAGE_CASES]

const page = (name: string): URL => new URL(`../../docs/${name}`, import.meta.url)

describe('docs/security.md: write validation, per root', () => {
  const rows = tableRows(page('security.md'), '| root | writing | deleting |')
  const cells = rows.flatMap(([row = '', writing = '', deleting = '']) => [
    { row, column: 'writing' as const, text: writing },
    { row, column: 'deleting' as const, text: deleting },
  ])
  const casesOf = (row: string, column: RuleCase['column']): RuleCase[] =>
    SECURITY_CASES.filter((c) => c.row === row && c.column === column)

  it('the table is there, with a row per root', () => {
    expect(rows.map((r) => r[0])).toEqual(
      expect.arrayContaining(['`meta`', '`participants`', '`messages`', '`edits`', '`stamps`, `clients`, `seals`']),
    )
  })

  for (const cell of cells) {
    for (const clause of clausesOf(cell.text)) {
      it(`${cell.row} ${cell.column}: "${clause}" has examples`, () => {
        const matching = casesOf(cell.row, cell.column).filter((c) => clause.includes(c.clause))
        expect(matching, `no examples for this clause in test/policy/*-cases.ts`).not.toEqual([])
      })
    }
  }

  const run = (examples: readonly Example[], expected: boolean): void => {
    for (const [what, example] of examples)
      expect(isAllowed(example()), `${what}: expected ${expected ? 'allowed' : 'refused'}`).toBe(expected)
  }

  for (const c of SECURITY_CASES) {
    it(`${c.row} ${c.column}: ${c.clause}`, () => {
      const cell = cells.find((x) => x.row === c.row && x.column === c.column)
      expect(cell, `no row ${c.row} in the table`).toBeDefined()
      expect(
        clausesOf(cell!.text).some((clause) => clause.includes(c.clause)),
        'this clause is no longer in the docs',
      ).toBe(true)
      expect(c.refused.length).toBeGreaterThan(0)
      run(c.refused, false)
      if (c.allowed === 'nobody') return
      expect(c.allowed.length).toBeGreaterThan(0)
      run(c.allowed, true)
    })
  }
})

/**
 * docs/participants-and-roles.md: who may do what, by role. Each row names actions; a ✓ means the
 * role may do every one of them (with "with `ReadWrite`": only then, not when read-only), a — that
 * it may do none.
 */
describe('docs/participants-and-roles.md: who may do what', () => {
  const rows = tableRows(
    page('participants-and-roles.md'),
    '| action | admin | moderator | member | creator who never took part |',
  )
  const other = 'zed'
  /** Each row of the table: the actions it names, each as a policy question. */
  const ACTIONS: Record<string, Array<(a: P.Actor) => boolean>> = {
    'send; edit own messages': [
      (a) => P.maySend(a).ok,
      (a) => P.mayEditMessage(a, { author: a.identity, stamped: true }).ok,
    ],
    'remove own messages, react, read state, own notification level, leave': [
      (a) => P.mayRemoveMessage(a, { author: a.identity }).ok,
      (a) => P.mayReact(a, a.identity).ok,
      (a) => P.mayWriteReadState(a, a.identity).ok,
      (a) => P.mayWritePreference(a, a.identity, 'notificationLevel').ok,
      // Leaving is removing one's own participant record: for someone who takes part.
      (a) => a.participant !== null && P.mayRemoveParticipant(a, a.identity, a.participant.role).ok,
    ],
    "remove anyone's message": [(a) => P.mayRemoveMessage(a, { author: other }).ok],
    'add and remove members, change their access': [
      (a) => P.mayAddParticipant(a, other, { role: 'member', addedBy: a.identity }).ok,
      (a) => P.mayRemoveParticipant(a, other, 'member').ok,
      (a) =>
        P.mayChangeParticipant(a, other, { role: 'member', access: 'ReadWrite' }, { role: 'member', access: 'Read' })
          .ok,
    ],
    'add and remove admins and moderators, change roles': [
      (a) => P.mayAddParticipant(a, other, { role: 'moderator', addedBy: a.identity }).ok,
      (a) => P.mayAddParticipant(a, other, { role: 'admin', addedBy: a.identity }).ok,
      (a) => P.mayRemoveParticipant(a, other, 'admin').ok,
      (a) =>
        P.mayChangeParticipant(
          a,
          other,
          { role: 'member', access: 'ReadWrite' },
          { role: 'moderator', access: 'ReadWrite' },
        ).ok,
    ],
    'change name, unique name, subject, photo, welcome messages, state, attributes; delete the conversation': [
      (a) => P.mayChangeConversation(a).ok,
    ],
    '`join()` without being added': [(a) => P.mayJoin(a).ok],
  }
  const readOnly = (a: P.Actor): P.Actor => ({
    ...a,
    participant: a.participant && { ...a.participant, access: 'Read' },
  })
  const COLUMNS: Array<[string, P.Actor]> = [
    ['admin', ann],
    ['moderator', mo],
    ['member', mia],
    ['creator who never took part', creator('never took part')],
  ]

  it('the table is there', () => expect(rows.length).toBeGreaterThan(0))

  for (const [action, ...marks] of rows) {
    it(action!, () => {
      const questions = ACTIONS[action!]
      expect(questions, 'no policy questions for this row in test/policy/rules.test.ts').toBeDefined()
      expect(marks.length).toBe(COLUMNS.length)
      COLUMNS.forEach(([column, actor], i) => {
        const mark = marks[i]!
        const allowed = mark.startsWith('✓')
        expect(allowed || mark === '—', `${column}: "${mark}" is neither ✓ nor —`).toBe(true)
        for (const ask of questions!) expect(ask(actor), `${column}: ${mark}`).toBe(allowed)
        if (!allowed || actor.participant === null) return
        // "with `ReadWrite`": a read-only participant of that role may not; otherwise they still may.
        const whenReadOnly = !mark.includes('with `ReadWrite`')
        for (const ask of questions!) expect(ask(readOnly(actor)), `${column}, read-only: ${mark}`).toBe(whenReadOnly)
      })
    })
  }

  it('someone who takes no part, the creator once they took part and left, and a read-only member', () => {
    for (const actor of [sam, creator('took part and left')]) {
      for (const questions of Object.values(ACTIONS)) for (const ask of questions) expect(ask(actor)).toBe(false)
    }
    expect(P.maySend(rita).ok).toBe(false)
    expect(P.mayRemoveMessage(rita, { author: 'rita' }).ok).toBe(true)
  })
})
