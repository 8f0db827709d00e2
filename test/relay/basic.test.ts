import { afterEach, describe, expect, it } from 'vitest'
import { createRelay, type Relay, signToken } from '../../relay/index.ts'
import { Client } from '../../src/index.ts'

const SECRET = 'test-secret-test-secret-test-secret!'

const until = <T>(register: (resolve: (v: T) => void) => void, ms = 5000): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
    register((v) => {
      clearTimeout(timer)
      resolve(v)
    })
  })

describe('relay: two users', () => {
  let relay: Relay
  const clients: Client[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.shutdown()
    await relay?.close()
  })

  it('create, add, send, receive through a real relay', async () => {
    relay = await createRelay({ auth: { secret: SECRET } })
    await relay.listen(0)
    const token = (identity: string) => signToken({ identity, secret: SECRET })
    const alice = await Client.create({ relayUrl: relay.url, token: () => token('alice') })
    const bob = await Client.create({ relayUrl: relay.url, token: () => token('bob') })
    clients.push(alice, bob)
    expect(alice.identity).toBe('alice')
    const bobSees = until<string>((r) => bob.on('conversationAdded', (c) => r(c.sid)))
    const conv = await alice.createConversation({ friendlyName: 'team', join: true })
    await conv.add('bob')
    expect(await bobSees).toBe(conv.sid)
    const bconv = await bob.getConversationBySid(conv.sid)
    const got = until<string>((r) => conv.on('messageAdded', (m) => r(m.body ?? '')))
    const m = await bconv.sendMessage('hi alice')
    expect(await got).toBe('hi alice')
    await until<void>((r) => m.on('updated', () => m.index !== null && r()))
    expect(m.index).toBe(0)
  })
})
