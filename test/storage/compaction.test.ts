import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CompactionPolicy, DocPersistence } from '../../src/storage/persistence.ts'

describe('compaction policy', () => {
  it('re-encodes a growing document a logarithmic number of times, so total work stays linear', () => {
    const policy = new CompactionPolicy(500)
    let state = 0
    let reencoded = 0
    let compactions = 0
    for (let i = 0; i < 100_000; i++) {
      policy.appended(100)
      state += 100
      if (policy.due) {
        reencoded += state
        compactions++
        policy.compacted(policy.entries, state)
      }
      // The log never grows far past the state it would compact into.
      expect(policy.entries).toBeLessThanOrEqual(Math.max(500, Math.ceil(state / 4 / 100) + 1))
    }
    expect(compactions).toBeLessThan(40)
    // A fixed every-500 rule would re-encode ~1e9 bytes here; this stays within a few times the data.
    expect(reencoded).toBeLessThan(6 * state)
  })

  it('a persisted document compacts and reopens with everything', async () => {
    const storage = new MemoryStorage()
    const doc = new Y.Doc()
    const p = await DocPersistence.open(doc, 'conv/x', storage, { compactDelayMs: 0 })
    const map = doc.getMap<number>('m')
    for (let i = 0; i < 1_200; i++) map.set(`k${i}`, i)
    await p.flush()
    const log = await storage.load('conv/x')
    expect(log.length).toBeLessThan(1_200)
    await p.destroy()
    const again = new Y.Doc()
    await DocPersistence.open(again, 'conv/x', storage)
    expect(again.getMap('m').size).toBe(1_200)
    expect(again.getMap('m').get('k1199')).toBe(1_199)
  })

  it('a burst is compacted once, after the delay, not on its way', async () => {
    const timers: Array<{ fn: () => void; ms: number } | null> = []
    const scheduler = {
      setTimeout: (fn: () => void, ms: number) => timers.push({ fn, ms }) - 1,
      clearTimeout: (h: unknown) => {
        timers[h as number] = null
      },
    }
    const storage = new MemoryStorage()
    let compactions = 0
    const compact = storage.compact.bind(storage)
    storage.compact = async (...args: Parameters<MemoryStorage['compact']>) => {
      compactions++
      return compact(...args)
    }
    const doc = new Y.Doc()
    const p = await DocPersistence.open(doc, 'conv/x', storage, { scheduler, compactDelayMs: 1_000 })
    const map = doc.getMap<number>('m')
    for (let i = 0; i < 3_000; i++) map.set(`k${i}`, i)
    await p.flush()
    // Due long ago, but only one timer is pending and nothing was compacted yet.
    expect(compactions).toBe(0)
    expect(timers.filter((t) => t !== null)).toHaveLength(1)
    expect(timers[0]!.ms).toBe(1_000)
    expect(await storage.load('conv/x')).toHaveLength(3_000)
    timers[0]!.fn()
    await p.flush()
    expect(compactions).toBe(1)
    expect(await storage.load('conv/x')).toHaveLength(1)
    // Destroying clears a pending timer.
    for (let i = 0; i < 600; i++) map.set(`again${i}`, i)
    await p.flush()
    expect(timers.filter((t) => t !== null)).toHaveLength(2)
    await p.destroy()
    expect(timers.filter((t) => t !== null)).toHaveLength(1)
    const again = new Y.Doc()
    await DocPersistence.open(again, 'conv/x', storage)
    expect(again.getMap('m').size).toBe(3_600)
  })
})
