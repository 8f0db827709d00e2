import { DEFAULT_MAX_FRAME_BYTES } from '../src/sync/protocol.ts'
import { DEFAULT_CLIENT_ID_LIMITS } from './client-ids.ts'
import { DEFAULT_QUOTAS, type QuotaLimits } from './quotas.ts'

/**
 * Network limits and quotas. Each is documented in docs/relay.md and has a wire-level test;
 * exceeding a network limit closes the offending connection with `4429` (or `1009` for an
 * oversized frame, `4401` for authentication too slow), except the documents per connection and per
 * identity: a document beyond them is refused alone (a `refused` frame), and the connection goes on
 * with the others. Exceeding a quota refuses the update that would go over it. Everyone else is left alone.
 */
export interface RelayLimits extends QuotaLimits {
  /** Largest frame accepted, in bytes (default 1 MiB). */
  maxFrameBytes: number
  /** Frames a connection may send before its token is verified (default 16). */
  maxPreAuthFrames: number
  /** Bytes a connection may send before its token is verified (default 64 KiB). */
  maxPreAuthBytes: number
  /**
   * Time a connection has to authenticate (ms, default 10 s): to send its token frame, when it
   * opened without a token, and to have it verified. Beyond it the connection is closed with 4401.
   */
  authTimeoutMs: number
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
  /**
   * New Yjs clientIDs one identity may bring into one document per hour (default 100; a device
   * brings one per session that writes there). Beyond it the update is refused (`4422`).
   */
  clientIdsPerHour: number
  /** Yjs clientIDs one identity may hold in one document in all (default 10,000). Beyond it the update is refused (`4422`). */
  maxClientIdsPerIdentity: number
}

/** The limits a relay applies unless `createRelay({ limits })` overrides them. */
export const DEFAULT_LIMITS: RelayLimits = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxPreAuthFrames: 16,
  maxPreAuthBytes: 64 * 1024,
  authTimeoutMs: 10_000,
  maxDocumentsPerConnection: 5000,
  maxDocumentsPerIdentity: 10_000,
  maxConnectionsPerIdentity: 20,
  framesPerSecond: 500,
  frameBurst: 5000,
  clientIdsPerHour: DEFAULT_CLIENT_ID_LIMITS.perHour,
  maxClientIdsPerIdentity: DEFAULT_CLIENT_ID_LIMITS.total,
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
