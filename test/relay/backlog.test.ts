/**
 * An offline backlog larger than one frame: the client sends it in several frames under the relay's
 * limit (announced in its hello), in the order it was written; nothing is refused for its size and
 * the device is never cut off.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Client, type Message } from '../../src/index.ts'
import { createMemoryStorage } from '../../src/storage/memory.ts'
import { FAST_BACKOFF, Harness, messagesOf, sharedConversation, tokenFor, waitFor, waitUntil } from './helpers.ts'

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

  it('a device restarted while offline (two clientIDs): both sessions’ backlog, over a frame, arrives in the order written', async () => {
    const relay = await h.relay({ limits: { maxFrameBytes: 64 * 1024 } })
    const proxy = await h.proxy(relay.port)
    const storage = createMemoryStorage()
    const alice = await h.client('alice', { relayUrl: relay.url })
    // Yjs clientIDs (drawn 4 bytes at a time) larger in the second session than in the first: the
    // order in which an update lists its writers would send the newer session first.
    const session = (top: number) =>
      Client.create({
        relayUrl: proxy.url,
        token: () => tokenFor('bob'),
        storage,
        backoff: FAST_BACKOFF,
        runtime: {
          random: (buffer: Uint8Array) => {
            crypto.getRandomValues(buffer)
            if (buffer.length === 4) buffer[0] = top
            return buffer
          },
        },
      })
    const bob1 = await session(0x01)
    const { conv, bconv } = await sharedConversation(alice, bob1)
    await bob1.whenSynced()
    proxy.cut()
    await waitUntil(() => bob1.connectionState !== 'connected', 'bob is offline')
    const bodies: string[] = []
    for (let i = 0; i < 6; i++) bodies.push((await bconv.sendMessage(big(i, 12_000))).body!)
    await bob1.shutdown()
    // The app starts again, still offline: a new Yjs clientID on the same store.
    const bob2 = await session(0xf0)
    h.defer(() => bob2.shutdown())
    const again = await bob2.getConversationBySid(conv.sid)
    for (let i = 6; i < 12; i++) bodies.push((await again.sendMessage(big(i, 12_000))).body!)
    proxy.restore()
    await waitUntil(
      async () => (await messagesOf(conv)).filter((m) => m.index !== null).length === 12,
      'alice has both sessions’ messages, sequenced',
      30_000,
    )
    expect((await messagesOf(conv)).map((m) => m.body)).toEqual(bodies)
    expect(relay.metrics.rejections.get('frame_size') ?? 0).toBe(0)
  }, 60_000)

  it('a single change larger than any frame of the relay is refused on the device, once, not sent in a loop', async () => {
    const relay = await h.relay({ limits: { maxFrameBytes: 8 * 1024 } })
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: relay.url })
    const tooBig = await sharedConversation(alice, bob)
    const other = await sharedConversation(alice, bob)
    await bob.whenSynced()
    const changes = stateChanges(bob)
    const errors: Array<{ code: string; document?: string; setAside?: boolean }> = []
    bob.on('error', (e: { code: string }) => errors.push(e))
    await tooBig.bconv.sendMessage(big(0, 20_000))
    await waitUntil(() => errors.length > 0, 'bob is told')
    expect(errors).toEqual([
      expect.objectContaining({ code: 'LIMIT_EXCEEDED', document: `conv/${tooBig.conv.sid}`, setAside: true }),
    ])
    // The connection and the other conversation go on.
    const atAlice = waitFor<Message>(other.conv, 'messageAdded', (m) => m.body === 'still here')
    await other.bconv.sendMessage('still here')
    await atAlice
    expect(relay.metrics.rejections.get('frame_size') ?? 0).toBe(0)
    expect(changes).toEqual([])
    expect(errors).toHaveLength(1)
  })
})
