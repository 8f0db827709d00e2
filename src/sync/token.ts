import { ColloquyError } from '../errors.ts'

/** A token, or a function that fetches a fresh one from the app's backend. */
export type TokenSource = string | (() => string | Promise<string>)

/** The claims the client reads (without verifying: only the relay's check counts). */
export interface TokenClaims {
  identity: string
  /** Expiry in ms since the epoch, or null when the token has none. */
  expiresAt: number | null
}

const base64UrlDecode = (text: string): string => {
  const padded = text
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(text.length / 4) * 4, '=')
  const binary = atob(padded)
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
}

/** Reads `sub` and `exp` from a JWT. Throws INVALID_ARGUMENT when it is not one. */
export const readClaims = (token: string): TokenClaims => {
  if (typeof token !== 'string') throw new ColloquyError('INVALID_ARGUMENT', 'token must be a string')
  const parts = token.split('.')
  if (parts.length !== 3) throw new ColloquyError('INVALID_ARGUMENT', 'token is not a JWT')
  let payload: { sub?: unknown; exp?: unknown }
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]!))
  } catch {
    throw new ColloquyError('INVALID_ARGUMENT', 'token is not a JWT')
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0)
    throw new ColloquyError('INVALID_ARGUMENT', 'token has no subject (sub)')
  return { identity: payload.sub, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null }
}

/** The least time between two refreshes of a token before it expires. */
const MIN_REFRESH_MS = 1000

/** What the token manager reports. */
export interface TokenEvents {
  aboutToExpire(): void
  expired(): void
  /** A fresh token is in place (to send to the relay on the open socket). */
  refreshed(token: string): void
  error(error: unknown): void
}

/**
 * Holds the current token and refreshes it before it expires: `aboutToExpire` fires a minute
 * before (or at 90% of a shorter lifetime); with a token function it is called then, otherwise
 * the app calls `Client.updateToken`. `expired` fires if no fresh token arrived in time.
 */
export class TokenManager {
  #token: string
  readonly #source: TokenSource
  readonly #events: TokenEvents
  readonly #identity: string
  #soonTimer: ReturnType<typeof setTimeout> | null = null
  #expiryTimer: ReturnType<typeof setTimeout> | null = null

  constructor(token: string, source: TokenSource, events: TokenEvents) {
    this.#token = token
    this.#source = source
    this.#events = events
    this.#identity = readClaims(token).identity
    this.#schedule()
  }

  /** Resolves the first token of a source. */
  static async first(source: TokenSource): Promise<string> {
    const token = typeof source === 'function' ? await source() : source
    readClaims(token)
    return token
  }

  get token(): string {
    return this.#token
  }

  get identity(): string {
    return this.#identity
  }

  /** Installs a new token (same identity). */
  update(token: string): void {
    const claims = readClaims(token)
    if (claims.identity !== this.#identity)
      throw new ColloquyError('INVALID_ARGUMENT', 'a new token must be for the same identity')
    this.#token = token
    this.#schedule()
    this.#events.refreshed(token)
  }

  /** Fetches a fresh token from the source function, if there is one. */
  async refresh(): Promise<boolean> {
    if (typeof this.#source !== 'function') return false
    try {
      this.update(await this.#source())
      return true
    } catch (error) {
      this.#events.error(error)
      return false
    }
  }

  stop(): void {
    if (this.#soonTimer) clearTimeout(this.#soonTimer)
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer)
    this.#soonTimer = null
    this.#expiryTimer = null
  }

  #schedule(): void {
    this.stop()
    const { expiresAt } = readClaims(this.#token)
    if (expiresAt === null) return
    const now = Date.now()
    const left = expiresAt - now
    const clamp = (ms: number): number => Math.min(Math.max(0, ms), 2 ** 31 - 1)
    this.#expiryTimer = setTimeout(() => this.#events.expired(), clamp(left))
    // A token that is already expired (a source handing out stale tokens, a clock far off) is not
    // refreshed again at once: that would call the source in a loop. The relay refuses it (4403)
    // and the client fetches the next one with its reconnect backoff.
    if (left <= 0) return
    const lead = Math.min(60_000, left / 10)
    this.#soonTimer = setTimeout(
      () => {
        this.#events.aboutToExpire()
        void this.refresh()
      },
      // Never more often than once a second, however short-lived the tokens.
      clamp(Math.max(left - lead, MIN_REFRESH_MS)),
    )
  }
}
