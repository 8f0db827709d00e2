/**
 * When the conversation list is complete enough to look a name up in, or to tell news from history.
 */
import type { Client } from '../../src/index.ts'

export interface CatchUpOptions {
  /** Give up (false) when the relay cannot be reached, instead of waiting for it to come up. */
  offlineIsFinal?: boolean
  /** Give up (false) when this fires. */
  signal?: AbortSignal
}

const connected = (client: Client, options: CatchUpOptions): Promise<boolean> =>
  new Promise((resolve) => {
    const check = (): boolean => {
      const state = client.connectionState
      if (state === 'connected') resolve(true)
      else if (state === 'denied' || (options.offlineIsFinal && state === 'disconnected')) resolve(false)
      else return false
      return true
    }
    if (check()) return
    const off = client.on('connectionStateChanged', () => {
      if (check()) done()
    })
    const abort = (): void => {
      resolve(false)
      done()
    }
    const done = (): void => {
      off()
      options.signal?.removeEventListener('abort', abort)
    }
    if (options.signal?.aborted) abort()
    options.signal?.addEventListener('abort', abort, { once: true })
  })

const nextTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Resolves with true once this device has caught up with the relay: `Client.create` has loaded what
 * the device stored; online, the relay's state has arrived too — the inbox first, then the
 * conversations it names that this device had not stored (they open once the inbox has synced, a
 * task later, and then sync themselves). False when the relay is not there (see options).
 */
export const catchUp = async (client: Client, options: CatchUpOptions = {}): Promise<boolean> => {
  if (!(await connected(client, options))) return false
  try {
    for (let round = 0; round < 2; round++) {
      await client.whenSynced({ signal: options.signal })
      await nextTask()
    }
    await client.whenSynced({ signal: options.signal })
    return true
  } catch {
    return false
  }
}
