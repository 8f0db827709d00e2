/**
 * Inbox spam against a real relay: one account (or several) creating conversation after
 * conversation with a victim as participant. The relay's quotas refuse the update that goes over
 * one (4422, the quota in the reason) and take nothing of it; the victim still starts, lists what
 * was accepted, and talks in their other conversations.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type * as Y from 'yjs'
import { newConversationSid } from '../../src/ids.ts'
import type { Message } from '../../src/index.ts'
import { ConversationDocument, participantRecord } from '../../src/schema/layout.ts'
import { listed } from '../support/wait.ts'
import { Scope, UPDATE_REJECTED, waitFor, waitUntil } from './helpers.ts'
import type { RawClient } from './raw-client.ts'

/** A conversation's creation by `creator` with `others` as participants, written into a raw replica. */
const createWith = (doc: Y.Doc, sid: string, creator: string, others: string[]): void => {
  const conv = new ConversationDocument(doc)
  const now = Date.now()
  conv.set('sid', sid, creator, now)
  conv.set('createdBy', creator, creator, now)
  conv.set('dateCreated', now, creator, now)
  conv.set('friendlyName', 'free prizes', creator, now)
  conv.participants.set(
    creator,
    participantRecord(sid, creator, { at: now, addedBy: creator, membership: 'm1', role: 'admin' }),
  )
  for (const who of others) {
    conv.participants.set(who, participantRecord(sid, who, { at: now, addedBy: creator, membership: 'm1' }))
  }
}

/** Resolves once the relay has handled every frame sent on `m` so far, or has closed it. */
const settled = (m: RawClient): Promise<unknown> => Promise.race([m.roundTrip('user/nobody').catch(() => {}), m.closed])

/** Sends a creation on `m`'s connection; resolves with its sid once the relay has handled it. */
const spam = async (m: RawClient, creator: string, others: string[]): Promise<string> => {
  const sid = newConversationSid()
  const name = `conv/${sid}`
  await m.sync(name)
  m.sendUpdate(
    name,
    m.forge(name, (d) => createWith(d, sid, creator, others)),
  )
  await settled(m)
  return sid
}

/** Adds `who` to the existing conversation `sid` (mallory is its admin). */
const addTo = async (m: RawClient, sid: string, who: string): Promise<void> => {
  const name = `conv/${sid}`
  await m.sync(name)
  m.sendUpdate(
    name,
    m.forge(name, (d) =>
      new ConversationDocument(d).participants.set(
        who,
        participantRecord(sid, who, { at: Date.now(), addedBy: 'mallory', membership: 'm2' }),
      ),
    ),
  )
  await settled(m)
}

const refusedFor = async (m: RawClient, quota: string) => {
  const closed = await m.waitClosed()
  expect(closed.code).toBe(UPDATE_REJECTED)
  expect(closed.reason).toContain('quota:')
  expect(closed.reason).toContain(quota)
}

describe('quotas on creating conversations and adding participants', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('an account over its conversations per hour is refused; the victim still starts and talks elsewhere', async () => {
    const { relay } = await s.relay({ limits: { conversationsPerHour: 5 } })
    // The victim's honest conversation with alice, from before the spam.
    const alice = await s.client('alice', relay.url)
    const honest = await alice.createConversation({ friendlyName: 'honest', join: true })
    await honest.add('victim')
    const m = await s.raw(relay.url, 'mallory')
    const accepted: string[] = []
    for (let i = 0; i < 5; i++) accepted.push(await spam(m, 'mallory', ['victim']))
    expect(m.isOpen).toBe(true)
    const refusedSid = await spam(m, 'mallory', ['victim'])
    await refusedFor(m, 'at most 5 new conversations per hour')
    // Nothing of the refused one exists on the relay.
    expect((await relay.core._load(`conv/${refusedSid}`)!).conv?.exists).toBe(false)
    // A new connection is refused again (the quota is the identity's, not the connection's).
    const again = await s.raw(relay.url, 'mallory')
    await spam(again, 'mallory', ['victim'])
    await refusedFor(again, 'new conversations per hour')

    const victim = await s.client('victim', relay.url)
    await victim.whenSynced()
    const mine = await listed(victim, honest.sid, 'the victim lists the honest conversation')
    await waitUntil(
      async () => (await victim.getSubscribedConversations()).items.length === accepted.length + 1,
      'the victim lists the accepted conversations and the honest one, nothing more',
    )
    const sids = (await victim.getSubscribedConversations()).items.map((c) => c.sid).sort()
    expect(sids).toEqual([...accepted, honest.sid].sort())
    const aliceGets = waitFor<Message>(honest, 'messageAdded', (msg) => msg.body === 'still here')
    await mine.sendMessage('still here')
    await aliceGets
    expect(victim.connectionState).toBe('connected')
  })

  it('a user added by others too often: further additions of that user are refused, whoever adds them', async () => {
    const { relay } = await s.relay({ limits: { addedByOthersPerHour: 3 } })
    const m1 = await s.raw(relay.url, 'mallory')
    await spam(m1, 'mallory', ['victim'])
    await spam(m1, 'mallory', ['victim'])
    const m2 = await s.raw(relay.url, 'trudy')
    await spam(m2, 'trudy', ['victim'])
    expect(m1.isOpen && m2.isOpen).toBe(true)
    // A fourth, by a third account: refused, naming the user.
    const m3 = await s.raw(relay.url, 'oscar')
    await spam(m3, 'oscar', ['victim', 'someone-else'])
    await refusedFor(m3, 'victim was added to 3 conversations in the last hour')
    // Adding the user to an existing conversation counts the same.
    const sid = await spam(m1, 'mallory', ['carol'])
    await addTo(m1, sid, 'victim')
    await refusedFor(m1, 'victim was added to 3')
    // Others may still be added, and nothing of the refused update was applied.
    const m4 = await s.raw(relay.url, 'oscar')
    await spam(m4, 'oscar', ['someone-else'])
    expect(m4.isOpen).toBe(true)
    expect((await relay.core._load(`conv/${sid}`)!).conv?.participants.has('victim')).toBe(false)
  })

  it('an account over its participants added per hour is refused', async () => {
    const { relay } = await s.relay({ limits: { participantsAddedPerHour: 4 } })
    const m = await s.raw(relay.url, 'mallory')
    const sid = await spam(m, 'mallory', ['u1', 'u2', 'u3'])
    await addTo(m, sid, 'u4')
    expect(m.isOpen).toBe(true)
    await addTo(m, sid, 'u5')
    await refusedFor(m, 'at most 4 participants added per hour')
    // Creating a conversation with herself alone adds nobody: still allowed.
    const m2 = await s.raw(relay.url, 'mallory')
    await spam(m2, 'mallory', [])
    expect(m2.isOpen).toBe(true)
  })

  it('an honest client over a quota gets a REJECTED error with the quota, and carries on', async () => {
    const { relay } = await s.relay({ limits: { conversationsPerHour: 1 } })
    const alice = await s.client('alice', relay.url)
    const bob = await s.client('bob', relay.url)
    const bobAdded = waitFor(bob, 'conversationAdded')
    const first = await alice.createConversation({ friendlyName: 'first', join: true })
    await first.add('bob')
    await bobAdded
    const error = waitFor<Error & { code?: string }>(alice, 'error', (e) => String(e?.message).includes('quota:'))
    await alice.createConversation({ friendlyName: 'second', join: true })
    const e = await error
    expect(e.code).toBe('REJECTED')
    expect(e.message).toContain('at most 1 new conversations per hour')
    // The first conversation still works both ways.
    await waitUntil(() => alice.connectionState === 'connected', 'alice is connected again')
    const bconv = await listed(bob, first.sid, 'bob lists the first conversation')
    const bobGets = waitFor<Message>(bconv, 'messageAdded', (msg) => msg.body === 'after the refusal')
    await first.sendMessage('after the refusal')
    await bobGets
  })

  it('a quota refills with time (the relay’s clock)', async () => {
    let now = Date.now()
    const { relay } = await s.relay({ limits: { conversationsPerHour: 2 }, now: () => now })
    const m = await s.raw(relay.url, 'mallory')
    await spam(m, 'mallory', [])
    await spam(m, 'mallory', [])
    await spam(m, 'mallory', [])
    await refusedFor(m, 'at most 2 new conversations per hour')
    // Half an hour later, one more.
    now += 30 * 60_000
    const m2 = await s.raw(relay.url, 'mallory')
    await spam(m2, 'mallory', [])
    expect(m2.isOpen).toBe(true)
    await spam(m2, 'mallory', [])
    await refusedFor(m2, 'new conversations per hour')
    // What the relay keeps for quotas goes once they are full again: others' allowances are dropped.
    const m3 = await s.raw(relay.url, 'trudy')
    await spam(m3, 'trudy', ['u1', 'u2'])
    // mallory's and trudy's creations, trudy's additions, u1's and u2's being added
    expect(relay.core._quotas.tracked).toBe(5)
    now += 2 * 60 * 60_000
    const m4 = await s.raw(relay.url, 'oscar')
    await spam(m4, 'oscar', [])
    expect(relay.core._quotas.tracked).toBe(1)
  })

  it('quotas that are not whole numbers are refused with INVALID_ARGUMENT', async () => {
    for (const bad of [-1, 1.5, Number.NaN, '10']) {
      await expect(s.relay({ limits: { conversationsPerHour: bad as number } })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
    }
    // Infinity turns a quota off.
    const { relay } = await s.relay({ limits: { conversationsPerHour: Number.POSITIVE_INFINITY } })
    const m = await s.raw(relay.url, 'mallory')
    for (let i = 0; i < 120; i++) await spam(m, 'mallory', [])
    expect(m.isOpen).toBe(true)
  })
})
