import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { ErrorCode } from '../errors.ts'
import type { StorageAdapter } from '../storage/adapter.ts'

/**
 * What the setup function of {@link runStorageAdapterTests} hands back for each test. Every test
 * gets a fresh, empty store so tests cannot leak state into each other.
 */
export interface StorageAdapterTestContext {
  /** A freshly created, empty adapter. The suite closes it after the test. */
  adapter: StorageAdapter
  /**
   * Opens a new adapter over the same underlying data, after the suite has closed the previous
   * one — the equivalent of restarting the app. Give it for persistent adapters so the suite can
   * check that data survives a restart; leave it out for in-memory ones.
   */
  reopen?: () => Promise<StorageAdapter>
  /** Deletes whatever the setup created (temporary files, databases). Runs after each test. */
  teardown?: () => Promise<void>
}

/**
 * Defines a vitest suite that checks a {@link StorageAdapter} against the contract colloquy relies
 * on: ordering, isolation between documents, copy semantics, compaction that never loses an
 * update, argument validation, `CLOSED` after `close`, and — when `reopen` is given — durability
 * across a restart. Run it for every adapter, including ones an app writes itself: the rest of
 * colloquy assumes all of this and does not re-check it.
 *
 * `setup` is called once while the suite is collected (to learn whether `reopen` is available, so
 * restart tests only exist for adapters that can restart), then once before every test.
 *
 * @example
 * runStorageAdapterTests('my adapter', async () => {
 *   const dir = await mkdtemp(join(tmpdir(), 'store-'))
 *   return {
 *     adapter: openMyStore(dir),
 *     reopen: async () => openMyStore(dir),
 *     teardown: () => rm(dir, { recursive: true, force: true }),
 *   }
 * })
 */
export function runStorageAdapterTests(name: string, setup: () => Promise<StorageAdapterTestContext>): void {
  describe(name, async () => {
    const probe = await setup()
    const canReopen = typeof probe.reopen === 'function'
    await closeQuietly(probe.adapter)
    await probe.teardown?.()

    let context: StorageAdapterTestContext
    let adapter: StorageAdapter

    beforeEach(async () => {
      context = await setup()
      adapter = context.adapter
    })

    afterEach(async () => {
      await closeQuietly(adapter)
      await context.teardown?.()
    })

    /** Closes the current adapter and continues the test on a reopened one. */
    async function restart(): Promise<StorageAdapter> {
      const reopen = context.reopen
      if (!reopen) throw new Error('setup() returned reopen during collection but not for this test')
      await adapter.close()
      adapter = await reopen()
      return adapter
    }

    it('loads an unknown document as an empty log', async () => {
      expect(await adapter.load('conv/unknown')).toEqual([])
    })

    it('does not create a document by loading it', async () => {
      await adapter.load('conv/ghost')
      expect(await adapter.list()).toEqual([])
      expect(await adapter.list('conv/')).toEqual([])
    })

    it('loads appended updates with the same bytes, oldest first', async () => {
      const large = new Uint8Array(256 * 1024).map((_, i) => (i * 31 + 7) % 256)
      const updates = [bytes(1, 2, 3), bytes(4), large, bytes(255, 0, 128)]
      for (const update of updates) await adapter.append('conv/a', update)
      const loaded = await adapter.load('conv/a')
      for (const update of loaded) expect(update).toBeInstanceOf(Uint8Array)
      expect(plain(loaded)).toEqual(plain(updates))
    })

    it('keeps the order of many appends', async () => {
      const count = 500
      for (let i = 0; i < count; i++) await adapter.append('conv/many', bytes(i >> 8, i & 255, 42))
      const loaded = await adapter.load('conv/many')
      expect(loaded).toHaveLength(count)
      expect(loaded.map((u) => ((u[0] ?? 0) << 8) | (u[1] ?? 0))).toEqual(Array.from({ length: count }, (_, i) => i))
    })

    it('stores and returns copies, never the caller’s arrays', async () => {
      const input = bytes(1, 2, 3)
      await adapter.append('conv/copy', input)
      input[0] = 99
      expect(plain(await adapter.load('conv/copy'))).toEqual([[1, 2, 3]])

      const loaded = await adapter.load('conv/copy')
      const first = loaded[0]
      if (!first) throw new Error('expected one update')
      first[1] = 99
      loaded.push(bytes(7))
      expect(plain(await adapter.load('conv/copy'))).toEqual([[1, 2, 3]])

      const state = bytes(5, 6)
      await adapter.compact('conv/copy', state, 1)
      state[0] = 99
      expect(plain(await adapter.load('conv/copy'))).toEqual([[5, 6]])
    })

    it('keeps documents with similar or unusual names apart', async () => {
      const names = ['a', 'A', 'a/', 'a/b', 'a b', 'a/b/c', 'conv/1', ' ', 'ä/ü 日本語 🎉', 'a%2Fb', 'a\\b', 'a\'b"c']
      for (const [i, docName] of names.entries()) await adapter.append(docName, bytes(i))
      for (const [i, docName] of names.entries()) expect(plain(await adapter.load(docName))).toEqual([[i]])
      expect(await adapter.list()).toEqual([...names].sort())
    })

    it('lists document names filtered by prefix and sorted', async () => {
      const names = ['conv/2', 'user/a', 'conv/10', 'inbox/x', 'conv/1', 'conversation', 'conv/é']
      for (const docName of names) await adapter.append(docName, bytes(1))
      expect(await adapter.list()).toEqual([...names].sort())
      expect(await adapter.list('')).toEqual([...names].sort())
      expect(await adapter.list('conv/')).toEqual(['conv/1', 'conv/10', 'conv/2', 'conv/é'])
      expect(await adapter.list('conv')).toEqual(['conv/1', 'conv/10', 'conv/2', 'conv/é', 'conversation'])
      expect(await adapter.list('conv/1')).toEqual(['conv/1', 'conv/10'])
      expect(await adapter.list('user/a')).toEqual(['user/a'])
      expect(await adapter.list('Conv/')).toEqual([])
      expect(await adapter.list('zzz')).toEqual([])
    })

    it('compacts the loaded updates and keeps those appended after the load', async () => {
      for (const n of [1, 2, 3]) await adapter.append('conv/c', bytes(n))
      const loaded = await adapter.load('conv/c')
      expect(loaded).toHaveLength(3)
      await adapter.append('conv/c', bytes(4))
      await adapter.compact('conv/c', bytes(100), loaded.length)
      expect(plain(await adapter.load('conv/c'))).toEqual([[100], [4]])
    })

    it('compacts only the first `count` updates, repeatedly', async () => {
      for (const n of [1, 2, 3, 4, 5]) await adapter.append('conv/c', bytes(n))
      await adapter.compact('conv/c', bytes(100), 2)
      expect(plain(await adapter.load('conv/c'))).toEqual([[100], [3], [4], [5]])
      await adapter.compact('conv/c', bytes(101), 3)
      expect(plain(await adapter.load('conv/c'))).toEqual([[101], [5]])
      await adapter.append('conv/c', bytes(6))
      await adapter.compact('conv/c', bytes(102), 3)
      expect(plain(await adapter.load('conv/c'))).toEqual([[102]])
      await adapter.append('conv/c', bytes(7))
      expect(plain(await adapter.load('conv/c'))).toEqual([[102], [7]])
    })

    it('puts the state first when compacting zero updates', async () => {
      await adapter.compact('conv/empty', bytes(100), 0)
      expect(plain(await adapter.load('conv/empty'))).toEqual([[100]])
      expect(await adapter.list('conv/')).toEqual(['conv/empty'])

      for (const n of [1, 2]) await adapter.append('conv/z', bytes(n))
      await adapter.compact('conv/z', bytes(100), 0)
      expect(plain(await adapter.load('conv/z'))).toEqual([[100], [1], [2]])
      await adapter.compact('conv/z', bytes(101), 0)
      expect(plain(await adapter.load('conv/z'))).toEqual([[101], [100], [1], [2]])
      await adapter.append('conv/z', bytes(3))
      expect(plain(await adapter.load('conv/z'))).toEqual([[101], [100], [1], [2], [3]])
    })

    it('rejects compacting more updates than the log holds, leaving it unchanged', async () => {
      for (const n of [1, 2]) await adapter.append('conv/short', bytes(n))
      await expectCode(adapter.compact('conv/short', bytes(100), 3), 'CONFLICT')
      expect(plain(await adapter.load('conv/short'))).toEqual([[1], [2]])
      await expectCode(adapter.compact('conv/none', bytes(100), 1), 'CONFLICT')
      expect(await adapter.load('conv/none')).toEqual([])
      expect(await adapter.list()).toEqual(['conv/short'])
    })

    it('round-trips real Yjs updates through load and compaction', async () => {
      const source = new Y.Doc()
      const writes: Promise<void>[] = []
      source.on('update', (update: Uint8Array) => {
        writes.push(adapter.append('conv/yjs', update))
      })
      editYDoc(source, 0, 40)
      await Promise.all(writes)

      const loaded = await adapter.load('conv/yjs')
      expect(loaded).toHaveLength(writes.length)
      const replica = docFrom(loaded)
      expect(contentOf(replica)).toEqual(contentOf(source))

      const state = Y.encodeStateAsUpdate(replica)
      editYDoc(source, 40, 10) // appended after the load, so compaction must keep them
      await Promise.all(writes)
      await adapter.compact('conv/yjs', state, loaded.length)

      const compacted = await adapter.load('conv/yjs')
      expect(compacted).toHaveLength(1 + writes.length - loaded.length)
      expect(plain(compacted.slice(0, 1))).toEqual(plain([state]))
      expect(contentOf(docFrom(compacted))).toEqual(contentOf(source))
    })

    it('removes only the given document, and removing twice or an unknown one is fine', async () => {
      await adapter.append('conv/a', bytes(1))
      await adapter.append('conv/a', bytes(2))
      await adapter.append('conv/a/b', bytes(3))
      await adapter.append('conv/b', bytes(4))

      await adapter.remove('conv/a')
      expect(await adapter.load('conv/a')).toEqual([])
      expect(plain(await adapter.load('conv/a/b'))).toEqual([[3]])
      expect(plain(await adapter.load('conv/b'))).toEqual([[4]])
      expect(await adapter.list()).toEqual(['conv/a/b', 'conv/b'])

      await expect(adapter.remove('conv/a')).resolves.toBeUndefined()
      await expect(adapter.remove('conv/never')).resolves.toBeUndefined()

      await adapter.append('conv/a', bytes(5))
      expect(plain(await adapter.load('conv/a'))).toEqual([[5]])
    })

    it('lands every one of many concurrent appends', async () => {
      const updates = Array.from({ length: 50 }, (_, i) => bytes(i, 7))
      await Promise.all(updates.map((update) => adapter.append('conv/concurrent', update)))
      const loaded = await adapter.load('conv/concurrent')
      expect(sorted(plain(loaded))).toEqual(sorted(plain(updates)))

      await Promise.all(updates.map((update, i) => adapter.append(`conv/spread/${i % 5}`, update)))
      for (let d = 0; d < 5; d++) {
        const expected = updates.filter((_, i) => i % 5 === d)
        expect(sorted(plain(await adapter.load(`conv/spread/${d}`)))).toEqual(sorted(plain(expected)))
      }
    })

    it('rejects every call after close with CLOSED', async () => {
      await adapter.append('conv/a', bytes(1))
      await adapter.close()
      await expectCode(adapter.load('conv/a'), 'CLOSED')
      await expectCode(adapter.append('conv/a', bytes(2)), 'CLOSED')
      await expectCode(adapter.compact('conv/a', bytes(3), 1), 'CLOSED')
      await expectCode(adapter.list(), 'CLOSED')
      await expectCode(adapter.remove('conv/a'), 'CLOSED')
    })

    it('rejects invalid arguments with INVALID_ARGUMENT and stores nothing', async () => {
      const loose = adapter as unknown as {
        load(docName: unknown): Promise<unknown>
        append(docName: unknown, update: unknown): Promise<unknown>
        compact(docName: unknown, state: unknown, count: unknown): Promise<unknown>
        remove(docName: unknown): Promise<unknown>
      }
      await expectCode(loose.load(''), 'INVALID_ARGUMENT')
      await expectCode(loose.load(undefined), 'INVALID_ARGUMENT')
      await expectCode(loose.append('', bytes(1)), 'INVALID_ARGUMENT')
      await expectCode(loose.append(42, bytes(1)), 'INVALID_ARGUMENT')
      await expectCode(loose.append('conv/a', 'not bytes'), 'INVALID_ARGUMENT')
      await expectCode(loose.append('conv/a', [1, 2, 3]), 'INVALID_ARGUMENT')
      await expectCode(loose.append('conv/a', new ArrayBuffer(3)), 'INVALID_ARGUMENT')
      await expectCode(loose.append('conv/a', new Uint16Array(3)), 'INVALID_ARGUMENT')
      await expectCode(loose.append('conv/a', null), 'INVALID_ARGUMENT')
      await expectCode(loose.compact('', bytes(1), 0), 'INVALID_ARGUMENT')
      await expectCode(loose.compact('conv/a', 'not bytes', 0), 'INVALID_ARGUMENT')
      await expectCode(loose.compact('conv/a', bytes(1), -1), 'INVALID_ARGUMENT')
      await expectCode(loose.compact('conv/a', bytes(1), 1.5), 'INVALID_ARGUMENT')
      await expectCode(loose.compact('conv/a', bytes(1), Number.NaN), 'INVALID_ARGUMENT')
      await expectCode(loose.remove(''), 'INVALID_ARGUMENT')
      expect(await adapter.load('conv/a')).toEqual([])
      expect(await adapter.list()).toEqual([])
    })

    if (canReopen) {
      it('keeps appended updates across close and reopen', async () => {
        const updates = [bytes(1, 2), bytes(3), bytes(4, 5, 6)]
        for (const update of updates) await adapter.append('conv/durable', update)
        await adapter.append('user/üser one', bytes(9))
        await restart()
        expect(plain(await adapter.load('conv/durable'))).toEqual(plain(updates))
        expect(plain(await adapter.load('user/üser one'))).toEqual([[9]])
        expect(await adapter.list()).toEqual(['conv/durable', 'user/üser one'])
        await adapter.append('conv/durable', bytes(7))
        expect(plain(await adapter.load('conv/durable'))).toEqual(plain([...updates, bytes(7)]))
      })

      it('keeps a compacted log across close and reopen', async () => {
        const source = new Y.Doc()
        const writes: Promise<void>[] = []
        source.on('update', (update: Uint8Array) => {
          writes.push(adapter.append('conv/durable-yjs', update))
        })
        editYDoc(source, 0, 20)
        await Promise.all(writes)
        const loaded = await adapter.load('conv/durable-yjs')
        const state = Y.encodeStateAsUpdate(docFrom(loaded))
        editYDoc(source, 20, 3)
        await Promise.all(writes)
        await adapter.compact('conv/durable-yjs', state, loaded.length)
        const before = plain(await adapter.load('conv/durable-yjs'))

        await restart()
        const after = await adapter.load('conv/durable-yjs')
        expect(plain(after)).toEqual(before)
        expect(after).toHaveLength(4)
        expect(contentOf(docFrom(after))).toEqual(contentOf(source))

        await adapter.append('conv/durable-yjs', bytes(1))
        await adapter.compact('conv/durable-yjs', bytes(2), 5)
        await restart()
        expect(plain(await adapter.load('conv/durable-yjs'))).toEqual([[2]])
      })

      it('keeps removals across close and reopen', async () => {
        await adapter.append('conv/gone', bytes(1))
        await adapter.append('conv/kept', bytes(2))
        await adapter.remove('conv/gone')
        await restart()
        expect(await adapter.load('conv/gone')).toEqual([])
        expect(await adapter.list()).toEqual(['conv/kept'])
      })
    }
  })
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

/** Plain number arrays compare the same whatever Uint8Array subclass an adapter returns. */
function plain(updates: Uint8Array[]): number[][] {
  return updates.map((update) => Array.from(update))
}

function sorted(arrays: number[][]): number[][] {
  return [...arrays].sort((a, b) => a.join(',').localeCompare(b.join(',')))
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  )
  expect(outcome.resolved, `expected a rejection with ${code}`).toBe(false)
  if (!outcome.resolved) expect(outcome.error).toMatchObject({ name: 'ColloquyError', code })
}

async function closeQuietly(adapter: StorageAdapter): Promise<void> {
  try {
    await adapter.close()
  } catch {
    // Already closed: the contract lets a second close reject.
  }
}

/** Makes `steps` separate transactions of mixed edits, so each produces its own update. */
function editYDoc(doc: Y.Doc, from: number, steps: number): void {
  const text = doc.getText('text')
  const map = doc.getMap<number | string>('map')
  const array = doc.getArray<number>('array')
  for (let i = from; i < from + steps; i++) {
    doc.transact(() => {
      text.insert(Math.min(i % 7, text.length), `m${i} `)
      map.set(`k${i % 5}`, i)
      array.push([i])
      if (i % 4 === 3) {
        array.delete(0, 1)
        text.delete(0, Math.min(2, text.length))
        map.delete(`k${(i + 1) % 5}`)
      }
    })
  }
}

/**
 * The content {@link editYDoc} writes. `Y.Doc.toJSON` would omit top-level types a replica has not
 * accessed yet, so read each one explicitly.
 */
function contentOf(doc: Y.Doc): unknown {
  return {
    text: doc.getText('text').toString(),
    map: doc.getMap('map').toJSON(),
    array: doc.getArray('array').toJSON(),
  }
}

function docFrom(updates: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  return doc
}
