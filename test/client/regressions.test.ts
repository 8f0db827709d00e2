import { describe, expect, it } from 'vitest'
import type { Message } from '../../src/index.ts'
import type { TestNetwork } from '../../src/testing/index.ts'
import { expectCode, useHarness, waitFor } from './helpers.ts'

const h = useHarness()

describe('leaving and deleting while offline', () => {
  it('a leave written offline reaches the relay once the link heals', async () => {
    const { net, clients, convs, sid } = await h.shared(['bob'])
    const bob = clients.bob!
    await partition(net, 'bob')
    const left = waitFor(bob, 'conversationLeft', 2_000)
    await convs.bob!.leave()
    await left
    // Alice still sees bob: the leave has not reached the relay.
    await net.settle()
    expect((await convs.alice!.getParticipants()).map((p) => p.identity).sort()).toEqual(['alice', 'bob'])
    const gone = waitFor(convs.alice!, 'participantLeft', 2_000)
    heal(net, 'bob')
    await net.settle()
    await gone
    expect((await convs.alice!.getParticipants()).map((p) => p.identity)).toEqual(['alice'])
    await expectCode(bob.getConversationBySid(sid), 'NOT_FOUND')
  })

  it('a delete written offline reaches the relay and removes the conversation everywhere', async () => {
    const { net, clients, convs, sid } = await h.shared(['bob'])
    await partition(net, 'alice')
    await convs.alice!.delete()
    await net.settle()
    await expect(clients.bob!.getConversationBySid(sid)).resolves.toBeDefined()
    const removed = waitFor(clients.bob!, 'conversationRemoved', 2_000)
    heal(net, 'alice')
    await net.settle()
    await removed
    await expectCode(clients.bob!.getConversationBySid(sid), 'NOT_FOUND')
  })
})

describe('delivery receipts and stale objects', () => {
  it('messageUpdated carries deliveryReceipt when another participant reads the message', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.alice!.sendMessage('read me')
    await net.settle()
    const receipt = waitFor<{ message: Message; updateReasons: string[] }>(convs.alice!, 'messageUpdated', 2_000, (p) =>
      p.updateReasons.includes('deliveryReceipt'),
    )
    await convs.bob!.setAllMessagesRead()
    await net.settle()
    const payload = await receipt
    expect(payload.message).toBe(m)
    expect(m.status).toBe('read')
    expect(m.readCount).toBe(1)
  })

  it('a conversation object I was removed from rejects writes with FORBIDDEN, not CLOSED', async () => {
    const { net, clients, convs } = await h.shared(['bob'])
    const stale = convs.bob!
    const removed = waitFor(clients.bob!, 'conversationRemoved', 2_000)
    await convs.alice!.removeParticipant('bob')
    await net.settle()
    await removed
    await net.settle()
    await expectCode(stale.sendMessage('still here?'), 'FORBIDDEN')
  })
})

describe('live windows', () => {
  it('a list window calls back when only loadedAll changes', async () => {
    const client = await h.client('alice')
    const conv = await client.createConversation({ join: true })
    const first = await conv.sendMessage('one')
    await conv.sendMessage('two')
    const calls: boolean[] = []
    const sub = conv.subscribeMessages((_items, loadedAll) => calls.push(loadedAll), { limit: 1 })
    await sub.connected
    expect(calls).toEqual([false])
    // Removing the message outside the window changes nothing visible but makes the window complete.
    await first.remove()
    await new Promise<void>((resolve) => queueMicrotask(() => queueMicrotask(resolve)))
    expect(calls).toEqual([false, true])
    expect(sub.loadedAll).toBe(true)
    sub.unsubscribe()
  })
})

const partition = async (net: TestNetwork, identity: string): Promise<void> => {
  for (const l of net.links(identity)) l.partition()
  await net.settle()
}
const heal = (net: TestNetwork, identity: string): void => {
  for (const l of net.links(identity)) l.heal()
}
