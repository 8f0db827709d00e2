import { afterEach, it } from 'vitest'
import type { Conversation } from '../../src/index.ts'
import { Harness, waitFor } from './helpers.ts'
const h = new Harness()
afterEach(() => h.cleanup())
for (const viaProxy of [false, true, false]) it(`dbg ${viaProxy}`, async () => {
  const relay = await h.relay()
  const proxyB = await h.proxy(relay.port)
  const alice = await h.client('alice', { relayUrl: relay.url })
  const bob = await h.client('bob', { relayUrl: viaProxy ? proxyB.url : relay.url })
  bob.on('connectionError', (e) => console.log('bob err', e.message)); alice.on('connectionError', (e) => console.log('alice err', e.message))
  const bobAdded = waitFor<Conversation>(bob, 'conversationAdded')
  const conv = await alice.createConversation({ join: true })
  await conv.add('bob')
  await bobAdded
})
