/**
 * The relay takes back stamps and clientID bindings that carry its own MAC (after a restore, see
 * docs/relay.md). Records that only look like the relay's are refused as before: a stamp or a
 * binding with a made-up MAC, a genuine MAC moved to another record. Mallory is a member speaking
 * the wire protocol directly; each forgery is written under a fresh clientID, as the relay's own
 * records are.
 */
import { afterEach, describe, it } from 'vitest'
import type * as Y from 'yjs'
import type { StampRecord } from '../../src/schema/layout.ts'
import { boundClientOf, buildWorld, expectRefused, malloryIn, Scope } from './helpers.ts'

const stampsOf = (d: Y.Doc) => d.getMap<StampRecord>('stamps')

describe('records that look like the relay’s are refused', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('a stamp with a made-up MAC', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const update = m.forge(w.docName, (d) =>
      stampsOf(d).set('IMnot-a-message', { i: 1000, t: 1, s: 'AAAAAAAAAAAAAAAAAAAAAA', a: 'AAAAAAAAAAAAAAAAAAAAAA' }),
    )
    await expectRefused(w, m, () => m.sendUpdate(w.docName, update), 'only the relay stamps messages')
  })

  it('a genuine stamp MAC on another index', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const update = m.forge(w.docName, (d) => {
      const real = stampsOf(d).get(w.first.sid)!
      stampsOf(d).set('IMcopied', { ...real, i: real.i + 1000 })
    })
    await expectRefused(w, m, () => m.sendUpdate(w.docName, update), 'only the relay stamps messages')
  })

  it('a binding to alice with the seal of alice’s real binding', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const update = m.forge(w.docName, (d) => {
      const alice = String(boundClientOf(d, 'alice'))
      const seal = d.getMap<string>('seals').get(alice)!
      d.getMap<string>('clients').set('424242', 'alice')
      d.getMap<string>('seals').set('424242', seal)
    })
    await expectRefused(w, m, () => m.sendUpdate(w.docName, update), 'clients is written by the relay only')
  })
})
