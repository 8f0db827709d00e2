/**
 * The other side of the forgery suites: what an honest client writes offline, over two sessions of
 * the same device (two Yjs clientIDs, the newer building on the older), reaches the relay as items
 * that arrive already deleted, overwrite each other and reference each other across clientIDs.
 * None of it may be refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Conversation, Message } from '../../src/index.ts'
import { createMemoryStorage } from '../../src/storage/memory.ts'
import { Scope, waitFor, waitUntil } from './helpers.ts'

describe('honest offline work is never refused', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('edits, reactions, read state and preferences rewritten over two offline sessions, a message sent and removed', async () => {
    const { relay } = await s.relay()
    const proxy = await s.proxy(relay.port)
    const alice = await s.client('alice', relay.url)
    const storage = createMemoryStorage()
    s.defer(() => storage.close())
    const bob1 = await s.client('bob', proxy.url, { storage })
    const bobAdded = waitFor<Conversation>(bob1, 'conversationAdded')
    const conv = await alice.createConversation({ join: true })
    await conv.add('bob')
    const b1 = await bobAdded
    const aliceGets = waitFor<Message>(conv, 'messageAdded', (m) => m.body === 'v1')
    const mine = await b1.sendMessage('v1')
    const hers = await aliceGets
    const aliceMsg = await conv.sendMessage('from alice')
    await waitUntil(() => mine.index !== null && aliceMsg.index !== null, 'both messages are sequenced')
    await waitUntil(async () => (await b1.getMessagesCount()) === 2, 'bob has both messages')
    // Online first, so that the offline rewrites land on live values the relay holds.
    await mine.updateBody('v1.5')
    await (await b1.getMessageBySid(aliceMsg.sid)).react('👀')
    await b1.advanceLastReadMessageIndex(mine.index!)
    await b1.setUserNotificationLevel('default')
    await waitUntil(() => hers.body === 'v1.5' && aliceMsg.reactions.length === 1, 'alice sees bob’s online writes')
    await bob1.whenSynced()
    const errors: Array<{ code?: string }> = []

    // Session 1, offline.
    proxy.cut()
    await waitUntil(() => bob1.connectionState !== 'connected', 'bob is offline')
    await mine.updateBody('v2')
    await (await b1.getMessageBySid(aliceMsg.sid)).react('👍')
    await b1.updateLastReadMessageIndex(null)
    await b1.setUserNotificationLevel('muted')
    await bob1.shutdown()

    // Session 2 of the same device (a new clientID), still offline.
    const bob2 = await s.client('bob', proxy.url, { storage })
    bob2.on('error', (e: { code?: string }) => errors.push(e))
    const b2 = await bob2.getConversationBySid(conv.sid)
    const mine2 = await b2.getMessageBySid(mine.sid)
    await mine2.updateBody('v3')
    const hers2 = await b2.getMessageBySid(aliceMsg.sid)
    await hers2.unreact('👍')
    await hers2.unreact('👀')
    await hers2.react('🎉')
    await b2.advanceLastReadMessageIndex(aliceMsg.index!)
    await b2.setUserNotificationLevel('mentions')
    const gone = await b2.sendMessage('sent and removed offline')
    await gone.remove()
    const kept = await b2.sendMessage('sent offline, kept')

    proxy.restore()
    const aliceSees = waitFor<Message>(conv, 'messageAdded', (m) => m.body === 'sent offline, kept')
    await waitUntil(() => bob2.connectionState === 'connected', 'bob reconnects')
    await bob2.whenSynced()
    await aliceSees
    await waitUntil(() => kept.index !== null, 'the offline message is sequenced')

    expect(relay.metrics.rejections.get('update_rejected') ?? 0).toBe(0)
    expect(errors).toEqual([])
    await waitUntil(() => hers.body === 'v3', 'alice sees bob’s last edit')
    await waitUntil(
      () => JSON.stringify(aliceMsg.reactions.map((r) => r.emoji)) === '["🎉"]',
      'alice sees bob’s reaction swapped',
    )
    await waitUntil(
      async () => (await conv.getParticipantByIdentity('bob')).lastReadMessageIndex === aliceMsg.index,
      'alice sees bob’s read horizon',
    )
    expect((await conv.getMessages()).items.map((m) => m.body)).toEqual(['v3', 'from alice', 'sent offline, kept'])
    expect(b2.notificationLevel).toBe('mentions')
  })
})
