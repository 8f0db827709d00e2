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

/** A client that lists conversations (Client). */
export interface Lister<C> {
  getSubscribedConversations(): Promise<{ items: ReadonlyArray<{ sid: string }> }>
  getConversationBySid(sid: string): Promise<C>
}

/** Waits until `client` lists the conversation `sid` (a new device learning it), then returns it. */
export const listed = async <C>(client: Lister<C>, sid: string, what: string, ms?: number): Promise<C> => {
  await waitUntil(async () => (await client.getSubscribedConversations()).items.some((c) => c.sid === sid), what, ms)
  return client.getConversationBySid(sid)
}
