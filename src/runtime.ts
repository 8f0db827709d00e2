import * as Y from 'yjs'

/** Timers, so a simulation can run typing expiry and reconnect backoff on virtual time. */
export interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** Fills a buffer with random bytes. The default is the platform's CSPRNG. */
export type RandomSource = (buffer: Uint8Array) => Uint8Array

/** Lets a pending timer not keep a Node process alive (a no-op for other handles). */
export const unrefTimer = (handle: unknown): void => {
  ;(handle as { unref?: () => void } | null)?.unref?.()
}

export const systemScheduler: Scheduler = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** CSPRNG bytes drawn 4 KiB at a time: one `getRandomValues` call costs microseconds, whatever its size. */
let pool = new Uint8Array(0)
let poolAt = 0
export const cryptoRandom: RandomSource = (buffer) => {
  if (buffer.length > 256) return crypto.getRandomValues(buffer)
  if (poolAt + buffer.length > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(4096))
    poolAt = 0
  }
  buffer.set(pool.subarray(poolAt, poolAt + buffer.length))
  // Bytes handed out are not kept.
  pool.fill(0, poolAt, poolAt + buffer.length)
  poolAt += buffer.length
  return buffer
}

/** What a client takes from its environment. Tests and the simulator replace both. */
export interface Runtime {
  scheduler: Scheduler
  random: RandomSource
}

export const defaultRuntime: Runtime = { scheduler: systemScheduler, random: cryptoRandom }

/**
 * Runs `fn` in a later task of the event loop (after pending I/O and microtasks), without the
 * clamping browsers apply to `setTimeout(…, 0)`.
 */
export const nextTask: (fn: () => void) => void =
  typeof setImmediate === 'function'
    ? (fn) => {
        setImmediate(fn)
      }
    : (() => {
        const queue: Array<() => void> = []
        const channel = new MessageChannel()
        channel.port1.onmessage = () => queue.shift()?.()
        return (fn: () => void) => {
          queue.push(fn)
          channel.port2.postMessage(null)
        }
      })()

let docCount = 0

/**
 * A new document whose clientID comes from `random`. Every document instance gets a fresh one
 * (never persisted or reused), as Yjs requires; a seeded source only makes a simulation replayable.
 */
export const newDoc = (runtime: Runtime): Y.Doc => {
  // A guid of our own: Yjs would draw a random UUID from 32 calls to the CSPRNG (~50 µs a document).
  const doc = new Y.Doc({ guid: `colloquy-${++docCount}` })
  if (runtime.random !== cryptoRandom) {
    const bytes = runtime.random(new Uint8Array(4))
    doc.clientID = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0
  }
  return doc
}
