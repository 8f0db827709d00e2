/**
 * Offline and back, through real sockets: clients reach the relay through a TCP proxy the test
 * cuts (every socket dropped, new ones refused) and restores; or the relay itself goes down.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Client, Conversation, Message, Participant } from '../../src/index.ts'
import { createSqliteStorage } from '../../src/storage/sqlite.ts'
import { Harness, messagesOf, sharedConversation, waitFor, waitUntil } from './helpers.ts'

const offline = (client: Client): Promise<void> =>
  waitUntil(() => client.connectionState !== 'connected', `${client.identity} notices it is offline`)
const online = (client: Client): Promise<void> =>
  waitUntil(() => client.connectionState === 'connected', `${client.identity} is connected again`)

describe('relay: offline and back', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('two clients send, edit and read offline, then converge with nothing lost, duplicated or renumbered', async () => {
    const relay = await h.relay()
    const proxyA = await h.proxy(relay.port)
    const proxyB = await h.proxy(relay.port)
    const alice = await h.client('alice', { relayUrl: proxyA.url })
    const bob = await h.client('bob', { relayUrl: proxyB.url })

    const { conv, bconv } = await sharedConversation(alice, bob)

    // Delivered before going offline: two from each, alternating.
    const early: Message[] = []
    for (const [c, body] of [
      [conv, 'a1'],
      [bconv, 'b1'],
      [conv, 'a2'],
      [bconv, 'b2'],
    ] as const) {
      const m = await c.sendMessage(body)
      await waitUntil(() => m.index !== null, `${body} is sequenced`)
      early.push(m)
    }
    await waitUntil(async () => (await messagesOf(conv)).length === 4, 'alice has all four')
    await waitUntil(async () => (await messagesOf(bconv)).every((m) => m.index !== null), 'bob has all four stamped')
    await waitUntil(async () => (await messagesOf(bconv)).length === 4, 'bob has all four')
    const before = await messagesOf(conv)
    expect(await messagesOf(bconv)).toEqual(before)
    const lastDelivered = Math.max(...before.map((m) => m.index!))

    // Both go offline.
    proxyA.cut()
    proxyB.cut()
    await Promise.all([offline(alice), offline(bob)])

    // Offline: each sends three, edits an earlier message of their own, reads, reacts.
    const aliceOffline: Message[] = []
    const bobOffline: Message[] = []
    for (let i = 1; i <= 3; i++) {
      aliceOffline.push(await conv.sendMessage(`alice offline ${i}`))
      bobOffline.push(await bconv.sendMessage(`bob offline ${i}`))
    }
    await early[0]!.updateBody('a1 edited offline')
    const bobsB2 = await bconv.getMessageBySid(early[3]!.sid)
    await bobsB2.updateBody('b2 edited offline')
    await conv.advanceLastReadMessageIndex(lastDelivered)
    await bconv.advanceLastReadMessageIndex(lastDelivered)
    await (await bconv.getMessageBySid(early[0]!.sid)).react('🎉')
    for (const m of [...aliceOffline, ...bobOffline]) expect(m.index).toBeNull()
    expect(aliceOffline.every((m) => m.status === 'pending')).toBe(true)
    // Offline, each side still has only its own new messages.
    expect((await messagesOf(conv)).map((m) => m.body)).toEqual([
      ...before.map((m) => (m.sid === early[0]!.sid ? 'a1 edited offline' : m.body)),
      'alice offline 1',
      'alice offline 2',
      'alice offline 3',
    ])

    // Back online.
    proxyA.restore()
    proxyB.restore()
    await Promise.all([online(alice), online(bob)])
    await waitUntil(async () => {
      const [a, b] = await Promise.all([messagesOf(conv), messagesOf(bconv)])
      return a.length === 10 && a.every((m) => m.index !== null) && JSON.stringify(a) === JSON.stringify(b)
    }, 'both clients converge on the same ten sequenced messages')

    const after = await messagesOf(conv)
    expect(await messagesOf(bconv)).toEqual(after)
    // Every offline message arrives exactly once.
    for (const m of [...aliceOffline, ...bobOffline]) expect(after.filter((x) => x.sid === m.sid)).toHaveLength(1)
    expect(new Set(after.map((m) => m.sid)).size).toBe(10)
    // Indices assigned before going offline are unchanged, and the offline ones come after them.
    for (const m of before) expect(after.find((x) => x.sid === m.sid)!.index).toBe(m.index)
    expect(after.slice(0, 4).map((m) => m.sid)).toEqual(before.map((m) => m.sid))
    for (const m of after.slice(4)) expect(m.index!).toBeGreaterThan(lastDelivered)
    // Each author's offline messages keep the order they were written in.
    const order = (author: string) => after.filter((m) => m.author === author).map((m) => m.body)
    expect(order('alice').slice(2)).toEqual(['alice offline 1', 'alice offline 2', 'alice offline 3'])
    expect(order('bob').slice(2)).toEqual(['bob offline 1', 'bob offline 2', 'bob offline 3'])
    // Indices are unique.
    expect(new Set(after.map((m) => m.index)).size).toBe(10)

    // Offline edits, reads and reactions reached the other side.
    await waitUntil(
      async () => (await bconv.getMessageBySid(early[0]!.sid)).body === 'a1 edited offline',
      'bob sees alice’s offline edit',
    )
    await waitUntil(
      async () => (await conv.getMessageBySid(early[3]!.sid)).body === 'b2 edited offline',
      'alice sees bob’s offline edit',
    )
    await waitUntil(
      async () => (await conv.getParticipantByIdentity('bob')).lastReadMessageIndex === lastDelivered,
      'alice sees bob’s offline read horizon',
    )
    await waitUntil(
      async () => (await bconv.getParticipantByIdentity('alice')).lastReadMessageIndex === lastDelivered,
      'bob sees alice’s offline read horizon',
    )
    await waitUntil(
      async () => (await conv.getMessageBySid(early[0]!.sid)).reactions.some((r) => r.emoji === '🎉'),
      'alice sees bob’s offline reaction',
    )
    expect((await conv.getMessageBySid(early[0]!.sid)).status).toBe('read')
  })

  it('a user added while offline sees the conversation after reconnecting', async () => {
    const relay = await h.relay()
    const proxy = await h.proxy(relay.port)
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: proxy.url })
    await online(bob)
    proxy.cut()
    await offline(bob)

    const conv = await alice.createConversation({ friendlyName: 'while you were out', join: true })
    await conv.add('bob')
    const m1 = await conv.sendMessage('first')
    const m2 = await conv.sendMessage('second')
    await waitUntil(() => m1.index !== null && m2.index !== null, 'alice’s messages are sequenced')
    expect((await bob.getSubscribedConversations()).items).toHaveLength(0)

    const added = waitFor<Conversation>(bob, 'conversationAdded', () => true, 10_000)
    proxy.restore()
    const bconv = await added
    expect(bconv.sid).toBe(conv.sid)
    await waitUntil(async () => {
      const list = await messagesOf(bconv)
      return list.length === 2 && list.every((m) => m.index !== null)
    }, 'bob has both messages, sequenced')
    expect(await messagesOf(bconv)).toEqual(await messagesOf(conv))
    expect(bconv.friendlyName).toBe('while you were out')
    expect(bconv.status).toBe('joined')
    // and he takes part: his reply reaches alice
    const got = waitFor<Message>(conv, 'messageAdded', (m) => m.author === 'bob')
    await bconv.sendMessage('back now')
    expect((await got).body).toBe('back now')
  })

  it('a client reopened from its SQLite store while the relay is down shows everything, then delivers its pending messages', async () => {
    const dir = h.tmpdir()
    const relayDb = join(dir, 'relay.sqlite')
    const aliceDb = join(dir, 'alice.sqlite')
    let relay = await h.relay({ dataPath: relayDb })
    const port = relay.port
    const url = relay.url

    const aliceStore = createSqliteStorage({ path: aliceDb })
    h.defer(() => aliceStore.close())
    const alice = await h.client('alice', { relayUrl: url, storage: aliceStore })
    const bob = await h.client('bob', { relayUrl: url })
    const { conv, bconv } = await sharedConversation(alice, bob, { friendlyName: 'durable', join: true })
    const s1 = await conv.sendMessage('sent 1')
    await bconv.sendMessage('sent 2')
    await waitUntil(async () => {
      const list = await messagesOf(conv)
      return list.length === 2 && list.every((m) => m.index !== null)
    }, 'alice has both delivered messages')
    const delivered = await messagesOf(conv)
    const lastDelivered = Math.max(...delivered.map((m) => m.index!))

    // The relay goes down.
    await relay.close()
    await Promise.all([offline(alice), offline(bob)])

    // Alice keeps working offline, then quits.
    const p1 = await conv.sendMessage('pending 1')
    const p2 = await conv.sendMessage('pending 2')
    await s1.updateBody('sent 1 (edited offline)')
    await conv.advanceLastReadMessageIndex(lastDelivered)
    expect(p1.index).toBeNull()
    await alice.shutdown()
    await aliceStore.close()

    // She reopens from her SQLite file while the relay is still down.
    const store2 = createSqliteStorage({ path: aliceDb })
    h.defer(() => store2.close())
    const alice2 = await h.client('alice', { relayUrl: url, storage: store2 })
    expect(alice2.connectionState).not.toBe('connected')
    const reopened = await alice2.getConversationBySid(conv.sid)
    expect(reopened.friendlyName).toBe('durable')
    const shown = await messagesOf(reopened)
    const shownBody = (m: { sid: string; body: string | null }) =>
      m.sid === s1.sid ? 'sent 1 (edited offline)' : m.body
    expect(shown.map((m) => [m.sid, m.index, m.body])).toEqual([
      ...delivered.map((m) => [m.sid, m.index, shownBody(m)]),
      [p1.sid, null, 'pending 1'],
      [p2.sid, null, 'pending 2'],
    ])
    expect((await reopened.getMessageBySid(p1.sid)).status).toBe('pending')
    expect(reopened.lastReadMessageIndex).toBe(lastDelivered)
    expect((await reopened.getParticipants()).map((p: Participant) => p.identity).sort()).toEqual(['alice', 'bob'])

    // The relay comes back on the same port with the same file: the pending messages are delivered.
    const bobGets = waitFor<Message>(bconv, 'messageAdded', (m) => m.sid === p2.sid, 10_000)
    relay = await h.relay({ dataPath: relayDb }, port)
    await bobGets
    await waitUntil(async () => {
      const [a, b] = await Promise.all([messagesOf(reopened), messagesOf(bconv)])
      return a.length === 4 && a.every((m) => m.index !== null) && JSON.stringify(a) === JSON.stringify(b)
    }, 'alice and bob converge with the pending messages sequenced')
    const final = await messagesOf(bconv)
    expect(final.map((m) => [m.sid, m.body])).toEqual([
      ...delivered.map((m) => [m.sid, shownBody(m)]),
      [p1.sid, 'pending 1'],
      [p2.sid, 'pending 2'],
    ])
    expect(final.slice(0, 2).map((m) => m.index)).toEqual(delivered.map((m) => m.index))
    await waitUntil(
      async () => (await bconv.getParticipantByIdentity('alice')).lastReadMessageIndex === lastDelivered,
      'bob sees alice’s offline read horizon',
    )
  })
})
