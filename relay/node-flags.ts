/**
 * The V8 settings the relay's CLI runs under.
 *
 * Under a burst (a client opening a thousand conversations at once) V8 grows its young generation
 * up to 64 MiB and keeps the pages afterwards, so a relay's RSS stays tens of megabytes above its
 * heap for the rest of its life. A small young generation keeps RSS near the heap, at the price of
 * more frequent young collections. Such flags only take effect when V8 starts, so the CLI starts
 * itself again under them (the same process: `process.execve`), unless the operator already chose
 * a value, on the command line or in `NODE_OPTIONS`.
 */

/** Flags the CLI adds when the operator has not set them. */
export const RELAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']

const nameOf = (flag: string): string => flag.split('=')[0]!.replaceAll('_', '-')

/** The flags of `RELAY_NODE_FLAGS` that neither `execArgv` nor `nodeOptions` sets. */
export const missingRelayFlags = (execArgv: readonly string[], nodeOptions: string | undefined): string[] => {
  const set = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter(Boolean).map(nameOf))
  return RELAY_NODE_FLAGS.filter((flag) => !set.has(nameOf(flag)))
}

/**
 * Replaces this process with itself under the missing relay flags (same PID, same stdio, same
 * environment). Returns without doing anything when nothing is missing or the platform has no
 * `process.execve` (Windows); returns the error when the replacement failed (the relay then runs
 * under Node's defaults).
 */
export const restartUnderRelayFlags = (): Error | null => {
  const missing = missingRelayFlags(process.execArgv, process.env.NODE_OPTIONS)
  if (missing.length === 0 || typeof process.execve !== 'function') return null
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
      process.env,
    )
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
  return null
}
