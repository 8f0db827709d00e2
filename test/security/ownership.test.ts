/**
 * Ownership (issue 13, item 22): the creator is an admin by creation only until they first take
 * part; from then on their participant record alone decides. A creator demoted by another admin
 * who leaves and comes back must not be admin again — nor be able to come back unasked.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Client, Conversation, Message } from '../../src/index.ts'
import { ConversationDocument, type ParticipantRecord, participantRecord } from '../../src/schema/layout.ts'
import { effectiveRole, isUnjoinedCreator } from '../../src/schema/permissions.ts'
import { Scope, storedDoc, waitFor, waitUntil } from './helpers.ts'
import type { RawClient } from './raw-client.ts'

const map = (doc: Y.Doc, root: string) => doc.getMap<unknown>(root)

describe('a demoted creator stays demoted', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  /** Alice creates and joins, makes bob an admin; bob demotes her to member. */
  const demoted = async () => {
    const { relay, storage } = await s.relay()
    const alice = await s.client('alice', relay.url)
    const bob = await s.client('bob', relay.url)
    const bobAdded = waitFor<Conversation>(bob, 'conversationAdded')
    const conv = await alice.createConversation({ friendlyName: 'founded by alice', join: true })
    await conv.add('bob', {}, { role: 'admin' })
    const bconv = await bobAdded
    await waitUntil(() => bconv.role === 'admin', 'bob is admin')
    await (await bconv.getParticipantByIdentity('alice')).updateRole('member')
    await waitUntil(() => conv.role === 'member', 'alice sees her demotion')
    return { relay, storage, alice, bob, conv, bconv, docName: `conv/${conv.sid}` }
  }

  const bobStaysAdmin = async (w: { relay: { core: { flush(): Promise<void> } }; bconv: Conversation }) => {
    await w.relay.core.flush()
    expect(w.bconv.role).toBe('admin')
    const body = `bob still runs ${w.bconv.friendlyName}`
    const sent = await w.bconv.sendMessage(body)
    await waitUntil(() => sent.index !== null, 'bob’s message is sequenced')
  }

  it('while still a participant, the client refuses her admin actions early', async () => {
    const w = await demoted()
    expect(w.conv.role).toBe('member')
    for (const attempt of [
      () => w.conv.removeParticipant('bob'),
      () => w.conv.updateFriendlyName('mine again'),
      async () => (await w.conv.getParticipantByIdentity('bob')).updateRole('member'),
      () => w.conv.delete(),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'FORBIDDEN' })
    }
    await bobStaysAdmin(w)
  })

  it('after leaving she loses the conversation, and cannot join again', async () => {
    const w = await demoted()
    const removed = waitFor<Conversation>(w.alice, 'conversationRemoved')
    await w.conv.leave()
    expect((await removed).sid).toBe(w.conv.sid)
    await expect(w.alice.getConversationBySid(w.conv.sid)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(w.conv.join()).rejects.toMatchObject({ code: 'FORBIDDEN' })
    await waitUntil(async () => !(await w.bconv.getParticipants()).some((p) => p.identity === 'alice'), 'alice left')
    await bobStaysAdmin(w)
  })

  it('after leaving, the relay neither serves her nor takes her self-join as admin', async () => {
    const w = await demoted()
    // Her raw connection, synced while she still took part: it holds the whole document.
    const m: RawClient = await s.raw(w.relay.url, 'alice')
    await m.sync(w.docName)
    const kicked = m.next((f) => f.docName === w.docName && f.denied !== null, 5_000)
    await w.conv.leave()
    await kicked
    await waitUntil(() => !w.bconv._doc.participants.has('alice'), 'bob sees alice gone')

    // Rejoin as admin, then remove bob: what the implicit creator rule used to allow.
    const rejoin = m.forge(w.docName, (d) => {
      map(d, 'participants').set(
        'alice',
        participantRecord(w.conv.sid, 'alice', { at: Date.now(), addedBy: 'alice', membership: 'cafe0001' }),
      )
    })
    const denied = m.denied(w.docName)
    m.sendUpdate(w.docName, rejoin)
    expect(await denied).toBe('not a participant')
    await expect(m.sync(w.docName)).rejects.toThrow('not a participant')
    await w.relay.core.flush()
    expect(w.bconv._doc.participants.has('alice')).toBe(false)
    const stored = await storedDoc(w.storage, w.docName)
    try {
      expect(map(stored, 'participants').has('alice')).toBe(false)
      expect((map(stored, 'participants').get('bob') as ParticipantRecord).role).toBe('admin')
    } finally {
      stored.destroy()
    }
    // Her inbox no longer lists it.
    await waitUntil(async () => {
      const inbox = (await w.relay.core._load('inbox/alice')!).doc
      return !JSON.stringify(inbox.getMap('conversations').toJSON()).includes(w.conv.sid)
    }, 'alice’s inbox drops the conversation')
    await bobStaysAdmin(w)
  })

  it('removed by an admin instead, she cannot come back either; bob adding her back works as for anyone', async () => {
    const w = await demoted()
    const removed = waitFor<Conversation>(w.alice, 'conversationRemoved')
    await w.bconv.removeParticipant('alice')
    await removed
    await expect(w.conv.join()).rejects.toMatchObject({ code: 'FORBIDDEN' })
    const back = waitFor<Conversation>(w.alice, 'conversationAdded')
    await w.bconv.add('alice')
    const again = await back
    expect(again.role).toBe('member')
    await expect(again.updateFriendlyName('mine')).rejects.toMatchObject({ code: 'FORBIDDEN' })
    const got = waitFor<Message>(w.bconv, 'messageAdded', (x) => x.body === 'back as a member')
    await again.sendMessage('back as a member')
    await got
    await bobStaysAdmin(w)
  })

  it('the rule holds on the stored document, after a compaction too', async () => {
    const w = await demoted()
    await w.conv.leave()
    await waitUntil(() => !w.bconv._doc.participants.has('alice'), 'bob sees alice gone')
    await w.relay.core.flush()
    const stored = await storedDoc(w.storage, w.docName)
    const compacted = new Y.Doc()
    Y.applyUpdate(compacted, Y.encodeStateAsUpdate(stored))
    try {
      for (const doc of [stored, compacted]) {
        const conv = new ConversationDocument(doc)
        expect(conv.get('createdBy', '')).toBe('alice')
        expect(isUnjoinedCreator(conv, 'alice')).toBe(false)
        expect(effectiveRole(conv, 'alice')).toBeNull()
        expect(effectiveRole(conv, 'bob')).toBe('admin')
      }
    } finally {
      stored.destroy()
      compacted.destroy()
    }
  })
})

describe('a creator who never took part keeps managing', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('creates without joining, adds people, joins later as admin', async () => {
    const { relay } = await s.relay()
    const alice: Client = await s.client('alice', relay.url)
    const bob = await s.client('bob', relay.url)
    const conv = await alice.createConversation({ friendlyName: 'hosted' })
    expect(conv.role).toBe('admin')
    const bobAdded = waitFor<Conversation>(bob, 'conversationAdded')
    await conv.add('bob', {}, { role: 'moderator' })
    await conv.updateSubject('set up by alice')
    const bconv = await bobAdded
    await conv.join()
    expect(conv.role).toBe('admin')
    await waitUntil(
      async () => (await bconv.getParticipantByIdentity('alice')).role === 'admin',
      'bob sees alice admin',
    )
  })
})
