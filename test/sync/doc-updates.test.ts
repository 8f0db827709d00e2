/**
 * `DocUpdates` encodes local transactions itself (Yjs's own `update` event is not listened to) and
 * hands remote updates on as they arrived. Checked against Yjs: for seeded random transactions
 * (map sets and deletes, array inserts and deletes, text, other clients' changes inside a local
 * transaction, nested writes from observers), every
 * update it emits is byte-for-byte what Yjs emits, and a replica fed only its output converges.
 *
 * Replay a failure with `COLLOQUY_SEED=<seed> npx vitest run test/sync/doc-updates.test.ts`.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { DocUpdates } from '../../src/crdt/doc-updates.ts'

const SEED = Number(process.env.COLLOQUY_SEED ?? Date.now() % 2 ** 31)
const REMOTE = Symbol('remote')

type Op =
  | { k: 'set'; key: number; value: number }
  | { k: 'del'; key: number }
  | { k: 'push'; n: number }
  | { k: 'cut'; at: number; len: number }
  | { k: 'text'; at: number; s: string }
  | { k: 'remote'; ops: Array<{ key: number; value: number }> }
  | { k: 'foreign'; key: number; value: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), key: fc.nat(6), value: fc.nat(1000) }),
  fc.record({ k: fc.constant('del' as const), key: fc.nat(6) }),
  fc.record({ k: fc.constant('push' as const), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ k: fc.constant('cut' as const), at: fc.nat(10), len: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ k: fc.constant('text' as const), at: fc.nat(10), s: fc.string({ minLength: 1, maxLength: 5 }) }),
  fc.record({ k: fc.constant('foreign' as const), key: fc.nat(6), value: fc.nat(1000) }),
  fc.record({
    k: fc.constant('remote' as const),
    ops: fc.array(fc.record({ key: fc.nat(6), value: fc.nat(1000) }), { minLength: 1, maxLength: 3 }),
  }),
)

describe('DocUpdates', () => {
  it('emits what Yjs would for local transactions, and remote updates as they came', () => {
    console.log(`[colloquy doc-updates] seed=${SEED}`)
    fc.assert(
      fc.property(fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 }), (txs) => {
        const doc = new Y.Doc()
        const other = new Y.Doc()
        const fromYjs: Uint8Array[] = []
        const fromHub: Uint8Array[] = []
        const remoteSent: Uint8Array[] = []
        const origins: unknown[] = []
        doc.on('update', (u: Uint8Array, origin: unknown) => {
          if (origin !== REMOTE) fromYjs.push(u)
        })
        const hub = DocUpdates.of(doc)
        expect(DocUpdates.of(doc)).toBe(hub)
        hub.subscribe((u, origin) => {
          origins.push(origin)
          if (origin === REMOTE) remoteSent.push(u)
          else fromHub.push(u)
        })
        // A nested write from an observer: a counter bumped whenever the remote map changes.
        doc.getMap('r').observe((_e, tr) => {
          if (tr.origin === REMOTE) doc.transact(() => doc.getMap('m').set('seen', doc.getMap('r').size), 'nested')
        })
        const replica = new Y.Doc()
        let remoteApplied = 0
        for (const ops of txs) {
          for (const op of ops) {
            if (op.k !== 'remote') continue
            other.transact(() => {
              for (const o of op.ops) other.getMap('r').set(String(o.key), o.value)
            })
            const update = Y.encodeStateAsUpdate(other, Y.encodeStateVector(doc))
            hub.applyRemote(update, REMOTE)
            remoteApplied++
          }
          doc.transact(() => {
            const m = doc.getMap<number>('m')
            const a = doc.getArray<number>('a')
            const t = doc.getText('t')
            for (const op of ops) {
              if (op.k === 'set') m.set(String(op.key), op.value)
              else if (op.k === 'del') m.delete(String(op.key))
              else if (op.k === 'push')
                a.insert(
                  a.length,
                  Array.from({ length: op.n }, (_, i) => i),
                )
              else if (op.k === 'cut' && a.length > 0) {
                const at = op.at % a.length
                a.delete(at, Math.min(op.len, a.length - at))
              } else if (op.k === 'text') t.insert(op.at % (t.length + 1), op.s)
              else if (op.k === 'foreign') {
                // Another client's change applied inside a local transaction: several clients' structs in one update.
                other.getMap('f').set(String(op.key), op.value)
                Y.applyUpdate(doc, Y.encodeStateAsUpdate(other, Y.encodeStateVector(doc)))
              }
            }
          }, 'local')
        }
        expect(fromHub.map((u) => Buffer.from(u).toString('hex'))).toEqual(
          fromYjs.map((u) => Buffer.from(u).toString('hex')),
        )
        // Every remote update is handed on unchanged (each one changes the remote map here).
        expect(remoteSent.length).toBe(remoteApplied)
        for (const u of [...remoteSent, ...fromHub]) Y.applyUpdate(replica, u)
        expect(replica.getMap('m').toJSON()).toEqual(doc.getMap('m').toJSON())
        expect(replica.getMap('r').toJSON()).toEqual(doc.getMap('r').toJSON())
        expect(replica.getMap('f').toJSON()).toEqual(doc.getMap('f').toJSON())
        expect(replica.getArray('a').toJSON()).toEqual(doc.getArray('a').toJSON())
        expect(replica.getText('t').toString()).toBe(doc.getText('t').toString())
        expect(Y.encodeStateVector(replica)).toEqual(Y.encodeStateVector(doc))
      }),
      { seed: SEED, numRuns: 150 },
    )
  })

  it('hands on nothing for an update that is already known, and keeps one that waits for its dependencies', () => {
    const source = new Y.Doc()
    const updates: Uint8Array[] = []
    source.on('update', (u: Uint8Array) => updates.push(u))
    source.getMap('m').set('a', 1)
    source.getMap('m').set('b', 2)
    const doc = new Y.Doc()
    const hub = DocUpdates.of(doc)
    const got: Uint8Array[] = []
    hub.subscribe((u) => got.push(u))
    // The second update first: it cannot be integrated yet, but it must be kept.
    hub.applyRemote(updates[1]!, REMOTE)
    expect(got).toEqual([updates[1]])
    expect(doc.getMap('m').size).toBe(0)
    hub.applyRemote(updates[0]!, REMOTE)
    expect(got).toEqual([updates[1], updates[0]])
    expect(doc.getMap('m').toJSON()).toEqual({ a: 1, b: 2 })
    // Already known: nothing to store.
    hub.applyRemote(updates[0]!, REMOTE)
    expect(got).toHaveLength(2)
  })
})
