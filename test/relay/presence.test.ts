/**
 * Presence and typing expire when a client vanishes without saying goodbye (a sleeping laptop, a
 * dead network): the connection stalls, nothing is closed, and the relay's heartbeat drops it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { FaultProxy } from '../faults/support.ts'
import { Harness, sharedConversation, waitFor, waitUntil } from './helpers.ts'

describe('relay: presence and typing when a client vanishes', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('a stalled client goes offline and stops typing for everyone else', async () => {
    const relay = await h.relay({ heartbeatMs: 150 })
    const proxy = new FaultProxy(relay.port)
    h.defer(() => proxy.close())
    await proxy.listen()
    // Alice reaches the relay through the proxy; bob directly.
    const alice = await h.client('alice', { relayUrl: proxy.url, typingTimeout: 60_000 })
    const bob = await h.client('bob', { relayUrl: relay.url, typingTimeout: 60_000 })
    const { conv, bconv } = await sharedConversation(alice, bob)
    const bobsAlice = await bob.getUser('alice')
    await waitUntil(() => bobsAlice.isOnline === true, 'bob sees alice online')

    const typing = waitFor(bconv, 'typingStarted')
    await conv.typing()
    await typing
    expect(bconv._typists()).toEqual(['alice'])

    // Alice's connection goes silent: no close, no goodbye. The typing timeout is a minute, so only
    // the relay noticing the dead connection can end it in time.
    proxy.stall('both')
    const ended = waitFor(bconv, 'typingEnded', () => true, 5_000)
    await waitUntil(() => bobsAlice.isOnline === false, 'bob sees alice offline', 5_000)
    await ended
    expect(bconv._typists()).toEqual([])
    expect(relay.core.connectionsOf('alice')).toBe(0)
  })
})
