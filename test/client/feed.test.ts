import { describe, expect, it } from 'vitest'
import type { Message } from '../../src/index.js'
import { expectCode, manualClock, useHarness } from './helpers.js'

const h = useHarness()

/** alice with two conversations; messages at the given times (ms) in each. */
const seeded = async () => {
  const clock = manualClock(500)
  const alice = await h.client('alice', { now: clock.now })
  const a = await alice.createConversation({ friendlyName: 'A', join: true })
  const b = await alice.createConversation({ friendlyName: 'B', join: true })
  const plan: Array<[number, 'a' | 'b', string]> = [
    [1_000, 'a', 'a1'],
    [1_500, 'b', 'b1'],
    [2_000, 'a', 'a2'],
    [2_500, 'b', 'b2'],
    [3_000, 'a', 'a3'],
  ]
  for (const [t, where, body] of plan) {
    clock.set(t)
    await (where === 'a' ? a : b).sendMessage(body)
  }
  return { alice, a, b, clock }
}

const bodies = (ms: Message[]) => ms.map((m) => m.body)

describe('client.getMessages (cross-conversation feed)', () => {
  it('returns every message of every conversation, oldest first', async () => {
    const { alice } = await seeded()
    expect(bodies(await alice.getMessages())).toEqual(['a1', 'b1', 'a2', 'b2', 'a3'])
  })

  it('includes `since` and excludes `until`, in ms or as Dates', async () => {
    const { alice } = await seeded()
    expect(bodies(await alice.getMessages({ since: 2_000 }))).toEqual(['a2', 'b2', 'a3'])
    expect(bodies(await alice.getMessages({ until: 2_500 }))).toEqual(['a1', 'b1', 'a2'])
    expect(bodies(await alice.getMessages({ since: new Date(1_500), until: new Date(3_000) }))).toEqual([
      'b1',
      'a2',
      'b2',
    ])
    expect(await alice.getMessages({ since: 5_000 })).toEqual([])
    expect(await alice.getMessages({ until: 1_000 })).toEqual([])
  })

  it('keeps the newest `limit` messages, still oldest first', async () => {
    const { alice } = await seeded()
    expect(bodies(await alice.getMessages({ limit: 2 }))).toEqual(['b2', 'a3'])
    expect(bodies(await alice.getMessages({ limit: 3, until: 3_000 }))).toEqual(['b1', 'a2', 'b2'])
    expect(bodies(await alice.getMessages({ limit: 1, since: 1_000, until: 1_600 }))).toEqual(['b1'])
  })

  it('defaults to 50 and accepts up to 100', async () => {
    const clock = manualClock(1)
    const alice = await h.client('alice', { now: clock.now })
    const conv = await alice.createConversation({ join: true })
    for (let i = 0; i < 120; i++) {
      clock.advance()
      await conv.sendMessage(`m${i}`)
    }
    const byDefault = await alice.getMessages()
    expect(byDefault).toHaveLength(50)
    expect(byDefault[0]!.body).toBe('m70')
    expect(byDefault[49]!.body).toBe('m119')
    expect(await alice.getMessages({ limit: 100 })).toHaveLength(100)
  })

  it.each([
    ['limit 0', { limit: 0 }],
    ['limit 101', { limit: 101 }],
    ['a fractional limit', { limit: 2.5 }],
    ['NaN since', { since: Number.NaN }],
    ['an invalid Date', { until: new Date('nope') }],
    ['a string since', { since: '2020-01-01' }],
  ])('rejects %s with INVALID_ARGUMENT', async (_what, query) => {
    const { alice } = await seeded()
    await expectCode(alice.getMessages(query as never), 'INVALID_ARGUMENT')
  })

  it('reflects removals and leaves out deleted conversations', async () => {
    const { alice, a, b } = await seeded()
    const [a2] = (await alice.getMessages({ since: 2_000, until: 2_001 })) as [Message]
    await a2.remove()
    expect(bodies(await alice.getMessages())).toEqual(['a1', 'b1', 'b2', 'a3'])
    await b.delete()
    expect(bodies(await alice.getMessages())).toEqual(['a1', 'a3'])
    expect(a.isDeleted).toBe(false)
  })

  it('leaves out conversations I left, those I created included', async () => {
    const { alice, b } = await seeded()
    await b.leave()
    expect(bodies(await alice.getMessages())).toEqual(['a1', 'a2', 'a3'])
  })

  it('counts pending messages with their local time and includes messages from others', async () => {
    const clock = manualClock(10_000)
    const net = h.network({ now: () => 20_000 })
    const aliceLink = net.link('alice')
    const alice = await h.client('alice', { transport: aliceLink, now: clock.now })
    const bob = await h.client('bob', { transport: net.link('bob') })
    const conv = await alice.createConversation({ join: true })
    await conv.add('bob')
    await net.settle()
    const bconv = await bob.getConversationBySid(conv.sid)
    await bconv.sendMessage('from bob')
    await net.settle()
    aliceLink.partition()
    clock.set(15_000)
    const pending = await conv.sendMessage('pending')
    await net.settle()
    expect(pending.index).toBeNull()
    const feed = await alice.getMessages()
    expect(feed.map((m) => [m.author, m.body, m.dateCreated.getTime()])).toEqual([
      ['alice', 'pending', 15_000],
      ['bob', 'from bob', 20_000],
    ])
    expect(bodies(await alice.getMessages({ until: 16_000 }))).toEqual(['pending'])
  })
})
