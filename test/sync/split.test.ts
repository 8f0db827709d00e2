/**
 * `splitUpdate`: an update larger than a frame becomes several, in an order where each applies in
 * full on its own (nothing left waiting for a dependency), and together they make the same
 * document. Randomized over documents written by several clients that build on each other's
 * items (map keys overwritten, list insertions between others' items, nested types, deletions).
 * Replay with `COLLOQUY_SEED=<seed>`.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { splitUpdate, UpdateTooLargeError } from '../../src/sync/split.ts'

const SEED = Number(process.env.COLLOQUY_SEED ?? (Math.random() * 2 ** 31) | 0)

/** mulberry32: a small seeded generator. */
const rng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Store = { pendingStructs: unknown; pendingDs: unknown }
const pending = (doc: Y.Doc): boolean => {
  const store = doc.store as unknown as Store
  return store.pendingStructs !== null || store.pendingDs !== null
}

/** Several replicas writing in turn and exchanging everything: one history with cross-client origins. */
const history = (random: () => number, steps: number): { doc: Y.Doc; midway: Uint8Array } => {
  const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
  const text = (n: number) => 'x'.repeat(1 + Math.floor(random() * n))
  let midway: Uint8Array = new Uint8Array([0, 0])
  for (let i = 0; i < steps; i++) {
    if (i === steps >> 1) midway = Y.encodeStateAsUpdate(docs[0]!)
    const doc = docs[Math.floor(random() * docs.length)]!
    const roll = random()
    const list = doc.getArray<unknown>('list')
    const map = doc.getMap<unknown>('map')
    if (roll < 0.3) map.set(`k${Math.floor(random() * 5)}`, text(400))
    else if (roll < 0.6) list.insert(Math.floor(random() * (list.length + 1)), [text(300)])
    else if (roll < 0.7 && list.length > 0) list.delete(Math.floor(random() * list.length), 1)
    else if (roll < 0.8) {
      const inner = new Y.Map<unknown>()
      map.set(`n${Math.floor(random() * 3)}`, inner)
      inner.set('v', text(200))
    } else {
      const s = doc.getText('text')
      s.insert(Math.floor(random() * (s.length + 1)), text(50))
    }
    // Exchange now and then, so later writes build on others' items.
    if (random() < 0.3) {
      const all = docs.map((d) => Y.encodeStateAsUpdate(d))
      for (const d of docs) for (const u of all) Y.applyUpdate(d, u)
    }
  }
  const all = docs.map((d) => Y.encodeStateAsUpdate(d))
  for (const u of all) Y.applyUpdate(docs[0]!, u)
  return { doc: docs[0]!, midway }
}

describe('splitUpdate', () => {
  it(`parts under the limit apply in full one by one and rebuild the document (seed ${SEED})`, () => {
    const random = rng(SEED)
    for (let run = 0; run < 30; run++) {
      const { doc: source, midway } = history(random, 60 + Math.floor(random() * 100))
      // From nothing, and from a state the receiver partly has (what the source had midway).
      const partial = new Y.Doc()
      Y.applyUpdate(partial, midway)
      const receivers: Array<[Y.Doc, Uint8Array]> = [
        [new Y.Doc(), Y.encodeStateAsUpdate(source)],
        [partial, Y.encodeStateAsUpdate(source, Y.encodeStateVector(partial))],
      ]
      for (const [receiver, update] of receivers) {
        const max = 1200 + Math.floor(random() * 3000)
        const parts = splitUpdate(update, max)
        for (const part of parts) {
          expect(part.byteLength).toBeLessThanOrEqual(max)
          Y.applyUpdate(receiver, part)
          expect(pending(receiver), `seed ${SEED}, run ${run}: a part waits for a later one`).toBe(false)
        }
        expect(Y.encodeStateVector(receiver)).toEqual(Y.encodeStateVector(source))
        expect(receiver.getArray('list').toJSON()).toEqual(source.getArray('list').toJSON())
        expect(receiver.getMap('map').toJSON()).toEqual(source.getMap('map').toJSON())
        expect(receiver.getText('text').toString()).toBe(source.getText('text').toString())
      }
    }
  })

  it('returns an update that fits as it is', () => {
    const doc = new Y.Doc()
    doc.getMap('m').set('a', 1)
    const update = Y.encodeStateAsUpdate(doc)
    expect(splitUpdate(update, 1000)).toEqual([update])
  })

  it('refuses a single change larger than the limit with LIMIT_EXCEEDED', () => {
    const doc = new Y.Doc()
    doc.getMap('m').set('a', 'y'.repeat(5000))
    const update = Y.encodeStateAsUpdate(doc)
    expect(() => splitUpdate(update, 2000)).toThrow(UpdateTooLargeError)
    expect(() => splitUpdate(update, 2000)).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }))
  })

  it('carries many deletions past one part', () => {
    const doc = new Y.Doc()
    const list = doc.getArray<number>('list')
    for (let i = 0; i < 3000; i++) list.push([i])
    // Every other element deleted: 1,500 separate ranges.
    doc.transact(() => {
      for (let i = 2999; i >= 0; i -= 2) list.delete(i, 1)
    })
    const update = Y.encodeStateAsUpdate(doc)
    const parts = splitUpdate(update, 2000)
    expect(parts.length).toBeGreaterThan(3)
    const receiver = new Y.Doc()
    for (const p of parts) {
      expect(p.byteLength).toBeLessThanOrEqual(2000)
      Y.applyUpdate(receiver, p)
    }
    expect(receiver.getArray('list').toJSON()).toEqual(list.toJSON())
  })

  it('sends independent writers in the order of rank (an older session before a newer one)', () => {
    const older = new Y.Doc()
    older.clientID = 1
    const newer = new Y.Doc()
    newer.clientID = 2
    for (let i = 0; i < 5; i++) older.getMap('m').set(`a${i}`, 'o'.repeat(500))
    for (let i = 0; i < 5; i++) newer.getMap('m').set(`b${i}`, 'n'.repeat(500))
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(older))
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(newer))
    const clientsOf = (part: Uint8Array) => [...new Set(Y.decodeUpdate(part).structs.map((st) => st.id.client))]
    // By default as the update lists them (higher clientID first); with a rank, the older first.
    expect(clientsOf(splitUpdate(Y.encodeStateAsUpdate(doc), 1200)[0]!)).toEqual([2])
    const parts = splitUpdate(Y.encodeStateAsUpdate(doc), 1200, (client) => (client === 1 ? 0 : 1))
    expect(clientsOf(parts[0]!)).toEqual([1])
    expect(clientsOf(parts[parts.length - 1]!)).toEqual([2])
    // No part holds the newer writer before every struct of the older one went out.
    const firstNewer = parts.findIndex((p) => clientsOf(p).includes(2))
    expect(parts.slice(firstNewer + 1).some((p) => clientsOf(p).includes(1))).toBe(false)
  })
})
