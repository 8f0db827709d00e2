import type * as Y from 'yjs'
import { CLIENTS_ROOT } from '../src/crdt/update-decoder.ts'
import { invalidArgument } from '../src/errors.ts'

/**
 * How many Yjs clientIDs one identity may bring into one document. Every clientID stays in the
 * document for good, and Yjs spends time on each one in every transaction of every replica (it
 * takes a state vector before and after each): 30,000 clientIDs bound in ten seconds made every
 * later local message cost about 10 ms in Yjs alone, on every device (and as much again in
 * colloquy's update encoding, `src/crdt/doc-updates.ts`). Honest devices bring one per
 * session that writes to the document.
 */
export interface ClientIdLimits {
  /** New clientIDs per identity per document per hour (a bucket that refills over the hour). */
  perHour: number
  /** ClientIDs one identity may hold in one document, in all. */
  total: number
}

export const DEFAULT_CLIENT_ID_LIMITS: ClientIdLimits = { perHour: 100, total: 10_000 }

const HOUR_MS = 3_600_000

interface Bucket {
  tokens: number
  at: number
}

/**
 * The relay's account of new clientIDs per identity and document. The hourly buckets are kept by
 * document name, so a document going to sleep or unloading does not refill them; a bucket that
 * has refilled is forgotten. The totals are counted from the document once per load.
 */
export class ClientIdQuota {
  readonly #limits: ClientIdLimits
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()
  readonly #held = new WeakMap<Y.Doc, Map<string, number>>()
  #sweptAt: number

  constructor(limits: ClientIdLimits = DEFAULT_CLIENT_ID_LIMITS, now: () => number = Date.now) {
    for (const [name, v] of [
      ['clientIdsPerHour', limits.perHour],
      ['maxClientIdsPerIdentity', limits.total],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw invalidArgument(`${name} must be a positive integer`)
    }
    this.#limits = limits
    this.#now = now
    this.#sweptAt = now()
  }

  /**
   * Takes `n` new clientIDs for `identity` in `doc` (named `docName`; `bound` when it records
   * clientID bindings, as conversations do); returns why not (and takes nothing) when that would
   * exceed a limit, else null.
   */
  take(doc: Y.Doc, docName: string, identity: string, n: number, bound: boolean): string | null {
    if (n === 0) return null
    const held = this.#heldBy(doc, identity, bound)
    if (held + n > this.#limits.total)
      return `too many client ids for you in this document (at most ${this.#limits.total})`
    const now = this.#now()
    this.#sweep(now)
    const key = `${docName}\n${identity}`
    const bucket = this.#buckets.get(key) ?? { tokens: this.#limits.perHour, at: now }
    const tokens = Math.min(this.#limits.perHour, bucket.tokens + ((now - bucket.at) / HOUR_MS) * this.#limits.perHour)
    if (tokens < n) return `too many new client ids for you in this document (at most ${this.#limits.perHour} an hour)`
    this.#buckets.set(key, { tokens: tokens - n, at: now })
    this.#held.get(doc)!.set(identity, held + n)
    return null
  }

  /** ClientIDs `identity` holds in `doc`: its bindings, or in a document only its owner writes (a profile), all of them. */
  #heldBy(doc: Y.Doc, identity: string, bound: boolean): number {
    let counts = this.#held.get(doc)
    if (!counts) {
      counts = new Map()
      if (bound) {
        for (const who of doc.getMap<string>(CLIENTS_ROOT).values()) counts.set(who, (counts.get(who) ?? 0) + 1)
      } else counts.set(identity, doc.store.clients.size)
      this.#held.set(doc, counts)
    }
    return counts.get(identity) ?? 0
  }

  /** Forgets full buckets (at most once a minute): the map holds only who bound lately. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < 60_000) return
    this.#sweptAt = now
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / HOUR_MS) * this.#limits.perHour >= this.#limits.perHour) this.#buckets.delete(key)
    }
  }
}
