import { invalidArgument } from '../src/errors.ts'
import type { UpdateEffects } from './validate.ts'

const HOUR_MS = 3_600_000

/**
 * How much one identity may create, and have done to it by others, per hour. Without them one
 * account created 5,050 conversations with a victim as participant in 12 s: the victim's client
 * opened them all on every start and went over the documents-per-connection limit.
 */
export interface QuotaLimits {
  /** Conversations one identity may create per hour (default 100). */
  conversationsPerHour: number
  /** Participants one identity may add to conversations per hour, itself not counted (default 1,000). */
  participantsAddedPerHour: number
  /** Conversations one user may be added to by others per hour, all adders together (default 200). */
  addedByOthersPerHour: number
}

/** The quotas a relay applies unless `createRelay({ limits })` overrides them. */
export const DEFAULT_QUOTAS: QuotaLimits = {
  conversationsPerHour: 100,
  participantsAddedPerHour: 1000,
  addedByOthersPerHour: 200,
}

/**
 * Every quota off: for a relay whose clients are all trusted (benchmarks, a backend identity that
 * creates conversations for everyone). `createRelay({ limits: { ...NO_QUOTAS } })`.
 */
export const NO_QUOTAS: QuotaLimits = {
  conversationsPerHour: Number.POSITIVE_INFINITY,
  participantsAddedPerHour: Number.POSITIVE_INFINITY,
  addedByOthersPerHour: Number.POSITIVE_INFINITY,
}

/** A quota: a whole number from 0, or `Infinity` for none. */
const checkQuota = (value: unknown, name: string): number => {
  if (value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && (value as number) >= 0)) {
    return value as number
  }
  throw invalidArgument(`limits.${name} must be a whole number from 0, or Infinity`)
}

/**
 * One allowance per key, refilled continuously: `perHour` at once, then `perHour` an hour. Keys
 * whose allowance is full again are forgotten (a full one is what a new key starts with), so the
 * maps hold only who was active within the last hour.
 */
class Allowances {
  readonly #perHour: number
  readonly #left = new Map<string, { tokens: number; at: number }>()

  constructor(perHour: number) {
    this.#perHour = perHour
  }

  /** What `key` has left at `now`. */
  left(key: string, now: number): number {
    const a = this.#left.get(key)
    if (!a) return this.#perHour
    return Math.min(this.#perHour, a.tokens + (Math.max(0, now - a.at) * this.#perHour) / HOUR_MS)
  }

  take(key: string, n: number, now: number): void {
    if (n === 0 || this.#perHour === Number.POSITIVE_INFINITY) return
    this.#left.set(key, { tokens: this.left(key, now) - n, at: now })
  }

  /** Forgets every key whose allowance is full again. */
  sweep(now: number): void {
    for (const key of [...this.#left.keys()]) if (this.left(key, now) >= this.#perHour) this.#left.delete(key)
  }

  get size(): number {
    return this.#left.size
  }
}

/**
 * The relay's quotas on what accepted updates do: conversations created per identity, participants
 * added per identity, and times one user is added by others (whoever adds them, so many accounts
 * cannot do together what one may not). Checked after validation, before the update is applied;
 * an update over any of them is refused whole, with the quota in the reason, and uses none.
 */
export class Quotas {
  readonly #limits: QuotaLimits
  readonly #now: () => number
  readonly #created: Allowances
  readonly #adding: Allowances
  readonly #added: Allowances
  #sweptAt: number

  constructor(limits: Partial<QuotaLimits> = {}, now: () => number = Date.now) {
    const l = { ...DEFAULT_QUOTAS, ...limits }
    this.#limits = {
      conversationsPerHour: checkQuota(l.conversationsPerHour, 'conversationsPerHour'),
      participantsAddedPerHour: checkQuota(l.participantsAddedPerHour, 'participantsAddedPerHour'),
      addedByOthersPerHour: checkQuota(l.addedByOthersPerHour, 'addedByOthersPerHour'),
    }
    this.#now = now
    this.#created = new Allowances(this.#limits.conversationsPerHour)
    this.#adding = new Allowances(this.#limits.participantsAddedPerHour)
    this.#added = new Allowances(this.#limits.addedByOthersPerHour)
    this.#sweptAt = now()
  }

  /**
   * Takes what `effects` use of `identity`'s quotas (and of the added users'), or returns why the
   * update may not be accepted, taking nothing.
   */
  admit(identity: string, effects: UpdateEffects): string | null {
    if (!effects.creates && effects.added.length === 0) return null
    const now = this.#now()
    this.#sweepNow(now)
    const l = this.#limits
    if (effects.creates && this.#created.left(identity, now) < 1) {
      return `quota: at most ${l.conversationsPerHour} new conversations per hour`
    }
    if (effects.added.length > 0 && this.#adding.left(identity, now) < effects.added.length) {
      return `quota: at most ${l.participantsAddedPerHour} participants added per hour`
    }
    const users = effects.added.filter((a) => a.chat).map((a) => a.key)
    for (const user of users) {
      if (this.#added.left(user, now) < 1) {
        return `quota: ${user} was added to ${l.addedByOthersPerHour} conversations in the last hour`
      }
    }
    if (effects.creates) this.#created.take(identity, 1, now)
    this.#adding.take(identity, effects.added.length, now)
    for (const user of users) this.#added.take(user, 1, now)
    return null
  }

  /** Identities and users with a quota partly used (what the relay keeps in memory for them). */
  get tracked(): number {
    return this.#created.size + this.#adding.size + this.#added.size
  }

  #sweepNow(now: number): void {
    // Every minute at most: a sweep visits every key.
    if (now - this.#sweptAt < 60_000) return
    this.#sweptAt = now
    this.#created.sweep(now)
    this.#adding.sweep(now)
    this.#added.sweep(now)
  }
}
