/**
 * The document side of the policy: the facts `actorOf` reads from a real conversation document
 * (participant record, the creator rule, taking part remembered after leaving), and the reading rule
 * of docs/security.md ("What is enforced where", reading).
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { ColloquyError } from '../../src/errors.ts'
import { mayEditMessage } from '../../src/policy/rules.ts'
import { ConversationDocument, participantRecord } from '../../src/schema/layout.ts'
import { actorOf, allowOrThrow, canRead, effectiveRole } from '../../src/schema/permissions.ts'

const SID = 'CHperm'
const conversation = (): ConversationDocument => {
  const conv = new ConversationDocument(new Y.Doc())
  conv.set('sid', SID, 'cora', 1)
  conv.set('createdBy', 'cora', 'cora', 1)
  conv.participants.set('mia', participantRecord(SID, 'mia', { at: 1, addedBy: 'cora', membership: 'm1' }))
  return conv
}

describe('actorOf and the reading rule', () => {
  it('a participant reads; someone who takes no part does not', () => {
    const conv = conversation()
    expect(actorOf(conv, 'mia')).toEqual({
      identity: 'mia',
      participant: { role: 'member', access: 'ReadWrite' },
      unjoinedCreator: false,
    })
    expect(canRead(conv, 'mia')).toBe(true)
    expect(canRead(conv, 'sam')).toBe(false)
  })

  it('the creator reads, as admin, until first taking part; after leaving, like anyone', () => {
    const conv = conversation()
    expect(actorOf(conv, 'cora').unjoinedCreator).toBe(true)
    expect(effectiveRole(conv, 'cora')).toBe('admin')
    expect(canRead(conv, 'cora')).toBe(true)
    conv.participants.set('cora', participantRecord(SID, 'cora', { at: 2, addedBy: 'mia', membership: 'm2' }))
    expect(effectiveRole(conv, 'cora')).toBe('member')
    conv.participants.delete('cora')
    expect(actorOf(conv, 'cora')).toEqual({ identity: 'cora', participant: null, unjoinedCreator: false })
    expect(effectiveRole(conv, 'cora')).toBe(null)
    expect(canRead(conv, 'cora')).toBe(false)
  })

  it('taking part is remembered in a replica built from the stored update', () => {
    const conv = conversation()
    conv.participants.set('cora', participantRecord(SID, 'cora', { at: 2, addedBy: 'cora', membership: 'm2' }))
    conv.participants.delete('cora')
    const replica = new Y.Doc()
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(conv.doc))
    expect(actorOf(new ConversationDocument(replica), 'cora').unjoinedCreator).toBe(false)
  })

  it('nobody reads a deleted conversation; anyone may open one that does not exist yet', () => {
    const conv = conversation()
    conv.set('deleted', true, 'cora', 3)
    expect(canRead(conv, 'mia')).toBe(false)
    expect(canRead(conv, 'cora')).toBe(false)
    expect(canRead(new ConversationDocument(new Y.Doc()), 'sam')).toBe(true)
  })

  it("allowOrThrow refuses with FORBIDDEN and the policy's reason", () => {
    const conv = conversation()
    expect(() => allowOrThrow(mayEditMessage(actorOf(conv, 'mia'), { author: 'mia', stamped: true }))).not.toThrow()
    let thrown: unknown
    try {
      allowOrThrow(mayEditMessage(actorOf(conv, 'mia'), { author: 'cora', stamped: true }))
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(ColloquyError)
    expect((thrown as ColloquyError).code).toBe('FORBIDDEN')
    expect((thrown as ColloquyError).message).toContain('only the author may edit a message')
  })
})
