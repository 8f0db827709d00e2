/**
 * Names of documents that do not exist, against a real relay. Asking for them costs the relay a
 * small record each, never a Y.Doc; names are parsed strictly before anything is allocated; what
 * one identity holds is counted across all its connections. Honest creation still works.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { Relay } from '../../relay/index.ts'
import type { Message } from '../../src/index.ts'
import { Scope, waitFor, waitUntil } from './helpers.ts'
import { type RawClient, SYNC, step1Frame } from './raw-client.ts'

const LIMIT_EXCEEDED = 4429
const randomSid = (): string => `CH${randomBytes(16).toString('hex')}`

/** `colloquy_documents_loaded` as `/metrics` reports it. */
const loadedPerMetrics = async (relay: Relay): Promise<number> => {
  const text = await (await fetch(`${relay.url.replace(/^ws/, 'http')}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('colloquy_documents_loaded '))
  return Number(line?.split(' ')[1])
}

/** Resolves once the relay has handled every frame sent on `c` so far, or has closed it. */
const settled = (c: RawClient): Promise<unknown> => Promise.race([c.roundTrip('user/nobody').catch(() => {}), c.closed])

describe('documents that do not exist', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('twenty connections of one account asking for thousands of unknown names load no document', async () => {
    const { relay } = await s.relay({ limits: { maxDocumentsPerIdentity: 1_000 } })
    const conns: RawClient[] = []
    for (let i = 0; i < 20; i++) conns.push(await s.raw(relay.url, 'mallory'))
    // Each answered once its token is verified (frames before that count against the pre-auth limit).
    await Promise.all(conns.map((c) => c.roundTrip('user/nobody')))
    // Mallory's own user document is loaded while she is connected (her presence); nothing else is.
    await waitUntil(() => relay.core.loadedDocuments === 1, 'mallory’s presence is published')
    const names = conns.map(() =>
      Array.from({ length: 100 }, (_, i) => (i % 4 === 0 ? `user/${randomSid()}` : `conv/${randomSid()}`)),
    )
    conns.forEach((c, i) => {
      for (const name of names[i]!) c.send(step1Frame(name))
    })
    await Promise.all(conns.map(settled))
    // Each name was answered like an empty document: an empty update, then a step 1 of its own.
    const open = conns.filter((c) => c.isOpen)
    const sample = names[conns.indexOf(open[0]!)]![0]!
    const answer = await open[0]!.next((f) => f.docName === sample && f.syncType === SYNC.step2)
    expect([...answer.update!]).toEqual([0, 0])
    // 2,000 names over the 1,000 an identity may hold: the connections that asked for more were
    // closed; none of it loaded a document.
    const closed = conns.filter((c) => !c.isOpen)
    expect(closed.length).toBeGreaterThan(0)
    for (const c of closed)
      expect(c.closeInfo).toEqual({ code: LIMIT_EXCEEDED, reason: 'too many documents for this identity' })
    expect(relay.core.documentsOf('mallory')).toBeLessThanOrEqual(1_000)
    expect(relay.core.loadedDocuments).toBe(1)
    expect(await loadedPerMetrics(relay)).toBe(1)
    expect(relay.core.sleepingDocuments).toBeLessThanOrEqual(1_000)
    // Once she is gone, nothing is kept for the names she asked for.
    for (const c of conns) c.close()
    await waitUntil(() => relay.core.connectionCount === 0, 'every connection is closed')
    expect(relay.core.sleepingDocuments).toBe(0)
    expect(relay.core.documentsOf('mallory')).toBe(0)
  })

  it('names are parsed strictly before anything is allocated', async () => {
    const { relay } = await s.relay()
    const m = await s.raw(relay.url, 'mallory')
    await waitUntil(() => relay.core.loadedDocuments === 1, 'mallory’s presence is published')
    const hex = randomBytes(16).toString('hex')
    const bad = [
      'conv/CHsomething',
      `conv/ch${hex}`,
      `conv/CH${hex.toUpperCase().replace(/[0-9]/g, 'A')}`,
      `conv/CH${hex}0`,
      `conv/CH${hex.slice(1)}`,
      `conv/CH${hex.slice(2)}/x`,
      'conv/',
      'user/',
      'user/   ',
      'user/a\u0001b',
      `user/${'x'.repeat(257)}`,
      'inbox/',
      'local/mallory',
      'conversation/x',
      'x'.repeat(100_000),
    ]
    for (const name of bad) {
      const denied = m.denied(name)
      m.send(step1Frame(name))
      expect(await denied).toBe('unknown document')
    }
    // Someone else's inbox: refused before it is loaded.
    const denied = m.denied('inbox/alice')
    m.send(step1Frame('inbox/alice'))
    expect(await denied).toBe('not a participant')
    expect(relay.core.loadedDocuments).toBe(1)
    expect(relay.core.sleepingDocuments).toBe(0)
    expect(relay.core.documentsOf('mallory')).toBe(0)
    expect(m.isOpen).toBe(true)
  })

  it('an identity’s documents are counted once across its connections, and in total', async () => {
    const { relay } = await s.relay({ limits: { maxDocumentsPerIdentity: 6 } })
    const a = await s.raw(relay.url, 'mallory')
    const b = await s.raw(relay.url, 'mallory')
    const shared = ['user/a1', 'user/a2', 'user/a3', 'user/a4', 'user/a5']
    for (const name of shared) await a.sync(name)
    // The same five on a second connection count once.
    for (const name of shared) await b.sync(name)
    await b.sync('user/b1')
    expect(relay.core.documentsOf('mallory')).toBe(6)
    b.send(step1Frame('user/b2'))
    expect(await b.waitClosed()).toEqual({ code: LIMIT_EXCEEDED, reason: 'too many documents for this identity' })
    expect(relay.metrics.rejections.get('documents_per_identity')).toBe(1)
    await waitUntil(() => relay.core.documentsOf('mallory') === 5, 'b’s documents no longer count')
    // Another identity is not affected, and a has room again for one more.
    const alice = await s.raw(relay.url, 'alice')
    for (const name of [...shared, 'user/b2']) await alice.sync(name)
    await a.sync('user/b2')
    expect(a.isOpen && alice.isOpen).toBe(true)
  })

  it('a conversation someone may not read is let go once their request is refused', async () => {
    const { relay } = await s.relay({ idleUnloadMs: 50 })
    const alice = await s.client('alice', relay.url)
    const conv = await alice.createConversation({ friendlyName: 'private', join: true })
    await conv.sendMessage('for members only')
    await alice.whenSynced()
    const name = `conv/${conv.sid}`
    await alice.shutdown()
    await waitUntil(() => relay.core.connectionCount === 0, 'alice is gone')
    await waitUntil(
      () => relay.core.loadedDocuments === 0 && relay.core.sleepingDocuments === 0,
      'nothing is loaded once nobody syncs anything',
    )
    const m = await s.raw(relay.url, 'mallory')
    await waitUntil(() => relay.core.loadedDocuments === 1, 'mallory’s presence is published')
    for (let i = 0; i < 3; i++) {
      const denied = m.denied(name)
      m.send(step1Frame(name))
      expect(await denied).toBe('not a participant')
    }
    // Loaded to be judged, then unloaded like any document nobody syncs (it used to stay forever).
    await waitUntil(() => relay.core.loadedDocuments === 1, 'the refused conversation is unloaded')
    expect(relay.core.sleepingDocuments).toBe(0)
  })

  it('a user with nothing stored is absent while offline, and their presence still reaches watchers', async () => {
    const { relay } = await s.relay({ sleepAfterMs: 50 })
    const bob = await s.client('bob', relay.url)
    const alice = await s.raw(relay.url, 'alice')
    const bobsAlice = await bob.getUser('alice')
    await waitUntil(() => bobsAlice.isOnline === true, 'bob sees alice online')
    alice.close()
    await waitUntil(() => bobsAlice.isOnline === false, 'bob sees alice offline')
    // Nothing is stored for user/alice: once quiet, the relay keeps bob's subscription, not a document.
    await waitUntil(() => relay.core.loadedDocuments === 1, 'only bob’s own user document stays loaded')
    expect(relay.core.sleepingDocuments).toBeGreaterThanOrEqual(1)
    await s.raw(relay.url, 'alice')
    await waitUntil(() => bobsAlice.isOnline === true, 'bob sees alice online again')
  })

  it('after a flood of unknown names, a conversation is created as before (its creator asks for it first)', async () => {
    const { relay } = await s.relay()
    const alice = await s.client('alice', relay.url)
    const bob = await s.client('bob', relay.url)
    // A flood of unknown names first.
    const m = await s.raw(relay.url, 'mallory')
    await m.roundTrip('user/nobody') // (answered once her token is verified: no pre-auth limit)
    for (let i = 0; i < 499; i++) m.send(step1Frame(`conv/${randomSid()}`))
    await settled(m)
    const loaded = relay.core.loadedDocuments
    const bobAdded = waitFor(bob, 'conversationAdded')
    const conv = await alice.createConversation({ friendlyName: 'after the flood', join: true })
    await conv.add('bob')
    const bconv = (await bobAdded) as typeof conv
    const bobGets = waitFor<Message>(bconv, 'messageAdded', (msg) => msg.body === 'hello')
    const sent = await conv.sendMessage('hello')
    const got = await bobGets
    await waitUntil(() => sent.index !== null && got.index !== null, 'the message is sequenced on both sides')
    // The new conversation is a document (asleep or loaded); the 500 unknown names are not.
    expect(relay.core.loadedDocuments).toBeLessThanOrEqual(loaded + 3)
    expect(m.closeInfo).toBeNull()
    expect(relay.core.documentsOf('mallory')).toBe(500)
  })
})
