import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { invalidArgument } from '../src/errors.ts'

/** Bytes of a stamp key. */
export const STAMP_KEY_BYTES = 32

/** MACs are cut to 128 bits (22 base64url characters): one per stamp, sent to every participant. */
const MAC_BYTES = 16

/**
 * The relay's own secret for the records it writes into conversations: the MAC of each stamp and
 * of each clientID binding. It is not the token key (a relay may hold only a public key for
 * tokens). With it, a relay restored from a backup recognises the stamps and bindings it wrote
 * after the backup when devices send them back, and takes them back as its own; without it, it
 * cannot tell them from forgeries.
 */
export class StampKey {
  readonly #key: Buffer

  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.byteLength < STAMP_KEY_BYTES)
      throw invalidArgument(`a stamp key must be at least ${STAMP_KEY_BYTES} bytes`)
    this.#key = Buffer.from(key)
  }

  /** A fresh random key (what a relay without a key file uses: good for this process only). */
  static random(): StampKey {
    return new StampKey(randomBytes(STAMP_KEY_BYTES))
  }

  /** The MAC of stamp `{ i, t }` of message `id` in document `docName`. */
  stamp(docName: string, id: string, i: number, t: number): string {
    return this.#mac('stamp', docName, id, String(i), String(t))
  }

  /** The MAC of message `id`'s author (a stamp's `a`). */
  author(docName: string, id: string, author: string): string {
    return this.#mac('author', docName, id, author)
  }

  /** The MAC of the binding of `clientID` to `identity` in document `docName`. */
  binding(docName: string, clientID: number | string, identity: string): string {
    return this.#mac('binding', docName, String(clientID), identity)
  }

  /** Whether `mac` (untrusted) equals `expected`, in constant time. */
  static same(mac: unknown, expected: string): boolean {
    if (typeof mac !== 'string' || mac.length !== expected.length) return false
    return timingSafeEqual(Buffer.from(mac), Buffer.from(expected))
  }

  #mac(...parts: string[]): string {
    const h = createHmac('sha256', this.#key)
    // Length-prefixed parts: no separator character can make two records share a MAC.
    for (const p of parts) h.update(`${p.length}:${p};`)
    return h.digest().subarray(0, MAC_BYTES).toString('base64url')
  }
}
