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
    const p = await DocPersistence.open(doc, 'conv/x', storage)
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
})
