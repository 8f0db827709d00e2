import type { Awareness } from 'y-protocols/awareness'
import { type Scheduler, systemScheduler } from '../runtime.ts'

/** The awareness state a typing client publishes. Absent (null state) when not typing. */
export interface TypingState {
  identity: string
  typing: true
}

/** What the typing tracker reports: someone started or stopped typing. */
export interface TypingEvents {
  started(identity: string): void
  ended(identity: string): void
}

interface Remote {
  since: number
  timer: unknown
}

/**
 * Typing over Yjs awareness, never the document. A typing client publishes `{identity, typing}`
 * and clears it after `timeout` (or when it sends a message). Receivers end typing on their own
 * clock `timeout + 1 s` after the last renewal, so a client that vanishes (sleep, dropped
 * connection) cannot leave a stuck indicator. Renewals are sent at most every `timeout / 2`, not
 * per keystroke.
 */
export class TypingTracker {
  readonly #awareness: Awareness
  readonly #scheduler: Scheduler
  readonly #me: string
  readonly #timeout: number
  readonly #now: () => number
  readonly #events: TypingEvents
  readonly #remote = new Map<string, Remote>()
  readonly #clients = new Map<number, string>()
  #localTimer: unknown = null
  #lastSent = 0
  readonly #onUpdate: (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void

  constructor(
    awareness: Awareness,
    me: string,
    timeout: number,
    now: () => number,
    events: TypingEvents,
    scheduler: Scheduler = systemScheduler,
  ) {
    this.#scheduler = scheduler
    this.#awareness = awareness
    this.#me = me
    this.#timeout = timeout
    this.#now = now
    this.#events = events
    awareness.setLocalState(null)
    this.#onUpdate = ({ added, updated, removed }, origin) => {
      // y-protocols tags changes made through setLocalState with the origin 'local'.
      if (origin === 'local') return
      this.#apply(added, updated, removed)
    }
    awareness.on('update', this.#onUpdate)
  }

  /** Identities typing now (not me), longest-typing first. */
  typists(): string[] {
    return [...this.#remote.entries()].sort((a, b) => a[1].since - b[1].since).map(([id]) => id)
  }

  isTyping(identity: string): boolean {
    return this.#remote.has(identity)
  }

  /** I am typing: publish (or renew) and schedule the local end. */
  start(): void {
    const now = this.#now()
    const current = this.#awareness.getLocalState() as TypingState | null
    if (!current || now - this.#lastSent >= this.#timeout / 2) {
      this.#lastSent = now
      this.#setLocal({ identity: this.#me, typing: true })
    }
    if (this.#localTimer !== null) this.#scheduler.clearTimeout(this.#localTimer)
    this.#localTimer = this.#scheduler.setTimeout(() => this.stop(), this.#timeout)
  }

  /** I stopped typing (timer, or I sent a message). */
  stop(): void {
    if (this.#localTimer !== null) this.#scheduler.clearTimeout(this.#localTimer)
    this.#localTimer = null
    if (this.#awareness.getLocalState() !== null) this.#setLocal(null)
  }

  /** Someone's message arrived: they are no longer typing. */
  endFor(identity: string): void {
    const r = this.#remote.get(identity)
    if (!r) return
    this.#scheduler.clearTimeout(r.timer)
    this.#remote.delete(identity)
    this.#events.ended(identity)
  }

  destroy(): void {
    this.stop()
    this.#awareness.off('update', this.#onUpdate)
    for (const r of this.#remote.values()) this.#scheduler.clearTimeout(r.timer)
    this.#remote.clear()
  }

  #setLocal(state: TypingState | null): void {
    this.#awareness.setLocalState(state)
  }

  #apply(added: number[], updated: number[], removed: number[]): void {
    const states = this.#awareness.getStates()
    const touched = new Set<string>()
    for (const clientID of [...added, ...updated]) {
      if (clientID === this.#awareness.clientID) continue
      const s = states.get(clientID) as Partial<TypingState> | undefined
      if (s && s.typing === true && typeof s.identity === 'string' && s.identity !== this.#me) {
        this.#clients.set(clientID, s.identity)
        const identity = s.identity
        const existing = this.#remote.get(identity)
        if (existing) this.#scheduler.clearTimeout(existing.timer)
        const timer = this.#scheduler.setTimeout(() => this.endFor(identity), this.#timeout + 1000)
        this.#remote.set(identity, { since: existing?.since ?? this.#now(), timer })
        if (!existing) this.#events.started(identity)
      } else {
        const identity = this.#clients.get(clientID)
        this.#clients.delete(clientID)
        if (identity) touched.add(identity)
      }
    }
    for (const clientID of removed) {
      const identity = this.#clients.get(clientID)
      this.#clients.delete(clientID)
      if (identity) touched.add(identity)
    }
    // A person stops typing when none of their clients still says so.
    for (const identity of touched) {
      if (![...this.#clients.values()].includes(identity)) this.endFor(identity)
    }
  }
}
