import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { addDeletes, type DeleteRanges, DocUpdates, encodeUpdateSince } from '../crdt/doc-updates.ts'
import { REMOTE_ORIGIN } from '../origins.ts'
import { nextTask } from '../runtime.ts'
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeAwarenessFrame,
  encodeUpdateFrame,
  MessageType,
  startFrame,
  updateFrameOverhead,
} from './protocol.ts'
import { splitUpdate, UpdateTooLargeError } from './split.ts'

/** How many bytes of held local updates go out without waiting for the end of the task. */
const HELD_MAX_BYTES = 64 * 1024

/** What a channel reports to its owner. */
export interface ChannelEvents {
  synced(): void
  denied(reason: string): void
  /** The largest frame the relay accepts now (default: `DEFAULT_MAX_FRAME_BYTES`). */
  frameLimit?(): number
  /** A change too large for any frame: it cannot be sent (the owner sets the document aside). */
  tooLarge?(error: UpdateTooLargeError): void
  /** The order of this document's writers when an update is split (see `splitUpdate`). */
  clientRank?(): (client: number) => number
  /** The relay does not serve this document for now; the local copy stays as it is. */
  unavailable?(reason: string): void
}

/**
 * The client side of one document's sync over a shared socket: sends step 1 on connect, answers
 * the relay's step 1, forwards local updates and awareness, and applies what arrives with the
 * remote origin (so it is persisted but not echoed).
 */
export class DocChannel {
  readonly name: string
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness | null
  #send: ((frame: Uint8Array) => void) | null = null
  #synced = false
  /**
   * Whether the relay's step 1 was answered on this socket. Until then local updates are not sent
   * one by one: the step 2 answer carries them, together with what was written while offline, so
   * the relay receives them in the order they were written (a new clientID's update, say after a
   * restart, would otherwise overtake the older backlog and be sequenced before it).
   */
  #answered = false
  #waiters: Array<() => void> = []
  readonly #events: ChannelEvents
  readonly #updates: DocUpdates
  readonly #unsubscribe: () => void
  /** A local update already went out in this task of the event loop. */
  #inBurst = false
  /** Local updates of this task held back, as the state before the first and their deletions. */
  #held: { since: Map<number, number>; deletes: DeleteRanges; bytes: number } | null = null
  readonly #onAwareness: (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void

  constructor(name: string, doc: Y.Doc, awareness: awarenessProtocol.Awareness | null, events: ChannelEvents) {
    this.name = name
    this.doc = doc
    this.awareness = awareness
    this.#events = events
    this.#updates = DocUpdates.of(doc)
    this.#unsubscribe = this.#updates.subscribe((update, origin, tr) => {
      if (origin === REMOTE_ORIGIN || !this.#send || !this.#answered) return
      // The first local update of a task goes out at once. Those that follow in the same task (a
      // loop of sends, a bot's burst) are held and go out as one update when the task ends, or
      // every HELD_MAX_BYTES: the relay decodes, validates and sequences them once, not per update.
      if (!this.#inBurst || tr === null) {
        this.#sendUpdate(update)
        if (!this.#inBurst) {
          this.#inBurst = true
          nextTask(() => {
            this.#inBurst = false
            this.#flushHeld()
          })
        }
        return
      }
      this.#held ??= { since: tr.beforeState, deletes: new Map(), bytes: 0 }
      addDeletes(this.#held.deletes, tr)
      this.#held.bytes += update.byteLength
      if (this.#held.bytes >= HELD_MAX_BYTES) this.#flushHeld()
    })
    this.#onAwareness = ({ added, updated, removed }, origin) => {
      if (origin === REMOTE_ORIGIN || !this.#send || !this.awareness) return
      const changed = added.concat(updated, removed)
      this.#send(encodeAwarenessFrame(this.name, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed)))
    }
    awareness?.on('update', this.#onAwareness)
  }

  /**
   * Sends `update` in frames the relay accepts: split, in an order in which each part applies on
   * its own, when it is larger than a frame (an offline backlog, a large restore). `asStep2`: the
   * first part answers the relay's step 1.
   */
  #sendUpdate(update: Uint8Array, asStep2 = false): void {
    const send = this.#send
    if (!send) return
    let parts: Uint8Array[]
    try {
      const limit = this.#events.frameLimit?.() ?? DEFAULT_MAX_FRAME_BYTES
      const max = limit - updateFrameOverhead(this.name)
      parts = splitUpdate(update, max, update.byteLength > max ? this.#events.clientRank?.() : undefined)
    } catch (error) {
      if (!(error instanceof UpdateTooLargeError) || !this.#events.tooLarge) throw error
      this.#events.tooLarge(error)
      return
    }
    parts.forEach((part, i) => {
      if (i > 0 || !asStep2) {
        send(encodeUpdateFrame(this.name, part))
        return
      }
      const encoder = startFrame(this.name, MessageType.sync)
      encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2)
      encoding.writeVarUint8Array(encoder, part)
      send(encoding.toUint8Array(encoder))
    })
  }

  /**
   * Sends the held updates as one: everything the document gained since the first of them (a
   * task holds no remote update in between: those arrive in tasks of their own). Dropped when the
   * socket went away meanwhile — the next sync's step 2 carries them.
   */
  #flushHeld(): void {
    const held = this.#held
    this.#held = null
    if (!held || !this.#send || !this.#answered || this.doc.isDestroyed) return
    this.#sendUpdate(encodeUpdateSince(this.doc, held.since, held.deletes))
  }

  /** Whether the relay's state has been received since the socket opened. */
  get synced(): boolean {
    return this.#synced
  }

  /** Resolves when the channel is synced (immediately if it is). */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** The socket is open: start syncing over it. */
  attach(send: (frame: Uint8Array) => void): void {
    this.#send = send
    this.#synced = false
    this.#answered = false
    const encoder = startFrame(this.name, MessageType.sync)
    syncProtocol.writeSyncStep1(encoder, this.doc)
    send(encoding.toUint8Array(encoder))
    const aw = this.awareness
    if (aw && aw.getLocalState() !== null) {
      send(encodeAwarenessFrame(this.name, awarenessProtocol.encodeAwarenessUpdate(aw, [aw.clientID])))
    }
  }

  /** The socket closed. Remote awareness states are dropped (their typing ends). */
  detach(): void {
    this.#send = null
    this.#held = null
    this.#synced = false
    this.#answered = false
    const aw = this.awareness
    if (aw) {
      const others = [...aw.getStates().keys()].filter((id) => id !== aw.clientID)
      awarenessProtocol.removeAwarenessStates(aw, others, REMOTE_ORIGIN)
    }
  }

  /** Handles one message for this document. */
  receive(type: number, decoder: decoding.Decoder): void {
    switch (type) {
      case MessageType.sync: {
        const kind = decoding.readVarUint(decoder)
        if (kind === syncProtocol.messageYjsSyncStep1) {
          // Only a step 1 gets an answer: the step 2 with what the relay lacks (in several frames
          // when it is larger than one).
          const stateVector = decoding.readVarUint8Array(decoder)
          this.#sendUpdate(Y.encodeStateAsUpdate(this.doc, stateVector), true)
        } else if (kind === syncProtocol.messageYjsSyncStep2 || kind === syncProtocol.messageYjsUpdate) {
          // Applied through the hub, so the local store keeps these bytes instead of Yjs
          // encoding them again.
          const update = decoding.readVarUint8Array(decoder)
          try {
            this.#updates.applyRemote(update, REMOTE_ORIGIN)
          } catch (error) {
            // An observer that throws must not take the connection down (y-protocols logs it too).
            // biome-ignore lint/suspicious/noConsole: there is no caller to hand it to
            console.error('colloquy: error while applying an update', error)
          }
        } else throw new Error(`unknown sync message ${kind}`)
        if (kind === syncProtocol.messageYjsSyncStep1 && this.#send) this.#answered = true
        if (kind === syncProtocol.messageYjsSyncStep2 && !this.#synced) {
          this.#synced = true
          const waiters = this.#waiters
          this.#waiters = []
          for (const w of waiters) w()
          this.#events.synced()
        }
        break
      }
      case MessageType.awareness: {
        if (this.awareness) {
          awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), REMOTE_ORIGIN)
        }
        break
      }
      case MessageType.auth: {
        decoding.readVarUint(decoder)
        this.#events.denied(decoding.readVarString(decoder))
        break
      }
      case MessageType.unavailable: {
        this.#events.unavailable?.(decoding.readVarString(decoder))
        break
      }
      case MessageType.queryAwareness: {
        const aw = this.awareness
        if (aw && this.#send) {
          this.#send(
            encodeAwarenessFrame(this.name, awarenessProtocol.encodeAwarenessUpdate(aw, [...aw.getStates().keys()])),
          )
        }
        break
      }
      default:
        break
    }
  }

  /** Stops listening to the document; sends an unsubscribe frame if connected. */
  destroy(): void {
    this.#unsubscribe()
    this.awareness?.off('update', this.#onAwareness)
    if (this.#send) this.#send(encoding.toUint8Array(startFrame(this.name, MessageType.unsubscribe)))
    this.#send = null
  }
}
