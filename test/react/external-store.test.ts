/**
 * The live windows' `subscribe(onChange)` + `getSnapshot()` pair: what external stores (React's
 * `useSyncExternalStore`) attach to, without ending the window when they detach.
 */
import { describe, expect, it } from 'vitest'
import type { LiveSubscription, MessageSnapshot } from '../../src/index.js'
import { expectCode, useHarness as harness } from '../client/helpers.js'

const h = harness()

/** Resolves on the window's next call of its attached listeners (attach before acting). */
const nextChange = <T>(window: LiveSubscription<T>): Promise<T | null> =>
  new Promise((resolve) => {
    const off = window.subscribe(() => {
      off()
      resolve(window.getSnapshot())
    })
  })

describe('LiveSubscription.subscribe / getSnapshot', () => {
  it('calls attached listeners after each new snapshot, keeps identity, and detaches without ending', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    await conv.sendMessage('one')
    const window = conv.subscribeMessages(() => {})
    expect(window.getSnapshot()).toBeNull()
    const seen: Array<readonly MessageSnapshot[] | null> = []
    const listener = () => seen.push(window.getSnapshot())
    const detachA = window.subscribe(listener)
    const detachB = window.subscribe(listener)
    await window.connected
    expect(seen).toHaveLength(2) // one function attached twice is called twice
    const first = window.getSnapshot()
    expect(first).toBe(window.latestSnapshot)
    expect(first!.map((m) => m.plaintext)).toEqual(['one'])

    // A change the window does not show (the conversation's attributes): no call, same snapshot.
    // The conversation's own window shows it, and recomputes in the same turn.
    const state = conv.subscribe(() => {})
    await state.connected
    const attributes = nextChange(state)
    await conv.updateAttributes({ a: 1 })
    expect((await attributes)!.custom).toEqual({ a: 1 })
    expect(seen).toHaveLength(2)
    expect(window.getSnapshot()).toBe(first)

    detachA()
    detachA() // idempotent
    const next = nextChange(window)
    await conv.sendMessage('two')
    expect((await next)!.map((m) => m.plaintext)).toEqual(['two', 'one'])
    expect(seen).toHaveLength(3) // only B is still attached
    expect(seen[2]).toBe(window.getSnapshot())
    expect(window.state).toBe('active')
    detachB()
    window.unsubscribe()
    state.unsubscribe()
    expect(window.state).toBe('unsubscribed')
  })

  it('refuses a listener that is not a function', async () => {
    const alice = await h.client('alice')
    const window = alice.subscribeConversations(() => {})
    await expectCode(() => window.subscribe('nope' as never), 'INVALID_ARGUMENT')
    window.unsubscribe()
  })
})
