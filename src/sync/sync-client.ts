import type * as awarenessProtocol from 'y-protocols/awareness'
import type * as Y from 'yjs'
import { Emitter } from '../events.ts'
import { type Scheduler, systemScheduler } from '../runtime.ts'
import { DocChannel } from './channel.ts'
import { readFrame } from './protocol.ts'
import { CloseCode, type Transport, type TransportSocket } from './transport.ts'

/** The client's link to the relay, as Twilio names it. */
export type ConnectionState = 'connecting' | 'connected' | 'disconnecting' | 'disconnected' | 'denied'

interface SyncClientEvents {
  connectionStateChanged(state: ConnectionState): void
  docDenied(docName: string, reason: string): void
  /** The relay does not serve `docName` for now (see `MessageType.unavailable`): keep it as it is. */
  docUnavailable(docName: string, reason: string): void
  closedByRelay(code: number, reason: string): void
  /** The relay refused an update to `docName`; the listener must drop that document's local state now. */
  updateRejected(docName: string, reason: string): void
  // biome-ignore lint/suspicious/noExplicitAny: index signature required by EventMap
  [key: string]: (...args: any[]) => void
}

/** Reconnect backoff: base doubling up to max, with full jitter. */
export interface BackoffOptions {
  baseMs: number
  maxMs: number
  random: () => number
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

  readonly #scheduler: Scheduler

  constructor(transport: Transport, backoff: Partial<BackoffOptions> = {}, scheduler: Scheduler = systemScheduler) {
    super()
    this.#scheduler = scheduler
    this.#transport = transport
    this.#backoff = { baseMs: 250, maxMs: 10_000, random: Math.random, ...backoff }
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

  /** Adds a document to sync. */
  add(name: string, doc: Y.Doc, awareness: awarenessProtocol.Awareness | null): DocChannel {
    const existing = this.#channels.get(name)
    if (existing) return existing
    const channel = new DocChannel(name, doc, awareness, {
      synced: () => {},
      denied: (reason) => this.emit('docDenied', name, reason),
      unavailable: (reason) => this.emit('docUnavailable', name, reason),
    })
    this.#channels.set(name, channel)
    if (this.#open && this.#socket && (this.#authed || this.#probe === null)) {
      const socket = this.#socket
      if (!this.#authed) this.#probe = channel
      channel.attach((frame) => socket.send(frame))
    }
    return channel
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
    if (this.#stopped || this.#socket) return
    this.#attempt = 0
    this.#connectNow()
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
    const socket = this.#socket
    this.#socket = null
    if (socket) {
      this.#setState('disconnecting')
      socket.close(CloseCode.normal, 'client shutdown')
    }
    for (const ch of this.#channels.values()) ch.detach()
    this.#setState('disconnected')
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
        this.#attempt = 0
        this.#setState('connected')
        const s = socket
        if (!s) return
        const probe = this.#channels.values().next().value
        if (probe) {
          this.#probe = probe
          probe.attach((frame) => s.send(frame))
        }
      },
      onMessage: (data: Uint8Array) => {
        if (closed) return
        if (!this.#authed && socket) {
          // The relay answered: the token is verified, every other document may go now.
          this.#authed = true
          const s = socket
          for (const ch of this.#channels.values()) if (ch !== this.#probe) ch.attach((frame) => s.send(frame))
          this.#probe = null
        }
        let frame: ReturnType<typeof readFrame>
        try {
          frame = readFrame(data)
        } catch {
          return
        }
        this.#channels.get(frame.docName)?.receive(frame.type, frame.decoder)
      },
      onClose: (code: number, reason: string) => {
        if (closed) return
        closed = true
        this.#open = false
        if (this.#socket === socket || socket === null) this.#socket = null
        for (const ch of this.#channels.values()) ch.detach()
        if (this.#stopped) return
        if (code === CloseCode.updateRejected) {
          const colon = reason.indexOf(': ')
          this.emit(
            'updateRejected',
            colon === -1 ? '' : reason.slice(0, colon),
            colon === -1 ? reason : reason.slice(colon + 2),
          )
          this.#setState('disconnected')
          this.#attempt = 0
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

  #scheduleReconnect(): void {
    const { baseMs, maxMs, random } = this.#backoff
    const delay = Math.min(maxMs, baseMs * 2 ** this.#attempt) * random()
    this.#attempt++
    this.#timer = this.#scheduler.setTimeout(() => {
      this.#timer = null
      if (!this.#stopped && !this.#socket) this.#connectNow()
    }, delay)
  }
}
