import { DEFAULT_QUOTAS, type QuotaLimits } from './quotas.ts'

/**
 * Network limits and quotas. Each is documented in docs/relay.md and has a wire-level test;
 * exceeding a network limit closes the offending connection with `4429` (or `1009` for an
 * oversized frame), exceeding a quota refuses the update that would go over it; everyone else
 * is left alone.
 */
export interface RelayLimits extends QuotaLimits {
  /** Largest frame accepted, in bytes (default 1 MiB). */
  maxFrameBytes: number
  /** Frames a connection may send before its token is verified (default 16). */
  maxPreAuthFrames: number
  /** Bytes a connection may send before its token is verified (default 64 KiB). */
  maxPreAuthBytes: number
  /** Documents one connection may sync at once (default 5,000). */
  maxDocumentsPerConnection: number
  /**
   * Distinct documents one identity may sync at once, all its connections together (default
   * 10,000): 20 connections may not hold 20 times as many. A name nothing is stored for costs a
   * record of about 1 KiB, a document tens of KiB.
   */
  maxDocumentsPerIdentity: number
  /** Open connections per identity (default 20). */
  maxConnectionsPerIdentity: number
  /** Sustained frames per second per connection (default 500). */
  framesPerSecond: number
  /** Burst of frames per connection above the sustained rate (default 5,000: a client opening every conversation at once). */
  frameBurst: number
}

/** The limits a relay applies unless `createRelay({ limits })` overrides them. */
export const DEFAULT_LIMITS: RelayLimits = {
  maxFrameBytes: 1024 * 1024,
  maxPreAuthFrames: 16,
  maxPreAuthBytes: 64 * 1024,
  maxDocumentsPerConnection: 5000,
  maxDocumentsPerIdentity: 10_000,
  maxConnectionsPerIdentity: 20,
  framesPerSecond: 500,
  frameBurst: 5000,
  ...DEFAULT_QUOTAS,
}

/** A token bucket: `take()` is false once the burst is spent faster than the rate refills it. */
export class TokenBucket {
  #tokens: number
  #last: number
  readonly #rate: number
  readonly #burst: number
  readonly #now: () => number

  constructor(rate: number, burst: number, now: () => number = Date.now) {
    this.#rate = rate
    this.#burst = burst
    this.#tokens = burst
    this.#now = now
    this.#last = now()
  }

  take(): boolean {
    const now = this.#now()
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate)
    this.#last = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
