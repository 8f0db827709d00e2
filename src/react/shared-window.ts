/**
 * The provider's cache of live windows: one window per distinct question (a key built from the
 * hook's arguments), shared by every component asking it, counted by reference and released when
 * the last component lets go.
 */

/** What a hook reads from a shared window. A new object only when something it shows changed. */
export type WindowState<S> =
  | { readonly status: 'loading'; readonly value: S; readonly error: null }
  | { readonly status: 'ready'; readonly value: S; readonly error: null }
  | { readonly status: 'error'; readonly value: S; readonly error: unknown }

/** Where a source delivers what it reads. */
export interface Sink<S> {
  /** Delivers a value; the same value as before (by identity) changes nothing. */
  set(value: S): void
  /** Ends the window with an error (the first error wins). */
  fail(error: unknown): void
  /** Whether the window was released (a source that opens asynchronously checks this before attaching). */
  readonly released: boolean
}

/** How a shared window starts: it reads into `sink` and returns what stops it. */
export type Source<S> = (sink: Sink<S>) => () => void

/** What a shared window is made of: its value before the first read, its source, and its actions. */
export interface WindowSpec<S, C> {
  readonly initial: S
  readonly source: Source<S>
  /** Actions on the window (a list's `loadMore`), the same object for as long as the window lives. */
  readonly control: C
}

/**
 * How long a window that was created by a render but never attached (a render React threw away,
 * or one suspended until the window's first value) is kept after it settled, for the render that
 * will attach it. A window that was attached is released as soon as its last component unmounts.
 */
const UNATTACHED_GRACE_MS = 5_000

/** What a window tells its cache. */
interface WindowHooks {
  /** It was released: drop it. */
  released(): void
  /** It started again: share it again, unless another window took its place. */
  revived(): void
}

/** One live window shared by the components that ask the same thing. */
export class SharedWindow<S, C = undefined> {
  #state: WindowState<S>
  readonly #initial: S
  readonly #source: Source<S>
  /** The window's actions (see `WindowSpec.control`). */
  readonly control: C
  readonly #listeners = new Set<() => void>()
  #refs = 0
  #attachedOnce = false
  #released = false
  #stop: (() => void) | null = null
  #timer: ReturnType<typeof setTimeout> | null = null
  #settle: () => void = () => {}
  #settled = false
  #settledPromise: Promise<void> = Promise.resolve()
  readonly #hooks: WindowHooks

  constructor(spec: WindowSpec<S, C>, hooks: WindowHooks) {
    this.#initial = spec.initial
    this.#source = spec.source
    this.control = spec.control
    this.#hooks = hooks
    this.#state = { status: 'loading', value: spec.initial, error: null }
    this.#start()
    this.touch()
  }

  /** Resolves once the window has its first value, failed, or was released (what Suspense waits for). */
  get settled(): Promise<void> {
    return this.#settledPromise
  }

  /** The current state; React compares it by identity. */
  readonly getState = (): WindowState<S> => this.#state

  /** Attaches a component (React's `subscribe`); the returned function detaches it. */
  readonly attach = (onChange: () => void): (() => void) => {
    // A render may commit after the window it read was released (its last user unmounted in
    // between): the window starts again, and its new state makes React render once more.
    if (this.#released) this.#revive()
    const listener = () => onChange()
    this.#listeners.add(listener)
    this.#refs++
    this.#attachedOnce = true
    this.#clearTimer()
    let attached = true
    return () => {
      if (!attached) return
      attached = false
      this.#listeners.delete(listener)
      this.#refs--
      // A microtask, not at once: Strict Mode detaches and re-attaches in the same commit.
      if (this.#refs === 0) queueMicrotask(() => this.#releaseIfIdle())
    }
  }

  /** Whether the window was released (its source stopped). */
  get released(): boolean {
    return this.#released
  }

  /**
   * Whether a component that mounts now should share this window: not once it was released, nor
   * once it failed while shown (its components keep the error; a new one tries again). A failed
   * window that no component showed yet is shared: it is what a suspended render waits for.
   */
  get shareable(): boolean {
    return !this.#released && !(this.#state.status === 'error' && this.#attachedOnce)
  }

  /** A render asked for this window: an unattached one is kept for another grace period. */
  touch(): void {
    if (this.#refs > 0 || this.#released || this.#attachedOnce) return
    this.#clearTimer()
    // Waits for the first value first: a suspended render attaches only after it.
    const arm = () => {
      if (this.#refs > 0 || this.#released) return
      this.#clearTimer()
      this.#timer = setTimeout(() => this.#releaseIfIdle(), UNATTACHED_GRACE_MS)
    }
    if (this.#settled) arm()
    else void this.#settledPromise.then(arm)
  }

  /** Stops the source and drops the window from its cache. Idempotent. */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.#clearTimer()
    const stop = this.#stop
    this.#stop = null
    stop?.()
    this.#hooks.released()
    this.#settle()
  }

  #start(): void {
    this.#settled = false
    this.#settledPromise = new Promise((resolve) => {
      this.#settle = () => {
        this.#settled = true
        resolve()
      }
    })
    const window = this
    const sink: Sink<S> = {
      set: (value) => window.#set(value),
      fail: (error) => window.#fail(error),
      get released() {
        return window.#released
      },
    }
    try {
      this.#stop = this.#source(sink)
    } catch (error) {
      this.#fail(error)
    }
  }

  #revive(): void {
    this.#released = false
    this.#state = { status: 'loading', value: this.#initial, error: null }
    this.#hooks.revived()
    this.#start()
  }

  #releaseIfIdle(): void {
    if (this.#refs === 0) this.release()
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #set(value: S): void {
    if (this.#released || this.#state.status === 'error') return
    if (this.#state.status === 'ready' && Object.is(this.#state.value, value)) return
    this.#state = { status: 'ready', value, error: null }
    this.#settle()
    this.#notify()
  }

  #fail(error: unknown): void {
    if (this.#released || this.#state.status === 'error') return
    this.#state = { status: 'error', value: this.#state.value, error }
    this.#settle()
    this.#notify()
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener()
  }
}

/** The provider's windows by key. */
export class WindowCache {
  readonly #windows = new Map<string, SharedWindow<unknown, unknown>>()
  #closed = false

  /** The window for `key`, made from `spec()` and started if there is none. */
  get<S, C>(key: string, spec: () => WindowSpec<S, C>): SharedWindow<S, C> {
    const found = this.#windows.get(key) as SharedWindow<S, C> | undefined
    if (found?.shareable) {
      found.touch()
      return found
    }
    const created: SharedWindow<S, C> = new SharedWindow(spec(), {
      released: () => {
        if (this.#windows.get(key) === created) this.#windows.delete(key)
      },
      revived: () => {
        if (!this.#closed && !this.#windows.get(key)) this.#windows.set(key, created as SharedWindow<unknown, unknown>)
      },
    })
    // A closed cache (its provider unmounted) shares nothing: a window lives as long as its users.
    if (!this.#closed) this.#windows.set(key, created as SharedWindow<unknown, unknown>)
    return created
  }

  /** Whether the cache was closed (its last provider unmounted): it shares nothing any more. */
  get closed(): boolean {
    return this.#closed
  }

  #holders = 0

  /** A provider holds the cache while mounted; the returned function lets go (the last one closes it). */
  hold(): () => void {
    this.#holders++
    let held = true
    return () => {
      if (!held) return
      held = false
      this.#holders--
      // A microtask, not at once: Strict Mode lets go and holds again in one commit.
      queueMicrotask(() => {
        if (this.#holders === 0) this.close()
      })
    }
  }

  /** Releases every window (the provider unmounted, or its client changed). */
  close(): void {
    this.#closed = true
    for (const window of [...this.#windows.values()]) window.release()
  }
}
