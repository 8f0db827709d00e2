/**
 * Shared pieces of the real-process fault tests: seeds (printed, replayable with COLLOQUY_SEED),
 * rounds (COLLOQUY_ROUNDS), a stamp watcher that records every index any client saw and any that
 * changed, a convergence wait, and a TCP proxy that can stall, cut and slow a connection.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import type { Client, Conversation, Message } from '../../src/index.ts'
import { seededRandom } from '../../src/testing/simulator.ts'
import { messagesOf, waitFor, waitUntil } from '../relay/helpers.ts'

/** The seed of a randomized test: COLLOQUY_SEED if set, else a fresh one. Printed with its replay command. */
export const seedFor = (file: string): number => {
  const fromEnv = process.env.COLLOQUY_SEED
  const seed = fromEnv === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(fromEnv)
  if (!Number.isSafeInteger(seed)) throw new Error(`COLLOQUY_SEED must be an integer, got ${fromEnv}`)
  console.log(`[faults] ${file}: seed ${seed} (replay: COLLOQUY_SEED=${seed} npx vitest run test/faults/${file})`)
  return seed
}

/** Rounds of a repeated scenario: COLLOQUY_ROUNDS, else `fallback` (the bounded CI value). */
export const roundsFor = (fallback: number): number => {
  const n = Number(process.env.COLLOQUY_ROUNDS ?? fallback)
  if (!Number.isInteger(n) || n < 1) throw new Error('COLLOQUY_ROUNDS must be a positive integer')
  return n
}

/** A seeded random source with the small helpers the scenarios use. */
export class Dice {
  readonly next: () => number
  constructor(seed: number) {
    this.next = seededRandom(seed)
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }
  chance(p: number): boolean {
    return this.next() < p
  }
}

/** The last `n` lines of a long log (with how many were left out). */
export const tail = (lines: string[], n = 24): string[] =>
  lines.length <= n ? lines : [`… ${lines.length - n} earlier lines`, ...lines.slice(-n)]

/** Yields to the event loop `turns` times (lets sockets and timers run; no wall-clock sleep). */
export const yieldTurns = async (turns: number): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r))
}

/**
 * Everything the clients of a scenario have seen stamped, across all of them: sid → index. An index
 * that ever differs from the first one seen (on any client) is recorded in `changed`.
 */
export class StampLedger {
  readonly seen = new Map<string, number>()
  readonly changed: string[] = []
  readonly #listeners = new Set<() => void>()

  watch(who: string, conv: Conversation): () => void {
    const note = (m: Message) => {
      if (m.index === null) return
      const before = this.seen.get(m.sid)
      if (before !== undefined && before !== m.index) this.changed.push(`${who} saw ${m.sid}: ${before} → ${m.index}`)
      if (before === undefined) this.seen.set(m.sid, m.index)
      for (const l of [...this.#listeners]) l()
    }
    // What is already there counts too.
    for (const [id, stamp] of conv._doc.stamps.entries()) {
      const m = conv._doc.messages.get(id)
      if (m) note({ sid: id, index: stamp.i } as Message)
    }
    const offs = [
      conv.on('messageAdded', note),
      conv.on('messageUpdated', ({ message }: { message: Message }) => note(message)),
    ]
    return () => {
      for (const off of offs) off()
    }
  }

  /** Calls `fn` after every stamp seen (for kill triggers); returns the unsubscribe function. */
  onStamp(fn: () => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  snapshot(): Map<string, number> {
    return new Map(this.seen)
  }
}

export type Row = { sid: string; index: number | null; body: string | null; author: string }

/**
 * Waits until every replica holds exactly `expected` (by sid), every message sequenced, and all
 * replicas identical (same sids, indices, bodies, authors, same order). Returns the common list.
 */
export const converge = async (
  convs: ReadonlyArray<Conversation>,
  expected: ReadonlySet<string>,
  what: string,
  ms = 20_000,
): Promise<Row[]> => {
  let last: Row[][] = []
  try {
    await waitUntil(
      async () => {
        last = await Promise.all(convs.map((c) => messagesOf(c)))
        const first = JSON.stringify(last[0])
        return last.every(
          (rows) =>
            rows.length === expected.size &&
            rows.every((m) => m.index !== null && expected.has(m.sid)) &&
            JSON.stringify(rows) === first,
        )
      },
      what,
      ms,
    )
  } catch (error) {
    const summary = last.map(
      (rows, i) =>
        `replica ${i}: ${rows.length} messages, ${rows.filter((m) => m.index === null).length} pending, ` +
        `${rows.filter((m) => !expected.has(m.sid)).length} unexpected, ` +
        `${[...expected].filter((sid) => !rows.some((m) => m.sid === sid)).length} missing`,
    )
    throw new Error(`${(error as Error).message}\n  expected ${expected.size}\n  ${summary.join('\n  ')}`)
  }
  return last[0]!
}

/**
 * The checks every scenario ends with, on the converged list `final`: every message sent exists
 * exactly once, indices are unique, nothing seen stamped was lost or renumbered, and each author's
 * messages keep the order they were written in.
 */
export const checkFinal = (
  final: Row[],
  sent: ReadonlyArray<{ sid: string; author: string; body: string | null }>,
  ledger: StampLedger,
): string[] => {
  const problems: string[] = []
  const sids = final.map((m) => m.sid)
  if (new Set(sids).size !== sids.length) problems.push('a message appears twice')
  const indices = final.map((m) => m.index)
  if (new Set(indices).size !== indices.length) problems.push('two messages share an index')
  const bodies = final.map((m) => m.body)
  if (new Set(bodies).size !== bodies.length) problems.push('a body appears twice (a message was duplicated)')
  const have = new Set(sids)
  for (const m of sent) if (!have.has(m.sid)) problems.push(`sent message ${m.sid} (${m.body}) is missing`)
  const byId = new Map(final.map((m) => [m.sid, m]))
  for (const [sid, index] of ledger.seen) {
    const m = byId.get(sid)
    if (!m) problems.push(`message ${sid} was seen stamped ${index} and is lost`)
    else if (m.index !== index) problems.push(`message ${sid} was seen stamped ${index}, now ${m.index}`)
  }
  problems.push(...ledger.changed)
  for (const author of new Set(sent.map((m) => m.author))) {
    const written = sent.filter((m) => m.author === author).map((m) => m.body)
    const ordered = final.filter((m) => m.author === author).map((m) => m.body)
    if (JSON.stringify(written) !== JSON.stringify(ordered)) problems.push(`${author}'s messages were reordered`)
  }
  return problems
}

// ---------------------------------------------------------------- fault proxy

/** Which way bytes stop: client → relay (`up`), relay → client (`down`), or both. */
export type Direction = 'up' | 'down' | 'both'

/** How a proxied connection ended. */
export interface ProxyClose {
  id: number
  /** Who closed first: the relay's side, the client's side, or the proxy (`cut`). */
  by: 'upstream' | 'client' | 'proxy'
  /** Whether forwarding was stalled when it closed. */
  stalled: boolean
}

interface Slow {
  latencyMs: number
  chunkBytes: number
}

/** One direction of one proxied connection: forwards in order, holds while stalled, delays when slow. */
class Pipe {
  readonly #dst: Socket
  readonly #proxy: FaultProxy
  readonly #dir: 'up' | 'down'
  #queue: Array<{ due: number; data: Buffer }> = []
  #timer: ReturnType<typeof setTimeout> | null = null
  #writing = false
  #dead = false
  bytes = 0

  constructor(dst: Socket, proxy: FaultProxy, dir: 'up' | 'down') {
    this.#dst = dst
    this.#proxy = proxy
    this.#dir = dir
  }

  get queued(): number {
    return this.#queue.reduce((n, q) => n + q.data.length, 0)
  }

  push(data: Buffer): void {
    if (this.#dead) return
    this.bytes += data.length
    const slow = this.#proxy.slowness
    this.#queue.push({ due: Date.now() + (slow?.latencyMs ?? 0), data })
    this.pump()
  }

  kill(): void {
    this.#dead = true
    this.#queue = []
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  pump(): void {
    if (this.#dead || this.#writing || this.#proxy.stalls(this.#dir)) return
    const head = this.#queue[0]
    if (!head) return
    const wait = head.due - Date.now()
    if (wait > 0) {
      if (!this.#timer)
        this.#timer = setTimeout(() => {
          this.#timer = null
          this.pump()
        }, wait)
      return
    }
    this.#queue.shift()
    const chunk = this.#proxy.slowness?.chunkBytes ?? 0
    if (chunk <= 0 || head.data.length <= chunk) {
      this.#dst.write(head.data)
      this.pump()
      return
    }
    // Chunked: a few bytes per event-loop turn, so the peer sees frames arrive in pieces.
    this.#writing = true
    let at = 0
    const step = () => {
      if (this.#dead) return
      this.#dst.write(head.data.subarray(at, at + chunk))
      at += chunk
      if (at < head.data.length) setImmediate(step)
      else {
        this.#writing = false
        this.pump()
      }
    }
    step()
  }
}

interface Pair {
  id: number
  client: Socket
  upstream: Socket
  up: Pipe
  down: Pipe
  closed: boolean
}

// biome-ignore lint/suspicious/noExplicitAny: listeners of any event
type Listener = (arg: any) => void

/**
 * A TCP proxy in front of a relay that can misbehave like a real network:
 * - `stall(direction)` stops forwarding (bytes are held, nothing is closed) until `resume()`;
 * - `cut({ refuse })` destroys every socket, and with `refuse` turns new connections away until `restore()`;
 * - `slow({ latencyMs, chunkBytes })` delays every chunk and delivers it a few bytes per turn, until `fast()`.
 * Events (for `waitFor`): `connection` ({ id }), `closed` (ProxyClose).
 */
export class FaultProxy {
  readonly #server: Server
  readonly #pairs = new Set<Pair>()
  readonly #listeners = new Map<string, Set<Listener>>()
  #target: number
  #refusing = false
  #stall: Direction | null = null
  #slow: Slow | null = null
  #ids = 0
  port = 0
  readonly closes: ProxyClose[] = []

  constructor(targetPort: number) {
    this.#target = targetPort
    this.#server = createServer((client) => this.#accept(client))
  }

  on(event: 'connection' | 'closed', listener: Listener): () => void {
    let set = this.#listeners.get(event)
    if (!set) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener)
    return () => set.delete(listener)
  }

  #emit(event: string, arg: unknown): void {
    for (const l of [...(this.#listeners.get(event) ?? [])]) l(arg)
  }

  #accept(client: Socket): void {
    if (this.#refusing) {
      client.destroy()
      return
    }
    client.setNoDelay(true)
    const upstream = tcpConnect(this.#target, '127.0.0.1')
    upstream.setNoDelay(true)
    const pair: Pair = {
      id: ++this.#ids,
      client,
      upstream,
      up: new Pipe(upstream, this, 'up'),
      down: new Pipe(client, this, 'down'),
      closed: false,
    }
    this.#pairs.add(pair)
    const drop = (by: ProxyClose['by']) => {
      if (pair.closed) return
      pair.closed = true
      pair.up.kill()
      pair.down.kill()
      client.destroy()
      upstream.destroy()
      this.#pairs.delete(pair)
      const close: ProxyClose = { id: pair.id, by, stalled: this.#stall !== null }
      this.closes.push(close)
      this.#emit('closed', close)
    }
    client.on('data', (d: Buffer) => pair.up.push(d))
    upstream.on('data', (d: Buffer) => pair.down.push(d))
    client.on('error', () => drop('client')).on('close', () => drop('client'))
    upstream.on('error', () => drop('upstream')).on('close', () => drop('upstream'))
    this.#emit('connection', { id: pair.id })
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  /** Connections accepted so far (ids are 1, 2, …). */
  get accepted(): number {
    return this.#ids
  }

  /** Live proxied connections. */
  get connections(): number {
    return this.#pairs.size
  }

  /** Bytes held back right now (stalled or delayed), both directions. */
  get queuedBytes(): number {
    let n = 0
    for (const p of this.#pairs) n += p.up.queued + p.down.queued
    return n
  }

  get slowness(): Slow | null {
    return this.#slow
  }

  /** @internal Whether forwarding in `dir` is held. */
  stalls(dir: 'up' | 'down'): boolean {
    return this.#stall === 'both' || this.#stall === dir
  }

  listen(): Promise<number> {
    return new Promise((resolve) => {
      this.#server.listen(0, '127.0.0.1', () => {
        this.port = (this.#server.address() as { port: number }).port
        resolve(this.port)
      })
    })
  }

  retarget(port: number): void {
    this.#target = port
  }

  stall(direction: Direction = 'both'): void {
    this.#stall = direction
  }

  resume(): void {
    this.#stall = null
    for (const p of this.#pairs) {
      p.up.pump()
      p.down.pump()
    }
  }

  slow(slow: Slow): void {
    this.#slow = slow
  }

  fast(): void {
    this.#slow = null
    for (const p of this.#pairs) {
      p.up.pump()
      p.down.pump()
    }
  }

  cut(options: { refuse?: boolean } = {}): void {
    if (options.refuse) this.#refusing = true
    for (const p of [...this.#pairs]) {
      // Mark first so the socket events that follow do not count as the peers' doing.
      const close: ProxyClose = { id: p.id, by: 'proxy', stalled: this.#stall !== null }
      p.closed = true
      p.up.kill()
      p.down.kill()
      p.client.destroy()
      p.upstream.destroy()
      this.#pairs.delete(p)
      this.closes.push(close)
      this.#emit('closed', close)
    }
  }

  restore(): void {
    this.#refusing = false
  }

  close(): Promise<void> {
    this.#stall = null
    this.#slow = null
    this.cut({ refuse: true })
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}

/**
 * The first client creates a conversation and adds the others (named `names[1..]`); resolves with
 * every client's view of it, and a ledger watching every index each of them sees.
 */
export const oneConversation = async (
  clients: Client[],
  names: readonly string[],
): Promise<{ convs: Conversation[]; ledger: StampLedger }> => {
  const added = clients.slice(1).map((c) => waitFor<Conversation>(c, 'conversationAdded'))
  const first = await clients[0]!.createConversation({ join: true })
  for (const name of names.slice(1)) await first.add(name)
  const convs: Conversation[] = [first, ...(await Promise.all(added))]
  const ledger = new StampLedger()
  for (const [i, c] of convs.entries()) ledger.watch(names[i]!, c)
  return { convs, ledger }
}
