/**
 * An offline backlog larger than one frame: the client sends it in several frames under the relay's
 * limit (announced in its hello), in the order it was written; nothing is refused for its size and
 * the device is never cut off.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Client, Message } from '../../src/index.ts'
import { Harness, messagesOf, sharedConversation, waitFor, waitUntil } from './helpers.ts'

const big = (i: number, bytes: number): string => `m${String(i).padStart(2, '0')} ${'x'.repeat(bytes)}`

/** Counts `client`'s connection state changes from now on. */
const stateChanges = (client: Client): string[] => {
  const seen: string[] = []
  client.on('connectionStateChanged', (state: string) => seen.push(state))
  return seen
}

describe('relay: an offline backlog larger than a frame', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  const run = async (options: { maxFrameBytes?: number; count: number; bytes: number }) => {
    const relay = await h.relay(options.maxFrameBytes ? { limits: { maxFrameBytes: options.maxFrameBytes } } : {})
    const proxy = await h.proxy(relay.port)
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: proxy.url })
    const big1 = await sharedConversation(alice, bob)
    const small = await sharedConversation(alice, bob)
    await bob.whenSynced()

    proxy.cut()
    await waitUntil(() => bob.connectionState !== 'connected', 'bob is offline')
    for (let i = 0; i < options.count; i++) await big1.bconv.sendMessage(big(i, options.bytes))
    await small.bconv.sendMessage('a small one elsewhere')

    const changes = stateChanges(bob)
    const gotSmall = waitFor<Message>(small.conv, 'messageAdded', (m) => m.body === 'a small one elsewhere', 20_000)
    proxy.restore()
    await gotSmall
    await waitUntil(
      async () => (await messagesOf(big1.conv)).filter((m) => m.index !== null).length === options.count,
      'alice has the whole backlog, sequenced',
      30_000,
    )
    const got = await messagesOf(big1.conv)
    // In the order bob wrote them, each exactly once.
    expect(got.map((m) => m.body)).toEqual(Array.from({ length: options.count }, (_, i) => big(i, options.bytes)))
    expect(got.map((m) => m.index)).toEqual([...got.map((m) => m.index)].sort((a, b) => a! - b!))
    expect(relay.metrics.rejections.get('frame_size') ?? 0).toBe(0)
    // One reconnect, not a loop: connecting, connected.
    expect(changes).toEqual(['connecting', 'connected'])
    expect(bob.connectionState).toBe('connected')
  }

  it('40 messages of 30 KB written offline in one conversation (1.2 MB, relay limit 1 MiB) all arrive, in order', async () => {
    await run({ count: 40, bytes: 30_000 })
  }, 60_000)

  it('follows the limit the relay announces (64 KiB): 12 messages of 20 KB', async () => {
    await run({ maxFrameBytes: 64 * 1024, count: 12, bytes: 20_000 })
  }, 60_000)
})
