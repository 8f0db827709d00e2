/** Starting the relays under test, each in its own process, and reading their counters. */
import { RELAY_NODE_FLAGS } from '../relay/node-flags.ts'
import { Child, type tempDir } from './proc.ts'

export type RelayKind = 'colloquy' | 'yws' | 'raw'

export interface RelayStats {
  cpu: { user: number; system: number }
  mem: { rss: number; heapUsed: number; external: number }
  connections: number
  documents: number
}

/** A relay process and its URL. */
export interface RelayHandle {
  child: Child
  url: string
  stats(): Promise<RelayStats>
}

/**
 * Starts a relay: colloquy (SQLite at `db`, or `:memory:`), stock y-websocket, or raw `ws`. The
 * process runs with `--expose-gc` so memory is read after a full collection. colloquy's relay runs
 * under the V8 flags its CLI sets (`RELAY_NODE_FLAGS`), unless `nodeDefaults` asks for Node's
 * defaults (a relay embedded in an app's own process).
 */
export const startRelay = async (
  kind: RelayKind,
  options: { db?: string; idleMs?: number; nodeDefaults?: boolean } = {},
): Promise<RelayHandle> => {
  const args: string[] = [kind]
  if (options.db) args.push('--db', options.db)
  if (options.idleMs !== undefined) args.push('--idle', String(options.idleMs))
  const execArgv = kind === 'colloquy' && !options.nodeDefaults ? [...RELAY_NODE_FLAGS] : []
  const child = new Child(`relay:${kind}`, 'relay-child.ts', args, { gc: true, execArgv })
  const ready = await child.ready
  return {
    child,
    url: `ws://127.0.0.1:${ready.port as number}`,
    stats: () => child.call<RelayStats>('stats'),
  }
}

/** Closes a relay properly (its profile, if any, is written), then makes sure it is gone. */
export const stopRelay = async (relay: RelayHandle | null): Promise<void> => {
  if (!relay) return
  await relay.child.call('close', {}, 30_000).catch(() => {})
  await relay.child.exit(5_000)
  await relay.child.kill()
}

/** CPU time (user + system) between two readings, in ms. */
export const cpuMs = (a: RelayStats, b: RelayStats): number =>
  (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1000

/** JS memory (heap + external, which holds ArrayBuffers) of a reading, in bytes. */
export const jsMemory = (s: RelayStats): number => s.mem.heapUsed + s.mem.external

export type TempDir = ReturnType<typeof tempDir>
