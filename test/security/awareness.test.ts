/**
 * Awareness spoofing against a real relay. Typing state on a conversation is the only awareness a
 * client may publish, under its own identity and a clientID no one else uses; user documents carry
 * the relay's presence only. Each refusal closes the spoofer with 4422, and honest typing keeps working.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Participant } from '../../src/index.ts'
import { listed } from '../support/wait.ts'
import {
  boundClientOf,
  buildWorld,
  malloryIn,
  Scope,
  UPDATE_REJECTED,
  type World,
  waitFor,
  waitUntil,
} from './helpers.ts'
import type { RawClient } from './raw-client.ts'

/** Identities in bob's awareness view of the conversation, his own state left out. */
const typistsSeenByBob = (w: World): string[] =>
  [...w.bconv._awareness.getStates()]
    .filter(([clientID]) => clientID !== w.bconv._awareness.clientID)
    .map(([, st]) => (st as { identity?: string }).identity)
    .filter((x): x is string => typeof x === 'string')

const refusedAwareness = async (m: RawClient, rule: string) => {
  const closed = await m.waitClosed()
  expect(closed.code).toBe(UPDATE_REJECTED)
  expect(closed.reason).toContain(rule)
}

/** Honest typing still works both ways (each side sees the other typing, both stay connected). */
const typingWorks = async (w: World) => {
  await w.conv.typing()
  await waitUntil(async () => (await w.bconv.getParticipantByIdentity('alice')).isTyping, 'bob sees alice typing')
  await w.bconv.typing()
  await waitUntil(async () => (await w.conv.getParticipantByIdentity('bob')).isTyping, 'alice sees bob typing')
  expect(w.alice.connectionState).toBe('connected')
  expect(w.bob.connectionState).toBe('connected')
}

describe('awareness spoofing is refused with 4422', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('a typing state in alice’s name, under mallory’s own clientID', async () => {
    const w = await buildWorld(s)
    const seen: string[] = []
    w.bconv.on('typingStarted', (p: Participant) => seen.push(p.identity ?? '?'))
    const m = await malloryIn(s, w)
    m.sendAwareness(w.docName, [
      { clientID: m.doc(w.docName).clientID, clock: 1, state: { identity: 'alice', typing: true } },
    ])
    await refusedAwareness(m, 'awareness state must carry your own identity')
    // A marker after the refusal: mallory's own (legitimate) typing on a new socket. Bob's socket
    // is FIFO, so had the spoof been forwarded he would have seen it before this.
    const m2 = await malloryIn(s, w)
    const marker = waitFor<Participant>(w.bconv, 'typingStarted', (p) => p.identity === 'mallory')
    m2.sendAwareness(w.docName, [
      { clientID: m2.doc(w.docName).clientID, clock: 1, state: { identity: 'mallory', typing: true } },
    ])
    await marker
    expect(seen).toEqual(['mallory'])
    expect(typistsSeenByBob(w)).toEqual(['mallory'])
    await typingWorks(w)
  })

  it('a state with extra fields, even in her own name', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    m.sendAwareness(w.docName, [
      { clientID: m.doc(w.docName).clientID, clock: 1, state: { identity: 'mallory', typing: true, admin: true } },
    ])
    await refusedAwareness(m, 'awareness state must carry your own identity')
    await typingWorks(w)
    expect(typistsSeenByBob(w)).toEqual(['alice'])
  })

  it('a state for the clientID alice’s connection publishes under', async () => {
    const w = await buildWorld(s)
    const bobSees = waitFor<Participant>(w.bconv, 'typingStarted', (p) => p.identity === 'alice')
    await w.conv.typing()
    await bobSees
    const aliceClient = w.conv._awareness.clientID
    const m = await malloryIn(s, w)
    m.sendAwareness(w.docName, [{ clientID: aliceClient, clock: 1_000, state: { identity: 'mallory', typing: true } }])
    await refusedAwareness(m, 'awareness for a client id that is not yours')
    expect((w.bconv._awareness.getStates().get(aliceClient) as { identity: string }).identity).toBe('alice')
    await typingWorks(w)
  })

  it('clearing the state of alice’s clientID (ending her typing)', async () => {
    const w = await buildWorld(s)
    const bobSees = waitFor<Participant>(w.bconv, 'typingStarted', (p) => p.identity === 'alice')
    await w.conv.typing()
    await bobSees
    const aliceClient = w.conv._awareness.clientID
    const m = await malloryIn(s, w)
    m.sendAwareness(w.docName, [{ clientID: aliceClient, clock: 1_000, state: null }])
    await refusedAwareness(m, 'awareness for a client id that is not yours')
    expect(w.bconv._awareness.getStates().has(aliceClient)).toBe(true)
    await typingWorks(w)
  })

  it('a state for alice’s bound clientID while she is not publishing (squatting it)', async () => {
    // Alice has written with this clientID, so the relay bound it to her. Were mallory allowed to
    // claim it for awareness while alice is quiet, alice's own next typing would be refused and her
    // connection closed.
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const aliceClient = boundClientOf(m.doc(w.docName), 'alice')
    expect(aliceClient).toBe(w.conv._awareness.clientID)
    m.sendAwareness(w.docName, [{ clientID: aliceClient, clock: 1, state: { identity: 'mallory', typing: true } }])
    await refusedAwareness(m, 'awareness for a client id that is not yours')
    const errors: unknown[] = []
    w.alice.on('connectionError', (e: unknown) => errors.push(e))
    await typingWorks(w)
    expect(errors).toEqual([])
  })

  it('a state for the relay’s own clientID', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    // The relay's awareness (created on first use) shares its document's clientID.
    const relayClient = (await w.relay.core._load(w.docName)!).doc.clientID
    m.sendAwareness(w.docName, [{ clientID: relayClient, clock: 1, state: { identity: 'mallory', typing: true } }])
    await refusedAwareness(m, 'awareness for a client id that is not yours')
    await typingWorks(w)
  })

  for (const target of ['user/mallory', 'user/alice']) {
    it(`any state on a user document (${target})`, async () => {
      const w = await buildWorld(s)
      const bobsAlice = await w.bob.getUser('alice')
      await waitUntil(() => bobsAlice.isOnline === true, 'bob sees alice online')
      const m = await malloryIn(s, w)
      await m.sync(target)
      m.sendAwareness(target, [
        { clientID: m.doc(target).clientID, clock: 1, state: { online: target === 'user/mallory' } },
      ])
      await refusedAwareness(m, 'awareness state must carry your own identity')
      await typingWorks(w)
      expect(bobsAlice.isOnline).toBe(true)
    })
  }
})

describe('awareness clientIDs stay with their identity across reconnects', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('a clientID alice typed under (never wrote with) cannot be taken while her connection is down', async () => {
    const w = await buildWorld(s)
    // A second device of alice's, behind a proxy we can cut. It types but never writes.
    const proxy = await s.proxy(w.relay.port)
    const alice2 = await s.client('alice', proxy.url, { typingTimeout: 400 })
    const conv2 = await listed(alice2, w.conv.sid, 'alice’s second device lists the conversation')
    await alice2.whenSynced()
    const m = await malloryIn(s, w)
    const clientID = conv2._awareness.clientID
    await conv2.typing()
    await waitUntil(() => w.bconv._awareness.getStates().has(clientID), 'bob sees alice2 typing')
    // Alice's second device drops off; its awareness is cleared at the relay.
    proxy.cut()
    await waitUntil(() => !w.bconv._awareness.getStates().has(clientID), 'bob no longer sees alice2’s state')
    m.sendAwareness(w.docName, [{ clientID, clock: 10_000, state: { identity: 'mallory', typing: true } }])
    await refusedAwareness(m, 'awareness for a client id that is not yours')
    const errors: unknown[] = []
    alice2.on('connectionError', (e: unknown) => errors.push(e))
    alice2.on('error', (e: unknown) => errors.push(e))
    proxy.restore()
    await waitUntil(() => alice2.connectionState === 'connected', 'alice2 reconnects')
    await alice2.whenSynced()
    // Typing renews every timeout / 2; keep typing until bob sees it.
    await waitUntil(async () => {
      await conv2.typing()
      return w.bconv._awareness.getStates().has(clientID)
    }, 'bob sees alice2 typing again')
    await typingWorks(w)
    expect(errors).toEqual([])
    expect(alice2.connectionState).toBe('connected')
  })
})
