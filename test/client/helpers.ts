/**
 * Shared helpers for the client suites: event waits with deadlines, error-code assertions, and a
 * harness that closes every client and network a test opened.
 */
import { afterEach, expect } from 'vitest'
import {
  Client,
  type ClientOptions,
  ColloquyError,
  type Conversation,
  type ErrorCode,
  type Role,
} from '../../src/index.js'
import { createTestNetwork, type TestNetwork, type TestNetworkOptions } from '../../src/testing/index.js'
import { type Listenable, waitFor as sharedWaitFor } from '../support/wait.ts'

export type { Listenable }

/**
 * Resolves with the first argument of the next `event` (that passes `predicate`), or rejects after
 * `ms`. Subscribe before triggering the action. (The shared helper, with the deadline first.)
 */
export const waitFor = <T = unknown>(
  emitter: Listenable,
  event: string,
  ms = 2_000,
  predicate: (arg: T) => boolean = () => true,
): Promise<T> => sharedWaitFor(emitter, event, predicate, ms)

/** Collects every emission of `event` (first argument) until the returned `stop()`. */
export const record = <T = unknown>(emitter: Listenable, event: string): T[] & { stop: () => void } => {
  const seen = [] as unknown as T[] & { stop: () => void }
  const off = emitter.on(event, (arg: T) => {
    seen.push(arg)
  })
  seen.stop = off
  return seen
}

/** Asserts that `action` throws or rejects with a ColloquyError of `code`, and returns the error. */
export const expectCode = async (
  action: Promise<unknown> | (() => unknown),
  code: ErrorCode,
): Promise<ColloquyError> => {
  let error: unknown = null
  let threw = false
  try {
    await (typeof action === 'function' ? action() : action)
  } catch (e) {
    threw = true
    error = e
  }
  expect(threw, `expected a ColloquyError with code ${code}, but nothing was thrown`).toBe(true)
  expect(error).toBeInstanceOf(ColloquyError)
  expect((error as ColloquyError).code).toBe(code)
  return error as ColloquyError
}

/** A manual clock: starts at `start` and moves only when told. */
export const manualClock = (start = 1_000_000) => {
  let t = start
  return {
    now: () => t,
    set: (v: number) => {
      t = v
    },
    advance: (ms = 1) => {
      t += ms
      return t
    },
  }
}

/** A clock that ticks one millisecond per read, so every write gets a distinct, increasing time. */
export const tickingClock = (start = 1_000_000) => {
  let t = start
  return () => t++
}

/**
 * Opens clients and networks for one test and closes them all afterwards. Call once per file (or
 * describe block); it registers its own `afterEach`.
 */
export const useHarness = () => {
  const clients: Client[] = []
  const networks: TestNetwork[] = []
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.shutdown()
    for (const n of networks.splice(0)) await n.close()
    for (const f of cleanups.splice(0).reverse()) await f()
  })
  const harness = {
    async client(identity: string, options: Omit<ClientOptions, 'identity'> = {}): Promise<Client> {
      const c = await Client.create({ identity, ...options })
      clients.push(c)
      return c
    },
    network(options: TestNetworkOptions = {}): TestNetwork {
      const n = createTestNetwork(options)
      networks.push(n)
      return n
    },
    /** Runs `fn` after the clients and networks are closed. */
    defer(fn: () => Promise<void> | void): void {
      cleanups.push(fn)
    },
    /**
     * Two (or more) connected clients and a conversation alice created and joined, with every other
     * identity added with `role`. Returns each side's Conversation object.
     */
    async shared(
      others: string[] = ['bob'],
      options: { role?: Role; clientOptions?: Omit<ClientOptions, 'identity' | 'transport'> } = {},
    ) {
      const net = harness.network()
      const alice = await harness.client('alice', { transport: net.link('alice'), ...options.clientOptions })
      const clientsByName: Record<string, Client> = { alice }
      for (const name of others) {
        clientsByName[name] = await harness.client(name, { transport: net.link(name), ...options.clientOptions })
      }
      await net.settle()
      const conv = await alice.createConversation({ friendlyName: 'team', join: true })
      const convs: Record<string, Conversation> = { alice: conv }
      for (const name of others) {
        const other = clientsByName[name]!
        const added = waitFor<Conversation>(other, 'conversationAdded', 2_000, (c) => c.sid === conv.sid)
        await conv.add(name, {}, { role: options.role ?? 'member' })
        await net.settle()
        await added
        convs[name] = await other.getConversationBySid(conv.sid)
      }
      await net.settle()
      return { net, clients: clientsByName, convs, sid: conv.sid }
    },
  }
  return harness
}

/**
 * A snapshot recorder for live subscriptions: pass `rec.push` as the callback, then
 * `await rec.next(predicate)` for the first snapshot (already seen or still to come) that matches.
 */
export const snapshotRecorder = <T>() => {
  const all: T[] = []
  const waiters: Array<{ test: (s: T) => boolean; resolve: (s: T) => void }> = []
  return {
    all,
    push: (snapshot: T) => {
      all.push(snapshot)
      for (const w of [...waiters]) {
        if (w.test(snapshot)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(snapshot)
        }
      }
    },
    /** The latest snapshot, or undefined. */
    get last(): T | undefined {
      return all.at(-1)
    },
    /** Resolves with the first snapshot after index `from` (default: any) that passes `test`. */
    next(test: (s: T) => boolean, ms = 2_000, from = 0): Promise<T> {
      const found = all.slice(from).find(test)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for a snapshot`)), ms)
        waiters.push({
          test,
          resolve: (s) => {
            clearTimeout(timer)
            resolve(s)
          },
        })
      })
    },
  }
}
