import { describe, expect, it } from 'vitest'
import { Client, type Conversation, type ConversationUpdateReason, LIMITS, Paginator } from '../../src/index.js'
import { expectCode, manualClock, record, tickingClock, useHarness, waitFor } from './helpers.js'

const h = useHarness()

describe('Client.create', () => {
  it('opens a local-only client for a valid identity', async () => {
    const c = await h.client('alice')
    expect(c.identity).toBe('alice')
    expect(c.user.identity).toBe('alice')
    expect(c.user.isMe).toBe(true)
    expect(c.connectionState).toBe('disconnected')
    await c.whenSynced()
  })

  it.each([
    ['an empty identity', ''],
    ['a blank identity', '   '],
    ['a newline', 'ali\nce'],
    ['a NUL', 'alice\u0000'],
    ['DEL', 'alice\u007f'],
    ['too long', 'a'.repeat(LIMITS.identityLength + 1)],
    ['not a string', 42],
  ])('rejects %s with INVALID_ARGUMENT', async (_what, identity) => {
    await expectCode(Client.create({ identity: identity as string }), 'INVALID_ARGUMENT')
  })

  it('accepts an identity of exactly the maximum length', async () => {
    const c = await h.client('a'.repeat(LIMITS.identityLength))
    expect(c.identity).toHaveLength(LIMITS.identityLength)
  })

  it('rejects options that are not an object, and bad typing timeouts', async () => {
    await expectCode(Client.create(null as never), 'INVALID_ARGUMENT')
    await expectCode(Client.create({ identity: 'alice', typingTimeout: 0 }), 'INVALID_ARGUMENT')
    await expectCode(Client.create({ identity: 'alice', typingTimeout: -5 }), 'INVALID_ARGUMENT')
    await expectCode(Client.create({ identity: 'alice', typingTimeout: 1.5 }), 'INVALID_ARGUMENT')
  })
})

describe('createConversation', () => {
  it('stores every option and makes me the creator (admin) without joining by default', async () => {
    const clock = manualClock(5_000)
    const c = await h.client('alice', { now: clock.now })
    const conv = await c.createConversation({
      friendlyName: 'Team',
      uniqueName: 'team-room',
      attributes: { topic: 'launch', n: 1, nested: { ok: true } },
      subject: 'Launch plans',
      photoUrl: 'https://example.com/team.png',
      welcomeMessages: ['Welcome!', 'Be nice'],
      state: 'inactive',
    })
    expect(conv.sid).toMatch(/^CH[0-9a-f]{32}$/)
    expect(conv.friendlyName).toBe('Team')
    expect(conv.uniqueName).toBe('team-room')
    expect(conv.attributes).toEqual({ topic: 'launch', n: 1, nested: { ok: true } })
    expect(conv.subject).toBe('Launch plans')
    expect(conv.photoUrl).toBe('https://example.com/team.png')
    expect(conv.welcomeMessages).toEqual(['Welcome!', 'Be nice'])
    expect(conv.state.current).toBe('inactive')
    expect(conv.createdBy).toBe('alice')
    expect(conv.dateCreated.getTime()).toBe(5_000)
    expect(conv.status).toBe('notParticipating')
    expect(conv.role).toBe('admin')
    expect(conv.access).toBeNull()
    expect(conv.isDeleted).toBe(false)
    expect(conv.lastMessage).toBeNull()
    expect(conv.notificationLevel).toBe('default')
    expect(await conv.getParticipantsCount()).toBe(0)
  })

  it('defaults: no names, empty attributes, active, no welcome messages', async () => {
    const c = await h.client('alice')
    const conv = await c.createConversation()
    expect(conv.friendlyName).toBeNull()
    expect(conv.uniqueName).toBeNull()
    expect(conv.subject).toBeNull()
    expect(conv.photoUrl).toBeNull()
    expect(conv.attributes).toEqual({})
    expect(conv.welcomeMessages).toEqual([])
    expect(conv.state.current).toBe('active')
  })

  it('join: true makes me an admin participant with read-write access', async () => {
    const c = await h.client('alice')
    const conv = await c.createConversation({ join: true })
    expect(conv.status).toBe('joined')
    const me = await conv.getParticipantByIdentity('alice')
    expect(me.role).toBe('admin')
    expect(me.access).toBe('ReadWrite')
    expect(me.type).toBe('chat')
    expect(conv.access).toBe('ReadWrite')
  })

  it.each([
    ['a friendly name that is too long', { friendlyName: 'x'.repeat(LIMITS.friendlyNameLength + 1) }],
    ['a non-string friendly name', { friendlyName: 7 }],
    ['an empty unique name', { uniqueName: '' }],
    ['a blank unique name', { uniqueName: '   ' }],
    ['a unique name with control characters', { uniqueName: 'a\tb' }],
    ['array attributes', { attributes: [1, 2] }],
    ['non-JSON attributes', { attributes: { f: () => 1 } }],
    ['oversized attributes', { attributes: { big: 'x'.repeat(LIMITS.attributesBytes) } }],
    ['an unknown state', { state: 'archived' }],
    ['an empty photo URL', { photoUrl: '' }],
    ['too many welcome messages', { welcomeMessages: Array.from({ length: LIMITS.welcomeMessages + 1 }, () => 'hi') }],
    ['an empty welcome message', { welcomeMessages: [''] }],
  ])('rejects %s with INVALID_ARGUMENT', async (_what, options) => {
    const c = await h.client('alice')
    await expectCode(c.createConversation(options as never), 'INVALID_ARGUMENT')
    expect((await c.getSubscribedConversations()).items).toHaveLength(0)
  })

  it('rejects a unique name another conversation holds with CONFLICT, until it is released', async () => {
    const c = await h.client('alice')
    const first = await c.createConversation({ uniqueName: 'general' })
    await expectCode(c.createConversation({ uniqueName: 'general' }), 'CONFLICT')
    await first.updateUniqueName(null)
    expect(first.uniqueName).toBeNull()
    const second = await c.createConversation({ uniqueName: 'general' })
    expect((await c.getConversationByUniqueName('general')).sid).toBe(second.sid)
  })
})

describe('concurrent offline unique-name claims', () => {
  it('keeps the earliest claim; the other conversation reads uniqueName null on both sides', async () => {
    const net = h.network()
    const aLink = net.link('alice')
    const bLink = net.link('bob')
    const alice = await h.client('alice', { transport: aLink, now: () => 1_000 })
    const bob = await h.client('bob', { transport: bLink, now: () => 2_000 })
    await net.settle()
    aLink.partition()
    bLink.partition()
    await net.settle()
    const a = await alice.createConversation({ uniqueName: 'lobby', join: true })
    await a.add('bob')
    const b = await bob.createConversation({ uniqueName: 'lobby', join: true })
    await b.add('alice')
    // Offline, each side sees only its own claim.
    expect(a.uniqueName).toBe('lobby')
    expect(b.uniqueName).toBe('lobby')
    aLink.heal()
    bLink.heal()
    await net.settle()
    for (const client of [alice, bob]) {
      const winner = await client.getConversationByUniqueName('lobby')
      expect(winner.sid).toBe(a.sid)
      expect(winner.uniqueName).toBe('lobby')
      const loser = await client.getConversationBySid(b.sid)
      expect(loser.uniqueName).toBeNull()
    }
    // The winner cannot be claimed again, and the loser may not re-claim it either.
    await expectCode(b.updateUniqueName('lobby'), 'CONFLICT')
  })

  it('breaks a tie on the claim time by the smaller sid', async () => {
    const net = h.network()
    const aLink = net.link('alice')
    const bLink = net.link('bob')
    const alice = await h.client('alice', { transport: aLink, now: () => 7_000 })
    const bob = await h.client('bob', { transport: bLink, now: () => 7_000 })
    await net.settle()
    aLink.partition()
    bLink.partition()
    const a = await alice.createConversation({ uniqueName: 'tie', join: true })
    await a.add('bob')
    const b = await bob.createConversation({ uniqueName: 'tie', join: true })
    await b.add('alice')
    aLink.heal()
    bLink.heal()
    await net.settle()
    const expected = a.sid < b.sid ? a.sid : b.sid
    const other = a.sid < b.sid ? b.sid : a.sid
    for (const client of [alice, bob]) {
      expect((await client.getConversationByUniqueName('tie')).sid).toBe(expected)
      expect((await client.getConversationBySid(other)).uniqueName).toBeNull()
      expect((await client.getConversationBySid(expected)).uniqueName).toBe('tie')
    }
  })
})

describe('looking conversations up', () => {
  it('getConversationBySid finds my conversations and rejects others with NOT_FOUND', async () => {
    const c = await h.client('alice')
    const conv = await c.createConversation({ friendlyName: 'x' })
    expect(await c.getConversationBySid(conv.sid)).toBe(conv)
    await expectCode(c.getConversationBySid('CH00000000000000000000000000000000'), 'NOT_FOUND')
    await expectCode(c.getConversationBySid(''), 'INVALID_ARGUMENT')
  })

  it('getConversationByUniqueName finds by name and rejects unknown names with NOT_FOUND', async () => {
    const c = await h.client('alice')
    const conv = await c.createConversation({ uniqueName: 'support' })
    expect(await c.getConversationByUniqueName('support')).toBe(conv)
    await expectCode(c.getConversationByUniqueName('nope'), 'NOT_FOUND')
    await expectCode(c.getConversationByUniqueName(''), 'INVALID_ARGUMENT')
    await conv.updateUniqueName('help')
    await expectCode(c.getConversationByUniqueName('support'), 'NOT_FOUND')
    expect(await c.getConversationByUniqueName('help')).toBe(conv)
  })

  it('does not find another user’s conversation I was never added to', async () => {
    const net = h.network()
    const alice = await h.client('alice', { transport: net.link('alice') })
    const bob = await h.client('bob', { transport: net.link('bob') })
    const conv = await alice.createConversation({ uniqueName: 'private', join: true })
    await net.settle()
    await expectCode(bob.getConversationBySid(conv.sid), 'NOT_FOUND')
    await expectCode(bob.getConversationByUniqueName('private'), 'NOT_FOUND')
  })

  it('getSubscribedConversations pages 50 at a time, oldest first', async () => {
    const c = await h.client('alice', { now: tickingClock() })
    const created: Conversation[] = []
    for (let i = 0; i < 55; i++) created.push(await c.createConversation({ friendlyName: `c${i}` }))
    const first = await c.getSubscribedConversations()
    expect(first).toBeInstanceOf(Paginator)
    expect(first.items.map((x) => x.sid)).toEqual(created.slice(0, 50).map((x) => x.sid))
    expect(first.hasPrevPage).toBe(false)
    expect(first.hasNextPage).toBe(true)
    await expectCode(first.prevPage(), 'NO_PAGE')
    const second = await first.nextPage()
    expect(second.items.map((x) => x.friendlyName)).toEqual(['c50', 'c51', 'c52', 'c53', 'c54'])
    expect(second.hasNextPage).toBe(false)
    expect(second.hasPrevPage).toBe(true)
    await expectCode(second.nextPage(), 'NO_PAGE')
    const back = await second.prevPage()
    expect(back.items.map((x) => x.sid)).toEqual(first.items.map((x) => x.sid))
    // Twilio-style code owns the page's array (sorts it, pushes live messages on it): a copy of its own.
    first.items.reverse()
    expect((await second.prevPage()).items.map((x) => x.sid)).toEqual(created.slice(0, 50).map((x) => x.sid))
  })

  it('lists conversations I created without joining, and those I was added to', async () => {
    const { clients, sid } = await h.shared(['bob'])
    const bob = clients.bob!
    const own = await bob.createConversation({ friendlyName: 'mine' })
    const page = await bob.getSubscribedConversations()
    expect(page.items.map((x) => x.sid).sort()).toEqual([sid, own.sid].sort())
  })
})

describe('getUser', () => {
  it('returns my own user for my identity and a profile object for others', async () => {
    const c = await h.client('alice')
    expect(await c.getUser('alice')).toBe(c.user)
    const bob = await c.getUser('bob')
    expect(bob.identity).toBe('bob')
    expect(bob.isMe).toBe(false)
    expect(bob.friendlyName).toBeNull()
    expect(await c.getUser('bob')).toBe(bob)
    await expectCode(c.getUser(''), 'INVALID_ARGUMENT')
    await expectCode(c.getUser('a\nb'), 'INVALID_ARGUMENT')
  })
})

describe('shutdown', () => {
  it('makes every later call fail with CLOSED, and is idempotent', async () => {
    const c = await Client.create({ identity: 'alice' })
    const conv = await c.createConversation({ join: true, uniqueName: 'u' })
    await c.shutdown()
    await c.shutdown()
    await expectCode(c.createConversation(), 'CLOSED')
    await expectCode(c.getConversationBySid(conv.sid), 'CLOSED')
    await expectCode(c.getConversationByUniqueName('u'), 'CLOSED')
    await expectCode(c.getSubscribedConversations(), 'CLOSED')
    await expectCode(c.getUser('bob'), 'CLOSED')
    await expectCode(c.getMessages(), 'CLOSED')
    await expectCode(() => c.subscribeConversations(() => {}), 'CLOSED')
    await expectCode(conv.sendMessage('hi'), 'CLOSED')
    await expectCode(conv.updateFriendlyName('x'), 'CLOSED')
    await expectCode(conv.join(), 'CLOSED')
  })

  it('stops a connected client’s link', async () => {
    const net = h.network()
    const c = await Client.create({ identity: 'alice', transport: net.link('alice') })
    await net.settle()
    expect(c.connectionState).toBe('connected')
    await c.whenSynced()
    await c.shutdown()
    expect(c.connectionState).toBe('disconnected')
    await net.settle()
    expect(net.relay.connectionCount).toBe(0)
  })
})

describe('client events', () => {
  it('conversationAdded then conversationJoined on create with join; conversationLeft on leave', async () => {
    const c = await h.client('alice')
    const order: string[] = []
    c.on('conversationAdded', (x) => order.push(`added:${x.friendlyName}`))
    c.on('conversationJoined', (x) => order.push(`joined:${x.friendlyName}`))
    c.on('conversationLeft', (x) => order.push(`left:${x.friendlyName}`))
    c.on('conversationRemoved', (x) => order.push(`removed:${x.friendlyName}`))
    const conv = await c.createConversation({ friendlyName: 'a', join: true })
    await c.createConversation({ friendlyName: 'b' })
    expect(order).toEqual(['added:a', 'joined:a', 'added:b'])
    await conv.leave()
    // The creator still sees the conversation after leaving it.
    expect(order).toEqual(['added:a', 'joined:a', 'added:b', 'left:a'])
    expect(conv.status).toBe('notParticipating')
    expect(await c.getConversationBySid(conv.sid)).toBe(conv)
  })

  it('conversationRemoved when the conversation is deleted; it is gone afterwards', async () => {
    const c = await h.client('alice')
    const conv = await c.createConversation({ friendlyName: 'doomed', join: true, uniqueName: 'doomed' })
    const removed = waitFor<Conversation>(c, 'conversationRemoved')
    const left = waitFor<Conversation>(c, 'conversationLeft')
    const convRemoved = waitFor<Conversation>(conv, 'removed')
    await conv.delete()
    expect(await removed).toBe(conv)
    expect(await convRemoved).toBe(conv)
    expect(await left).toBe(conv)
    expect(conv.isDeleted).toBe(true)
    await expectCode(c.getConversationBySid(conv.sid), 'NOT_FOUND')
    await expectCode(c.getConversationByUniqueName('doomed'), 'NOT_FOUND')
    expect((await c.getSubscribedConversations()).items).toHaveLength(0)
  })

  it('conversationUpdated carries the update reasons', async () => {
    const c = await h.client('alice')
    const conv = await c.createConversation({ join: true })
    const seen = record<{ conversation: Conversation; updateReasons: ConversationUpdateReason[] }>(
      c,
      'conversationUpdated',
    )
    await conv.updateFriendlyName('renamed')
    expect(seen.at(-1)!.conversation).toBe(conv)
    expect(seen.at(-1)!.updateReasons).toEqual(expect.arrayContaining(['friendlyName', 'dateUpdated']))
    await conv.updateState('closed')
    expect(seen.at(-1)!.updateReasons).toEqual(expect.arrayContaining(['state']))
    seen.stop()
  })

  it('conversationAdded / Joined on the other side when I am added, Left+Removed when I am removed', async () => {
    const net = h.network()
    const alice = await h.client('alice', { transport: net.link('alice') })
    const bob = await h.client('bob', { transport: net.link('bob') })
    const conv = await alice.createConversation({ friendlyName: 'team', join: true })
    const added = waitFor<Conversation>(bob, 'conversationAdded')
    const joined = waitFor<Conversation>(bob, 'conversationJoined')
    await conv.add('bob')
    await net.settle()
    expect((await added).sid).toBe(conv.sid)
    expect((await joined).sid).toBe(conv.sid)
    const bconv = await bob.getConversationBySid(conv.sid)
    expect(bconv.status).toBe('joined')
    expect(bconv.friendlyName).toBe('team')
    const removed = waitFor<Conversation>(bob, 'conversationRemoved')
    const left = waitFor<Conversation>(bob, 'conversationLeft')
    await conv.removeParticipant('bob')
    await net.settle()
    expect((await removed).sid).toBe(conv.sid)
    expect((await left).sid).toBe(conv.sid)
    await expectCode(bob.getConversationBySid(conv.sid), 'NOT_FOUND')
  })

  it('forwards messageAdded from every conversation', async () => {
    const c = await h.client('alice')
    const one = await c.createConversation({ join: true })
    const two = await c.createConversation({ join: true })
    const seen = record<{ body: string | null; conversation: Conversation }>(c, 'messageAdded')
    await one.sendMessage('in one')
    await two.sendMessage('in two')
    expect(seen.map((m) => [m.conversation.sid, m.body])).toEqual([
      [one.sid, 'in one'],
      [two.sid, 'in two'],
    ])
    seen.stop()
  })

  it('forwards messageAdded from conversations I was added to over the network', async () => {
    const { net, clients, convs } = await h.shared(['bob'])
    const seen = record<{ body: string | null; author: string }>(clients.bob!, 'messageAdded')
    await convs.alice!.sendMessage('from alice')
    await convs.bob!.sendMessage('from bob')
    await net.settle()
    expect(seen.map((m) => [m.author, m.body]).sort()).toEqual([
      ['alice', 'from alice'],
      ['bob', 'from bob'],
    ])
    seen.stop()
  })
})
