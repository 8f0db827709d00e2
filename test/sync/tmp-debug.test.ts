import { it } from 'vitest'
import { Client } from '../../src/index.js'
import { createTestNetwork } from '../../src/testing/index.js'
import type { Transport } from '../../src/index.js'

it('debug', async () => {
  const net = createTestNetwork({ autoDeliver: false })
  const wrap = (t: Transport, who: string): Transport => ({
    connect: (ev) => t.connect({ ...ev, onClose: (c, r) => { console.log(who, 'close', c, r); ev.onClose(c, r) } }),
    onReachable: (l) => t.onReachable!(l),
  })
  const backoff = { baseMs: 3_600_000, maxMs: 3_600_000 }
  const a = await Client.create({ identity: 'alice', transport: wrap(net.link('alice'), 'alice'), backoff })
  const a2 = await Client.create({ identity: 'alice', transport: wrap(net.link('alice'), 'alice#2'), backoff })
  const c = await a.createConversation({ friendlyName: 'r', join: true })
  await net.settle()
  const m = await c.sendMessage('x')
  await net.settle()
  const c2 = await a2.getConversationBySid(c.sid)
  await m.remove()
  await (await c2.getMessageBySid(m.sid)).updateBody('x2')
  await net.settle()
  console.log(a.connectionState, a2.connectionState, net.errors)
  await a.shutdown(); await a2.shutdown(); await net.close()
})
