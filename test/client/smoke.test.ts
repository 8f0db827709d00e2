import { describe, expect, it } from 'vitest'
import { Client } from '../../src/index.js'
import { createTestNetwork } from '../../src/testing/index.js'

describe('smoke', () => {
  it('local-only client sends and sequences', async () => {
    const c = await Client.create({ identity: 'alice' })
    const conv = await c.createConversation({ friendlyName: 'x', join: true })
    const m = await conv.sendMessage('hi')
    expect(m.index).toBe(0)
    expect(m.body).toBe('hi')
    const page = await conv.getMessages()
    expect(page.items.map((i) => i.body)).toEqual(['hi'])
    await c.shutdown()
  })

  it('two clients through the in-process relay', async () => {
    const net = createTestNetwork()
    const alice = await Client.create({ identity: 'alice', transport: net.link('alice') })
    const bob = await Client.create({ identity: 'bob', transport: net.link('bob') })
    const conv = await alice.createConversation({ friendlyName: 'team', join: true })
    await conv.add('bob')
    const added = new Promise((r) => bob.once('conversationAdded', r))
    await net.settle()
    await added
    const bconv = await bob.getConversationBySid(conv.sid)
    expect(bconv.friendlyName).toBe('team')
    const m = await bconv.sendMessage('hello alice')
    expect(m.index).toBe(null)
    await net.settle()
    expect(m.index).toBe(0)
    const amsgs = await conv.getMessages()
    expect(amsgs.items.map((x) => [x.index, x.body, x.author])).toEqual([[0, 'hello alice', 'bob']])
    await conv.advanceLastReadMessageIndex(0)
    await net.settle()
    expect(m.status).toBe('read')
    await alice.shutdown()
    await bob.shutdown()
    await net.close()
  })
})
