import { describe, expect, it } from 'vitest'
import type { ConversationUpdateReason, Participant, ParticipantUpdateReason } from '../../src/index.js'
import { expectCode, manualClock, record, useHarness, waitFor } from './helpers.js'

const h = useHarness()

/** alice and bob share a conversation in which alice wrote `count` messages (indices 0..count-1). */
const withMessages = async (count: number, others: string[] = ['bob']) => {
  const shared = await h.shared(others)
  for (let i = 0; i < count; i++) await shared.convs.alice!.sendMessage(`m${i}`)
  await shared.net.settle()
  return shared
}

describe('read horizon', () => {
  it('starts with no horizon: unread count null, everything of others unread', async () => {
    const { convs } = await withMessages(3)
    const bob = convs.bob!
    expect(bob.lastReadMessageIndex).toBeNull()
    expect(await bob.getUnreadMessagesCount()).toBeNull()
    expect(bob.isUnread).toBe(true)
  })

  it('updateLastReadMessageIndex sets it anywhere, backwards and to null', async () => {
    const { convs } = await withMessages(5)
    const bob = convs.bob!
    expect(await bob.updateLastReadMessageIndex(2)).toBe(2)
    expect(bob.lastReadMessageIndex).toBe(2)
    expect(await bob.getUnreadMessagesCount()).toBe(2)
    expect(await bob.updateLastReadMessageIndex(0)).toBe(4)
    expect(bob.lastReadMessageIndex).toBe(0)
    expect(await bob.updateLastReadMessageIndex(4)).toBe(0)
    expect(bob.isUnread).toBe(false)
    expect(await bob.updateLastReadMessageIndex(null)).toBeNull()
    expect(bob.lastReadMessageIndex).toBeNull()
    expect(await bob.getUnreadMessagesCount()).toBeNull()
  })

  it('advanceLastReadMessageIndex only moves forward', async () => {
    const { convs } = await withMessages(5)
    const bob = convs.bob!
    expect(await bob.advanceLastReadMessageIndex(3)).toBe(1)
    expect(await bob.advanceLastReadMessageIndex(1)).toBe(1)
    expect(bob.lastReadMessageIndex).toBe(3)
    expect(await bob.advanceLastReadMessageIndex(3)).toBe(1)
    expect(await bob.advanceLastReadMessageIndex(4)).toBe(0)
    expect(bob.lastReadMessageIndex).toBe(4)
  })

  it('setAllMessagesRead and setAllMessagesUnread', async () => {
    const { convs } = await withMessages(4)
    const bob = convs.bob!
    expect(await bob.setAllMessagesRead()).toBe(0)
    expect(bob.lastReadMessageIndex).toBe(3)
    expect(await bob.getUnreadMessagesCount()).toBe(0)
    expect(await bob.setAllMessagesUnread()).toBe(4)
    expect(bob.lastReadMessageIndex).toBeNull()
    expect(await bob.getUnreadMessagesCount()).toBeNull()
    expect(bob.isUnread).toBe(true)
  })

  it('setAllMessagesRead on an empty conversation resolves to 0', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    expect(await conv.setAllMessagesRead()).toBe(0)
    expect(conv.lastReadMessageIndex).toBeNull()
  })

  it('never counts my own messages as unread', async () => {
    const { net, convs } = await withMessages(2)
    const bob = convs.bob!
    await bob.setAllMessagesRead()
    await bob.sendMessage('mine 1')
    await bob.sendMessage('mine 2')
    await net.settle()
    expect(await bob.getUnreadMessagesCount()).toBe(0)
    expect(bob.isUnread).toBe(false)
    await bob.updateLastReadMessageIndex(0)
    // Only alice's m1 is unread; bob's two messages after it are not.
    expect(await bob.getUnreadMessagesCount()).toBe(1)
    await convs.alice!.updateLastReadMessageIndex(1)
    expect(await convs.alice!.getUnreadMessagesCount()).toBe(2)
  })

  it('pending messages of others are not counted until sequenced', async () => {
    const { net, convs } = await withMessages(1)
    const bob = convs.bob!
    await bob.setAllMessagesRead()
    const m = await convs.alice!.sendMessage('late')
    expect(m.index).toBeNull()
    expect(await bob.getUnreadMessagesCount()).toBe(0)
    await net.settle()
    expect(await bob.getUnreadMessagesCount()).toBe(1)
  })

  it('rejects bad indices with INVALID_ARGUMENT', async () => {
    const { convs } = await withMessages(1)
    const bob = convs.bob!
    await expectCode(bob.updateLastReadMessageIndex(-1), 'INVALID_ARGUMENT')
    await expectCode(bob.updateLastReadMessageIndex(1.5), 'INVALID_ARGUMENT')
    await expectCode(bob.updateLastReadMessageIndex('1' as never), 'INVALID_ARGUMENT')
    await expectCode(bob.advanceLastReadMessageIndex(null as never), 'INVALID_ARGUMENT')
    await expectCode(bob.advanceLastReadMessageIndex(-3), 'INVALID_ARGUMENT')
    expect(bob.lastReadMessageIndex).toBeNull()
  })

  it('refuses non-participants with FORBIDDEN', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation()
    await expectCode(conv.getUnreadMessagesCount(), 'FORBIDDEN')
    await expectCode(conv.updateLastReadMessageIndex(0), 'FORBIDDEN')
    await expectCode(conv.advanceLastReadMessageIndex(0), 'FORBIDDEN')
    await expectCode(conv.setAllMessagesRead(), 'FORBIDDEN')
    await expectCode(conv.setAllMessagesUnread(), 'FORBIDDEN')
    await expectCode(conv.markAsRead(), 'FORBIDDEN')
    await expectCode(conv.markAsUnread(), 'FORBIDDEN')
  })
})

describe('events and other participants', () => {
  it('my horizon change emits `updated` with lastReadMessageIndex', async () => {
    const { convs } = await withMessages(2)
    const seen = waitFor<{ updateReasons: ConversationUpdateReason[] }>(convs.bob!, 'updated', 2_000, (u) =>
      u.updateReasons.includes('lastReadMessageIndex'),
    )
    await convs.bob!.advanceLastReadMessageIndex(1)
    expect((await seen).updateReasons).toContain('isUnread')
  })

  it('others see my horizon on my participant, with participantUpdated', async () => {
    const clock = manualClock(50_000)
    const { net, convs } = await h.shared(['bob'], { clientOptions: { now: clock.now } })
    await convs.alice!.sendMessage('one')
    await convs.alice!.sendMessage('two')
    await net.settle()
    const bobAsSeenByAlice = await convs.alice!.getParticipantByIdentity('bob')
    const seen = waitFor<{ participant: Participant; updateReasons: ParticipantUpdateReason[] }>(
      convs.alice!,
      'participantUpdated',
    )
    const onParticipant = waitFor(bobAsSeenByAlice, 'updated')
    clock.set(60_000)
    await convs.bob!.advanceLastReadMessageIndex(1)
    await net.settle()
    const u = await seen
    await onParticipant
    expect(u.participant).toBe(bobAsSeenByAlice)
    expect(u.updateReasons).toEqual(expect.arrayContaining(['lastReadMessageIndex', 'lastReadTimestamp']))
    expect(bobAsSeenByAlice.lastReadMessageIndex).toBe(1)
    expect(bobAsSeenByAlice.lastReadTimestamp!.getTime()).toBe(60_000)
  })

  it('the same person on two devices converges to the furthest advance', async () => {
    const net = h.network()
    const alice = await h.client('alice', { transport: net.link('alice') })
    const conv = await alice.createConversation({ join: true })
    for (let i = 0; i < 5; i++) await conv.sendMessage(`m${i}`)
    await conv.add('bob')
    const phoneLink = net.link('bob')
    const laptopLink = net.link('bob')
    const phone = await h.client('bob', { transport: phoneLink })
    const laptop = await h.client('bob', { transport: laptopLink })
    await net.settle()
    const onPhone = await phone.getConversationBySid(conv.sid)
    const onLaptop = await laptop.getConversationBySid(conv.sid)
    phoneLink.partition()
    laptopLink.partition()
    await onPhone.advanceLastReadMessageIndex(3)
    await onLaptop.advanceLastReadMessageIndex(1)
    phoneLink.heal()
    laptopLink.heal()
    await net.settle()
    expect(onPhone.lastReadMessageIndex).toBe(3)
    expect(onLaptop.lastReadMessageIndex).toBe(3)
    expect((await conv.getParticipantByIdentity('bob')).lastReadMessageIndex).toBe(3)
  })
})

describe('markAsUnread / markAsRead', () => {
  it('flag the conversation unread without touching the count or horizon', async () => {
    const { convs } = await withMessages(3)
    const bob = convs.bob!
    await bob.setAllMessagesRead()
    expect(bob.isUnread).toBe(false)
    const flagged = waitFor<{ updateReasons: ConversationUpdateReason[] }>(bob, 'updated', 2_000, (u) =>
      u.updateReasons.includes('isUnread'),
    )
    await bob.markAsUnread()
    await flagged
    expect(bob.isUnread).toBe(true)
    expect(await bob.getUnreadMessagesCount()).toBe(0)
    expect(bob.lastReadMessageIndex).toBe(2)
    await bob.markAsRead()
    expect(bob.isUnread).toBe(false)
    expect(bob.lastReadMessageIndex).toBe(2)
  })

  it('markAsRead also reads everything; setAllMessagesRead also clears the flag', async () => {
    const { convs } = await withMessages(3)
    const bob = convs.bob!
    await bob.markAsUnread()
    await bob.markAsRead()
    expect(bob.lastReadMessageIndex).toBe(2)
    expect(await bob.getUnreadMessagesCount()).toBe(0)
    await bob.markAsUnread()
    await bob.setAllMessagesRead()
    expect(bob.isUnread).toBe(false)
  })

  it('sending a message clears my unread flag', async () => {
    const { convs } = await withMessages(1)
    const bob = convs.bob!
    await bob.setAllMessagesRead()
    await bob.markAsUnread()
    expect(bob.isUnread).toBe(true)
    await bob.sendMessage('I am here')
    expect(bob.isUnread).toBe(false)
  })

  it('is per person', async () => {
    const { net, convs } = await withMessages(1)
    await convs.alice!.setAllMessagesRead()
    await convs.bob!.markAsUnread()
    await net.settle()
    expect(convs.alice!.isUnread).toBe(false)
    expect(convs.bob!.isUnread).toBe(true)
  })
})

describe('everyoneReadUntil', () => {
  it('is the minimum horizon over the current chat participants', async () => {
    const { net, convs } = await withMessages(5, ['bob', 'carol'])
    expect(convs.alice!.everyoneReadUntil).toBeNull()
    await convs.alice!.setAllMessagesRead()
    await convs.bob!.updateLastReadMessageIndex(2)
    await net.settle()
    // carol has read nothing yet.
    expect(convs.alice!.everyoneReadUntil).toBeNull()
    await convs.carol!.updateLastReadMessageIndex(3)
    await net.settle()
    for (const c of Object.values(convs)) expect(c.everyoneReadUntil).toBe(2)
    // SMS participants have no read state and do not hold it back.
    await convs.alice!.addNonChatParticipant('+1000', '+2000')
    await net.settle()
    expect(convs.alice!.everyoneReadUntil).toBe(2)
    // Once bob leaves, only alice (4) and carol (3) count.
    await convs.bob!.leave()
    await net.settle()
    expect(convs.alice!.everyoneReadUntil).toBe(3)
    expect(convs.carol!.everyoneReadUntil).toBe(3)
  })

  it('is null with no chat participants', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation()
    expect(conv.everyoneReadUntil).toBeNull()
  })

  it('records read events on the reader’s participant only', async () => {
    const { net, convs } = await withMessages(2)
    const seen = record<{ participant: Participant }>(convs.bob!, 'participantUpdated')
    await convs.alice!.setAllMessagesRead()
    await net.settle()
    seen.stop()
    expect(seen.map((u) => u.participant.identity)).toEqual(['alice'])
  })
})
