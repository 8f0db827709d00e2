/**
 * Roles and access, as in src/schema/permissions.ts: what admins, moderators, members, read-only
 * participants, and a creator who did not join may do. Refusals are FORBIDDEN.
 */
import { describe, expect, it } from 'vitest'
import { expectCode, useHarness } from './helpers.js'

const h = useHarness()

describe('members', () => {
  it('may not add, remove or re-role participants', async () => {
    const { convs } = await h.shared(['bob', 'carol'])
    const bob = convs.bob!
    expect(bob.role).toBe('member')
    await expectCode(bob.add('dave'), 'FORBIDDEN')
    await expectCode(bob.add('dave', {}, { role: 'admin' }), 'FORBIDDEN')
    await expectCode(bob.addNonChatParticipant('+1', '+2'), 'FORBIDDEN')
    await expectCode(bob.removeParticipant('carol'), 'FORBIDDEN')
    const carol = await bob.getParticipantByIdentity('carol')
    await expectCode(carol.updateRole('moderator'), 'FORBIDDEN')
    await expectCode(carol.updateAccess('Read'), 'FORBIDDEN')
    await expectCode(carol.updateAttributes({ x: 1 }), 'FORBIDDEN')
    expect(await bob.getParticipantsCount()).toBe(3)
  })

  it('may not change the conversation or delete it', async () => {
    const { convs } = await h.shared(['bob'])
    const bob = convs.bob!
    await expectCode(bob.updateFriendlyName('mine now'), 'FORBIDDEN')
    await expectCode(bob.updateUniqueName('grab'), 'FORBIDDEN')
    await expectCode(bob.updateSubject('s'), 'FORBIDDEN')
    await expectCode(bob.updatePhotoUrl('https://x'), 'FORBIDDEN')
    await expectCode(bob.updateWelcomeMessages(['hi']), 'FORBIDDEN')
    await expectCode(bob.updateState('closed'), 'FORBIDDEN')
    await expectCode(bob.updateAttributes({ a: 1 }), 'FORBIDDEN')
    await expectCode(bob.patchAttributes({ a: 1 }), 'FORBIDDEN')
    await expectCode(bob.delete(), 'FORBIDDEN')
    expect(bob.friendlyName).toBe('team')
    expect(bob.isDeleted).toBe(false)
  })

  it('may send, react, keep read state, set preferences, edit own attributes and leave', async () => {
    const { net, convs } = await h.shared(['bob'])
    const bob = convs.bob!
    const m = await bob.sendMessage('hi')
    await net.settle()
    await m.react('👍')
    await bob.setAllMessagesRead()
    await bob.setUserNotificationLevel('muted')
    const me = await bob.getParticipantByIdentity('bob')
    await me.updateAttributes({ status: 'away' })
    expect(me.attributes).toEqual({ status: 'away' })
    await bob.leave()
    expect(bob.status).toBe('notParticipating')
  })

  it('may not remove another participant’s message', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.alice!.sendMessage('from alice')
    await net.settle()
    const theirs = await convs.bob!.getMessageBySid(m.sid)
    await expectCode(theirs.remove(), 'FORBIDDEN')
    expect(theirs.isRemoved).toBe(false)
  })
})

describe('moderators', () => {
  it('may add and remove members and change their access, but not admins or moderators', async () => {
    const { net, convs } = await h.shared(['mod'], { role: 'moderator' })
    const mod = convs.mod!
    expect(mod.role).toBe('moderator')
    const dave = await mod.add('dave')
    expect(dave.role).toBe('member')
    await mod.addNonChatParticipant('+1', '+2')
    await dave.updateAccess('Read')
    expect(dave.access).toBe('Read')
    await expectCode(mod.add('erin', {}, { role: 'admin' }), 'FORBIDDEN')
    await expectCode(mod.add('erin', {}, { role: 'moderator' }), 'FORBIDDEN')
    await expectCode(mod.removeParticipant('alice'), 'FORBIDDEN')
    await expectCode(dave.updateRole('moderator'), 'FORBIDDEN')
    await mod.removeParticipant('dave')
    await net.settle()
    expect((await convs.alice!.getParticipants()).map((p) => p.key).sort()).toEqual(['alice', 'mod', 'sms:+2'])
  })

  it('may not change the conversation', async () => {
    const { convs } = await h.shared(['mod'], { role: 'moderator' })
    await expectCode(convs.mod!.updateFriendlyName('x'), 'FORBIDDEN')
    await expectCode(convs.mod!.delete(), 'FORBIDDEN')
  })

  it('may remove anyone’s message', async () => {
    const { net, convs } = await h.shared(['mod', 'bob'], { role: 'moderator' })
    const m = await convs.alice!.sendMessage('spam?')
    await net.settle()
    const seen = await convs.mod!.getMessageBySid(m.sid)
    await seen.remove()
    expect(seen.isRemoved).toBe(true)
    await net.settle()
    await expectCode(convs.alice!.getMessageBySid(m.sid), 'NOT_FOUND')
  })
})

describe('admins', () => {
  it('may change roles, and a promoted admin may then add admins', async () => {
    const { net, convs } = await h.shared(['bob'])
    const asAlice = await convs.alice!.getParticipantByIdentity('bob')
    await asAlice.updateRole('admin')
    await net.settle()
    expect(convs.bob!.role).toBe('admin')
    const carol = await convs.bob!.add('carol', {}, { role: 'admin' })
    expect(carol.role).toBe('admin')
    await convs.bob!.updateFriendlyName('bob rules')
    await net.settle()
    expect(convs.alice!.friendlyName).toBe('bob rules')
  })

  it('may remove a member’s message', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.bob!.sendMessage('oops')
    await net.settle()
    const asAdmin = await convs.alice!.getMessageBySid(m.sid)
    await asAdmin.remove()
    await net.settle()
    await expectCode(convs.bob!.getMessageBySid(m.sid), 'NOT_FOUND')
  })

  it('may not edit someone else’s message', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.bob!.sendMessage('mine')
    await net.settle()
    const asAdmin = await convs.alice!.getMessageBySid(m.sid)
    await expectCode(asAdmin.updateBody('hijacked'), 'FORBIDDEN')
    await expectCode(asAdmin.updateAttributes({ a: 1 }), 'FORBIDDEN')
    await expectCode(asAdmin.patchAttributes({ a: 1 }), 'FORBIDDEN')
    await expectCode(asAdmin.updateContent([{ type: 'text', text: 'x' }]), 'FORBIDDEN')
    expect(asAdmin.body).toBe('mine')
  })
})

describe('read-only access', () => {
  it('cannot send or edit, but can read, react and keep read state', async () => {
    const { net, convs } = await h.shared(['bob'])
    const mine = await convs.bob!.sendMessage('before')
    await net.settle()
    await (await convs.alice!.getParticipantByIdentity('bob')).updateAccess('Read')
    await net.settle()
    const bob = convs.bob!
    expect(bob.access).toBe('Read')
    await expectCode(bob.sendMessage('after'), 'FORBIDDEN')
    await expectCode(mine.updateBody('edited'), 'FORBIDDEN')
    await expectCode(mine.patchAttributes({ a: 1 }), 'FORBIDDEN')
    expect((await bob.getMessages()).items.map((m) => m.body)).toEqual(['before'])
    await mine.react('👀')
    expect(mine.reactions.map((r) => r.emoji)).toEqual(['👀'])
    expect(await bob.setAllMessagesRead()).toBe(0)
    // Removing one's own message is still allowed.
    await mine.remove()
    expect(mine.isRemoved).toBe(true)
  })

  it('a participant added with Read access cannot send', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    await (await conv.getParticipantByIdentity('alice')).updateAccess('Read')
    expect(conv.access).toBe('Read')
    await expectCode(conv.sendMessage('nope'), 'FORBIDDEN')
  })
})

describe('a creator who has not joined', () => {
  it('manages the conversation and its participants but cannot send, react or keep read state', async () => {
    const { net, clients } = await h.shared(['bob'])
    const bob = clients.bob!
    const alice = clients.alice!
    const conv = await alice.createConversation({ friendlyName: 'hosted' })
    expect(conv.role).toBe('admin')
    await conv.add('bob', {}, { role: 'moderator' })
    await conv.updateSubject('set up by alice')
    await expectCode(conv.sendMessage('hello'), 'FORBIDDEN')
    await expectCode(conv.typing(), 'FORBIDDEN')
    await expectCode(conv.getUnreadMessagesCount(), 'FORBIDDEN')
    await expectCode(conv.setAllMessagesRead(), 'FORBIDDEN')
    await expectCode(conv.markAsUnread(), 'FORBIDDEN')
    await net.settle()
    const bconv = await bob.getConversationBySid(conv.sid)
    const m = await bconv.sendMessage('hi host')
    await net.settle()
    const seen = await conv.getMessageBySid(m.sid)
    await expectCode(seen.react('👍'), 'FORBIDDEN')
    // Not a participant: may not moderate messages either.
    await expectCode(seen.remove(), 'FORBIDDEN')
  })
})

describe('non-participants', () => {
  it('cannot send, type or react: a creator who left', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.bob!.sendMessage('hi')
    await net.settle()
    const alice = convs.alice!
    await alice.leave()
    expect(alice.status).toBe('notParticipating')
    await expectCode(alice.sendMessage('still here?'), 'FORBIDDEN')
    await expectCode(alice.typing(), 'FORBIDDEN')
    await expectCode((await alice.getMessageBySid(m.sid)).react('👍'), 'FORBIDDEN')
    await net.settle()
    expect((await convs.bob!.getMessages()).items.map((x) => x.body)).toEqual(['hi'])
  })
})
