/**
 * ClientIDs as a CPU bomb (issue 13, item 23): a member binding ~30,000 clientIDs in ten seconds
 * made every later transaction slow on every replica (Yjs spends time on each clientID of a
 * document in every transaction). One identity may bring at most `clientIdsPerHour` new clientIDs
 * into one document per hour, and hold at most `maxClientIdsPerIdentity` there in all.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type * as Y from 'yjs'
import { DEFAULT_LIMITS } from '../../relay/index.ts'
import type { StorageAdapter } from '../../src/storage/adapter.ts'
import { createMemoryStorage } from '../../src/storage/memory.ts'
import {
  assertStillServes,
  buildWorld,
  expectRefused,
  malloryIn,
  Scope,
  UPDATE_REJECTED,
  type World,
  waitUntil,
} from './helpers.ts'
import { encodeUpdate, item, type RawClient } from './raw-client.ts'

let nextClient = 93_000_000
/** An update that binds `n` clientIDs mallory never used, each writing one of her own read slots. */
const newClients = (n: number, owner = 'mallory') => {
  const ids = Array.from({ length: n }, () => nextClient++)
  const update = encodeUpdate(
    ids.map((client) =>
      item({
        client,
        clock: 0,
        parent: 'reads',
        parentSub: `${owner}\n${client}`,
        content: [{ epoch: 0, index: null, at: 1, m: null }],
      }),
    ),
  )
  return { ids, update }
}
const boundTo = (doc: Y.Doc, identity: string): number =>
  [...doc.getMap<string>('clients').values()].filter((who) => who === identity).length

/** Sends `update` and waits until alice's replica has its first clientID bound to mallory. */
const accepted = async (w: World, m: RawClient, batch: { ids: number[]; update: Uint8Array }) => {
  m.sendUpdate(w.docName, batch.update)
  await waitUntil(
    () => w.conv._doc.doc.getMap<string>('clients').get(String(batch.ids.at(-1))) === 'mallory',
    'the batch is bound on alice’s replica',
  )
}

describe('new clientIDs per identity and document are limited', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it(`by default, ${DEFAULT_LIMITS.clientIdsPerHour} an hour: one more is refused, the relay still serves`, async () => {
    expect(DEFAULT_LIMITS.clientIdsPerHour).toBe(100)
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const before = boundTo(w.conv._doc.doc, 'mallory')
    await accepted(w, m, newClients(100 - before))
    const extra = newClients(1)
    await expectRefused(w, m, () => m.sendUpdate(w.docName, extra.update), 'at most 100 an hour', {
      absent: (doc) => !doc.getMap('clients').has(String(extra.ids[0])),
    })
    expect(boundTo(w.conv._doc.doc, 'mallory')).toBe(100)
  })

  it('the 30,000 of the attack, 128 a frame, stop at the hourly limit', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    for (let i = 0; i < 235 && m.isOpen; i++) m.sendUpdate(w.docName, newClients(128).update)
    const closed = await m.waitClosed()
    expect(closed.code).toBe(UPDATE_REJECTED)
    expect(closed.reason).toContain('too many new client ids')
    await w.relay.core.flush()
    expect(boundTo(w.conv._doc.doc, 'mallory')).toBeLessThanOrEqual(100)
    await assertStillServes(w, 'after the bomb')
  })

  it('the hourly limit refills over the hour, and survives the document going to sleep', async () => {
    let now = Date.now()
    const w = await buildWorld(s, { relay: { now: () => now, limits: { clientIdsPerHour: 20 } } })
    const m = await malloryIn(s, w)
    await accepted(w, m, newClients(20 - boundTo(w.conv._doc.doc, 'mallory')))
    await w.relay.core.flush()
    await w.relay.core._sleepNow()
    const m2 = await malloryIn(s, w)
    await expectRefused(w, m2, () => m2.sendUpdate(w.docName, newClients(1).update), 'at most 20 an hour')
    now += 30 * 60_000 // half an hour: 10 more
    const m3 = await malloryIn(s, w)
    await accepted(w, m3, newClients(10))
    await expectRefused(w, m3, () => m3.sendUpdate(w.docName, newClients(1).update), 'at most 20 an hour')
  })

  it('is per identity: bob binds while mallory is refused', async () => {
    const w = await buildWorld(s, { relay: { limits: { clientIdsPerHour: 5 } } })
    const m = await malloryIn(s, w)
    await expectRefused(w, m, () => m.sendUpdate(w.docName, newClients(6).update), 'at most 5 an hour')
    const b = await malloryIn(s, w, 'bob')
    const batch = newClients(3, 'bob')
    b.sendUpdate(w.docName, batch.update)
    await waitUntil(
      () => w.conv._doc.doc.getMap<string>('clients').get(String(batch.ids[2])) === 'bob',
      'bob’s clientIDs are bound',
    )
  })

  it(`holds at most maxClientIdsPerIdentity in all, counted again from the document after a restart`, async () => {
    const storage: StorageAdapter = createMemoryStorage()
    s.defer(() => storage.close())
    const limits = { clientIdsPerHour: 1_000, maxClientIdsPerIdentity: 150 }
    const w = await buildWorld(s, { relay: { storage, limits } })
    const m = await malloryIn(s, w)
    await accepted(w, m, newClients(128))
    await accepted(w, m, newClients(150 - boundTo(w.conv._doc.doc, 'mallory')))
    await expectRefused(w, m, () => m.sendUpdate(w.docName, newClients(1).update), 'at most 150)')
    await w.relay.close()

    const { relay } = await s.relay({ storage, limits })
    const again = await s.raw(relay.url, 'mallory')
    await again.sync(w.docName)
    again.sendUpdate(w.docName, newClients(1).update)
    const closed = await again.waitClosed()
    expect(closed.code).toBe(UPDATE_REJECTED)
    expect(closed.reason).toContain('at most 150)')
  })

  it('in her own profile too', async () => {
    const w = await buildWorld(s, { relay: { limits: { clientIdsPerHour: 10 } } })
    const m = await malloryIn(s, w)
    const name = 'user/mallory'
    await m.sync(name)
    const profileUpdate = (n: number) =>
      encodeUpdate(
        Array.from({ length: n }, (_, i) =>
          item({ client: nextClient++, clock: 0, parent: 'profile', parentSub: 'friendlyName', content: [`m${i}`] }),
        ),
      )
    m.sendUpdate(name, profileUpdate(10))
    await m.roundTrip(name)
    expect(m.isOpen).toBe(true)
    m.sendUpdate(name, profileUpdate(1))
    const closed = await m.waitClosed()
    expect(closed.code).toBe(UPDATE_REJECTED)
    expect(closed.reason).toContain('at most 10 an hour')
    const live = (await w.relay.core._load(name)!).doc
    expect(live.store.clients.size).toBe(10)
  })

  it('limits that are not positive integers are refused with INVALID_ARGUMENT', async () => {
    for (const limits of [{ clientIdsPerHour: 0 }, { maxClientIdsPerIdentity: -1 }, { clientIdsPerHour: Number.NaN }]) {
      await expect(s.relay({ limits })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    }
  })
})
