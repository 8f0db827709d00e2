/**
 * The sequencer never gives an index twice: it starts above its floor (a restored relay's
 * high-water mark) and above every stamp in the document, stamps written elsewhere (taken back
 * from a device) included, and it signs its stamps when asked to.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { ConversationDocument, type MessageRecord, type StampRecord } from '../../src/schema/layout.ts'
import { Sequencer } from '../../src/schema/sequencer.ts'

const message = (id: string, createdAt: number): MessageRecord => ({
  id,
  author: 'alice',
  participantSid: null,
  content: [{ type: 'text', text: id }],
  attributes: {},
  replyTo: null,
  createdAt,
})

const indices = (conv: ConversationDocument): Record<string, number> =>
  Object.fromEntries([...conv.stamps.entries()].map(([id, s]) => [id, s.i]))

describe('sequencer', () => {
  it('starts at its floor', () => {
    const doc = new Y.Doc()
    const conv = new ConversationDocument(doc)
    const seq = new Sequencer(doc, { floor: 150, now: () => 1 })
    conv.messages.set('m1', message('m1', 1))
    expect(indices(conv)).toEqual({ m1: 150 })
    expect(seq.next).toBe(151)
    expect(seq.highest).toBe(150)
  })

  it('stamps after stamps that arrive from elsewhere, and signs what it stamps', () => {
    const doc = new Y.Doc()
    const conv = new ConversationDocument(doc)
    new Sequencer(doc, { now: () => 7, sign: (m, i, t) => ({ a: m.author, s: `${m.id}/${i}/${t}` }) })
    conv.messages.set('m0', message('m0', 1))
    // A stamp taken back (written under another clientID, for a message not here yet).
    const other = new Y.Doc()
    other.getMap<StampRecord>('stamps').set('lost', { i: 41, t: 5 })
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(other))
    conv.messages.set('m1', message('m1', 2))
    expect(indices(conv)).toEqual({ m0: 0, lost: 41, m1: 42 })
    expect(conv.stamps.get('m1')).toEqual({ i: 42, t: 7, a: 'alice', s: 'm1/42/7' })
  })
})
