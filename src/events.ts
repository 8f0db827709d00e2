import { checkFunction } from './options.ts'

/** A listener map: event name → listener signature. */
// biome-ignore lint/suspicious/noExplicitAny: listener argument lists are declared per event map
export type EventMap = Record<string, (...args: any[]) => void>

/**
 * A small typed emitter. `on` returns an unsubscribe function so callers never need to keep the
 * listener around. A throwing listener does not stop the others; its error goes to `onError`.
 */
export class Emitter<Events extends EventMap> {
  readonly #listeners = new Map<keyof Events, Set<Events[keyof Events]>>()
  readonly #onError: (error: unknown) => void

  constructor(onError: (error: unknown) => void = () => {}) {
    this.#onError = onError
  }

  /** Adds a listener and returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    // Checked here, not when the event fires: a TypeError then would surface far from the mistake.
    checkFunction(listener, `the listener of '${String(event).slice(0, 64)}'`)
    let set = this.#listeners.get(event)
    if (!set) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener)
    return () => this.off(event, listener)
  }

  /** Adds a listener that removes itself after its first call. */
  once<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    checkFunction(listener, `the listener of '${String(event).slice(0, 64)}'`)
    const off = this.on(event, ((...args: Parameters<Events[K]>) => {
      off()
      listener(...args)
    }) as Events[K])
    return off
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    this.#listeners.get(event)?.delete(listener)
  }

  /** Calls every listener of `event` with `args`. */
  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.#listeners.get(event)
    if (!set) return
    for (const listener of [...set]) {
      try {
        listener(...args)
      } catch (error) {
        this.#onError(error)
      }
    }
  }

  /** Whether anyone listens to `event` (lets callers skip building payloads nobody reads). */
  has<K extends keyof Events>(event: K): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear()
  }
}
