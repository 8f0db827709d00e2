import { describe, expect, it } from 'vitest'
import { LIMITS, type User, type UserUpdateReason } from '../../src/index.js'
import { expectCode, record, useHarness, waitFor } from './helpers.js'

const h = useHarness()

type UserUpdated = { user: User; updateReasons: UserUpdateReason[] }

describe('my profile', () => {
  it('starts empty', async () => {
    const c = await h.client('alice')
    expect(c.user.friendlyName).toBeNull()
    expect(c.user.photoUrl).toBeNull()
    expect(c.user.attributes).toEqual({})
    expect(c.user.isOnline).toBeNull()
  })

  it('updateFriendlyName / updatePhotoUrl / updateAttributes change it, with updated and userUpdated', async () => {
    const c = await h.client('alice')
    const onUser = record<UserUpdated>(c.user, 'updated')
    const onClient = record<UserUpdated>(c, 'userUpdated')
    await c.user.updateFriendlyName('Alice A.')
    await c.user.updatePhotoUrl('https://example.com/alice.png')
    await c.user.updateAttributes({ team: 'core', level: 3 })
    expect(c.user.friendlyName).toBe('Alice A.')
    expect(c.user.photoUrl).toBe('https://example.com/alice.png')
    expect(c.user.attributes).toEqual({ team: 'core', level: 3 })
    expect(onUser.map((u) => u.updateReasons)).toEqual([['friendlyName'], ['photoUrl'], ['attributes']])
    expect(onClient.map((u) => u.updateReasons)).toEqual([['friendlyName'], ['photoUrl'], ['attributes']])
    expect(onClient.every((u) => u.user === c.user)).toBe(true)
    // Attributes are replaced, not merged; and handed out as copies.
    await c.user.updateAttributes({ other: true })
    const attrs = c.user.attributes
    expect(attrs).toEqual({ other: true })
    attrs.other = false
    expect(c.user.attributes).toEqual({ other: true })
    // null clears.
    await c.user.updateFriendlyName(null)
    await c.user.updatePhotoUrl(null)
    expect(c.user.friendlyName).toBeNull()
    expect(c.user.photoUrl).toBeNull()
  })

  it('rejects invalid values with INVALID_ARGUMENT', async () => {
    const c = await h.client('alice')
    await expectCode(c.user.updateFriendlyName('x'.repeat(LIMITS.friendlyNameLength + 1)), 'INVALID_ARGUMENT')
    await expectCode(c.user.updateFriendlyName(3 as never), 'INVALID_ARGUMENT')
    await expectCode(c.user.updatePhotoUrl(''), 'INVALID_ARGUMENT')
    await expectCode(c.user.updatePhotoUrl('x'.repeat(LIMITS.urlLength + 1)), 'INVALID_ARGUMENT')
    await expectCode(c.user.updateAttributes([] as never), 'INVALID_ARGUMENT')
    await expectCode(c.user.updateAttributes({ big: 'x'.repeat(LIMITS.attributesBytes) }), 'INVALID_ARGUMENT')
    expect(c.user.friendlyName).toBeNull()
    expect(c.user.attributes).toEqual({})
  })
})

describe('other people’s profiles', () => {
  it('another user’s profile becomes visible through getUser after sync, and stays live', async () => {
    const net = h.network()
    const alice = await h.client('alice', { transport: net.link('alice') })
    const bob = await h.client('bob', { transport: net.link('bob') })
    await alice.user.updateFriendlyName('Alice')
    await alice.user.updateAttributes({ color: 'blue' })
    await net.settle()
    const aliceForBob = await bob.getUser('alice')
    expect(aliceForBob.isMe).toBe(false)
    await net.settle()
    expect(aliceForBob.friendlyName).toBe('Alice')
    expect(aliceForBob.attributes).toEqual({ color: 'blue' })
    const onUser = waitFor<UserUpdated>(aliceForBob, 'updated', 2_000, (u) => u.updateReasons.includes('photoUrl'))
    const onClient = waitFor<UserUpdated>(bob, 'userUpdated', 2_000, (u) => u.updateReasons.includes('photoUrl'))
    await alice.user.updatePhotoUrl('https://example.com/a.png')
    await net.settle()
    expect((await onUser).user).toBe(aliceForBob)
    expect((await onClient).user).toBe(aliceForBob)
    expect(aliceForBob.photoUrl).toBe('https://example.com/a.png')
  })

  it('a participant’s user is reachable from the participant', async () => {
    const { net, clients, convs } = await h.shared(['bob'])
    await clients.bob!.user.updateFriendlyName('Bobby')
    await net.settle()
    const user = await (await convs.alice!.getParticipantByIdentity('bob')).getUser()
    await net.settle()
    expect(user.identity).toBe('bob')
    expect(user.friendlyName).toBe('Bobby')
    expect(await clients.alice!.getUser('bob')).toBe(user)
  })

  it('editing someone else’s profile is FORBIDDEN', async () => {
    const c = await h.client('alice')
    const bob = await c.getUser('bob')
    await expectCode(bob.updateFriendlyName('hacked'), 'FORBIDDEN')
    await expectCode(bob.updatePhotoUrl('https://evil'), 'FORBIDDEN')
    await expectCode(bob.updateAttributes({ admin: true }), 'FORBIDDEN')
    expect(bob.friendlyName).toBeNull()
    expect(bob.attributes).toEqual({})
  })

  it('my profile follows edits from my other device', async () => {
    const net = h.network()
    const phone = await h.client('alice', { transport: net.link('alice') })
    const laptop = await h.client('alice', { transport: net.link('alice') })
    await net.settle()
    const seen = waitFor<UserUpdated>(laptop, 'userUpdated')
    await phone.user.updateFriendlyName('From phone')
    await net.settle()
    expect((await seen).updateReasons).toEqual(['friendlyName'])
    expect(laptop.user.friendlyName).toBe('From phone')
  })
})

describe('profile custom data as a patch', () => {
  const hp = useHarness()
  it('patchAttributes sets and deletes keys (null deletes), and only on my own profile', async () => {
    const c = await hp.client('alice')
    await c.user.updateAttributes({ team: 'red', level: 1 })
    await c.user.patchAttributes({ level: 2, team: null, city: 'Oslo' })
    expect(c.user.attributes).toEqual({ level: 2, city: 'Oslo' })
    const other = await c.getUser('bob')
    await expectCode(other.patchAttributes({ x: 1 }), 'FORBIDDEN')
    await expectCode(c.user.patchAttributes({ big: 'x'.repeat(20_000) }), 'INVALID_ARGUMENT')
    expect(c.user.attributes).toEqual({ level: 2, city: 'Oslo' })
  })
})
