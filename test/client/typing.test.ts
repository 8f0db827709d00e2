/**
 * Typing indicators over awareness. Every wait has a deadline; no fixed sleeps. A short timeout
 * (200 ms) tests the self-ending; a long one (30 s) proves the other endings are not the timer.
 */
import { describe, expect, it } from 'vitest'
import { DEFAULT_TYPING_TIMEOUT, type Participant, type TypingSnapshot } from '../../src/index.js'
import { expectCode, snapshotRecorder, useHarness, waitFor } from './helpers.js'

const h = useHarness()

const SHORT = 200
const LONG = 30_000

const typingPair = async (typingTimeout: number, others: string[] = ['bob']) =>
  h.shared(others, { clientOptions: { typingTimeout } })

describe('typing', () => {
  it('defaults to a 5 second timeout', () => {
    expect(DEFAULT_TYPING_TIMEOUT).toBe(5_000)
  })

  it('typing() starts the indicator on the other side, then it ends by itself', async () => {
    const { clients, convs } = await typingPair(SHORT)
    const alice = convs.alice!
    const started = waitFor<Participant>(alice, 'typingStarted')
    const startedOnClient = waitFor<Participant>(clients.alice!, 'typingStarted')
    await convs.bob!.typing()
    const p = await started
    expect(p.identity).toBe('bob')
    expect((await startedOnClient).identity).toBe('bob')
    expect(p.isTyping).toBe(true)
    const ended = waitFor<Participant>(alice, 'typingEnded', 3_000)
    const endedOnParticipant = waitFor<Participant>(p, 'typingEnded', 3_000)
    expect((await ended).identity).toBe('bob')
    await endedOnParticipant
    expect(p.isTyping).toBe(false)
  })

  it('renewing keeps a single indicator (no second typingStarted)', async () => {
    const { convs } = await typingPair(LONG)
    const alice = convs.alice!
    const starts: string[] = []
    alice.on('typingStarted', (p) => starts.push(p.identity!))
    const started = waitFor(alice, 'typingStarted')
    await convs.bob!.typing()
    await started
    await convs.bob!.typing()
    await convs.bob!.typing()
    // A message from bob is a round trip that arrives after any renewal frames.
    const arrived = waitFor(alice, 'messageAdded')
    await convs.bob!.sendMessage('done typing')
    await arrived
    expect(starts).toEqual(['bob'])
  })

  it('ends when the typist sends a message', async () => {
    const { convs } = await typingPair(LONG)
    const alice = convs.alice!
    const started = waitFor(alice, 'typingStarted')
    await convs.bob!.typing()
    await started
    const ended = waitFor<Participant>(alice, 'typingEnded', 2_000)
    await convs.bob!.sendMessage('hi')
    expect((await ended).identity).toBe('bob')
    expect((await alice.getParticipantByIdentity('bob')).isTyping).toBe(false)
  })

  it('ends when the typist’s link is partitioned', async () => {
    const net = h.network()
    const aliceClient = await h.client('alice', { transport: net.link('alice'), typingTimeout: LONG })
    const bobLink = net.link('bob')
    const bobClient = await h.client('bob', { transport: bobLink, typingTimeout: LONG })
    const conv = await aliceClient.createConversation({ join: true })
    await conv.add('bob')
    await net.settle()
    const bob = await bobClient.getConversationBySid(conv.sid)
    await net.settle()
    const started = waitFor(conv, 'typingStarted')
    await bob.typing()
    await started
    const ended = waitFor<Participant>(conv, 'typingEnded', 2_000)
    bobLink.partition()
    expect((await ended).identity).toBe('bob')
  })

  it('ends on my side when my own link drops', async () => {
    const net = h.network()
    const aliceLink = net.link('alice')
    const aliceClient = await h.client('alice', { transport: aliceLink, typingTimeout: LONG })
    const bobClient = await h.client('bob', { transport: net.link('bob'), typingTimeout: LONG })
    const conv = await aliceClient.createConversation({ join: true })
    await conv.add('bob')
    await net.settle()
    const bob = await bobClient.getConversationBySid(conv.sid)
    await net.settle()
    const started = waitFor(conv, 'typingStarted')
    await bob.typing()
    await started
    const ended = waitFor(conv, 'typingEnded', 2_000)
    aliceLink.partition()
    await ended
  })

  it('never shows me my own typing', async () => {
    const { convs } = await typingPair(SHORT)
    const alice = convs.alice!
    const mine: unknown[] = []
    alice.on('typingStarted', (p) => mine.push(p))
    const seenByBob = waitFor(convs.bob!, 'typingStarted')
    await alice.typing()
    await seenByBob
    expect(mine).toEqual([])
    expect((await alice.getParticipantByIdentity('alice')).isTyping).toBe(false)
  })

  it('refuses non-participants with FORBIDDEN', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation()
    await expectCode(conv.typing(), 'FORBIDDEN')
  })

  it('works for everyone at once: two typists are both shown', async () => {
    const { convs } = await typingPair(LONG, ['bob', 'carol'])
    const alice = convs.alice!
    const typists = new Set<string>()
    const both = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for two typists')), 2_000)
      alice.on('typingStarted', (p) => {
        typists.add(p.identity!)
        if (typists.size === 2) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    await convs.bob!.typing()
    await convs.carol!.typing()
    await both
    expect([...typists].sort()).toEqual(['bob', 'carol'])
  })
})

describe('subscribeTyping', () => {
  it('gives { many: false, users } and follows starts and ends', async () => {
    const { convs } = await typingPair(SHORT)
    const rec = snapshotRecorder<TypingSnapshot>()
    const sub = convs.alice!.subscribeTyping(rec.push)
    expect(sub.state).toBe('pending')
    expect(await sub.connected).toBe(sub)
    expect(sub.state).toBe('active')
    expect(rec.all).toEqual([{ many: false, users: [] }])
    await convs.bob!.typing()
    const typing = await rec.next((s) => !s.many && s.users.length === 1)
    expect(typing).toEqual({ many: false, users: ['bob'] })
    expect(Object.isFrozen(typing)).toBe(true)
    await rec.next((s) => !s.many && s.users.length === 0, 3_000, 1)
    expect(rec.all).toEqual([
      { many: false, users: [] },
      { many: false, users: ['bob'] },
      { many: false, users: [] },
    ])
    sub.unsubscribe()
    expect(sub.state).toBe('unsubscribed')
    await sub.terminated
  })

  it('lists typists longest-typing first', async () => {
    const { convs } = await typingPair(LONG, ['bob', 'carol'])
    const rec = snapshotRecorder<TypingSnapshot>()
    convs.alice!.subscribeTyping(rec.push)
    await convs.bob!.typing()
    await rec.next((s) => !s.many && s.users.length === 1)
    await convs.carol!.typing()
    expect(await rec.next((s) => !s.many && s.users.length === 2)).toEqual({ many: false, users: ['bob', 'carol'] })
  })

  it('says "many" for more than five typists', async () => {
    const names = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6']
    const { convs } = await typingPair(LONG, names)
    const rec = snapshotRecorder<TypingSnapshot>()
    convs.alice!.subscribeTyping(rec.push)
    for (const n of names.slice(0, 5)) await convs[n]!.typing()
    const five = await rec.next((s) => !s.many && s.users.length === 5)
    expect(five.many ? [] : [...five.users].sort()).toEqual(names.slice(0, 5))
    await convs.b6!.typing()
    expect(await rec.next((s) => s.many)).toEqual({ many: true })
  })
})
