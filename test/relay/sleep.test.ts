/**
 * Quiet documents go to sleep on the relay: their Y.Doc is let go while clients stay subscribed,
 * and the next frame loads it again. Nothing a client sees may change because of it: messages,
 * indices, typing, removal and a new device's first sync all work on a document that was asleep.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createRelay, type Relay, RelayCore } from '../../relay/index.ts'
import type { Conversation, Message } from '../../src/index.ts'
import { createMemoryStorage } from '../../src/storage/memory.ts'
import { listed } from '../support/wait.ts'
import { Harness, messagesOf, SECRET, sharedConversation, waitFor, waitUntil } from './helpers.ts'

const SLEEP_MS = 40

describe('relay: quiet documents sleep', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  const setup = async () => {
    const relay = await h.relay({ sleepAfterMs: SLEEP_MS })
    const alice = await h.client('alice', { relayUrl: relay.url, typingTimeout: 60_000 })
    const bob = await h.client('bob', { relayUrl: relay.url, typingTimeout: 60_000 })
    const { conv, bconv } = await sharedConversation(alice, bob, { join: true, friendlyName: 'sleepy' })
    await conv.sendMessage('before sleep')
    await waitUntil(
      async () => (await messagesOf(bconv)).some((m) => m.body === 'before sleep' && m.index !== null),
      'bob has the first message, sequenced',
    )
    return { relay, alice, bob, conv, bconv }
  }

  const asleep = (relay: Relay, sid: string, what: string) => waitUntil(() => relay.core._isAsleep(`conv/${sid}`), what)

  it('a message to a sleeping conversation wakes it, is sequenced after the earlier ones and reaches everyone', async () => {
    const { relay, conv, bconv } = await setup()
    const loadedBefore = relay.core.loadedDocuments
    await asleep(relay, conv.sid, 'the conversation falls asleep')
    expect(relay.core.loadedDocuments).toBeLessThan(loadedBefore)

    const got = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'after sleep')
    const sent = await conv.sendMessage('after sleep')
    await got
    await waitUntil(
      async () =>
        (await messagesOf(bconv)).find((m) => m.sid === sent.sid)?.index != null &&
        (await messagesOf(conv)).find((m) => m.sid === sent.sid)?.index != null,
      'bob and alice see the new message sequenced',
    )
    const bobs = await messagesOf(bconv)
    const alices = await messagesOf(conv)
    expect(bobs.map((m) => m.body)).toEqual(['before sleep', 'after sleep'])
    expect(bobs).toEqual(alices)
    expect(bobs[1]!.index!).toBeGreaterThan(bobs[0]!.index!)

    // Asleep again, and awake again, as often as it takes.
    await asleep(relay, conv.sid, 'it falls asleep again')
    const third = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'third')
    await conv.sendMessage('third')
    await third
  })

  it('typing, removal and a new device work on a conversation that was asleep', async () => {
    const { relay, alice, bob, conv, bconv } = await setup()
    await asleep(relay, conv.sid, 'the conversation falls asleep')

    const typing = waitFor(bconv, 'typingStarted')
    await conv.typing()
    await typing

    // A second device of bob's, fresh, gets the whole history from the store.
    const bob2 = await h.client('bob', { relayUrl: relay.url })
    const bconv2 = await listed(bob2, conv.sid, "bob's new device learns the conversation")
    await waitUntil(
      async () => (await messagesOf(bconv2)).some((m) => m.body === 'before sleep' && m.index !== null),
      "bob's new device syncs the history",
    )

    // Sending ends the typing (a document stays awake while someone types), it falls asleep
    // again, then bob is removed: both of his devices are cut off.
    const ended = waitFor(bconv, 'typingEnded')
    await conv.sendMessage('typed')
    await ended
    await asleep(relay, conv.sid, 'the conversation falls asleep again')
    const removed = waitFor<Conversation>(bob, 'conversationRemoved')
    const removed2 = waitFor<Conversation>(bob2, 'conversationRemoved')
    await conv.removeParticipant('bob')
    expect((await removed).sid).toBe(conv.sid)
    expect((await removed2).sid).toBe(conv.sid)
    // Alice carries on.
    await conv.sendMessage('after bob left')
    expect((await messagesOf(conv)).map((m) => m.body)).toEqual(['before sleep', 'typed', 'after bob left'])
    expect(alice.connectionState).toBe('connected')
  })

  it('refuses timing options that are not durations, with a typed error', async () => {
    const auth = { secret: SECRET }
    for (const bad of [
      { sleepAfterMs: -1 },
      { sleepAfterMs: Number.NaN },
      { sleepAfterMs: Number.POSITIVE_INFINITY },
      { idleUnloadMs: '30' as unknown as number },
      { heartbeatMs: 0 },
    ]) {
      await expect(createRelay({ auth, ...bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    }
    const storage = createMemoryStorage()
    expect(() => new RelayCore({ storage, batchWindowMs: -2 })).toThrow(/batchWindowMs/)
    expect(() => new RelayCore({ storage, batch: 'later' as 'turn' })).toThrow(/batch must be one of/)
    expect(() => new RelayCore({ storage, compactEvery: 0 })).toThrow(/compactEvery/)
    // 0 is allowed: it keeps subscribed documents loaded.
    const relay = await h.relay({ sleepAfterMs: 0 })
    expect(relay.core.sleepingDocuments).toBe(0)
  })
})
