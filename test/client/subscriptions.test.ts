/**
 * Live subscriptions (TalkJS style): conversation list, one conversation, messages, participants.
 * Snapshots are frozen, delivered only when what they show changed, and unchanged parts keep
 * their object identity.
 */
import { describe, expect, it } from 'vitest'
import type { ConversationSnapshot, MessageSnapshot, ParticipantSnapshot } from '../../src/index.js'
import { expectCode, manualClock, snapshotRecorder, useHarness } from './helpers.js'

const h = useHarness()

const deepFrozen = (value: unknown): boolean => {
  if (value === null || typeof value !== 'object') return true
  if (!Object.isFrozen(value)) return false
  return Object.values(value).every(deepFrozen)
}

type ListRecord<T> = { items: readonly T[]; loadedAll: boolean }

/** A recorder for list subscriptions: keeps (items, loadedAll) pairs. */
const listRecorder = <T>() => {
  const rec = snapshotRecorder<ListRecord<T>>()
  return { rec, callback: (items: readonly T[], loadedAll: boolean) => rec.push({ items, loadedAll }) }
}

/** One client, a clock that only moves when told, and three joined conversations c0 < c1 < c2. */
const threeConversations = async () => {
  const clock = manualClock(1_000)
  const alice = await h.client('alice', { now: clock.now })
  const convs = []
  for (let i = 0; i < 3; i++) {
    clock.advance(100)
    convs.push(await alice.createConversation({ friendlyName: `c${i}`, join: true }))
  }
  return { alice, clock, convs }
}

const names = (items: readonly ConversationSnapshot[]) => items.map((c) => c.friendlyName)

describe('subscribeConversations', () => {
  it('lists my conversations by last activity, newest first, and reorders on new messages', async () => {
    const { alice, clock, convs } = await threeConversations()
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    const sub = alice.subscribeConversations(callback)
    expect(sub.state).toBe('pending')
    expect(sub.latestSnapshot).toBeNull()
    expect(await sub.connected).toBe(sub)
    expect(sub.state).toBe('active')
    expect(names(rec.last!.items)).toEqual(['c2', 'c1', 'c0'])
    expect(rec.last!.loadedAll).toBe(true)
    clock.advance(100)
    await convs[0]!.sendMessage('bump')
    const bumped = await rec.next((r) => r.items[0]?.friendlyName === 'c0')
    expect(names(bumped.items)).toEqual(['c0', 'c2', 'c1'])
    expect(bumped.items[0]!.lastMessage!.plaintext).toBe('bump')
    expect(bumped.items[0]!.lastActivityAt).toBe(clock.now())
  })

  it('snapshots carry the conversation as I see it', async () => {
    const clock = manualClock(5_000)
    const alice = await h.client('alice', { now: clock.now })
    const conv = await alice.createConversation({
      friendlyName: 'F',
      uniqueName: 'U',
      subject: 'S',
      photoUrl: 'https://cdn.example.com/P.png',
      welcomeMessages: ['W'],
      attributes: { a: 1 },
      state: 'inactive',
      join: true,
    })
    await conv.setUserNotificationLevel('muted')
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    await alice.subscribeConversations(callback).connected
    expect(rec.last!.items[0]).toEqual({
      id: conv.sid,
      friendlyName: 'F',
      uniqueName: 'U',
      subject: 'S',
      photoUrl: 'https://cdn.example.com/P.png',
      welcomeMessages: ['W'],
      custom: { a: 1 },
      createdAt: 5_000,
      createdBy: 'alice',
      joinedAt: 5_000,
      lastMessage: null,
      unreadMessageCount: 0,
      readUntil: null,
      everyoneReadUntil: null,
      isUnread: false,
      access: 'ReadWrite',
      role: 'admin',
      notificationLevel: 'muted',
      status: 'joined',
      state: 'inactive',
      lastActivityAt: 5_000,
    })
  })

  it('limits the window, grows it with loadMore, and reports loadedAll', async () => {
    const { alice } = await threeConversations()
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    const sub = alice.subscribeConversations(callback, { limit: 2 })
    await sub.connected
    expect(names(rec.last!.items)).toEqual(['c2', 'c1'])
    expect(rec.last!.loadedAll).toBe(false)
    expect(sub.loadedAll).toBe(false)
    await sub.loadMore(1)
    expect(names(rec.last!.items)).toEqual(['c2', 'c1', 'c0'])
    expect(rec.last!.loadedAll).toBe(true)
    expect(sub.loadedAll).toBe(true)
    expect(sub.latestSnapshot).toBe(rec.last!.items)
  })

  it('loadMore() without a count loads up to 30 more', async () => {
    const clock = manualClock(1)
    const alice = await h.client('alice', { now: () => clock.advance() })
    for (let i = 0; i < 45; i++) await alice.createConversation({ join: true })
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    const sub = alice.subscribeConversations(callback)
    await sub.connected
    expect(rec.last!.items).toHaveLength(20)
    await sub.loadMore()
    expect(rec.last!.items).toHaveLength(45)
    expect(rec.last!.loadedAll).toBe(true)
  })

  it('rejects bad limits and loadMore counts with INVALID_ARGUMENT', async () => {
    const { alice } = await threeConversations()
    await expectCode(() => alice.subscribeConversations(() => {}, { limit: 0 }), 'INVALID_ARGUMENT')
    await expectCode(() => alice.subscribeConversations(() => {}, { limit: 31 }), 'INVALID_ARGUMENT')
    const sub = alice.subscribeConversations(() => {}, { limit: 1 })
    await sub.connected
    await expectCode(sub.loadMore(0), 'INVALID_ARGUMENT')
    await expectCode(sub.loadMore(-1), 'INVALID_ARGUMENT')
    await expectCode(sub.loadMore(1.5), 'INVALID_ARGUMENT')
    await expectCode(sub.loadMore(31), 'INVALID_ARGUMENT')
    expect(sub.latestSnapshot).toHaveLength(1)
  })

  it('freezes snapshots deeply', async () => {
    const { alice, convs } = await threeConversations()
    await convs[0]!.updateAttributes({ nested: { list: [1, { x: 2 }] } })
    await convs[0]!.sendMessage({ body: 'x', attributes: { deep: { y: [3] } } })
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    await alice.subscribeConversations(callback).connected
    expect(deepFrozen(rec.last!.items)).toBe(true)
    expect(() => {
      ;(rec.last!.items as ConversationSnapshot[]).push(rec.last!.items[0]!)
    }).toThrow(TypeError)
  })

  it('reuses unchanged conversation snapshots and skips callbacks when nothing shown changed', async () => {
    const { alice, clock, convs } = await threeConversations()
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    const sub = alice.subscribeConversations(callback, { limit: 2 })
    await sub.connected
    const before = rec.last!.items
    const [c2, c1] = before
    // c0 is outside the window; changing it (without reordering) shows nothing new.
    await convs[0]!.updateAttributes({ hidden: true })
    await alice.user.updateFriendlyName('not shown in the list')
    clock.advance(100)
    await convs[1]!.updateFriendlyName('c1 renamed')
    const after = await rec.next((r) => r.items.some((c) => c.friendlyName === 'c1 renamed'))
    expect(rec.all).toHaveLength(2)
    expect(after.items[0]).toBe(c2)
    expect(after.items[1]).not.toBe(c1)
    expect(after.items[1]!.id).toBe(c1!.id)
  })

  it('stops at unsubscribe: no more callbacks, state unsubscribed, terminated resolves, loadMore CLOSED', async () => {
    const { alice, convs } = await threeConversations()
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    const sub = alice.subscribeConversations(callback)
    await sub.connected
    sub.unsubscribe()
    sub.unsubscribe()
    expect(sub.state).toBe('unsubscribed')
    await sub.terminated
    await convs[0]!.sendMessage('after')
    await alice.createConversation({ friendlyName: 'late' })
    // Give any (wrongly) queued microtask a chance to run: a loadMore round trip on a live one.
    const probe = alice.subscribeConversations(() => {})
    await probe.connected
    expect(rec.all).toHaveLength(1)
    await expectCode(sub.loadMore(1), 'CLOSED')
  })

  it('shows conversations I am added to, and drops ones I am removed from', async () => {
    const net = h.network()
    const alice = await h.client('alice', { transport: net.link('alice') })
    const bob = await h.client('bob', { transport: net.link('bob') })
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    await bob.subscribeConversations(callback).connected
    expect(rec.last!.items).toEqual([])
    const conv = await alice.createConversation({ friendlyName: 'shared', join: true })
    await conv.add('bob')
    await net.settle()
    const shown = await rec.next((r) => r.items.length === 1)
    expect(shown.items[0]).toMatchObject({ id: conv.sid, friendlyName: 'shared', role: 'member', status: 'joined' })
    await conv.removeParticipant('bob')
    await net.settle()
    await rec.next((r) => r.items.length === 0, 2_000, rec.all.indexOf(shown) + 1)
  })

  it('counts unread messages of others, every one before I read anything', async () => {
    const { net, clients, convs } = await h.shared(['bob'])
    await convs.alice!.sendMessage('1')
    await convs.alice!.sendMessage('2')
    await net.settle()
    const { rec, callback } = listRecorder<ConversationSnapshot>()
    await clients.bob!.subscribeConversations(callback).connected
    expect(rec.last!.items[0]).toMatchObject({ unreadMessageCount: 2, readUntil: null, isUnread: true })
    await convs.bob!.advanceLastReadMessageIndex(0)
    const read = await rec.next((r) => r.items[0]!.readUntil === 0)
    expect(read.items[0]).toMatchObject({ unreadMessageCount: 1, isUnread: true })
  })
})

describe('conversation.subscribe', () => {
  it('delivers the conversation and follows its changes', async () => {
    const { alice } = await threeConversations()
    const conv = await alice.createConversation({ friendlyName: 'one', join: true })
    const rec = snapshotRecorder<ConversationSnapshot | null>()
    const sub = conv.subscribe(rec.push)
    await sub.connected
    expect(rec.last).toMatchObject({ id: conv.sid, friendlyName: 'one', status: 'joined' })
    expect(deepFrozen(rec.last)).toBe(true)
    await conv.updateFriendlyName('two')
    expect((await rec.next((s) => s?.friendlyName === 'two'))!.id).toBe(conv.sid)
    await conv.sendMessage('hello')
    const withMessage = await rec.next((s) => s?.lastMessage !== null)
    expect(withMessage!.lastMessage).toMatchObject({ plaintext: 'hello', index: 0, author: 'alice' })
  })

  it('keeps the same snapshot when nothing it shows changed', async () => {
    const { alice } = await threeConversations()
    const conv = await alice.createConversation({ join: true })
    const older = await conv.sendMessage('older')
    await conv.sendMessage('newest')
    const rec = snapshotRecorder<ConversationSnapshot | null>()
    const sub = conv.subscribe(rec.push)
    await sub.connected
    const first = rec.last
    // A reaction on a message that is not the last one is not part of the snapshot.
    await older.react('👍')
    await conv.updateFriendlyName('renamed')
    await rec.next((s) => s?.friendlyName === 'renamed')
    expect(rec.all).toHaveLength(2)
    expect(rec.all[1]).not.toBe(first)
    expect(sub.latestSnapshot).toBe(rec.all[1])
  })

  it('turns null once the conversation is deleted', async () => {
    const { alice } = await threeConversations()
    const conv = await alice.createConversation({ join: true })
    const rec = snapshotRecorder<ConversationSnapshot | null>()
    const sub = conv.subscribe(rec.push)
    await sub.connected
    await conv.delete()
    expect(await rec.next((s) => s === null)).toBeNull()
  })

  it('turns null on the other side when I am removed', async () => {
    const { net, convs } = await h.shared(['bob'])
    const rec = snapshotRecorder<ConversationSnapshot | null>()
    await convs.bob!.subscribe(rec.push).connected
    expect(rec.last).not.toBeNull()
    await convs.alice!.removeParticipant('bob')
    await net.settle()
    await rec.next((s) => s === null)
  })
})

describe('subscribeMessages', () => {
  const withMessages = async (n: number) => {
    const clock = manualClock(1_000)
    const alice = await h.client('alice', { now: () => clock.advance() })
    const conv = await alice.createConversation({ join: true })
    for (let i = 0; i < n; i++) await conv.sendMessage(`m${i}`)
    return { alice, conv }
  }
  const bodies = (items: readonly MessageSnapshot[]) => items.map((m) => m.plaintext)

  it('gives the newest 30, newest first, and loads more', async () => {
    const { conv } = await withMessages(35)
    const { rec, callback } = listRecorder<MessageSnapshot>()
    const sub = conv.subscribeMessages(callback)
    await sub.connected
    expect(rec.last!.items).toHaveLength(30)
    expect(rec.last!.items[0]!.plaintext).toBe('m34')
    expect(rec.last!.items[29]!.plaintext).toBe('m5')
    expect(rec.last!.loadedAll).toBe(false)
    await sub.loadMore(10)
    expect(rec.last!.items).toHaveLength(35)
    expect(rec.last!.items[34]!.plaintext).toBe('m0')
    expect(rec.last!.loadedAll).toBe(true)
    expect(sub.loadedAll).toBe(true)
  })

  it('honours a limit and rejects bad ones with INVALID_ARGUMENT', async () => {
    const { conv } = await withMessages(5)
    const { rec, callback } = listRecorder<MessageSnapshot>()
    const sub = conv.subscribeMessages(callback, { limit: 2 })
    await sub.connected
    expect(bodies(rec.last!.items)).toEqual(['m4', 'm3'])
    await sub.loadMore()
    expect(bodies(rec.last!.items)).toEqual(['m4', 'm3', 'm2', 'm1', 'm0'])
    expect(() => conv.subscribeMessages(() => {}, { limit: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => conv.subscribeMessages(() => {}, { limit: 101 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    await expectCode(sub.loadMore(101), 'INVALID_ARGUMENT')
    await expectCode(sub.loadMore(0), 'INVALID_ARGUMENT')
  })

  it('message snapshots show content, custom data, reply, status, reactions and edits', async () => {
    const clock = manualClock(7_000)
    const alice = await h.client('alice', { now: clock.now })
    const conv = await alice.createConversation({ join: true })
    const q = await conv.sendMessage('question')
    const a = await conv.sendMessage({ body: 'answer', referencedMessage: q.sid, attributes: { k: 'v' } })
    await a.react('👍')
    clock.set(8_000)
    await a.updateBody('answer!')
    const { rec, callback } = listRecorder<MessageSnapshot>()
    await conv.subscribeMessages(callback).connected
    const [snap] = rec.last!.items
    expect(snap).toEqual({
      id: a.sid,
      index: 1,
      author: 'alice',
      type: 'text',
      content: [{ type: 'text', text: 'answer!' }],
      plaintext: 'answer!',
      custom: { k: 'v' },
      createdAt: 7_000,
      editedAt: 8_000,
      referencedMessage: expect.objectContaining({ id: q.sid, plaintext: 'question', referencedMessage: null }),
      referencedMessageId: q.sid,
      status: 'sent',
      readCount: 0,
      reactions: [{ emoji: '👍', count: 1, currentUserReacted: true, users: ['alice'] }],
    })
    expect(deepFrozen(snap)).toBe(true)
  })

  it('reuses snapshots of messages that did not change', async () => {
    const { conv } = await withMessages(3)
    const { rec, callback } = listRecorder<MessageSnapshot>()
    await conv.subscribeMessages(callback).connected
    const before = rec.last!.items
    const m1 = await conv.getMessageBySid(before[1]!.id)
    await m1.updateBody('m1 edited')
    const edited = await rec.next((r) => r.items[1]!.plaintext === 'm1 edited')
    expect(edited.items[0]).toBe(before[0])
    expect(edited.items[2]).toBe(before[2])
    expect(edited.items[1]).not.toBe(before[1])
    await conv.sendMessage('m3')
    const grown = await rec.next((r) => r.items.length === 4)
    expect(grown.items.slice(1)).toEqual(edited.items)
    for (let i = 0; i < 3; i++) expect(grown.items[i + 1]).toBe(edited.items[i])
  })

  it('follows a message from pending to sent to read', async () => {
    const { net, convs } = await h.shared(['bob'])
    const { rec, callback } = listRecorder<MessageSnapshot>()
    await convs.alice!.subscribeMessages(callback).connected
    const m = await convs.alice!.sendMessage('watch me')
    expect((await rec.next((r) => r.items.length === 1)).items[0]).toMatchObject({ index: null, status: 'pending' })
    await net.settle()
    expect((await rec.next((r) => r.items[0]?.status === 'sent')).items[0]!.index).toBe(0)
    await convs.bob!.setAllMessagesRead()
    await net.settle()
    const read = await rec.next((r) => r.items[0]?.status === 'read')
    expect(read.items[0]).toMatchObject({ id: m.sid, readCount: 1 })
  })

  it('drops removed messages', async () => {
    const { conv } = await withMessages(2)
    const { rec, callback } = listRecorder<MessageSnapshot>()
    await conv.subscribeMessages(callback).connected
    const newest = await conv.getMessageBySid(rec.last!.items[0]!.id)
    await newest.remove()
    expect(bodies((await rec.next((r) => r.items.length === 1)).items)).toEqual(['m0'])
  })
})

describe('subscribeParticipants', () => {
  const crowd = async (n: number) => {
    const clock = manualClock(1_000)
    const alice = await h.client('alice', { now: () => clock.advance() })
    const conv = await alice.createConversation({ join: true })
    for (let i = 0; i < n; i++) await conv.add(`p${i}`)
    return conv
  }

  it('lists the most recently joined first, 10 by default, and loads more', async () => {
    const conv = await crowd(12)
    const { rec, callback } = listRecorder<ParticipantSnapshot>()
    const sub = conv.subscribeParticipants(callback)
    await sub.connected
    expect(rec.last!.items.map((p) => p.identity)).toEqual([
      'p11',
      'p10',
      'p9',
      'p8',
      'p7',
      'p6',
      'p5',
      'p4',
      'p3',
      'p2',
    ])
    expect(rec.last!.loadedAll).toBe(false)
    await sub.loadMore(5)
    expect(rec.last!.items.map((p) => p.identity).slice(10)).toEqual(['p1', 'p0', 'alice'])
    expect(rec.last!.loadedAll).toBe(true)
    await expectCode(sub.loadMore(51), 'INVALID_ARGUMENT')
    expect(() => conv.subscribeParticipants(() => {}, { limit: 51 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('participant snapshots show role, access, custom data and read state', async () => {
    const conv = await crowd(0)
    const bob = await conv.add('bob', { title: 'eng' }, { role: 'moderator', access: 'Read' })
    const { rec, callback } = listRecorder<ParticipantSnapshot>()
    await conv.subscribeParticipants(callback).connected
    expect(rec.last!.items[0]).toEqual({
      sid: bob.sid,
      identity: 'bob',
      type: 'chat',
      access: 'Read',
      role: 'moderator',
      joinedAt: bob.dateCreated.getTime(),
      custom: { title: 'eng' },
      lastReadMessageIndex: null,
      isTyping: false,
    })
    expect(deepFrozen(rec.last!.items)).toBe(true)
  })

  it('updates on joins, leaves and changes, reusing unchanged participants', async () => {
    const conv = await crowd(2)
    const { rec, callback } = listRecorder<ParticipantSnapshot>()
    await conv.subscribeParticipants(callback).connected
    const before = rec.last!.items
    await (await conv.getParticipantByIdentity('p0')).updateAttributes({ changed: true })
    const changed = await rec.next((r) => r.items.some((p) => p.custom.changed === true))
    const p0 = changed.items.find((p) => p.identity === 'p0')!
    expect(p0).not.toBe(before.find((p) => p.identity === 'p0'))
    expect(changed.items.find((p) => p.identity === 'p1')).toBe(before.find((p) => p.identity === 'p1'))
    expect(changed.items.find((p) => p.identity === 'alice')).toBe(before.find((p) => p.identity === 'alice'))
    await conv.removeParticipant('p1')
    const left = await rec.next((r) => r.items.length === 2)
    expect(left.items.map((p) => p.identity)).toEqual(['p0', 'alice'])
  })
})
