/**
 * Awareness spoofing and flooding against a real relay. Typing state on a conversation is the only
 * awareness a client may publish, under its own identity and a clientID no one else uses; user
 * documents carry the relay's presence only. Each spoof closes the spoofer with 4422; a flood (many
 * entries, many clientIDs, anything on a user document) is dropped unseen; honest typing keeps working.
 */
import * as decoding from 'lib0/decoding'
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
import { frame, MSG, type RawClient } from './raw-client.ts'

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

/** The clientIDs named by every awareness frame for `docName` that `c` received (in order). */
const awarenessClientsSeen = (c: RawClient, docName: string): number[] => {
  const out: number[] = []
  for (const bytes of c.frames) {
    const d = decoding.createDecoder(bytes)
    if (decoding.readVarString(d) !== docName || decoding.readVarUint(d) !== MSG.awareness) continue
    const u = decoding.createDecoder(decoding.readVarUint8Array(d))
    const n = decoding.readVarUint(u)
    for (let i = 0; i < n; i++) {
      out.push(decoding.readVarUint(u))
      decoding.readVarUint(u)
      decoding.readVarString(u)
    }
  }
  return out
}

/** What the relay keeps of a document's awareness: states, clocks, owners, remembered clientIDs. */
const relayAwareness = async (w: World, docName: string) => {
  const live = await w.relay.core._load(docName)!
  return {
    states: live.awareness?.getStates().size ?? 0,
    clocks: live.awareness?.meta.size ?? 0,
    owners: live.claims.live,
    remembered: live.claims.size,
  }
}

/** Fresh clientIDs nobody uses, `count` of them from `from`. */
const freshIds = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i)

describe('awareness floods are dropped unseen, and the relay keeps a bounded amount', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('a participant claiming thousands of clientIDs on a conversation: only her first one counts', async () => {
    const w = await buildWorld(s)
    // A watcher: a raw connection of bob's, which records every awareness frame it is sent.
    const watcher = await s.raw(w.relay.url, 'bob')
    await watcher.sync(w.docName)
    const m = await malloryIn(s, w)
    const first = m.doc(w.docName).clientID
    m.sendAwareness(w.docName, [{ clientID: first, clock: 1, state: {} }])
    // Frames of many entries each (never decoded past their count), then one fresh clientID per frame.
    for (let f = 0; f < 100; f++) {
      m.sendAwareness(
        w.docName,
        freshIds(1_000_000 + f * 200, 200).map((clientID) => ({ clientID, clock: 1, state: {} })),
      )
    }
    for (const clientID of freshIds(5_000_000, 2_000)) {
      m.sendAwareness(w.docName, [{ clientID, clock: 1, state: clientID % 2 ? null : {} }])
    }
    // Her own clientID still works: a typing state after the flood.
    m.sendAwareness(w.docName, [{ clientID: first, clock: 2, state: { identity: 'mallory', typing: true } }])
    // The relay handles a connection's frames in order and forwards awareness as it applies it, so
    // once mallory's probe is answered, anything forwarded is already on the watcher's socket, ahead
    // of the answer to the watcher's own probe.
    await m.roundTrip(w.docName)
    await watcher.roundTrip(w.docName)
    expect(new Set(awarenessClientsSeen(watcher, w.docName))).toEqual(new Set([first]))
    expect(w.relay.metrics.rejections.get('awareness_entries')).toBe(100)
    expect(w.relay.metrics.rejections.get('awareness_second_client')).toBe(2_000)
    const kept = await relayAwareness(w, w.docName)
    expect(kept.states).toBeLessThanOrEqual(3)
    expect(kept.clocks).toBeLessThanOrEqual(3)
    expect(kept.owners).toBeLessThanOrEqual(3)
    expect(kept.remembered).toBeLessThanOrEqual(3)
    await waitUntil(() => typistsSeenByBob(w).includes('mallory'), 'bob sees mallory typing under her one clientID')
    expect(m.isOpen).toBe(true)
    await typingWorks(w)
  })

  it('anything on a user document, even the empty state: watchers of that person receive none of it', async () => {
    const w = await buildWorld(s)
    const bobsAlice = await w.bob.getUser('alice')
    await waitUntil(() => bobsAlice.isOnline === true, 'bob sees alice online')
    const target = 'user/alice'
    const watcher = await s.raw(w.relay.url, 'bob')
    await watcher.sync(target)
    const before = awarenessClientsSeen(watcher, target)
    const m = await s.raw(w.relay.url, 'mallory')
    await m.sync(target)
    m.sendAwareness(target, [{ clientID: m.doc(target).clientID, clock: 1, state: {} }])
    for (const clientID of freshIds(7_000_000, 2_000)) {
      m.sendAwareness(target, [{ clientID, clock: 1, state: clientID % 2 ? null : {} }])
    }
    m.sendAwareness(
      target,
      freshIds(8_000_000, 500).map((clientID) => ({ clientID, clock: 1, state: {} })),
    )
    await m.roundTrip(target)
    // (Probing another document: a step 1 for this one would be answered with its states again.)
    await watcher.roundTrip('user/bob')
    expect(awarenessClientsSeen(watcher, target)).toEqual(before)
    expect(w.relay.metrics.rejections.get('awareness_user_document')).toBe(2_001)
    // Only the relay's own presence state is kept, and nothing of mallory's.
    const kept = await relayAwareness(w, target)
    expect(kept).toEqual({ states: 1, clocks: 1, owners: 0, remembered: 0 })
    expect(m.isOpen).toBe(true)
    expect(bobsAlice.isOnline).toBe(true)
  })

  it('reconnecting again and again with a new clientID each time keeps a bounded number of them', async () => {
    const w = await buildWorld(s)
    const watcher = await s.raw(w.relay.url, 'bob')
    await watcher.sync(w.docName)
    for (let i = 0; i < 40; i++) {
      const m = await malloryIn(s, w)
      m.sendAwareness(w.docName, [{ clientID: 9_000_000 + i, clock: 1, state: { identity: 'mallory', typing: true } }])
      await m.roundTrip(w.docName)
      m.close()
      await waitUntil(async () => (await relayAwareness(w, w.docName)).owners === 0, 'her state is gone with her')
    }
    const kept = await relayAwareness(w, w.docName)
    // At most REMEMBERED_CLIENTS_PER_IDENTITY (32) of hers, and the relay's clock for each forgotten one goes too.
    expect(kept.remembered).toBeLessThanOrEqual(32)
    expect(kept.clocks).toBeLessThanOrEqual(32 + 2)
    expect(kept.states).toBe(0)
    await typingWorks(w)
  })

  it('leaving or closing removes the connection’s state, and everyone else is told', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const clientID = m.doc(w.docName).clientID
    m.sendAwareness(w.docName, [{ clientID, clock: 1, state: { identity: 'mallory', typing: true } }])
    await waitUntil(() => w.bconv._awareness.getStates().has(clientID), 'bob sees mallory typing')
    m.send(frame(w.docName, MSG.unsubscribe))
    await waitUntil(() => !w.bconv._awareness.getStates().has(clientID), 'bob is told she left')
    expect(await relayAwareness(w, w.docName)).toMatchObject({ states: 0, owners: 0 })
    const m2 = await malloryIn(s, w)
    const id2 = m2.doc(w.docName).clientID
    m2.sendAwareness(w.docName, [{ clientID: id2, clock: 1, state: { identity: 'mallory', typing: true } }])
    await waitUntil(() => w.bconv._awareness.getStates().has(id2), 'bob sees mallory typing again')
    m2.close()
    await waitUntil(() => !w.bconv._awareness.getStates().has(id2), 'bob is told she is gone')
    expect(await relayAwareness(w, w.docName)).toMatchObject({ states: 0, owners: 0 })
    await typingWorks(w)
  })
})
