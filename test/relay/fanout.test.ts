/** One user in 1,000 conversations holds exactly one socket to the relay. */
import { afterEach, describe, expect, it } from 'vitest'
import { NO_QUOTAS } from '../../relay/quotas.ts'
import type { Conversation, Message } from '../../src/index.ts'
import { Harness, waitFor, waitUntil } from './helpers.ts'

const N = 1000

describe('relay: many conversations, one socket', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it(`a client joined to ${N} conversations holds exactly 1 socket`, { timeout: 30_000 }, async () => {
    // One user creates all of them with bob: more than the default quotas allow in an hour.
    const relay = await h.relay({ limits: { ...NO_QUOTAS } })
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: relay.url })
    // A client cut off for good (a limit, a refused update) would never see them all: fail fast with why.
    const errors: unknown[] = []
    for (const c of [alice, bob]) c.on('connectionError', (e: object) => errors.push({ who: c.identity, ...e }))
    const seen = new Set<string>()
    bob.on('conversationAdded', (c: Conversation) => seen.add(c.sid))

    const created: Conversation[] = []
    for (let i = 0; i < N; i++) {
      const conv = await alice.createConversation({ friendlyName: `room ${i}`, join: true })
      await conv.add('bob')
      created.push(conv)
    }
    await waitUntil(() => seen.size === N || errors.length > 0, `bob sees all ${N} conversations`, 20_000)
    expect(errors).toEqual([])
    await bob.whenSynced()

    expect(relay.core.connectionsOf('bob')).toBe(1)
    expect(relay.core.connectionsOf('alice')).toBe(1)
    expect(relay.metrics.connections).toBe(2)
    expect(relay.metrics.connectionsTotal).toBe(2) // nobody was cut off and reconnected on the way
    const health = (await (await fetch(`http://127.0.0.1:${relay.port}/healthz`)).json()) as {
      connections: number
      documents: number
    }
    expect(health.connections).toBe(2)
    expect(health.documents).toBeGreaterThanOrEqual(N)
    expect(relay.metrics.rejections.size).toBe(0)

    // And the one socket carries them all: a message in the last conversation reaches bob.
    const last = created[N - 1]!
    const bconv = await bob.getConversationBySid(last.sid)
    const got = waitFor<Message>(bconv, 'messageAdded')
    await last.sendMessage('the thousandth room')
    expect((await got).body).toBe('the thousandth room')
    expect((await bob.getSubscribedConversations()).items).toHaveLength(50)
  })
})
