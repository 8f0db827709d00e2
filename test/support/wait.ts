/**
 * Waiting in tests, always with a deadline: for an event, or for a condition (polled). Never a fixed
 * sleep.
 */

// biome-ignore lint/suspicious/noExplicitAny: listeners of any emitter
type AnyListener = (...args: any[]) => void

/** Anything with `on(event, listener) → unsubscribe` (Client, Conversation, Message, …). */
export interface Listenable {
  on(event: string, listener: AnyListener): () => void
}

/** The first argument of the next `event` passing `predicate`; rejects after `ms`. Subscribe before acting. */
export const waitFor = <T = unknown>(
  emitter: Listenable,
  event: string,
  predicate: (arg: T) => boolean = () => true,
  ms = 5_000,
): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`timed out after ${ms} ms waiting for ${event}`))
    }, ms)
    const off = emitter.on(event, (arg: T) => {
      if (!predicate(arg)) return
      clearTimeout(timer)
      off()
      resolve(arg)
    })
  })

/** Polls `condition` every 10 ms until it holds; rejects after `ms` with `what` (and the last error). */
export const waitUntil = async (
  condition: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
): Promise<void> => {
  const deadline = Date.now() + ms
  let last: unknown = null
  for (;;) {
    try {
      if (await condition()) return
      last = null
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting until ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
