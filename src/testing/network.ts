import { type CoreConnection, RelayCore } from '../../relay/core.ts'
import { checkOptions } from '../options.ts'
import type { StorageAdapter } from '../storage/adapter.ts'
import { MemoryStorage } from '../storage/memory.ts'
import type { Transport, TransportEvents, TransportSocket } from '../sync/transport.ts'

/** Options of the in-process network. */
export interface TestNetworkOptions {
  /** The relay's store. Default: a fresh memory store (kept across `restartRelay`). */
  storage?: StorageAdapter
  /** The relay's clock. */
  now?: () => number
  /**
   * Deliver frames on their own (on the next macrotask) instead of only in `settle()`/`deliver()`.
   * Default true.
   */
  autoDeliver?: boolean
}

interface Frame {
  toRelay: boolean
  data: Uint8Array
}

/** One client's link to the in-process relay. */
export class TestLink implements Transport {
  readonly identity: string
  readonly #net: TestNetwork
  #online = true
  #reachable = new Set<() => void>()
  /** The open socket, if any. */
  socket: LinkSocket | null = null

  constructor(net: TestNetwork, identity: string) {
    this.#net = net
    this.identity = identity
  }

  get online(): boolean {
    return this.#online
  }

  connect(events: TransportEvents): TransportSocket {
    const socket = new LinkSocket(this.#net, this, events)
    this.socket = socket
    this.#net._schedule(() => socket._open())
    return socket
  }

  onReachable(listener: () => void): () => void {
    this.#reachable.add(listener)
    return () => this.#reachable.delete(listener)
  }

  /** Cuts the link: the socket closes, frames in flight are lost, reconnects fail until `heal`. */
  partition(): void {
    this.#online = false
    this.socket?._drop(1006, 'network partition')
  }

  /**
   * Resets the connection (what a lost frame means on a stream transport): frames in flight are
   * lost and the socket closes, but the link stays up, so the client reconnects on its own.
   */
  reset(): void {
    this.socket?._drop(1006, 'connection reset')
  }

  /** Restores the link and tells the client to reconnect. */
  heal(): void {
    if (this.#online) return
    this.#online = true
    this.#net._schedule(() => this._reachable())
  }

  /** @internal */
  _reachable(): void {
    if (!this.#online) return
    for (const l of [...this.#reachable]) l()
  }
}

/** @internal A socket of a test link: queues frames both ways until the network delivers them. */
export class LinkSocket implements TransportSocket {
  readonly #net: TestNetwork
  readonly #link: TestLink
  readonly #events: TransportEvents
  #conn: CoreConnection | null = null
  #closed = false
  readonly queue: Frame[] = []

  constructor(net: TestNetwork, link: TestLink, events: TransportEvents) {
    this.#net = net
    this.#link = link
    this.#events = events
  }

  get closed(): boolean {
    return this.#closed
  }

  _open(): void {
    if (this.#closed) return
    if (!this.#link.online || !this.#net.relayUp) {
      this._drop(1006, 'relay unreachable')
      return
    }
    this.#conn = this.#net.relay.connect(this.#link.identity, {
      send: (data) => {
        if (!this.#closed) this.#net._enqueue(this, { toRelay: false, data })
      },
      close: (code, reason) => this._drop(code, reason),
      // colloquy's client reads refusal frames, as over the relay's multiplexed endpoint.
      refusalFrames: true,
    })
    this.#events.onOpen()
  }

  send(data: Uint8Array): void {
    if (this.#closed) return
    this.#net._enqueue(this, { toRelay: true, data: data.slice() })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.queue.length = 0
    this.#conn?.closed()
    this.#net._forget(this)
  }

  /** Queues a second copy of the oldest frame (a duplicate on the wire). */
  _duplicateOne(): boolean {
    const frame = this.queue[0]
    if (!frame) return false
    this.queue.unshift({ toRelay: frame.toRelay, data: frame.data.slice() })
    return true
  }

  /** Delivers the oldest queued frame. */
  _deliverOne(): boolean {
    const frame = this.queue.shift()
    if (!frame) return false
    if (this.#closed) return true
    if (frame.toRelay) this.#conn?.receive(frame.data)
    else this.#events.onMessage(frame.data)
    return true
  }

  _drop(code: number, reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.queue.length = 0
    this.#conn?.closed()
    this.#net._forget(this)
    if (this.#link.socket === this) this.#link.socket = null
    this.#net._schedule(() => this.#events.onClose(code, reason))
  }
}

/**
 * An in-process network: one relay core and any number of client links, with every frame in the
 * test's hands. Use `settle()` to deliver until nothing moves, `partition()`/`heal()` per link,
 * `restartRelay()` / `crashRelay()` to bounce the relay on the same store.
 *
 * @example
 * const net = createTestNetwork()
 * const alice = await Client.create({ identity: 'alice', transport: net.link('alice') })
 */
export class TestNetwork {
  readonly storage: StorageAdapter
  readonly #options: TestNetworkOptions
  #relay: RelayCore
  #relayUp = true
  readonly #sockets = new Set<LinkSocket>()
  readonly #links = new Map<string, TestLink[]>()
  #tasks: Array<() => void> = []
  #scheduled = false
  readonly errors: unknown[] = []

  constructor(options: TestNetworkOptions = {}) {
    this.#options = checkOptions(options, { storage: true, now: true, autoDeliver: true }, 'createTestNetwork')
    this.storage = options.storage ?? new MemoryStorage()
    this.#relay = this.#newRelay()
  }

  /** The relay core now running. */
  get relay(): RelayCore {
    return this.#relay
  }

  get relayUp(): boolean {
    return this.#relayUp
  }

  /** A new link for a client authenticated as `identity`. */
  link(identity: string): TestLink {
    const l = new TestLink(this, identity)
    const list = this.#links.get(identity) ?? []
    list.push(l)
    this.#links.set(identity, list)
    return l
  }

  /** Every link handed out for `identity` (to partition or heal a client by name). */
  links(identity: string): readonly TestLink[] {
    return this.#links.get(identity) ?? []
  }

  /** Frames waiting in the network. */
  get inFlight(): number {
    let n = this.#tasks.length
    for (const s of this.#sockets) n += s.queue.length
    return n
  }

  /**
   * Delivers frames and runs pending network tasks until nothing is left and the relay has stored
   * everything. Rejects after `maxRounds` rounds (a livelock would otherwise hang the test).
   */
  async settle(maxRounds = 10_000): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      let moved = this.#runTasks()
      for (const s of [...this.#sockets]) while (s._deliverOne()) moved = true
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (this.#relayUp) await this.#relay.flush()
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (!moved && this.inFlight === 0) return
    }
    throw new Error(`network did not settle within ${maxRounds} rounds`)
  }

  /** Delivers up to `n` queued frames, picking sockets with `pick` (for randomized schedules). */
  deliver(n: number, pick: (count: number) => number = () => 0): number {
    let done = 0
    this.#runTasks()
    while (done < n) {
      const busy = [...this.#sockets].filter((s) => s.queue.length > 0)
      if (busy.length === 0) break
      busy[pick(busy.length) % busy.length]!._deliverOne()
      done++
    }
    return done
  }

  /** Duplicates the next frame of one busy socket (chosen with `pick`); false when nothing is queued. */
  duplicate(pick: (count: number) => number = () => 0): boolean {
    const busy = [...this.#sockets].filter((s) => s.queue.length > 0)
    if (busy.length === 0) return false
    return busy[pick(busy.length) % busy.length]!._duplicateOne()
  }

  /** Stops the relay cleanly (stores everything), then starts a new one on the same store. */
  async restartRelay(): Promise<void> {
    this.#relayUp = false
    await this.#relay.close()
    this.#relay = this.#newRelay()
    this.#relayUp = true
    this.#announce()
  }

  /** Takes the relay down without a goodbye; `startRelay()` brings a new one up on the same store. */
  crashRelay(): void {
    this.#relayUp = false
    for (const s of [...this.#sockets]) s._drop(1006, 'relay crashed')
    void this.#relay.close()
  }

  /**
   * Lets every document the relay may put to sleep sleep now (its Y.Doc released, subscribers
   * kept; the next frame for it loads it again). Resolves with how many documents are asleep.
   */
  sleepDocuments(): Promise<number> {
    return this.#relayUp ? this.#relay._sleepNow() : Promise.resolve(0)
  }

  startRelay(): void {
    if (this.#relayUp) return
    this.#relay = this.#newRelay()
    this.#relayUp = true
    this.#announce()
  }

  /** Closes everything. */
  async close(): Promise<void> {
    for (const s of [...this.#sockets]) s.close()
    await this.#relay.close()
  }

  /** Tells every client the relay is reachable, after the close events already queued. */
  #announce(): void {
    this._schedule(() => {
      for (const list of this.#links.values()) for (const l of list) l._reachable()
    })
  }

  #newRelay(): RelayCore {
    return new RelayCore({
      storage: this.storage,
      now: this.#options.now,
      idleUnloadMs: 60_000,
      // No timers inside the simulation: inbox activity is written at once.
      inboxIntervalMs: 0,
      compactDelayMs: 0,
      batch: 'microtask',
      // Never by timer within a simulation: documents sleep when told (`sleepDocuments`) and,
      // as on a real relay, right after answering a first sync that only read them.
      sleepAfterMs: 3_600_000,
      onError: (e) => this.errors.push(e),
    })
  }

  /** @internal */
  _enqueue(socket: LinkSocket, frame: Frame): void {
    this.#sockets.add(socket)
    socket.queue.push(frame)
    this.#kick()
  }

  /** @internal */
  _forget(socket: LinkSocket): void {
    this.#sockets.delete(socket)
  }

  /** @internal */
  _schedule(task: () => void): void {
    this.#tasks.push(task)
    this.#kick()
  }

  #runTasks(): boolean {
    let ran = false
    while (this.#tasks.length > 0) {
      const tasks = this.#tasks
      this.#tasks = []
      for (const t of tasks) t()
      ran = true
    }
    return ran
  }

  #kick(): void {
    if (this.#options.autoDeliver === false || this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#runTasks()
      for (const s of [...this.#sockets]) while (s._deliverOne()) {}
    })
  }
}

/** Creates an in-process network with a relay core. */
export const createTestNetwork = (options: TestNetworkOptions = {}): TestNetwork => new TestNetwork(options)
