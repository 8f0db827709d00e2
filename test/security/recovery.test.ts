/**
 * An honest client whose offline change is refused by the relay. Bob loses his write access (or
 * his membership) while he is offline and writes anyway; on reconnect the relay refuses the change.
 * The client must report it (`error` with code REJECTED), drop the refused change instead of
 * sending it again on every reconnect, and keep the rest of its state.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Relay } from '../../relay/index.ts'
import type { Client, Conversation, Message } from '../../src/index.ts'
import type { StorageAdapter } from '../../src/storage/adapter.ts'
import { Scope, storedDoc, type TcpProxy, waitFor, waitUntil } from './helpers.ts'

interface Setup {
  relay: Relay
  storage: StorageAdapter
  proxy: TcpProxy
  alice: Client
  bob: Client
  conv: Conversation
  bconv: Conversation
  /** A second conversation of alice and bob's, untouched by the refusal. */
  other: Conversation
  first: Message
}

const rejections = (relay: Relay) => relay.metrics.rejections.get('update_rejected') ?? 0

/** Every message body of a conversation, as stored by the relay. */
const storedBodies = async (storage: StorageAdapter, sid: string): Promise<string[]> => {
  const doc = await storedDoc(storage, `conv/${sid}`)
  const out = [...doc.getMap<{ content: Array<{ text?: string }> }>('messages').values()].map(
    (m) => m.content[0]?.text ?? '',
  )
  doc.destroy()
  return out.sort()
}

/** Cuts bob off and brings him back; resolves once he is connected and synced again. */
const reconnect = async (s: Setup) => {
  s.proxy.cut()
  await waitUntil(() => s.bob.connectionState !== 'connected', 'bob is disconnected')
  s.proxy.restore()
  await waitUntil(() => s.bob.connectionState === 'connected', 'bob is connected again')
  await s.bob.whenSynced()
}

describe('a client whose offline change is refused', () => {
  const sc = new Scope()
  afterEach(() => sc.cleanup())

  const setup = async (): Promise<Setup> => {
    const { relay, storage } = await sc.relay()
    const proxy = await sc.proxy(relay.port)
    const alice = await sc.client('alice', relay.url)
    const bob = await sc.client('bob', proxy.url)
    const added = (sid: () => string) => waitFor<Conversation>(bob, 'conversationAdded', (c) => c.sid === sid())
    let sid = ''
    const bobAdded = added(() => sid)
    const conv = await alice.createConversation({ friendlyName: 'main', join: true })
    sid = conv.sid
    await conv.add('bob')
    const bconv = await bobAdded
    let otherSid = ''
    const otherAdded = added(() => otherSid)
    const other = await alice.createConversation({ friendlyName: 'other', join: true })
    otherSid = other.sid
    await other.add('bob')
    const bother = await otherAdded
    const gotOther = waitFor<Message>(bother, 'messageAdded', (m) => m.body === 'in the other one')
    await other.sendMessage('in the other one')
    await gotOther
    const got = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'hello bob')
    const first = await conv.sendMessage('hello bob')
    await got
    await waitUntil(() => first.index !== null, 'the first message is sequenced')
    await bob.whenSynced()
    return { relay, storage, proxy, alice, bob, conv, bconv, other, first }
  }

  it('demoted to read-only while offline: REJECTED once, the message dropped, never resent, the rest kept', async () => {
    const s = await setup()
    const errors: Array<{ code?: string; conversationSid?: string; droppedMessages?: string[] }> = []
    s.bob.on('error', (e: never) => errors.push(e))

    s.proxy.cut()
    await waitUntil(() => s.bob.connectionState !== 'connected', 'bob is offline')
    await (await s.conv.getParticipantByIdentity('bob')).updateAccess('Read')
    // Bob's client has not heard of it: it lets him write.
    const offline = await s.bconv.sendMessage('written while read-only')
    expect(offline.index).toBeNull()

    const rejected = waitFor<{ code: string }>(s.bob, 'error', (e) => e.code === 'REJECTED', 10_000)
    s.proxy.restore()
    const error = (await rejected) as { code: string; conversationSid?: string; droppedMessages?: string[] }
    expect(error.code).toBe('REJECTED')
    expect(error.conversationSid).toBe(s.conv.sid)
    expect(error.droppedMessages).toEqual([offline.sid])
    expect(rejections(s.relay)).toBe(1)

    // Bob is back, read-only, with the conversation resynced from the relay and the message gone.
    await waitUntil(() => s.bob.connectionState === 'connected', 'bob reconnects after the refusal')
    await s.bob.whenSynced()
    const bconv = await s.bob.getConversationBySid(s.conv.sid)
    await waitUntil(() => bconv.access === 'Read', 'bob sees his read-only access')
    const bodies = async () => (await bconv.getMessages()).items.map((m) => m.body)
    await waitUntil(async () => (await bodies()).includes('hello bob'), 'bob has alice’s message again')
    expect(await bodies()).not.toContain('written while read-only')
    expect(await storedBodies(s.storage, s.conv.sid)).toEqual(['hello bob'])
    expect((await s.conv.getMessages()).items.map((m) => m.body)).toEqual(['hello bob'])

    // Later reconnects do not send the refused change again.
    await reconnect(s)
    await reconnect(s)
    expect(rejections(s.relay)).toBe(1)
    expect(errors.filter((e) => e.code === 'REJECTED')).toHaveLength(1)

    // The rest of bob's state is intact and live: the other conversation, and alice's new messages.
    const bother = await s.bob.getConversationBySid(s.other.sid)
    expect((await bother.getMessages()).items.map((m) => m.body)).toEqual(['in the other one'])
    const later = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'after the refusal')
    await s.conv.sendMessage('after the refusal')
    await later
    expect(s.bob.connectionState).toBe('connected')
  })

  it('demoted while offline: what read-only access still allows survives the refusal (reaction, read horizon, mute)', async () => {
    const s = await setup()
    s.proxy.cut()
    await waitUntil(() => s.bob.connectionState !== 'connected', 'bob is offline')
    await (await s.conv.getParticipantByIdentity('bob')).updateAccess('Read')
    const mine = await s.bconv.getMessageBySid(s.first.sid)
    await mine.react('👍')
    await s.bconv.advanceLastReadMessageIndex(s.first.index!)
    await s.bconv.setUserNotificationLevel('muted')
    const refused = await s.bconv.sendMessage('written while read-only')

    const rejected = waitFor<{ code: string; droppedMessages?: string[] }>(
      s.bob,
      'error',
      (e) => e.code === 'REJECTED',
      10_000,
    )
    s.proxy.restore()
    expect((await rejected).droppedMessages).toEqual([refused.sid])
    await waitUntil(() => s.bob.connectionState === 'connected', 'bob reconnects after the refusal')
    await s.bob.whenSynced()
    const bconv = await s.bob.getConversationBySid(s.conv.sid)
    // On bob's fresh copy and, through the relay, on alice's side.
    await waitUntil(
      async () => (await bconv.getMessageBySid(s.first.sid)).reactions.length === 1,
      'bob’s reaction is back',
    )
    expect(bconv.lastReadMessageIndex).toBe(s.first.index)
    expect(bconv.notificationLevel).toBe('muted')
    const atAlice = await s.conv.getMessageBySid(s.first.sid)
    await waitUntil(
      () => atAlice.reactions.some((r) => r.emoji === '👍' && r.users.includes('bob')),
      'alice sees the reaction',
    )
    await waitUntil(
      async () => (await s.conv.getParticipantByIdentity('bob')).lastReadMessageIndex === s.first.index,
      'alice sees bob’s read horizon',
    )
    expect(await storedBodies(s.storage, s.conv.sid)).toEqual(['hello bob'])
  })

  it('removed while offline: the conversation leaves his list, the offline message is never sent, the rest kept', async () => {
    const s = await setup()
    const errors: Array<{ code?: string }> = []
    s.bob.on('error', (e: never) => errors.push(e))

    s.proxy.cut()
    await waitUntil(() => s.bob.connectionState !== 'connected', 'bob is offline')
    await s.conv.removeParticipant('bob')
    const offline = await s.bconv.sendMessage('written after removal')
    expect(offline.index).toBeNull()

    const removed = waitFor<Conversation>(s.bob, 'conversationRemoved', (c) => c.sid === s.conv.sid, 10_000)
    s.proxy.restore()
    await removed
    await waitUntil(() => s.bob.connectionState === 'connected', 'bob reconnects')
    await s.bob.whenSynced()
    const listed = (await s.bob.getSubscribedConversations()).items.map((c) => c.sid)
    expect(listed).not.toContain(s.conv.sid)
    expect(listed).toContain(s.other.sid)
    await expect(s.bob.getConversationBySid(s.conv.sid)).rejects.toMatchObject({ code: 'NOT_FOUND' })

    // The relay was never sent the message (it denies bob the document before any exchange), so
    // nothing was refused either: no 4422, no REJECTED error.
    expect(rejections(s.relay)).toBe(0)
    expect(errors.filter((e) => e.code === 'REJECTED')).toEqual([])
    expect(await storedBodies(s.storage, s.conv.sid)).toEqual(['hello bob'])

    await reconnect(s)
    expect(rejections(s.relay)).toBe(0)
    expect((await s.bob.getSubscribedConversations()).items.map((c) => c.sid)).not.toContain(s.conv.sid)
    const bother = await s.bob.getConversationBySid(s.other.sid)
    const later = waitFor<Message>(bother, 'messageAdded', (m) => m.body === 'still friends')
    await s.other.sendMessage('still friends')
    await later
  })
})
