/**
 * Two users on two clients through a real relay: every action on one side is asserted on the
 * OTHER side, by awaiting its events with deadlines.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Conversation, Message, Participant } from '../../src/index.ts'
import { Harness, messagesOf, waitFor, waitUntil } from './helpers.ts'

describe('relay: two users, two clients', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('create, add, send, receive, edit, delete, react, read receipts and typing', async () => {
    const relay = await h.relay()
    const alice = await h.client('alice', { relayUrl: relay.url, typingTimeout: 300 })
    const bob = await h.client('bob', { relayUrl: relay.url, typingTimeout: 300 })

    // create + add: bob's client discovers the conversation through his inbox
    const bobAdded = waitFor<Conversation>(bob, 'conversationAdded')
    const conv = await alice.createConversation({ friendlyName: 'team', join: true })
    const bobJoined = waitFor<Participant>(conv, 'participantJoined', (p) => p.identity === 'bob')
    await conv.add('bob')
    await bobJoined
    const bconv = await bobAdded
    expect(bconv.sid).toBe(conv.sid)
    await waitUntil(() => bconv.friendlyName === 'team', 'bob sees the friendly name')
    await waitUntil(async () => (await bconv.getParticipantsCount()) === 2, 'bob sees both participants')
    expect(bconv.createdBy).toBe('alice')

    // send: alice → bob
    const bobGets = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'hello bob')
    const m1 = await conv.sendMessage('hello bob')
    const seenByBob = await bobGets
    expect(seenByBob.sid).toBe(m1.sid)
    expect(seenByBob.author).toBe('alice')
    await waitUntil(() => seenByBob.index !== null, 'bob sees the message sequenced')
    expect(seenByBob.index).toBe(m1.index ?? 0)

    // send: bob → alice
    const aliceGets = waitFor<Message>(conv, 'messageAdded', (m) => m.body === 'hi alice')
    const m2 = await bconv.sendMessage('hi alice')
    const seenByAlice = await aliceGets
    expect(seenByAlice.author).toBe('bob')
    await waitUntil(() => seenByAlice.index !== null && m2.index !== null, 'bob’s message sequenced on both sides')
    expect(seenByAlice.index).toBe(m2.index)
    expect(m2.index!).toBeGreaterThan(seenByBob.index!)

    // edit: alice edits, bob sees the new body
    const edited = waitFor<{ message: Message }>(
      bconv,
      'messageUpdated',
      (p) => p.message.sid === m1.sid && p.message.body === 'hello bob (edited)',
    )
    await m1.updateBody('hello bob (edited)')
    const { message: bobsCopy } = await edited
    expect(bobsCopy.lastUpdatedBy).toBe('alice')
    expect(bobsCopy.dateUpdated).not.toBeNull()

    // react: bob reacts, alice sees it
    const reacted = waitFor<{ message: Message; updateReasons: string[] }>(
      conv,
      'messageUpdated',
      (p) => p.message.sid === m1.sid && p.updateReasons.includes('reactions'),
    )
    await seenByBob.react('👍')
    const { message: alicesCopy } = await reacted
    expect(alicesCopy.reactions).toEqual([{ emoji: '👍', count: 1, currentUserReacted: false, users: ['bob'] }])

    // read receipts: bob reads up to alice's message; alice sees his horizon and the status 'read'
    expect(m1.status).toBe('sent')
    const horizonMoved = waitFor<{ participant: Participant; updateReasons: string[] }>(
      conv,
      'participantUpdated',
      (p) => p.participant.identity === 'bob' && p.updateReasons.includes('lastReadMessageIndex'),
    )
    await bconv.advanceLastReadMessageIndex(m1.index!)
    const { participant: bobAsAliceSeesHim } = await horizonMoved
    expect(bobAsAliceSeesHim.lastReadMessageIndex).toBe(m1.index)
    expect(bobAsAliceSeesHim.lastReadTimestamp).toBeInstanceOf(Date)
    expect(m1.status).toBe('read')
    expect(m1.aggregatedDeliveryReceipt.read).toBe('all')
    // a lower index does not move the horizon back
    await bconv.advanceLastReadMessageIndex(0)
    expect((await conv.getParticipantByIdentity('bob')).lastReadMessageIndex).toBe(m1.index)

    // typing: alice types, bob sees typingStarted, then typingEnded after the short timeout
    const started = waitFor<Participant>(bconv, 'typingStarted')
    const ended = waitFor<Participant>(bconv, 'typingEnded', () => true, 5_000)
    await conv.typing()
    expect((await started).identity).toBe('alice')
    expect((await bconv.getParticipantByIdentity('alice')).isTyping).toBe(true)
    expect((await ended).identity).toBe('alice')
    expect((await bconv.getParticipantByIdentity('alice')).isTyping).toBe(false)

    // typing ends on the other side when the typist sends a message
    const startedAgain = waitFor<Participant>(conv, 'typingStarted', (p) => p.identity === 'bob')
    await bconv.typing()
    await startedAgain
    const endedBySend = waitFor<Participant>(conv, 'typingEnded', (p) => p.identity === 'bob')
    await bconv.sendMessage('done typing')
    await endedBySend

    // delete: alice removes her message, bob sees it gone
    const removed = waitFor<Message>(bconv, 'messageRemoved', (m) => m.sid === m1.sid)
    await m1.remove()
    expect((await removed).isRemoved).toBe(true)
    await expect(bconv.getMessageBySid(m1.sid)).rejects.toMatchObject({ code: 'NOT_FOUND' })

    // both sides converge on the same list
    await waitUntil(async () => {
      const [a, b] = await Promise.all([messagesOf(conv), messagesOf(bconv)])
      return a.length === 2 && a.every((m) => m.index !== null) && JSON.stringify(a) === JSON.stringify(b)
    }, 'both sides list the same two messages')
    expect((await messagesOf(bconv)).map((m) => m.body)).toEqual(['hi alice', 'done typing'])
  })
})
