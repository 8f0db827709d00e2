/**
 * One relay per store. Two relays on one SQLite file would both hand out the same message index, so
 * a relay takes a lock file beside its store (`<store>.lock`) before opening it, and a second relay
 * refuses to start, naming the file and the process that holds it.
 *
 * Why a file and not SQLite's `locking_mode = EXCLUSIVE`: that would also lock out the `sqlite3`
 * process an operator takes online backups with, and could not say which process holds the store.
 *
 * The lock file is created atomically and complete (written beside, then hard-linked into place,
 * which fails if it exists). It names the holder's pid, its start time (on Linux) and its host. A
 * lock whose process is gone (a relay that was SIGKILLed, or the machine rebooted) is stale and
 * taken over, also when another process got its pid since; a lock from another host is never
 * judged stale, since its process cannot be checked from here.
 */
import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { ColloquyError } from '../src/errors.ts'

/** What a lock file holds. */
interface LockOwner {
  pid: number
  host: string
  /** The process's start time (Linux, clock ticks since boot): a pid reused by another process has another. */
  started?: string | null
  /** Tells two holders with the same pid apart (a restarted container is often pid 1 again). */
  token: string
  since: string
}

/** A lock this process holds: `release` removes the lock file (idempotent). */
export interface StoreLock {
  /** The lock file. */
  readonly path: string
  release(): void
}

/**
 * Lock files this process holds (path → token), so a second relay in the same process is refused
 * too, and a process that exits without closing its relays leaves no lock behind.
 */
const held = new Map<string, string>()
let exitHook = false

const removeOwn = (path: string, token: string): void => {
  // Only our own lock: never one another relay took over after judging ours stale.
  if (readOwner(path)?.token === token) unlinkQuietly(path)
}

/** The lock file for the store at `storePath`: beside the real file, whatever symlink led to it. */
export const lockPathFor = (storePath: string): string => {
  const absolute = resolve(storePath)
  let real: string
  try {
    real = realpathSync(absolute)
  } catch {
    // Not created yet: resolve the directory (createSqliteStorage checks it exists).
    try {
      real = join(realpathSync(dirname(absolute)), basename(absolute))
    } catch {
      real = absolute
    }
  }
  return `${real}.lock`
}

const readOwner = (path: string): LockOwner | null => {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>
    if (typeof owner.pid !== 'number' || typeof owner.host !== 'string' || typeof owner.token !== 'string') return null
    return owner as LockOwner
  } catch {
    return null
  }
}

/** When process `pid` started, in clock ticks since boot (Linux); null where that cannot be read. */
const startTimeOf = (pid: number): string | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    // The first of them is field 3, so field 22 (starttime) is the 20th.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

/** True unless `pid` certainly no longer runs (EPERM: it runs, as another user). */
const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const inUse = (storePath: string, lockPath: string, owner: LockOwner | null): ColloquyError => {
  const who = owner
    ? `process ${owner.pid}${owner.host === hostname() ? '' : ` on ${owner.host}`}${owner.pid === process.pid ? ' (this process)' : ''}`
    : 'another process'
  return new ColloquyError(
    'CONFLICT',
    `the store ${storePath} is in use by ${who}: only one relay may serve a store (lock file ${lockPath}; ` +
      'delete it only if no relay runs on this store)',
  )
}

/** Whether the lock at `path`, held by `owner`, is left over from a process that is gone. */
const stale = (path: string, owner: LockOwner): boolean => {
  if (owner.host !== hostname()) return false
  // Our own pid but not held here: an earlier process under the same pid (a restarted container).
  if (owner.pid === process.pid) return !held.has(path)
  if (!running(owner.pid)) return true
  // Alive, but is it the process that wrote the lock, or a later one that got its pid?
  const started = owner.started ? startTimeOf(owner.pid) : null
  return started !== null && started !== owner.started
}

/**
 * Takes the lock of the store at `storePath`. Throws `CONFLICT` when a live process holds it (in
 * this process or another), `INVALID_ARGUMENT` when the lock file cannot be written (a read-only
 * directory, for instance).
 */
export const lockStore = (storePath: string): StoreLock => {
  const path = lockPathFor(storePath)
  if (held.has(path)) throw inUse(storePath, path, readOwner(path))
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    started: startTimeOf(process.pid),
    token: randomBytes(8).toString('hex'),
    since: '',
  }
  // A few rounds at most: each one either takes the lock, finds it held, or removes one stale lock.
  for (let round = 0; round < 5; round++) {
    me.since = new Date().toISOString()
    const temp = `${path}.${process.pid}.${me.token}.tmp`
    try {
      writeFileSync(temp, `${JSON.stringify(me)}\n`, { mode: 0o644 })
    } catch (cause) {
      throw new ColloquyError(
        'INVALID_ARGUMENT',
        `cannot write the lock file ${path} beside the store: ${(cause as Error).message}`,
        { cause },
      )
    }
    try {
      linkSync(temp, path)
      held.set(path, me.token)
      if (!exitHook) {
        exitHook = true
        process.once('exit', () => {
          for (const [lockPath, token] of held) removeOwn(lockPath, token)
        })
      }
      return {
        path,
        release: () => {
          if (held.get(path) !== me.token) return
          held.delete(path)
          removeOwn(path, me.token)
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ColloquyError(
          'INVALID_ARGUMENT',
          `cannot create the lock file ${path} beside the store: ${(error as Error).message}`,
          { cause: error },
        )
      }
    } finally {
      unlinkQuietly(temp)
    }
    const owner = readOwner(path)
    if (owner === null) {
      // Unreadable (not a lock of ours, or emptied by hand): never taken over on a guess.
      throw inUse(storePath, path, null)
    }
    if (!stale(path, owner)) throw inUse(storePath, path, owner)
    takeOver(path, owner)
  }
  throw inUse(storePath, path, readOwner(path))
}

/**
 * Removes the stale lock of `owner`. It is first renamed aside (atomic): if what was renamed is not
 * the lock judged stale (another relay took it over meanwhile), it is put back.
 */
const takeOver = (path: string, owner: LockOwner): void => {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    renameSync(path, aside)
  } catch {
    return // gone already: the next round creates it
  }
  if (readOwner(aside)?.token !== owner.token) {
    try {
      linkSync(aside, path)
    } catch {}
  }
  unlinkQuietly(aside)
}

const unlinkQuietly = (path: string): void => {
  try {
    unlinkSync(path)
  } catch {}
}
