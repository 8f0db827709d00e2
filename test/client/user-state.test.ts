/**
 * What a `User` says before it knows: `isOnline` is null (unknown) until the relay's answer about
 * that person has arrived, never a guessed `false`; `hasProfile` tells a person with a profile from
 * an identity colloquy knows nothing of. And a removed `Message` keeps the state it had.
 */
import { describe, expect, it } from 'vitest'
import type { Message, User } from '../../src/index.ts'
import type { TestNetwork } from '../../src/testing/index.ts'
import { useHarness, waitFor } from './helpers.ts'

const h = useHarness()

/** Delivers the network one frame at a time, sampling `read()` after every step, until `done()`. */
const stepUntil = async <T>(net: TestNetwork, read: () => T, done: () => boolean): Promise<T[]> => {
  const samples: T[] = [read()]
  for (let i = 0; i < 2_000 && !done(); i++) {
    net.deliver(1)
    samples.push(read())
    await new Promise<void>((resolve) => setImmediate(resolve))
    samples.push(read())
  }
  expect(done(), 'the network delivered what was expected').toBe(true)
  return samples
}

/** Every value of `isOnline` announced by `updated` (reason `reachabilityOnline`), read as it fires. */
const announced = (user: User): Array<boolean | null> => {
  const seen: Array<boolean | null> = []
  user.on('updated', ({ updateReasons }) => {
    if (updateReasons.includes('reachabilityOnline')) seen.push(user.isOnline)
  })
  return seen
}

describe('User.isOnline', () => {
  it('is null until the relay has answered, then true for someone connected: never false in between', async () => {
    const net = h.network({ autoDeliver: false })
    const alice = await h.client('alice', { transport: net.link('alice') })
    await h.client('bob', { transport: net.link('bob') })
    await net.settle()
    const bob = await alice.getUser('bob')
    const events = announced(bob)
    expect(bob.isOnline).toBe(null)
    const samples = await stepUntil(
      net,
      () => bob.isOnline,
      () => bob.isOnline === true,
    )
    expect(samples).not.toContain(false)
    expect(events).toEqual([true])
  })

  it('turns false once the relay has answered for someone not connected, and null when I disconnect', async () => {
    const net = h.network({ autoDeliver: false })
    const alice = await h.client('alice', { transport: net.link('alice') })
    await net.settle()
    const carol = await alice.getUser('carol')
    const events = announced(carol)
    expect(carol.isOnline).toBe(null)
    await net.settle()
    expect(carol.isOnline).toBe(false)
    for (const link of net.links('alice')) link.partition()
    await net.settle()
    expect(alice.connectionState).not.toBe('connected')
    expect(carol.isOnline).toBe(null)
    expect(events).toEqual([false, null])
  })

  it('is null without a relay', async () => {
    const alice = await h.client('alice')
    expect(alice.user.isOnline).toBe(null)
    expect((await alice.getUser('bob')).isOnline).toBe(null)
  })
})

describe('getUser of an identity nobody uses', () => {
  it('resolves, with hasProfile null until the relay answered and false after', async () => {
    const net = h.network()
    const alice = await h.client('alice', { transport: net.link('alice') })
    const bob = await h.client('bob', { transport: net.link('bob') })
    await bob.user.updateFriendlyName('Bob')
    await net.settle()
    const nobody = await alice.getUser('never-signed-in')
    const named = await alice.getUser('bob')
    await alice.whenSynced()
    expect(nobody.hasProfile).toBe(false)
    expect([nobody.friendlyName, nobody.photoUrl, nobody.attributes]).toEqual([null, null, {}])
    expect(named.hasProfile).toBe(true)
    expect(named.friendlyName).toBe('Bob')
  })

  it('hasProfile is null before the answer arrives', async () => {
    const net = h.network({ autoDeliver: false })
    const alice = await h.client('alice', { transport: net.link('alice') })
    await net.settle()
    const nobody = await alice.getUser('never-signed-in')
    expect(nobody.hasProfile).toBe(null)
    await net.settle()
    expect(nobody.hasProfile).toBe(false)
  })

  it('without a relay, hasProfile is what this device holds', async () => {
    const alice = await h.client('alice')
    expect((await alice.getUser('bob')).hasProfile).toBe(false)
    expect(alice.user.hasProfile).toBe(false)
    await alice.user.updateAttributes({ team: 'core' })
    expect(alice.user.hasProfile).toBe(true)
  })
})

describe('a removed Message keeps its last state', () => {
  it('on the side that removed it and on the other, whether or not the app held the object', async () => {
    const { net, convs } = await h.shared(['bob'])
    const alice = convs.alice!
    const bob = convs.bob!
    const m = await alice.sendMessage({ body: 'first draft', attributes: { v: 1 } })
    await net.settle()
    await m.updateBody('final text')
    await m.updateAttributes({ v: 2 })
    const held = await bob.getMessageBySid(m.sid)
    await held.react('👍')
    await net.settle()
    const before = {
      body: m.body,
      attributes: m.attributes,
      index: m.index,
      dateCreated: m.dateCreated,
      dateUpdated: m.dateUpdated,
      lastUpdatedBy: m.lastUpdatedBy,
      reactions: m.reactions,
    }
    expect(before.body).toBe('final text')
    expect(before.index).not.toBe(null)
    expect(before.reactions.map((r) => r.emoji)).toEqual(['👍'])

    const bobRemoved = waitFor<Message>(bob, 'messageRemoved', 2_000)
    await m.remove()
    await net.settle()
    const fromEvent = await bobRemoved
    for (const removed of [m, held, fromEvent]) {
      expect(removed.isRemoved).toBe(true)
      expect({
        body: removed.body,
        attributes: removed.attributes,
        index: removed.index,
        dateCreated: removed.dateCreated,
        dateUpdated: removed.dateUpdated,
        lastUpdatedBy: removed.lastUpdatedBy,
        reactions: removed.reactions.map(({ currentUserReacted: _, ...r }) => r),
      }).toEqual({ ...before, reactions: before.reactions.map(({ currentUserReacted: _, ...r }) => r) })
    }
    expect(held.reactions[0]!.currentUserReacted).toBe(true)
  })

  it('a hidden message stays hidden once removed', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.bob!.sendMessage('rude')
    await net.settle()
    const asAdmin = await convs.alice!.getMessageBySid(m.sid)
    await asAdmin.hide()
    await net.settle()
    expect(m.content).toEqual([])
    await m.remove()
    await net.settle()
    for (const removed of [m, asAdmin]) {
      expect(removed.isRemoved).toBe(true)
      expect(removed.isHidden).toBe(true)
      expect(removed.content).toEqual([])
    }
  })
})
