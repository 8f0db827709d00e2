/**
 * What the relay sends back to a writer: the rest of the turn (the stamps and bindings its write
 * caused), never the writer's own structs again; everyone else gets the whole turn.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildWorld, malloryIn, Scope, waitUntil } from './helpers.ts'
import { SYNC } from './raw-client.ts'

describe('relay echo', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it("a writer gets the relay's part of its turn without its own structs; others get all of it", async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    // A second connection of the same person: it is not the writer, so it gets everything.
    const m2 = await malloryIn(s, w)
    const mine = m.doc(w.docName).clientID
    const mark = m.frames.length
    const mark2 = m2.frames.length
    // Mallory's first write in this conversation: the relay binds her clientID in the same turn.
    m.sendUpdate(
      w.docName,
      m.forge(w.docName, (d) => d.getMap('reactions').set(`${w.first.sid}\nmallory\n👍`, Date.now())),
    )
    const isUpdate = (f: { docName: string; syncType: number | null }) =>
      f.docName === w.docName && f.syncType === SYNC.update
    const back = await m.next((f, i) => i >= mark && isUpdate(f))
    const other = await m2.next((f, i) => i >= mark2 && isUpdate(f))

    const clientsIn = (update: Uint8Array) => new Set(Y.decodeUpdate(update).structs.map((x) => x.id.client))
    expect(clientsIn(back.update!).has(mine)).toBe(false)
    expect(clientsIn(back.update!).size).toBeGreaterThan(0)
    expect(clientsIn(other.update!).has(mine)).toBe(true)
    // The writer's replica ends up with the relay's binding of its clientID.
    await waitUntil(
      () => m.doc(w.docName).getMap<string>('clients').get(String(mine)) === 'mallory',
      "the writer's replica has its binding",
    )
    // And alice sees the reaction.
    await waitUntil(() => w.first.reactions.some((r) => r.users.includes('mallory')), 'alice sees the reaction')
  })
})
