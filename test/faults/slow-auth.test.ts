/**
 * A client with many conversations connects while the relay is slow to verify its token (the
 * relay's thread pool is busy, as on a loaded relay; found by bench/load.ts at 1,000 clients).
 * The relay queues at most 16 frames before the token is verified and closes with 4429 beyond
 * that, which the client takes as final: it used to send a step 1 for every document the moment
 * the socket opened, so a client with more than ~14 conversations was locked out for good. It now
 * sends one document's step 1, and the rest once the relay has answered.
 */
import { pbkdf2 } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type Client, createMemoryStorage } from '../../src/index.ts'
import { deadline, Harness, tokenFor, waitUntil } from '../relay/helpers.ts'

/** Keeps every thread of the pool busy for a while: token verification (WebCrypto) waits behind it. */
const busyThreadPool = (): Promise<unknown> =>
  Promise.all(
    Array.from(
      { length: 8 },
      () => new Promise<void>((resolve) => pbkdf2('x', 'y', 200_000, 32, 'sha256', () => resolve())),
    ),
  )

describe('faults: slow token verification', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('a client with 40 conversations is not refused while the relay verifies its token', async () => {
    const relay = await h.relay()
    const storage = createMemoryStorage()
    const first = await h.client('alice', { relayUrl: relay.url, storage })
    for (let i = 0; i < 40; i++) await first.createConversation({ join: true })
    await first.whenSynced()
    await first.shutdown()

    const token = await tokenFor('alice')
    const busy = busyThreadPool()
    const again: Client = await h.client('alice', { relayUrl: relay.url, storage, token })
    const errors: unknown[] = []
    again.on('connectionError', (e) => errors.push(e))
    await waitUntil(() => again.connectionState !== 'connecting', 'the client connects or is refused', 15_000)
    await busy
    await deadline(again.whenSynced(), 10_000, 'the client syncs').catch((e) => errors.push(String(e)))
    expect(errors).toEqual([])
    expect(again.connectionState).toBe('connected')
    expect(relay.metrics.rejections.get('pre_auth')).toBeUndefined()
    expect((await again.getSubscribedConversations()).items).toHaveLength(40)
  })
})
