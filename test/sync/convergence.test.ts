/**
 * Deterministic convergence scenarios: two and three clients syncing through an in-process relay
 * whose links the test controls. Every scenario ends with all replicas showing the same messages,
 * in the same order, with the same indices, and no index changing once observed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  ColloquyError,
  type Conversation,
  createMemoryStorage,
  type Message,
  type StorageAdapter,
} from '../../src/index.js'
import { readFrame } from '../../src/sync/protocol.js'
import { createTestNetwork, type TestNetwork, type TestNetworkOptions } from '../../src/testing/index.js'
import {
  allMessages,
  closeAll,
  conversationOf,
  expectConverged,
  expectNoErrors,
  expectSequenced,
  IndexWatch,
  type Peer,
  restartPeer,
  settleUntil,
  startPeer,
} from './harness.js'

let net: TestNetwork | null = null
let peers: Peer[] = []
let watch: IndexWatch | null = null

afterEach(async () => {
  watch?.stop()
  watch = null
  const open = peers
  const n = net
  peers = []
  net = null
  try {
    // Nothing in these scenarios is refused or fails in the background.
    if (n) expectNoErrors(open, n)
  } finally {
    await closeAll(open, n)
  }
})

interface Room {
  net: TestNetwork
  sid: string
  peers: Peer[]
  /** Each peer's conversation object, by peer name. */
  conv: Record<string, Conversation>
  identities: string[]
}

/**
 * Starts peers (`name` or `name:identity`), lets the first create a conversation with everyone in
 * it, settles, and starts an index watch on every replica.
 */
const room = async (specs: string[], options: TestNetworkOptions = {}): Promise<Room> => {
  net = createTestNetwork(options)
  const started: Peer[] = []
  for (const spec of specs) {
    const [name, identity = name] = spec.split(':') as [string, string?]
    const p = await startPeer(net, name, identity)
    started.push(p)
    peers.push(p)
  }
  const owner = started[0]!
  const created = await owner.client.createConversation({ friendlyName: 'room', join: true })
  const identities = [...new Set(started.map((p) => p.identity))]
  for (const identity of identities) if (identity !== owner.identity) await created.add(identity)
  await net.settle()
  watch = new IndexWatch()
  const conv: Record<string, Conversation> = {}
  for (const p of started) {
    conv[p.name] = await conversationOf(p, created.sid)
    watch.watch(p.name, conv[p.name]!)
  }
  return { net, sid: created.sid, peers: started, conv, identities }
}

/** Re-reads every peer's conversation object (after a restart) and re-scans indices. */
const rescan = async (r: Room): Promise<void> => {
  for (const p of r.peers) {
    const c = await conversationOf(p, r.sid)
    if (r.conv[p.name] !== c) {
      r.conv[p.name] = c
      watch!.watch(p.name, c)
    }
    await watch!.check(p.name, c)
  }
}

const bodies = async (conv: Conversation): Promise<Array<string | null>> => (await allMessages(conv)).map((m) => m.body)
const indexOf = (view: { messages: Array<{ id: string; index: number | null }> }, id: string): number => {
  const m = view.messages.find((x) => x.id === id)
  expect(m, `message ${id} is present`).toBeDefined()
  return m!.index!
}

const sendAll = async (conv: Conversation, texts: string[]): Promise<Message[]> => {
  const out: Message[] = []
  for (const t of texts) out.push(await conv.sendMessage(t))
  return out
}

/** Asserts a replica lists its sequenced messages first, then `pending` (in that order), all with index null. */
const expectPendingLast = async (conv: Conversation, sequenced: number, pending: string[]): Promise<void> => {
  const list = await allMessages(conv)
  expect(list.length).toBe(sequenced + pending.length)
  expect(
    list.slice(0, sequenced).every((m) => m.index !== null),
    'sequenced messages come first',
  ).toBe(true)
  expect(list.slice(sequenced).map((m) => [m.body, m.index, m.status])).toEqual(
    pending.map((b) => [b, null, 'pending']),
  )
}

describe('concurrent offline sends', () => {
  it('two clients: every message once, same order and indices; earlier indices kept', async () => {
    const r = await room(['alice', 'bob'])
    const { alice, bob } = r.conv as { alice: Conversation; bob: Conversation }
    const [a0] = await sendAll(alice, ['a0'])
    const [b0] = await sendAll(bob, ['b0'])
    await r.net.settle()
    await rescan(r)
    const before = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(before)
    const a0Index = indexOf(before, a0!.sid)
    const b0Index = indexOf(before, b0!.sid)

    for (const p of r.peers) p.link.partition()
    const offA = await sendAll(alice, ['a1', 'a2', 'a3'])
    const offB = await sendAll(bob, ['b1', 'b2', 'b3', 'b4'])
    await r.net.settle()
    // While offline: what was sequenced keeps its place and index, pending messages list after it.
    await expectPendingLast(alice, 2, ['a1', 'a2', 'a3'])
    await expectPendingLast(bob, 2, ['b1', 'b2', 'b3', 'b4'])
    expect(a0!.index).toBe(a0Index)
    expect(b0!.index).toBe(b0Index)

    for (const p of r.peers) p.link.heal()
    await r.net.settle()
    await rescan(r)
    const after = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(after)
    const ids = after.messages.map((m) => m.id)
    const sent = [a0!, b0!, ...offA, ...offB].map((m) => m.sid)
    expect([...ids].sort()).toEqual([...sent].sort())
    expect(new Set(ids).size).toBe(ids.length)
    expect(indexOf(after, a0!.sid)).toBe(a0Index)
    expect(indexOf(after, b0!.sid)).toBe(b0Index)
    for (const m of [...offA, ...offB]) expect(indexOf(after, m.sid)).toBeGreaterThan(Math.max(a0Index, b0Index))
    // Each author's offline burst keeps the order it was written in.
    expect(after.messages.filter((m) => m.author === 'alice').map((m) => m.body)).toEqual(['a0', 'a1', 'a2', 'a3'])
    expect(after.messages.filter((m) => m.author === 'bob').map((m) => m.body)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4'])
    // The Message objects the senders hold got their index too.
    for (const m of [...offA, ...offB]) expect(m.index).toBe(indexOf(after, m.sid))
    watch!.expectStable()
  })

  it('three clients: offline messages come after what was sequenced before they reached the relay', async () => {
    const r = await room(['alice', 'bob', 'carol'])
    const { alice, bob, carol } = r.conv as Record<'alice' | 'bob' | 'carol', Conversation>
    await sendAll(carol, ['c0'])
    await r.net.settle()
    r.peers[0]!.link.partition()
    r.peers[1]!.link.partition()
    const offA = await sendAll(alice, ['a1', 'a2'])
    const offB = await sendAll(bob, ['b1', 'b2', 'b3'])
    const online1 = await sendAll(carol, ['c1', 'c2'])
    await r.net.settle()
    await rescan(r)
    // Carol (online) saw her messages sequenced; the partitioned clients list theirs as pending last.
    expect(online1.map((m) => m.index)).toEqual([1, 2])
    await expectPendingLast(alice, 1, ['a1', 'a2'])
    await expectPendingLast(bob, 1, ['b1', 'b2', 'b3'])

    r.peers[0]!.link.heal()
    await r.net.settle()
    await rescan(r)
    const maxBeforeAlice = Math.max(...online1.map((m) => m.index!))
    for (const m of offA) expect(m.index!).toBeGreaterThan(maxBeforeAlice)
    const online2 = await sendAll(carol, ['c3'])
    await r.net.settle()
    await rescan(r)
    const maxBeforeBob = Math.max(online2[0]!.index!, ...offA.map((m) => m.index!))
    // Bob is still offline: his messages are still pending, after everything the others sequenced.
    await expectPendingLast(bob, 1, ['b1', 'b2', 'b3'])

    r.peers[1]!.link.heal()
    await r.net.settle()
    await rescan(r)
    for (const m of offB) expect(m.index!).toBeGreaterThan(maxBeforeBob)
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    expect(view.messages.map((m) => m.body)).toEqual(['c0', 'c1', 'c2', 'a1', 'a2', 'c3', 'b1', 'b2', 'b3'])
    watch!.expectStable()
  })

  it('keeps the order an author wrote an offline burst in, even within one clock tick', async () => {
    net = createTestNetwork()
    const t = 1_700_000_000_000
    const alice = await startPeer(net, 'alice', 'alice', { now: () => t })
    peers.push(alice)
    const bob = await startPeer(net, 'bob', 'bob')
    peers.push(bob)
    const conv = await alice.client.createConversation({ join: true })
    await conv.add('bob')
    await net.settle()
    alice.link.partition()
    const texts = ['one', 'two', 'three', 'four', 'five', 'six']
    await sendAll(conv, texts)
    expect(await bodies(conv), 'pending messages list in the order they were sent').toEqual(texts)
    alice.link.heal()
    await net.settle()
    expect(await bodies(conv)).toEqual(texts)
    expect(await bodies(await conversationOf(bob, conv.sid))).toEqual(texts)
    await expectConverged([alice, bob], conv.sid, ['alice', 'bob'])
  })
})

describe('concurrent offline changes of messages', () => {
  it('edits, deletes and reactions (delete vs concurrent reaction) merge the same way everywhere', async () => {
    const r = await room(['alice', 'bob', 'carol'])
    const { alice, bob, carol } = r.conv as Record<'alice' | 'bob' | 'carol', Conversation>
    const [m1, m2, m3] = await sendAll(alice, ['m1', 'm2', 'm3'])
    const [n1, n2] = await sendAll(bob, ['n1', 'n2'])
    await r.net.settle()
    await rescan(r)
    const before = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(before)

    r.peers[0]!.link.partition()
    r.peers[1]!.link.partition()
    const bobsView = async (id: string) => bob.getMessageBySid(id)
    const alicesView = async (id: string) => alice.getMessageBySid(id)
    // Alice: edits m1, deletes m2 and reacts to n1 and n2.
    await (await alicesView(m1!.sid)).updateBody('m1 edited')
    await (await alicesView(m2!.sid)).remove()
    await (await alicesView(n1!.sid)).react('👍')
    await (await alicesView(n2!.sid)).react('🎉')
    // Bob, concurrently: edits n1, deletes n2 (Alice reacts to it), reacts to m2 (Alice deletes it) and m1.
    await (await bobsView(n1!.sid)).updateBody('n1 edited')
    await (await bobsView(n2!.sid)).remove()
    await (await bobsView(m2!.sid)).react('❤️')
    await (await bobsView(m1!.sid)).react('👍')
    // Carol, online: reacts to m1 and m3, then takes one back.
    await (await carol.getMessageBySid(m1!.sid)).react('👍')
    await (await carol.getMessageBySid(m3!.sid)).react('😀')
    await (await carol.getMessageBySid(m3!.sid)).unreact('😀')
    await r.net.settle()

    r.peers[1]!.link.heal()
    await r.net.settle()
    r.peers[0]!.link.heal()
    await r.net.settle()
    await rescan(r)
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    expect(view.messages.map((m) => [m.index, m.body])).toEqual(
      [
        [indexOf(before, m1!.sid), 'm1 edited'],
        [indexOf(before, m3!.sid), 'm3'],
        [indexOf(before, n1!.sid), 'n1 edited'],
      ].sort((x, y) => (x[0] as number) - (y[0] as number)),
    )
    const reactions = Object.fromEntries(view.messages.map((m) => [m.body, m.reactions]))
    expect(reactions).toEqual({
      'm1 edited': [{ emoji: '👍', users: ['bob', 'carol'] }],
      m3: [],
      'n1 edited': [{ emoji: '👍', users: ['alice'] }],
    })
    // Deleted messages are gone on every replica, even where a concurrent reaction targeted them.
    for (const c of [alice, bob, carol]) {
      for (const id of [m2!.sid, n2!.sid]) {
        const e = await c.getMessageBySid(id).catch((x: unknown) => x)
        expect(e).toBeInstanceOf(ColloquyError)
        expect((e as ColloquyError).code).toBe('NOT_FOUND')
      }
      expect(await c.getMessagesCount()).toBe(3)
    }
    watch!.expectStable()
  })

  it('a member who sends and deletes a message offline keeps every other offline change', async () => {
    const r = await room(['alice', 'bob'])
    const { alice, bob } = r.conv as Record<'alice' | 'bob', Conversation>
    const [fromAlice] = await sendAll(alice, ['from alice'])
    const [old] = await sendAll(bob, ['old'])
    await r.net.settle()
    expect((await bob.getParticipantByIdentity('bob')).role).toBe('member')
    r.peers[1]!.link.partition()
    await (await bob.getMessageBySid(old!.sid)).updateBody('old, edited')
    const [oops, kept] = await sendAll(bob, ['oops', 'kept'])
    await oops!.remove()
    await (await bob.getMessageBySid(fromAlice!.sid)).react('👍')
    await bob.advanceLastReadMessageIndex(fromAlice!.index!)
    await r.net.settle()
    r.peers[1]!.link.heal()
    await r.net.settle()
    expect(r.peers[1]!.client.connectionState).toBe('connected')
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    expect(view.messages.map((m) => m.body)).toEqual(['from alice', 'old, edited', 'kept'])
    expect(view.messages[0]!.reactions).toEqual([{ emoji: '👍', users: ['bob'] }])
    expect(view.horizons.bob!.index).toBe(fromAlice!.index)
    expect(kept!.index).toBe(indexOf(view, kept!.sid))
    watch!.expectStable()
  })

  for (const first of ['deleter', 'editor'] as const) {
    it(`one device deletes a message while another edits it (${first} reaches the relay first)`, async () => {
      const r = await room(['alice', 'bob', 'alice#2:alice'])
      const phone = r.conv.alice!
      const laptop = r.conv['alice#2']!
      const [doomed, other] = await sendAll(phone, ['doomed', 'other'])
      const [fromBob] = await sendAll(r.conv.bob!, ['from bob'])
      await r.net.settle()
      r.peers[0]!.link.partition()
      r.peers[2]!.link.partition()
      await (await phone.getMessageBySid(doomed!.sid)).remove()
      await (await laptop.getMessageBySid(doomed!.sid)).updateBody('doomed, edited')
      await (await laptop.getMessageBySid(other!.sid)).updateBody('other, edited')
      await (await laptop.getMessageBySid(fromBob!.sid)).react('👍')
      const [late] = await sendAll(laptop, ['late'])
      const order = first === 'deleter' ? [0, 2] : [2, 0]
      for (const i of order) {
        r.peers[i]!.link.heal()
        await r.net.settle()
      }
      for (const p of r.peers) expect(p.client.connectionState, `${p.name} stays connected`).toBe('connected')
      const view = await expectConverged(r.peers, r.sid, r.identities)
      expectSequenced(view)
      expect(view.messages.map((m) => m.body).sort()).toEqual(['from bob', 'late', 'other, edited'])
      expect(view.messages[2]!.body, 'sent offline: after everything sequenced before').toBe('late')
      expect(view.messages.find((m) => m.id === fromBob!.sid)!.reactions).toEqual([{ emoji: '👍', users: ['alice'] }])
      expect(late!.index).toBe(indexOf(view, late!.sid))
      watch!.expectStable()
    })
  }

  for (const order of [
    [0, 1],
    [1, 0],
  ]) {
    it(`an edit that lands after the delete, then more edits offline (delivery order ${order})`, async () => {
      net = createTestNetwork({ autoDeliver: false })
      for (const [name, identity] of [
        ['alice', 'alice'],
        ['bob', 'bob'],
        ['bob#2', 'bob'],
      ] as const) {
        peers.push(await startPeer(net, name, identity, { noTimers: true }))
      }
      const [alice, phone, laptop] = peers as [Peer, Peer, Peer]
      const created = await alice.client.createConversation({ join: true })
      await created.add('bob')
      await net.settle()
      const onPhone = await conversationOf(phone, created.sid)
      const onLaptop = await conversationOf(laptop, created.sid)
      const [m] = await sendAll(onPhone, ['m'])
      const [kept] = await sendAll(onPhone, ['kept'])
      await net.settle()
      // The laptop edits while the phone deletes; both frames reach the relay, in either order.
      await (await onLaptop.getMessageBySid(m!.sid)).updateBody('edit 1')
      await (await onPhone.getMessageBySid(m!.sid)).remove()
      for (const pick of order) {
        net.deliver(1, (count) => pick % count)
        for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve))
      }
      // The laptop drops off before it hears of the delete, and edits twice more.
      laptop.link.partition()
      await (await onLaptop.getMessageBySid(m!.sid)).updateBody('edit 2')
      await (await onLaptop.getMessageBySid(m!.sid)).updateBody('edit 3')
      await (await onLaptop.getMessageBySid(kept!.sid)).updateBody('kept, edited')
      laptop.link.heal()
      await net.settle()
      for (const p of peers) expect(p.client.connectionState, `${p.name} stays connected`).toBe('connected')
      const view = await expectConverged(peers, created.sid, ['alice', 'bob'])
      expect(view.messages.map((x) => x.body)).toEqual(['kept, edited'])
    })
  }

  it('a reaction that reaches the relay after the delete does not bring the message back', async () => {
    const r = await room(['alice', 'bob'])
    const { alice, bob } = r.conv as Record<'alice' | 'bob', Conversation>
    const [m] = await sendAll(alice, ['doomed'])
    await r.net.settle()
    r.peers[1]!.link.partition()
    await (await bob.getMessageBySid(m!.sid)).react('👀')
    await (await alice.getMessageBySid(m!.sid)).remove()
    await r.net.settle()
    r.peers[1]!.link.heal()
    await r.net.settle()
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expect(view.messages).toEqual([])
    expect(await alice.getMessagesCount()).toBe(0)
    expect(await bob.getMessagesCount()).toBe(0)
  })
})

describe('read horizons', () => {
  it('two devices of one identity advancing concurrently: the maximum wins everywhere', async () => {
    const r = await room(['alice', 'bob', 'alice#2:alice'])
    const bob = r.conv.bob!
    const a1 = r.conv.alice!
    const a2 = r.conv['alice#2']!
    await sendAll(bob, ['0', '1', '2', '3', '4', '5'])
    await r.net.settle()
    r.peers[0]!.link.partition()
    r.peers[2]!.link.partition()
    await a1.advanceLastReadMessageIndex(4)
    await a2.advanceLastReadMessageIndex(2)
    await a2.advanceLastReadMessageIndex(3)
    expect(a1.lastReadMessageIndex).toBe(4)
    expect(a2.lastReadMessageIndex).toBe(3)
    r.peers[2]!.link.heal()
    await r.net.settle()
    r.peers[0]!.link.heal()
    await r.net.settle()
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expect(view.horizons.alice!.index).toBe(4)
    for (const c of [a1, a2]) expect(c.lastReadMessageIndex).toBe(4)
    expect((await bob.getParticipantByIdentity('alice')).lastReadMessageIndex).toBe(4)
    expect(await a2.getUnreadMessagesCount()).toBe(1)
    // A later advance below the horizon is ignored; above it moves everywhere.
    await a2.advanceLastReadMessageIndex(1)
    await r.net.settle()
    expect((await expectConverged(r.peers, r.sid, r.identities)).horizons.alice!.index).toBe(4)
    await a2.advanceLastReadMessageIndex(5)
    await r.net.settle()
    expect((await expectConverged(r.peers, r.sid, r.identities)).horizons.alice!.index).toBe(5)
  })

  for (const healFirst of ['updater', 'advancer'] as const) {
    it(`update back vs concurrent advance gives one result on every replica (${healFirst} heals first)`, async () => {
      const r = await room(['alice', 'bob', 'alice#2:alice'])
      const bob = r.conv.bob!
      const a1 = r.conv.alice!
      const a2 = r.conv['alice#2']!
      await sendAll(bob, ['0', '1', '2', '3', '4', '5', '6'])
      await r.net.settle()
      await a1.advanceLastReadMessageIndex(3)
      await r.net.settle()
      expect(a2.lastReadMessageIndex).toBe(3)
      r.peers[0]!.link.partition()
      r.peers[2]!.link.partition()
      await a1.updateLastReadMessageIndex(1)
      await a2.advanceLastReadMessageIndex(6)
      const order = healFirst === 'updater' ? [0, 2] : [2, 0]
      for (const i of order) {
        r.peers[i]!.link.heal()
        await r.net.settle()
      }
      const view = await expectConverged(r.peers, r.sid, r.identities)
      // The move back raised the epoch: it beats the concurrent advance it never saw.
      expect(view.horizons.alice!.index).toBe(1)
      expect(a1.lastReadMessageIndex).toBe(1)
      expect(a2.lastReadMessageIndex).toBe(1)
      // Advancing again after the merge works from the merged horizon.
      await a2.advanceLastReadMessageIndex(2)
      await r.net.settle()
      expect((await expectConverged(r.peers, r.sid, r.identities)).horizons.alice!.index).toBe(2)
    })
  }

  it('different people move their horizons offline; everyoneReadUntil agrees everywhere', async () => {
    const r = await room(['alice', 'bob', 'carol'])
    const { alice, bob, carol } = r.conv as Record<'alice' | 'bob' | 'carol', Conversation>
    await sendAll(alice, ['0', '1', '2', '3'])
    await r.net.settle()
    for (const p of r.peers) p.link.partition()
    await alice.advanceLastReadMessageIndex(3)
    await bob.advanceLastReadMessageIndex(2)
    await carol.updateLastReadMessageIndex(1)
    await carol.updateLastReadMessageIndex(null)
    await carol.advanceLastReadMessageIndex(1)
    for (const p of r.peers) p.link.heal()
    await r.net.settle()
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expect(view.horizons).toEqual({
      alice: { index: 3, at: expect.any(Number) },
      bob: { index: 2, at: expect.any(Number) },
      carol: { index: 1, at: expect.any(Number) },
    })
    expect(view.everyoneReadUntil).toBe(1)
  })
})

describe('participants changed offline', () => {
  it('adds and removes made offline merge; a removed participant loses access, others keep every message', async () => {
    const r = await room(['alice', 'bob', 'carol'])
    const { alice, bob, carol } = r.conv as Record<'alice' | 'bob' | 'carol', Conversation>
    await (await alice.getParticipantByIdentity('bob')).updateRole('moderator')
    await sendAll(alice, ['hello'])
    await r.net.settle()
    expect((await bob.getParticipantByIdentity('bob')).role).toBe('moderator')

    r.peers[0]!.link.partition()
    r.peers[1]!.link.partition()
    await alice.add('dave')
    await alice.removeParticipant('carol')
    await bob.add('erin')
    // Carol, still online and not yet removed as far as the relay knows, sends.
    const [fromCarol] = await sendAll(carol, ['carol was here'])
    await r.net.settle()
    expect(fromCarol!.index).not.toBeNull()
    const carolIndex = fromCarol!.index

    r.peers[1]!.link.heal()
    await r.net.settle()
    r.peers[0]!.link.heal()
    await r.net.settle()
    const remaining = r.peers.slice(0, 2)
    const view = await expectConverged(remaining, r.sid, ['alice', 'bob'])
    expect(view.participants.map((p) => p.key)).toEqual(['alice', 'bob', 'dave', 'erin'])
    expect(view.messages.map((m) => [m.body, m.index])).toEqual([
      ['hello', 0],
      ['carol was here', carolIndex],
    ])
    // Carol was removed: her client drops the conversation.
    const denied = await r.peers[2]!.client.getConversationBySid(r.sid).catch((e: unknown) => e)
    expect(denied).toBeInstanceOf(ColloquyError)
    expect((denied as ColloquyError).code).toBe('NOT_FOUND')

    // Dave, added offline, gets the conversation and the same history once he connects.
    const dave = await startPeer(r.net, 'dave', 'dave')
    peers.push(dave)
    await settleUntil(
      r.net,
      () =>
        dave.client.getConversationBySid(r.sid).then(
          () => true,
          () => false,
        ),
      'dave to see the conversation',
    )
    await expectConverged([...remaining, dave], r.sid, ['alice', 'bob'])
    watch!.expectStable()
  })
})

describe('delayed and reordered delivery', () => {
  const strategies: Record<string, (round: number) => (count: number) => number> = {
    'oldest socket first': () => () => 0,
    'newest socket first': () => (count) => count - 1,
    'round robin': (round) => () => round,
    scrambled: (round) => (count) => (round * 7 + 3) % count,
  }
  for (const [name, strategy] of Object.entries(strategies)) {
    it(`frames delivered one by one (${name}) between writes converge`, async () => {
      const r = await room(['alice', 'bob', 'carol'], { autoDeliver: false })
      const { alice, bob, carol } = r.conv as Record<'alice' | 'bob' | 'carol', Conversation>
      const sent: Message[] = []
      const deleted = new Set<string>()
      let round = 0
      const step = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) r.net.deliver(1, strategy(round++))
        await new Promise<void>((resolve) => setImmediate(resolve))
        for (const p of r.peers) await watch!.check(p.name, r.conv[p.name]!)
      }
      for (let k = 0; k < 4; k++) {
        sent.push(await alice.sendMessage(`a${k}`))
        await step(2)
        sent.push(await bob.sendMessage(`b${k}`))
        await step(1)
        sent.push(await carol.sendMessage(`c${k}`))
        await step(3)
        if (k === 1) {
          r.peers[1]!.link.partition()
          await step(2)
        }
        if (k === 2) {
          r.peers[1]!.link.heal()
          const own = sent.find((m) => m.author === 'alice' && !deleted.has(m.sid))!
          await (await alice.getMessageBySid(own.sid)).remove()
          deleted.add(own.sid)
          await step(4)
        }
      }
      const target = sent.find((m) => m.author === 'carol')!
      await (await bob.getMessageBySid(target.sid).catch(() => carol.getMessageBySid(target.sid))).react('👍')
      await step(5)
      await r.net.settle()
      await rescan(r)
      const view = await expectConverged(r.peers, r.sid, r.identities)
      expectSequenced(view)
      const expected = sent.filter((m) => !deleted.has(m.sid)).map((m) => m.sid)
      expect([...view.messages.map((m) => m.id)].sort()).toEqual([...expected].sort())
      for (const author of ['alice', 'bob', 'carol']) {
        const own = sent.filter((m) => m.author === author && !deleted.has(m.sid)).map((m) => m.body)
        expect(view.messages.filter((m) => m.author === author).map((m) => m.body)).toEqual(own)
      }
      watch!.expectStable()
    })
  }
})

/**
 * A store whose writes can stall. A crash while they stall loses them, as a real crash loses what
 * the disk had not yet taken.
 */
class StallingStorage implements StorageAdapter {
  readonly #inner = createMemoryStorage()
  #stalled = false
  stall(): void {
    this.#stalled = true
  }
  resume(): void {
    this.#stalled = false
  }
  load(docName: string): Promise<Uint8Array[]> {
    return this.#inner.load(docName)
  }
  append(docName: string, update: Uint8Array): Promise<void> {
    return this.#stalled ? new Promise<void>(() => {}) : this.#inner.append(docName, update)
  }
  compact(docName: string, state: Uint8Array, count: number): Promise<void> {
    return this.#stalled ? new Promise<void>(() => {}) : this.#inner.compact(docName, state, count)
  }
  list(prefix?: string): Promise<string[]> {
    return this.#inner.list(prefix)
  }
  remove(docName: string): Promise<void> {
    return this.#inner.remove(docName)
  }
  close(): Promise<void> {
    return this.#inner.close()
  }
}

describe('relay restarts and crashes', () => {
  it('a stamp the relay has not stored reaches no one, even a client syncing at that moment', async () => {
    const storage = new StallingStorage()
    const r = await room(['alice', 'bob', 'carol'], { storage, autoDeliver: false })
    const { alice, bob, carol } = r.conv as Record<'alice' | 'bob' | 'carol', Conversation>
    await sendAll(alice, ['a0'])
    await r.net.settle()
    await rescan(r)
    const [alicePeer, bobPeer, carolPeer] = r.peers as [Peer, Peer, Peer]
    carolPeer.link.partition()
    const [fromCarol] = await sendAll(carol, ['written offline by carol'])
    // Bob reconnects. His other requests go through; his request for the conversation waits.
    bobPeer.link.partition()
    bobPeer.link.heal()
    r.net.deliver(0)
    const convName = `conv/${r.sid}`
    const bobsHead = () => {
      const frame = bobPeer.link.socket?.queue[0]
      return frame?.toRelay ? readFrame(frame.data).docName : null
    }
    // Only Bob's socket is busy now: every pick lands on it.
    for (let i = 0; i < 20 && bobsHead() !== convName; i++) {
      r.net.deliver(1)
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    expect(bobsHead(), "Bob's request for the conversation is next").toBe(convName)
    const [m] = await sendAll(alice, ['not yet stored'])
    storage.stall()
    // Bob's request, then Alice's message, in one go: the relay stamps it but cannot store it.
    const picks = [(count: number) => count - 1, () => 0]
    r.net.deliver(2, (count) => picks.shift()!(count))
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
    r.net.deliver(100)
    await watch!.check('bob', bob)
    const early = (await allMessages(bob)).find((x) => x.sid === m!.sid)
    expect(early?.index ?? null, 'Bob sees no index the relay has not stored').toBeNull()
    // The relay dies before the write lands; Alice is offline when it comes back, Carol is not.
    alicePeer.link.partition()
    r.net.crashRelay()
    storage.resume()
    r.net.startRelay()
    carolPeer.link.heal()
    await r.net.settle()
    alicePeer.link.heal()
    await r.net.settle()
    await rescan(r)
    for (const p of r.peers) expect(p.client.connectionState, `${p.name} is connected`).toBe('connected')
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    expect(view.messages.map((x) => x.body)).toEqual(['a0', 'written offline by carol', 'not yet stored'])
    expect(indexOf(view, fromCarol!.sid)).toBeLessThan(indexOf(view, m!.sid))
    watch!.expectStable()
  })

  it('a clean relay restart in the middle loses nothing; clients reconnect and converge', async () => {
    const r = await room(['alice', 'bob', 'carol'], { autoDeliver: false })
    const { alice, bob, carol } = r.conv as Record<'alice' | 'bob' | 'carol', Conversation>
    const first = await sendAll(alice, ['a0', 'a1'])
    await r.net.settle()
    await rescan(r)
    const stamped = first.map((m) => m.index)
    expect(stamped).toEqual([0, 1])
    // Some frames reach the relay, others are still in flight when it restarts.
    const inFlight = [...(await sendAll(bob, ['b0', 'b1'])), ...(await sendAll(carol, ['c0']))]
    r.net.deliver(2)
    await new Promise<void>((resolve) => setImmediate(resolve))
    await r.net.restartRelay()
    const later = await sendAll(alice, ['a2'])
    await r.net.settle()
    await rescan(r)
    for (const p of r.peers) expect(p.client.connectionState).toBe('connected')
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    expect(view.messages.slice(0, 2).map((m) => [m.body, m.index])).toEqual([
      ['a0', 0],
      ['a1', 1],
    ])
    const all = [...first, ...inFlight, ...later].map((m) => m.sid)
    expect([...view.messages.map((m) => m.id)].sort()).toEqual([...all].sort())
    watch!.expectStable()
  })

  it('a relay crash while clients keep writing: stamped messages survive, clients come back by themselves', async () => {
    const r = await room(['alice', 'bob'])
    const { alice, bob } = r.conv as Record<'alice' | 'bob', Conversation>
    const first = [...(await sendAll(alice, ['a0', 'a1'])), ...(await sendAll(bob, ['b0']))]
    await r.net.settle()
    await rescan(r)
    const stamped = new Map(first.map((m) => [m.sid, m.index]))
    expect([...stamped.values()].every((i) => i !== null)).toBe(true)
    // The last stamped message is deleted before the crash: its index must not be handed out again.
    await (await alice.getMessageBySid(first[1]!.sid)).remove()
    await r.net.settle()

    r.net.crashRelay()
    const whileDown = [...(await sendAll(alice, ['a2'])), ...(await sendAll(bob, ['b1', 'b2']))]
    await (await bob.getMessageBySid(first[0]!.sid)).react('🔥')
    await r.net.settle()
    for (const p of r.peers) expect(p.client.connectionState).not.toBe('connected')
    r.net.startRelay()
    await r.net.settle()
    await rescan(r)
    for (const p of r.peers) expect(p.client.connectionState).toBe('connected')
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    for (const m of first) if (m.sid !== first[1]!.sid) expect(indexOf(view, m.sid)).toBe(stamped.get(m.sid))
    const maxBefore = Math.max(...[...stamped.values()].map((i) => i!))
    for (const m of whileDown) expect(indexOf(view, m.sid)).toBeGreaterThan(maxBefore)
    expect(view.messages.slice(0, 2).map((m) => m.body)).toEqual(['a0', 'b0'])
    expect(view.messages.filter((m) => m.author === 'alice').map((m) => m.body)).toEqual(['a0', 'a2'])
    expect(view.messages.filter((m) => m.author === 'bob').map((m) => m.body)).toEqual(['b0', 'b1', 'b2'])
    expect(view.messages[0]!.reactions).toEqual([{ emoji: '🔥', users: ['bob'] }])

    // A second crash right after writes reached the relay: what it stamped stays stamped.
    const more = await sendAll(bob, ['b3'])
    await r.net.settle()
    const b3 = more[0]!.index
    r.net.crashRelay()
    r.net.startRelay()
    await r.net.settle()
    await sendAll(alice, ['a3'])
    await r.net.settle()
    await rescan(r)
    const final = await expectConverged(r.peers, r.sid, r.identities)
    expect(indexOf(final, more[0]!.sid)).toBe(b3)
    expect(final.messages.length).toBe(7)
    watch!.expectStable()
  })

  it('every device syncing a cold conversation at once after a restart gets all of it; it sleeps after', async () => {
    // The relay loads the conversation once for the step 1s of four devices read in one batch,
    // answers them all from that load and puts it back to sleep; their replies (each with a
    // non-empty delete set, all of it known) leave it asleep.
    const r = await room(['alice', 'alice#2:alice', 'bob', 'carol'])
    const { alice, bob } = r.conv as Record<'alice' | 'bob', Conversation>
    const sent = [...(await sendAll(alice, ['a0', 'a1', 'a2'])), ...(await sendAll(bob, ['b0']))]
    await r.net.settle()
    await (await alice.getMessageBySid(sent[1]!.sid)).updateBody('a1, edited')
    await (await bob.getMessageBySid(sent[3]!.sid)).remove()
    await r.net.settle()
    await r.net.restartRelay()
    await r.net.settle()
    await rescan(r)
    for (const p of r.peers) expect(p.client.connectionState).toBe('connected')
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    expect(view.messages.map((m) => m.body)).toEqual(['a0', 'a1, edited', 'a2'])
    expect(r.net.relay._isAsleep(`conv/${r.sid}`)).toBe(true)
    // A message wakes it, and everyone gets it.
    const [late] = await sendAll(r.conv.carol!, ['c0'])
    await r.net.settle()
    await rescan(r)
    const after = await expectConverged(r.peers, r.sid, r.identities)
    expect(after.messages.map((m) => m.body)).toEqual(['a0', 'a1, edited', 'a2', 'c0'])
    expect(indexOf(after, late!.sid)).toBeGreaterThan(indexOf(after, sent[2]!.sid))
    watch!.expectStable()
  })
})

describe('a client restarted from its own storage', () => {
  it('histories past the compaction threshold survive restarts of the relay and of clients', async () => {
    const r = await room(['alice', 'bob'])
    const alicePeer = r.peers[0]!
    const texts = Array.from({ length: 520 }, (_, i) => `m${i}`)
    const sent = await sendAll(r.conv.alice!, texts.slice(0, 300))
    await r.net.settle()
    alicePeer.link.partition()
    sent.push(...(await sendAll(r.conv.alice!, texts.slice(300))))
    await restartPeer(r.net, alicePeer)
    await r.net.restartRelay()
    await r.net.settle()
    await restartPeer(r.net, r.peers[1]!)
    await r.net.settle()
    await rescan(r)
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    expect(view.messages.map((m) => m.body)).toEqual(texts)
    expect(view.messages.map((m) => m.index)).toEqual(texts.map((_, i) => i))
    watch!.expectStable()
  })

  it('shows its offline messages after a restart and converges with the others', async () => {
    const r = await room(['alice', 'bob', 'carol'])
    const bob = r.conv.bob!
    await sendAll(r.conv.alice!, ['a0'])
    await r.net.settle()
    await rescan(r)
    const alicePeer = r.peers[0]!
    alicePeer.link.partition()
    const offline = await sendAll(r.conv.alice!, ['a1', 'a2'])
    await (await r.conv.alice!.getMessageBySid(offline[0]!.sid)).updateBody('a1 (edited)')
    await r.conv.alice!.advanceLastReadMessageIndex(0)
    await sendAll(bob, ['b0'])
    await r.net.settle()

    // Alice closes the app while offline, then opens it again (now online).
    watch!.stop()
    await restartPeer(r.net, alicePeer)
    const reopened = await conversationOf(alicePeer, r.sid)
    r.conv.alice = reopened
    await expectPendingLast(reopened, 1, ['a1 (edited)', 'a2'])
    expect(reopened.lastReadMessageIndex).toBe(0)
    for (const p of r.peers) watch!.watch(p.name, r.conv[p.name]!)
    await r.net.settle()
    await rescan(r)
    const view = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(view)
    expect(view.messages.map((m) => m.body)).toEqual(['a0', 'b0', 'a1 (edited)', 'a2'])
    expect(view.horizons.alice!.index).toBe(0)

    // Restarted again, online this time, right after sending: still nothing lost or doubled.
    await sendAll(reopened, ['a3'])
    await restartPeer(r.net, alicePeer)
    await r.net.settle()
    await rescan(r)
    const final = await expectConverged(r.peers, r.sid, r.identities)
    expectSequenced(final)
    expect(final.messages.map((m) => m.body)).toEqual(['a0', 'b0', 'a1 (edited)', 'a2', 'a3'])
    watch!.expectStable()
  })
})
