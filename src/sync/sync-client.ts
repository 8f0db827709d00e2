import * as decoding from 'lib0/decoding'
import type * as awarenessProtocol from 'y-protocols/awareness'
import type * as Y from 'yjs'
import { ColloquyError } from '../errors.ts'
import { Emitter } from '../events.ts'
import { type Scheduler, systemScheduler, unrefTimer } from '../runtime.ts'
import { DocChannel } from './channel.ts'
import { ControlType, DEFAULT_MAX_FRAME_BYTES, MessageType, RefusalCode, readFrame } from './protocol.ts'
import { CloseCode, type Transport, type TransportSocket } from './transport.ts'

/**
 * Refusals of one document's updates within `REFUSAL_WINDOW_MS` that are recovered from (the
 * document synced again from the start); one more sets it aside.
 */
const MAX_REFUSALS = 3
const REFUSAL_WINDOW_MS = 10 * 60_000
/** The smallest frame limit a relay may announce that the client takes as it is. */
const MIN_FRAME_BYTES = 4096

/** The client's link to the relay, as Twilio names it. */
export type ConnectionState = 'connecting' | 'connected' | 'disconnecting' | 'disconnected' | 'denied'

interface SyncClientEvents {
  connectionStateChanged(state: ConnectionState): void
  docDenied(docName: string, reason: string): void
  /** The relay does not serve `docName` for now (see `MessageType.unavailable`): keep it as it is. */
  docUnavailable(docName: string, reason: string): void
  closedByRelay(code: number, reason: string): void
  /**
   * The relay refused an update to `docName`. The listener may drop that document's local state
   * now (`remove` it and `add` a fresh copy); a document it keeps is synced again from the start.
   */
  updateRejected(docName: string, reason: string): void
  /**
   * `docName` is no longer synced on this client: refused too often (`REJECTED`), or holding a
   * change too large for any frame (`LIMIT_EXCEEDED`). Its local copy stays as it is.
   */
  documentSetAside(docName: string, error: ColloquyError): void
  /** The relay would not sync `docName` on this connection (too many documents); tried again on the next one. */
  documentLimited(docName: string, reason: string): void
  // biome-ignore lint/suspicious/noExplicitAny: index signature required by EventMap
  [key: string]: (...args: any[]) => void
}

/**
 * Reconnect backoff: base doubling up to max, jittered (between half and all of it). A connection
 * counts as a success only once it has stayed open `stableMs`: one closed sooner (refused,
 * dropped, cut off by a limit) is one more failure, so no cause can make a reconnect loop.
 */
export interface BackoffOptions {
  baseMs: number
  maxMs: number
  random: () => number
  stableMs: number
}

/**
 * One socket for every document (multiplexed frames), reconnecting with backoff and jitter. Final
 * close codes (4400–4499) stop reconnection and set the state to `denied`.
 */
export class SyncClient extends Emitter<SyncClientEvents> {
  readonly #transport: Transport
  readonly #channels = new Map<string, DocChannel>()
  readonly #backoff: BackoffOptions
  #socket: TransportSocket | null = null
  #open = false
  /**
   * Whether the relay has sent anything on this socket, which it does only once the token is
   * verified. Until then one document's step 1 goes out (the probe) and the others wait: the relay
   * queues at most 16 frames before verifying the token and closes with 4429 beyond that, so a
   * client with more documents would be refused for good whenever verification is slow.
   */
  #authed = false
  #probe: DocChannel | null = null
  #state: ConnectionState = 'disconnected'
  #attempt = 0
  #timer: unknown = null
  #stopped = false
  #offReachable: (() => void) | null = null
  /** Resets the backoff once the connection has stayed open long enough. */
  #stableTimer: unknown = null
  /** The last connection closed before it stayed open `stableMs`. */
  #shortLived = false
  /** The largest frame the relay accepts (its `hello`), or the documented default. */
  #maxFrameBytes = DEFAULT_MAX_FRAME_BYTES
  /** Recent refusals per document (each forgotten after `REFUSAL_WINDOW_MS`, by these timers). */
  readonly #refusals = new Map<string, number>()
  readonly #forgetTimers = new Set<unknown>()
  /** Documents set aside: never attached again by this client. */
  readonly #setAside = new Set<string>()
  /** Documents the relay would not sync on this connection (limit); tried again on the next. */
  readonly #limited = new Set<string>()

  readonly #scheduler: Scheduler

  constructor(transport: Transport, backoff: Partial<BackoffOptions> = {}, scheduler: Scheduler = systemScheduler) {
    super()
    this.#scheduler = scheduler
    this.#transport = transport
    this.#backoff = { baseMs: 250, maxMs: 10_000, random: Math.random, stableMs: 5_000, ...backoff }
    this.#offReachable =
      transport.onReachable?.(() => {
        if (!this.#stopped && this.#socket === null && this.#state !== 'denied') this.#connectNow()
      }) ?? null
  }

  get state(): ConnectionState {
    return this.#state
  }

  /** Starts connecting (idempotent). */
  start(): void {
    if (this.#stopped || this.#socket) return
    this.#connectNow()
  }

  /**
   * Adds a document to sync. `clientRank`: the order of its writers' clientIDs, oldest first, for
   * an update larger than a frame (see `splitUpdate`).
   */
  add(
    name: string,
    doc: Y.Doc,
    awareness: awarenessProtocol.Awareness | null,
    clientRank?: () => (client: number) => number,
  ): DocChannel {
    const existing = this.#channels.get(name)
    if (existing) return existing
    const channel: DocChannel = new DocChannel(name, doc, awareness, {
      synced: () => {},
      denied: (reason) => this.emit('docDenied', name, reason),
      frameLimit: () => this.#maxFrameBytes,
      tooLarge: (error) => this.#putAside(channel, error),
      clientRank,
      unavailable: (reason) => this.emit('docUnavailable', name, reason),
    })
    this.#channels.set(name, channel)
    if (this.#open && (this.#authed || this.#probe === null) && this.#attach(channel) && !this.#authed) {
      this.#probe = channel
    }
    return channel
  }

  /** Attaches `channel` to the open socket unless it is set aside or refused here; whether it did. */
  #attach(channel: DocChannel): boolean {
    const socket = this.#socket
    if (!socket || !this.#open || this.#setAside.has(channel.name) || this.#limited.has(channel.name)) return false
    channel.attach((frame) => socket.send(frame))
    return true
  }

  /** Stops syncing `channel`'s document for the rest of this client's life and tells the owner. */
  #putAside(channel: DocChannel, error: ColloquyError): void {
    if (this.#setAside.has(channel.name)) return
    this.#setAside.add(channel.name)
    channel.detach()
    this.emit('documentSetAside', channel.name, error)
  }

  /**
   * An update to `name` was refused (a `refused` frame, or a 4422 close from an older relay).
   * Recovered from a few times — the owner drops the refused state, or the document is synced
   * again from the start — then set aside rather than sent again in a loop.
   */
  #onRejected(name: string, reason: string): void {
    const channel = this.#channels.get(name)
    if (!channel || this.#setAside.has(name)) {
      this.emit('updateRejected', name, reason)
      return
    }
    const count = (this.#refusals.get(name) ?? 0) + 1
    this.#refusals.set(name, count)
    const forget = this.#scheduler.setTimeout(() => {
      this.#forgetTimers.delete(forget)
      const n = (this.#refusals.get(name) ?? 1) - 1
      if (n <= 0) this.#refusals.delete(name)
      else this.#refusals.set(name, n)
    }, REFUSAL_WINDOW_MS)
    // Bookkeeping only: it must not keep a process alive, and `stop()` clears it.
    unrefTimer(forget)
    this.#forgetTimers.add(forget)
    if (count > MAX_REFUSALS) {
      this.#putAside(
        channel,
        new ColloquyError('REJECTED', `the relay refused ${name} ${count} times (${reason}); it is no longer synced`),
      )
      return
    }
    // The relay drops this connection's frames for it until a sync step 1 starts it over.
    channel.detach()
    this.emit('updateRejected', name, reason)
    if (this.#channels.get(name) === channel && this.#authed) this.#attach(channel)
  }

  /** A `refused` frame: one document refused, the socket and the other documents go on. */
  #onRefusedFrame(name: string, decoder: decoding.Decoder): void {
    const code = decoding.readVarUint(decoder)
    const reason = decoding.readVarString(decoder)
    if (code === RefusalCode.limit) {
      const channel = this.#channels.get(name)
      if (!channel || this.#limited.has(name)) return
      this.#limited.add(name)
      channel.detach()
      this.emit('documentLimited', name, reason)
      return
    }
    this.#onRejected(name, reason)
  }

  /** A control frame (empty document name) from the relay. */
  #onControl(type: number, decoder: decoding.Decoder): void {
    if (type !== ControlType.hello) return
    // Never trust a limit so small that ordinary changes could not go out at all.
    this.#maxFrameBytes = Math.max(MIN_FRAME_BYTES, decoding.readVarUint(decoder))
  }

  /** Stops syncing a document. */
  remove(name: string): void {
    const channel = this.#channels.get(name)
    if (!channel) return
    this.#channels.delete(name)
    channel.destroy()
  }

  /** Connects again after a final close (e.g. once a fresh token is in place). */
  resume(): void {
    if (this.#stopped || this.#socket || this.#timer !== null) return
    // At once after a connection that lasted; with backoff after one closed soon after it opened
    // (a fresh token the relay still finds expired, say), so that this cannot loop either.
    if (this.#shortLived) this.#scheduleReconnect()
    else this.#connectNow()
  }

  /** Sends a frame on the open socket (dropped when not connected). */
  send(frame: Uint8Array): void {
    if (this.#open) this.#socket?.send(frame)
  }

  channel(name: string): DocChannel | undefined {
    return this.#channels.get(name)
  }

  /** Closes the socket for good. */
  stop(): void {
    this.#stopped = true
    this.#offReachable?.()
    if (this.#timer !== null) this.#scheduler.clearTimeout(this.#timer)
    this.#timer = null
    this.#clearStable()
    for (const t of this.#forgetTimers) this.#scheduler.clearTimeout(t)
    this.#forgetTimers.clear()
    const socket = this.#socket
    this.#socket = null
    if (socket) {
      this.#setState('disconnecting')
      socket.close(CloseCode.normal, 'client shutdown')
    }
    for (const ch of this.#channels.values()) ch.detach()
    this.#setState('disconnected')
  }

  #clearStable(): void {
    if (this.#stableTimer !== null) this.#scheduler.clearTimeout(this.#stableTimer)
    this.#stableTimer = null
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return
    this.#state = state
    this.emit('connectionStateChanged', state)
  }

  #connectNow(): void {
    if (this.#timer !== null) this.#scheduler.clearTimeout(this.#timer)
    this.#timer = null
    this.#setState('connecting')
    let socket: TransportSocket | null = null
    let closed = false
    const events = {
      onOpen: () => {
        if (closed || this.#stopped) return
        this.#open = true
        this.#authed = false
        this.#probe = null
        this.#maxFrameBytes = DEFAULT_MAX_FRAME_BYTES
        this.#limited.clear()
        // Not a success yet: only a connection that stays open resets the backoff.
        this.#clearStable()
        this.#shortLived = true
        this.#stableTimer = this.#scheduler.setTimeout(() => {
          this.#stableTimer = null
          this.#shortLived = false
          this.#attempt = 0
        }, this.#backoff.stableMs)
        this.#setState('connected')
        if (!socket) return
        for (const channel of this.#channels.values()) {
          if (this.#attach(channel)) {
            this.#probe = channel
            break
          }
        }
      },
      onMessage: (data: Uint8Array) => {
        if (closed) return
        let parsed: ReturnType<typeof readFrame> | null
        try {
          parsed = readFrame(data)
        } catch {
          parsed = null
        }
        const frame = parsed
        // The relay's hello (first) carries its limits: read it before any document goes out.
        if (frame?.docName === '') this.#readSafely(() => this.#onControl(frame.type, frame.decoder))
        if (!this.#authed && socket) {
          // The relay answered: the token is verified, every other document may go now.
          this.#authed = true
          for (const ch of this.#channels.values()) if (ch !== this.#probe) this.#attach(ch)
          this.#probe = null
        }
        if (!frame || frame.docName === '') return
        if (frame.type === MessageType.refused) {
          this.#readSafely(() => this.#onRefusedFrame(frame.docName, frame.decoder))
          return
        }
        this.#channels.get(frame.docName)?.receive(frame.type, frame.decoder)
      },
      onClose: (code: number, reason: string) => {
        if (closed) return
        closed = true
        this.#open = false
        this.#clearStable()
        if (this.#socket === socket || socket === null) this.#socket = null
        for (const ch of this.#channels.values()) ch.detach()
        if (this.#stopped) return
        if (code === CloseCode.updateRejected) {
          // An older relay closes the socket on a refused update (newer ones send a `refused`
          // frame): the same recovery, then a reconnect with backoff like any other close.
          const colon = reason.indexOf(': ')
          this.#setState('disconnected')
          this.#onRejected(colon === -1 ? '' : reason.slice(0, colon), colon === -1 ? reason : reason.slice(colon + 2))
          this.#scheduleReconnect()
          return
        }
        if (code === CloseCode.tokenExpired) {
          // Not final: the client refreshes its token and calls resume().
          this.emit('closedByRelay', code, reason)
          this.#setState('disconnected')
          return
        }
        if (code >= 4400 && code <= 4499) {
          this.emit('closedByRelay', code, reason)
          this.#setState('denied')
          return
        }
        this.#setState('disconnected')
        this.#scheduleReconnect()
      },
    }
    socket = this.#transport.connect(events)
    if (!closed) this.#socket = socket
  }

  /** Runs a reader of relay input; a malformed frame is ignored rather than thrown into the socket's handler. */
  #readSafely(read: () => void): void {
    try {
      read()
    } catch {
      // Nothing to do: the relay sent something this client cannot read.
    }
  }

  #scheduleReconnect(): void {
    if (this.#timer !== null) return
    const { baseMs, maxMs, random } = this.#backoff
    const full = Math.min(maxMs, baseMs * 2 ** Math.min(this.#attempt, 30))
    const delay = full / 2 + (full / 2) * random()
    this.#attempt++
    this.#timer = this.#scheduler.setTimeout(() => {
      this.#timer = null
      if (!this.#stopped && !this.#socket) this.#connectNow()
    }, delay)
  }
}
