/**
 * A burst of local writes in one task of the event loop (a loop of sends, a bot) leaves the client
 * as a few updates, not one frame per message, and the relay sends it on in a few updates too;
 * every message still arrives, sequenced in the order it was sent.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, messagesOf, sharedConversation, waitUntil } from './helpers.ts'

const N = 300

describe('bursts', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it(`${N} messages sent in one task reach the relay in a few frames and arrive in order`, async () => {
    const relay = await h.relay()
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: relay.url })
    const { conv, bconv } = await sharedConversation(alice, bob)
    await alice.whenSynced()
    await bob.whenSynced()
    await relay.core.flush()

    const frames = relay.metrics.framesReceived
    const sent = await Promise.all(Array.from({ length: N }, (_, i) => conv.sendMessage(`burst ${i}`)))
    await waitUntil(async () => {
      const list = await messagesOf(bconv)
      return list.length === N && list.every((m) => m.index !== null)
    }, `bob has all ${N} messages, sequenced`)
    const received = relay.metrics.framesReceived - frames
    // One frame for the first message, then one per 64 KiB of held updates (and a few of other
    // kinds, such as bob's delivery receipts): far fewer than one per message.
    expect(received).toBeLessThan(N / 10)

    const bobs = await messagesOf(bconv)
    expect(bobs.map((m) => m.body)).toEqual(sent.map((_, i) => `burst ${i}`))
    const indices = bobs.map((m) => m.index!)
    expect([...indices].sort((a, b) => a - b)).toEqual(indices)
    expect(new Set(indices).size).toBe(N)
    expect(await messagesOf(conv)).toEqual(bobs)
  })
})
