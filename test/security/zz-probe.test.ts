import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildWorld, malloryIn, Scope, boundClientOf, observedState, contentOf } from './helpers.ts'
import { currentItem, encodeUpdate, item } from './raw-client.ts'

describe('probe', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('simple forgery', async () => {
    const t0 = Date.now()
    const w = await buildWorld(s)
    console.log('world in', Date.now() - t0)
    const m = await malloryIn(s, w)
    const u = m.forge(w.docName, (d) => d.getMap('messages').set('IMfake', { id: 'IMfake', author: 'alice', participantSid: null, content: [{ type: 'text', text: 'x' }], attributes: {}, replyTo: null, createdAt: 1 }))
    m.sendUpdate(w.docName, u)
    console.log(await m.waitClosed())
  })

  it('ContentDeleted overwrite of alice participant without ds', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const target = currentItem(d, 'participants', 'alice')!
    const my = d.clientID
    const forged = item({ client: my, clock: 0, origin: target.lastId, content: new Y.ContentDeleted(1) })
    const before = await observedState(w.relay, w.storage, w.docName)
    m.sendUpdate(w.docName, encodeUpdate([forged]))
    await m.roundTrip('user/mallory').catch((e) => console.log('rt', e.message))
    console.log('closed?', m.closeInfo)
    const after = await observedState(w.relay, w.storage, w.docName)
    console.log('alice participant live?', (after.live.content.participants as any).alice !== undefined)
  })

  it('zero-length item under alice clientID + harmless reaction', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const aliceId = boundClientOf(d, 'alice')
    const target = currentItem(d, 'participants', 'bob')!
    const zero = item({ client: aliceId, clock: Y.getState(d.store, aliceId), origin: target.lastId, content: new Y.ContentAny([]) })
    const harmless = item({ client: d.clientID, clock: 0, parent: 'reactions', parentSub: `${w.first.sid}\nmallory\n👀`, content: [Date.now()] })
    m.sendUpdate(w.docName, encodeUpdate([zero, harmless]))
    await m.roundTrip('user/mallory').catch((e) => console.log('rt', e.message))
    console.log('closed?', m.closeInfo)
    const after = await observedState(w.relay, w.storage, w.docName)
    console.log('bob participant live?', (after.live.content.participants as any).bob !== undefined, Object.keys(after.live.content.participants as any))
  })
})
