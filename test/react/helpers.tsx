/**
 * Helpers for the React hook suites: every live window and listener the hooks open is counted
 * (through the public API: the windows the client hands out, and `on()` unsubscribe functions), so
 * tests can check that unmounting releases all of them.
 */
import { cleanup } from '@testing-library/react'
import { Component, type ReactNode } from 'react'
import { afterEach, vi } from 'vitest'
import { Client, Conversation, type LiveSubscription, User } from '../../src/index.js'

/** The windows and listeners opened through a client's public API since `track()`. */
export interface Tracker {
  /** Every live window created, with the method that created it. */
  readonly windows: Array<{ method: string; window: LiveSubscription<unknown> }>
  /** Windows still live (not unsubscribed, not failed). */
  live(): Array<{ method: string; window: LiveSubscription<unknown> }>
  /** `on()` listeners added and not removed yet. */
  listeners(): number
  /** How many windows each method created. */
  created(method: string): number
}

const WINDOW_METHODS: Array<[object, string]> = [
  [Client.prototype, 'subscribeConversations'],
  [Conversation.prototype, 'subscribe'],
  [Conversation.prototype, 'subscribeMessages'],
  [Conversation.prototype, 'subscribeParticipants'],
  [Conversation.prototype, 'subscribeTyping'],
]

/** Counts windows and listeners (restored after the test). */
export const track = (): Tracker => {
  const windows: Tracker['windows'] = []
  let listeners = 0
  for (const [proto, method] of WINDOW_METHODS) {
    const original = (proto as Record<string, (...args: unknown[]) => LiveSubscription<unknown>>)[method]!
    vi.spyOn(proto as Record<string, (...args: unknown[]) => unknown>, method).mockImplementation(function (
      this: unknown,
      ...args: unknown[]
    ) {
      const window = original.apply(this, args)
      windows.push({ method, window })
      return window
    })
  }
  for (const proto of [Client.prototype, User.prototype]) {
    const original = (proto as unknown as { on: (...args: unknown[]) => () => void }).on
    vi.spyOn(proto as unknown as { on: (...args: unknown[]) => () => void }, 'on').mockImplementation(function (
      this: unknown,
      ...args: unknown[]
    ) {
      const off = original.apply(this, args)
      listeners++
      let removed = false
      return () => {
        if (!removed) listeners--
        removed = true
        off()
      }
    })
  }
  return {
    windows,
    live: () => windows.filter((w) => w.window.state === 'pending' || w.window.state === 'active'),
    listeners: () => listeners,
    created: (method) => windows.filter((w) => w.method === method).length,
  }
}

/** Unmounts what a test rendered before the harness shuts its clients down (register after `useHarness`). */
export const unmountAfterEach = (): void => {
  afterEach(() => {
    cleanup()
    vi.restoreAllMocks()
  })
}

/** Counts a component's renders: call `hit()` in its body. */
export const renderCounter = () => {
  let count = 0
  return {
    hit: () => {
      count++
    },
    get count() {
      return count
    },
  }
}

/** An error boundary that shows the error's code (or message). */
export class Boundary extends Component<{ children?: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null }
  static getDerivedStateFromError(error: unknown) {
    return { error }
  }
  override render(): ReactNode {
    if (this.state.error === null) return this.props.children
    const e = this.state.error as { code?: string; message?: string }
    return <p>caught {e.code ?? e.message}</p>
  }
}
