import { describe, expect, it } from 'vitest'
import { type Conversation, type ConversationUpdateReason, LIMITS } from '../../src/index.js'
import { expectCode, manualClock, record, useHarness, waitFor } from './helpers.js'

const h = useHarness()

type Updated = { conversation: Conversation; updateReasons: ConversationUpdateReason[] }

const mine = async (options: Parameters<typeof h.client>[1] = {}) => {
  const alice = await h.client('alice', options)
  const conv = await alice.createConversation({ friendlyName: 'team', join: true })
  return { alice, conv }
}

describe('join and leave', () => {
  it('the creator joins as admin; joining again is a no-op', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation()
    const joined = waitFor<Updated>(conv, 'updated', 2_000, (u) => u.updateReasons.includes('status'))
    expect(await conv.join()).toBe(conv)
    await joined
    expect(conv.status).toBe('joined')
    const participants = record(conv, 'participantJoined')
    await conv.join()
    expect(participants).toHaveLength(0)
    expect(await conv.getParticipantsCount()).toBe(1)
  })

  it('leaving removes me; leaving again is a no-op', async () => {
    const { conv } = await mine()
    const left = waitFor<{ identity: string | null }>(conv, 'participantLeft')
    expect(await conv.leave()).toBe(conv)
    expect((await left).identity).toBe('alice')
    expect(conv.status).toBe('notParticipating')
    expect(await conv.getParticipantsCount()).toBe(0)
    await conv.leave()
    expect(conv.status).toBe('notParticipating')
    // The creator may come back.
    await conv.join()
    expect(conv.status).toBe('joined')
  })

  it('a participant who leaves no longer sees the conversation', async () => {
    const { net, clients, convs, sid } = await h.shared(['bob'])
    const removed = waitFor<Conversation>(clients.bob!, 'conversationRemoved')
    await convs.bob!.leave()
    expect((await removed).sid).toBe(sid)
    await net.settle()
    await expectCode(clients.bob!.getConversationBySid(sid), 'NOT_FOUND')
    expect((await convs.alice!.getParticipants()).map((p) => p.identity)).toEqual(['alice'])
  })
})

describe('delete', () => {
  it('an admin deletes the conversation for everyone', async () => {
    const { net, clients, convs, sid } = await h.shared(['bob'])
    const bobRemoved = waitFor<Conversation>(clients.bob!, 'conversationRemoved')
    await convs.alice!.delete()
    await net.settle()
    expect((await bobRemoved).sid).toBe(sid)
    await expectCode(clients.alice!.getConversationBySid(sid), 'NOT_FOUND')
    await expectCode(clients.bob!.getConversationBySid(sid), 'NOT_FOUND')
  })

  it('a deleted conversation refuses further writes', async () => {
    const { conv } = await mine()
    await conv.delete()
    expect(conv.isDeleted).toBe(true)
    const e = await expectCode(conv.sendMessage('hello?'), 'NOT_FOUND')
    expect(e.name).toBe('ColloquyError')
    await expectCode(conv.updateFriendlyName('x'), 'NOT_FOUND')
    await expectCode(conv.delete(), 'NOT_FOUND')
  })

  it('the creator may delete without being a participant', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation()
    await conv.delete()
    expect(conv.isDeleted).toBe(true)
  })
})

describe('adding participants', () => {
  it('add() creates a chat member with read-write access, attributes and a stable sid', async () => {
    const clock = manualClock(42_000)
    const { conv } = await mine({ now: clock.now })
    const joined = waitFor<{ identity: string | null }>(conv, 'participantJoined')
    const bob = await conv.add('bob', { nickname: 'B' })
    expect((await joined).identity).toBe('bob')
    expect(bob.identity).toBe('bob')
    expect(bob.key).toBe('bob')
    expect(bob.type).toBe('chat')
    expect(bob.role).toBe('member')
    expect(bob.roleSid).toBe('member')
    expect(bob.access).toBe('ReadWrite')
    expect(bob.attributes).toEqual({ nickname: 'B' })
    expect(bob.address).toBeNull()
    expect(bob.proxyAddress).toBeNull()
    expect(bob.sid).toMatch(/^MB[0-9a-f]{16}$/)
    expect(bob.dateCreated.getTime()).toBe(42_000)
    expect(bob.isActive).toBe(true)
    expect(bob.conversation).toBe(conv)
    expect(bob.lastReadMessageIndex).toBeNull()
    expect(bob.lastReadTimestamp).toBeNull()
    expect(bob.isTyping).toBe(false)
    expect((await bob.getUser()).identity).toBe('bob')
  })

  it('add() honours role and access options', async () => {
    const { conv } = await mine()
    const mod = await conv.add('mod', {}, { role: 'moderator' })
    const reader = await conv.add('reader', {}, { access: 'Read' })
    expect(mod.role).toBe('moderator')
    expect(reader.access).toBe('Read')
    expect(reader.role).toBe('member')
  })

  it('add() rejects duplicates with CONFLICT and bad input with INVALID_ARGUMENT', async () => {
    const { conv } = await mine()
    await conv.add('bob')
    await expectCode(conv.add('bob'), 'CONFLICT')
    await expectCode(conv.add('alice'), 'CONFLICT')
    await expectCode(conv.add(''), 'INVALID_ARGUMENT')
    await expectCode(conv.add('x\ny'), 'INVALID_ARGUMENT')
    await expectCode(conv.add('carol', [] as never), 'INVALID_ARGUMENT')
    await expectCode(conv.add('carol', {}, { role: 'owner' as never }), 'INVALID_ARGUMENT')
    await expectCode(conv.add('carol', {}, { access: 'Write' as never }), 'INVALID_ARGUMENT')
    expect(await conv.getParticipantsCount()).toBe(2)
  })

  it('addNonChatParticipant stores SMS, email and WhatsApp participants', async () => {
    const { conv } = await mine()
    const sms = await conv.addNonChatParticipant('+15550000', '+15551234', { vip: true })
    expect(sms.type).toBe('sms')
    expect(sms.identity).toBeNull()
    expect(sms.address).toBe('+15551234')
    expect(sms.proxyAddress).toBe('+15550000')
    expect(sms.attributes).toEqual({ vip: true })
    expect(sms.role).toBe('member')
    const email = await conv.addNonChatParticipant('support@example.com', 'carol@example.com')
    expect(email.type).toBe('email')
    const wa = await conv.addNonChatParticipant('+15550000', '+15559999', {}, { type: 'whatsapp' })
    expect(wa.type).toBe('whatsapp')
    expect(wa.lastReadMessageIndex).toBeNull()
    await expectCode(sms.getUser(), 'INVALID_ARGUMENT')
    await expectCode(conv.addNonChatParticipant('+15550000', '+15551234'), 'CONFLICT')
    await expectCode(conv.addNonChatParticipant('', '+1555'), 'INVALID_ARGUMENT')
    await expectCode(conv.addNonChatParticipant('+1555', ''), 'INVALID_ARGUMENT')
    await expectCode(conv.addNonChatParticipant('+1', '+2', {}, { type: 'chat' as never }), 'INVALID_ARGUMENT')
    expect(await conv.getParticipantsCount()).toBe(4)
    expect((await conv.getParticipantBySid(sms.sid)).address).toBe('+15551234')
  })
})

describe('removing participants', () => {
  it('removes by identity, by sid and by object, with participantLeft', async () => {
    const { conv } = await mine()
    const bob = await conv.add('bob')
    const carol = await conv.add('carol')
    const sms = await conv.addNonChatParticipant('+1000', '+2000')
    const left = record<{ sid: string }>(conv, 'participantLeft')
    await conv.removeParticipant('bob')
    await conv.removeParticipant(carol.sid)
    await conv.removeParticipant(sms)
    expect(left.map((p) => p.sid)).toEqual([bob.sid, carol.sid, sms.sid])
    expect(bob.isActive).toBe(false)
    expect(carol.isActive).toBe(false)
    expect((await conv.getParticipants()).map((p) => p.identity)).toEqual(['alice'])
  })

  it('Participant.remove() removes that participant', async () => {
    const { conv } = await mine()
    const bob = await conv.add('bob')
    await bob.remove()
    await expectCode(conv.getParticipantByIdentity('bob'), 'NOT_FOUND')
  })

  it('rejects unknown or already removed participants with NOT_FOUND', async () => {
    const { conv } = await mine()
    const bob = await conv.add('bob')
    await conv.removeParticipant(bob)
    await expectCode(conv.removeParticipant(bob), 'NOT_FOUND')
    await expectCode(conv.removeParticipant('bob'), 'NOT_FOUND')
    await expectCode(conv.removeParticipant('MB0000000000000000'), 'NOT_FOUND')
  })

  it('removing myself is leaving', async () => {
    const { conv } = await mine()
    await conv.removeParticipant('alice')
    expect(conv.status).toBe('notParticipating')
  })

  it('a re-added participant starts with a fresh read horizon', async () => {
    const { net, clients, convs, sid } = await h.shared(['bob'])
    await convs.alice!.sendMessage('one')
    await net.settle()
    await convs.bob!.setAllMessagesRead()
    await net.settle()
    expect((await convs.alice!.getParticipantByIdentity('bob')).lastReadMessageIndex).toBe(0)
    await convs.alice!.removeParticipant('bob')
    await net.settle()
    const added = waitFor<Conversation>(clients.bob!, 'conversationAdded', 2_000, (c) => c.sid === sid)
    const again = await convs.alice!.add('bob')
    await net.settle()
    await added
    expect(again.lastReadMessageIndex).toBeNull()
    const bconv = await clients.bob!.getConversationBySid(sid)
    expect(bconv.lastReadMessageIndex).toBeNull()
    expect(await bconv.getUnreadMessagesCount()).toBeNull()
  })
})

describe('looking participants up', () => {
  it('getParticipants, ByIdentity, BySid and counts', async () => {
    const { conv } = await mine()
    const bob = await conv.add('bob')
    const all = await conv.getParticipants()
    expect(all.map((p) => p.identity).sort()).toEqual(['alice', 'bob'])
    expect(await conv.getParticipantByIdentity('bob')).toBe(bob)
    expect(await conv.getParticipantBySid(bob.sid)).toBe(bob)
    expect(await conv.getParticipantsCount()).toBe(2)
    await expectCode(conv.getParticipantByIdentity('zed'), 'NOT_FOUND')
    await expectCode(conv.getParticipantBySid('MBffffffffffffffff'), 'NOT_FOUND')
    await expectCode(conv.getParticipantBySid(''), 'INVALID_ARGUMENT')
    await expectCode(conv.getParticipantByIdentity(''), 'INVALID_ARGUMENT')
  })

  it('getParticipantByIdentity does not return a non-chat participant by its internal key', async () => {
    const { conv } = await mine()
    await conv.addNonChatParticipant('+1000', '+2000')
    await expectCode(conv.getParticipantByIdentity('sms:+2000'), 'NOT_FOUND')
  })

  it('the same identity gets the same participant sid on two devices', async () => {
    const { convs } = await h.shared(['bob'])
    const a = await convs.alice!.getParticipantByIdentity('bob')
    const b = await convs.bob!.getParticipantByIdentity('bob')
    expect(a.sid).toBe(b.sid)
  })

  it('getMessagesCount counts sequenced and pending messages', async () => {
    const { conv } = await mine()
    expect(await conv.getMessagesCount()).toBe(0)
    await conv.sendMessage('a')
    await conv.sendMessage('b')
    expect(await conv.getMessagesCount()).toBe(2)
  })
})

describe('participant updates', () => {
  it('updateAttributes / updateRole / updateAccess emit participantUpdated with reasons', async () => {
    const { conv } = await mine()
    const bob = await conv.add('bob')
    const seen = record<{ updateReasons: string[] }>(conv, 'participantUpdated')
    expect(await bob.updateAttributes({ title: 'eng' })).toBe(bob)
    expect(bob.attributes).toEqual({ title: 'eng' })
    await bob.updateRole('moderator')
    expect(bob.role).toBe('moderator')
    await bob.updateAccess('Read')
    expect(bob.access).toBe('Read')
    expect(seen.map((u) => u.updateReasons)).toEqual([
      expect.arrayContaining(['attributes', 'dateUpdated']),
      expect.arrayContaining(['role', 'dateUpdated']),
      expect.arrayContaining(['access', 'dateUpdated']),
    ])
    expect(seen[0]!.updateReasons).not.toContain('role')
    await expectCode(bob.updateRole('boss' as never), 'INVALID_ARGUMENT')
    await expectCode(bob.updateAccess('none' as never), 'INVALID_ARGUMENT')
    await expectCode(bob.updateAttributes('x' as never), 'INVALID_ARGUMENT')
  })

  it('updating a removed participant rejects with NOT_FOUND', async () => {
    const { conv } = await mine()
    const bob = await conv.add('bob')
    await bob.remove()
    await expectCode(bob.updateAttributes({ a: 1 }), 'NOT_FOUND')
  })
})

describe('metadata updates', () => {
  const lastReasons = (seen: Updated[]) => new Set(seen.flatMap((u) => u.updateReasons))

  it('each setter changes its field, emits `updated` with its reason and moves dateUpdated', async () => {
    const clock = manualClock(1_000)
    const { conv } = await mine({ now: clock.now })
    const cases: Array<[ConversationUpdateReason, () => Promise<Conversation>, () => unknown, unknown]> = [
      ['friendlyName', () => conv.updateFriendlyName('renamed'), () => conv.friendlyName, 'renamed'],
      ['uniqueName', () => conv.updateUniqueName('u-1'), () => conv.uniqueName, 'u-1'],
      ['subject', () => conv.updateSubject('About things'), () => conv.subject, 'About things'],
      ['photoUrl', () => conv.updatePhotoUrl('https://x/y.png'), () => conv.photoUrl, 'https://x/y.png'],
      [
        'welcomeMessages',
        () => conv.updateWelcomeMessages(['hi', 'there']),
        () => conv.welcomeMessages,
        ['hi', 'there'],
      ],
      ['state', () => conv.updateState('inactive'), () => conv.state.current, 'inactive'],
    ]
    for (const [reason, act, read, expected] of cases) {
      const at = clock.advance(10)
      const seen = record<Updated>(conv, 'updated')
      expect(await act()).toBe(conv)
      seen.stop()
      expect(read()).toEqual(expected)
      expect(lastReasons(seen)).toEqual(new Set([reason, 'dateUpdated']))
      expect(seen.every((u) => u.conversation === conv)).toBe(true)
      expect(conv.dateUpdated.getTime()).toBe(at)
    }
    expect(conv.state.dateUpdated.getTime()).toBe(1_060)
  })

  it('null clears friendlyName, uniqueName, subject and photoUrl', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation({
      friendlyName: 'f',
      uniqueName: 'u',
      subject: 's',
      photoUrl: 'https://cdn.example.com/p.png',
    })
    await conv.updateFriendlyName(null)
    await conv.updateUniqueName(null)
    await conv.updateSubject(null)
    await conv.updatePhotoUrl(null)
    expect([conv.friendlyName, conv.uniqueName, conv.subject, conv.photoUrl]).toEqual([null, null, null, null])
  })

  it('updateAttributes replaces; patchAttributes merges and deletes keys set to null', async () => {
    const clock = manualClock(1_000)
    const alice = await h.client('alice', { now: clock.now })
    const conv = await alice.createConversation({ attributes: { a: 1, b: 2 } })
    const seen = record<Updated>(conv, 'updated')
    clock.set(2_000)
    await conv.updateAttributes({ c: 3 })
    expect(conv.attributes).toEqual({ c: 3 })
    expect(lastReasons(seen)).toEqual(new Set(['attributes', 'dateUpdated']))
    expect(conv.dateUpdated.getTime()).toBe(2_000)
    seen.length = 0
    await conv.patchAttributes({ d: { deep: true }, c: null, keep: undefined })
    expect(conv.attributes).toEqual({ d: { deep: true } })
    expect(lastReasons(seen)).toContain('attributes')
    await conv.patchAttributes({ e: 5 })
    expect(conv.attributes).toEqual({ d: { deep: true }, e: 5 })
    seen.stop()
    // The returned object is a copy.
    const copy = conv.attributes
    copy.e = 99
    expect(conv.attributes.e).toBe(5)
  })

  it('rejects bad metadata with INVALID_ARGUMENT', async () => {
    const { conv } = await mine()
    await expectCode(conv.updateFriendlyName('x'.repeat(LIMITS.friendlyNameLength + 1)), 'INVALID_ARGUMENT')
    await expectCode(conv.updateUniqueName('  '), 'INVALID_ARGUMENT')
    await expectCode(conv.updateSubject(5 as never), 'INVALID_ARGUMENT')
    await expectCode(conv.updatePhotoUrl(''), 'INVALID_ARGUMENT')
    await expectCode(conv.updatePhotoUrl('x'.repeat(LIMITS.urlLength + 1)), 'INVALID_ARGUMENT')
    await expectCode(conv.updateWelcomeMessages('hi' as never), 'INVALID_ARGUMENT')
    await expectCode(conv.updateState('gone' as never), 'INVALID_ARGUMENT')
    await expectCode(conv.updateAttributes([] as never), 'INVALID_ARGUMENT')
    await expectCode(conv.updateAttributes({ n: Number.NaN }), 'INVALID_ARGUMENT')
    await expectCode(conv.patchAttributes('x' as never), 'INVALID_ARGUMENT')
    expect(conv.friendlyName).toBe('team')
  })

  it('updateUniqueName rejects a name another conversation holds with CONFLICT', async () => {
    const alice = await h.client('alice')
    await alice.createConversation({ uniqueName: 'taken' })
    const other = await alice.createConversation({ uniqueName: 'mine' })
    await expectCode(other.updateUniqueName('taken'), 'CONFLICT')
    expect(other.uniqueName).toBe('mine')
    // Re-setting my own name is fine.
    await other.updateUniqueName('mine')
    expect(other.uniqueName).toBe('mine')
  })

  it('metadata changes reach the other participants with reasons', async () => {
    const { net, convs } = await h.shared(['bob'])
    const seen = waitFor<Updated>(convs.bob!, 'updated', 2_000, (u) => u.updateReasons.includes('subject'))
    await convs.alice!.updateSubject('shared subject')
    await net.settle()
    expect((await seen).conversation).toBe(convs.bob)
    expect(convs.bob!.subject).toBe('shared subject')
  })

  it('a closed conversation takes no new messages; reopening it does', async () => {
    const { conv } = await mine()
    await conv.updateState('closed')
    expect(conv.state.current).toBe('closed')
    await expectCode(conv.sendMessage('hello'), 'FORBIDDEN')
    await conv.updateState('active')
    expect((await conv.sendMessage('hello')).body).toBe('hello')
  })

  it('an inactive conversation still takes messages', async () => {
    const { conv } = await mine()
    await conv.updateState('inactive')
    expect((await conv.sendMessage('still here')).body).toBe('still here')
  })
})

describe('notification level', () => {
  it('setUserNotificationLevel stores my level and emits `updated`', async () => {
    const { conv } = await mine()
    expect(conv.notificationLevel).toBe('default')
    for (const level of ['muted', 'mentions', 'default'] as const) {
      const seen = waitFor<Updated>(conv, 'updated', 2_000, (u) => u.updateReasons.includes('notificationLevel'))
      await conv.setUserNotificationLevel(level)
      await seen
      expect(conv.notificationLevel).toBe(level)
    }
  })

  it('rejects unknown levels with INVALID_ARGUMENT and non-participants with FORBIDDEN', async () => {
    const { conv } = await mine()
    await expectCode(conv.setUserNotificationLevel('loud' as never), 'INVALID_ARGUMENT')
    const alice2 = await h.client('carol')
    const notJoined = await alice2.createConversation()
    await expectCode(notJoined.setUserNotificationLevel('muted'), 'FORBIDDEN')
  })

  it('is per person: my level does not change anyone else’s', async () => {
    const { net, convs } = await h.shared(['bob'])
    await convs.alice!.setUserNotificationLevel('muted')
    await net.settle()
    expect(convs.bob!.notificationLevel).toBe('default')
  })
})

describe('limits', () => {
  it('exposes the documented limits', async () => {
    const { conv } = await mine()
    expect(conv.limits).toEqual({
      messageBodyBytes: LIMITS.messageBodyBytes,
      attributesBytes: LIMITS.attributesBytes,
      contentBlocks: LIMITS.contentBlocks,
      distinctReactions: LIMITS.distinctReactions,
    })
  })
})
