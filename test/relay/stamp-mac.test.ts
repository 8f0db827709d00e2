/**
 * The relay's stamp MAC is HMAC-SHA256 computed with precomputed pads (it runs for every stamp):
 * it must equal node:crypto's HMAC over the same length-prefixed text, for short and long keys.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { StampKey } from '../../relay/stamp-mac.ts'

const reference = (key: Uint8Array, parts: string[]): string => {
  const text = parts.map((p) => `${p.length}:${p};`).join('')
  return createHmac('sha256', key).update(text).digest().subarray(0, 16).toString('base64url')
}

describe('stamp MAC', () => {
  it('is HMAC-SHA256 of the length-prefixed fields, cut to 128 bits', () => {
    for (const size of [32, 64, 65, 200]) {
      const raw = randomBytes(size)
      const key = new StampKey(raw)
      expect(key.stamp('conv/CH1', 'IMé✓', 7, 1733100000000, 'alice')).toBe(
        reference(raw, ['stamp', 'conv/CH1', 'IMé✓', '7', '1733100000000', 'alice']),
      )
      expect(key.binding('conv/CH1', 42, 'bob')).toBe(reference(raw, ['binding', 'conv/CH1', '42', 'bob']))
    }
  })

  it('depends on every field and on where fields end', () => {
    const key = StampKey.random()
    const base = key.stamp('conv/a', 'IM1', 1, 2, 'x')
    expect(key.stamp('conv/b', 'IM1', 1, 2, 'x')).not.toBe(base)
    expect(key.stamp('conv/a', 'IM2', 1, 2, 'x')).not.toBe(base)
    expect(key.stamp('conv/a', 'IM1', 3, 2, 'x')).not.toBe(base)
    expect(key.stamp('conv/a', 'IM1', 1, 3, 'x')).not.toBe(base)
    expect(key.stamp('conv/a', 'IM1', 1, 2, 'y')).not.toBe(base)
    expect(key.binding('conv/a', 12, '3x')).not.toBe(key.binding('conv/a', 123, 'x'))
    expect(StampKey.same(base, base)).toBe(true)
    expect(StampKey.same(key.stamp('conv/a', 'IM1', 1, 2, 'y'), base)).toBe(false)
    expect(StampKey.same(42, base)).toBe(false)
    expect(() => new StampKey(new Uint8Array(16))).toThrow(/at least 32 bytes/)
  })
})
