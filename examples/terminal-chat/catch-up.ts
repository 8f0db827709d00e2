/**
 * When the conversation list is complete enough to look a name up in, or to tell news from history.
 */
import type { Client } from '../../src/index.ts'

export interface CatchUpOptions {
  /** Give up (`offline`) when the relay cannot be reached, instead of waiting for it to come up. */
  offlineIsFinal?: boolean
  /** Give up (`offline`, or `slow` once connected) when this fires. */
  signal?: AbortSignal
  /** Give up (`slow`) when the relay's state has not all arrived this long after connecting. */
  syncMs?: number
}

/**
 * `caught-up`: the list holds what this device stored and what the relay knows; `offline`: the
 * relay was not reached (or refused the sign-in), the stored list is all there is; `slow`: connected,
 * but not everything arrived in time (a document the relay stopped answering for, say).
 */
export type CatchUp = 'caught-up' | 'offline' | 'slow'

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
 * Resolves once this device has caught up with the relay: `Client.create` has loaded what the
 * device stored; online, the relay's state has arrived too — the inbox first, then the
 * conversations it names that this device had not stored (they open once the inbox has synced, a
 * task later, and then sync themselves).
 */
export const catchUp = async (client: Client, options: CatchUpOptions = {}): Promise<CatchUp> => {
  if (!(await connected(client, options))) return 'offline'
  const signals = [options.signal, options.syncMs === undefined ? undefined : AbortSignal.timeout(options.syncMs)]
  const signal = AbortSignal.any(signals.filter((s) => s !== undefined))
  try {
    for (let round = 0; round < 2; round++) {
      await client.whenSynced({ signal })
      await nextTask()
    }
    await client.whenSynced({ signal })
    return 'caught-up'
  } catch {
    return 'slow'
  }
}
