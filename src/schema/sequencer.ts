import type * as Y from 'yjs'
import { ConversationDocument, type MessageRecord, type StampRecord } from './layout.ts'

/** Transaction origin of the sequencer's stamps. */
export const SEQUENCER_ORIGIN = Symbol('colloquy.sequencer')

/** Options of a {@link Sequencer}. */
export interface SequencerOptions {
  /** Server clock of the stamps. Default `Date.now`. */
  now?: () => number
  /**
   * Runs inside each stamping transaction, before the stamps are written (the relay binds its
   * clientID there, so the binding and the first stamps under it are one update).
   */
  beforeStamp?: () => void
  /**
   * The lowest index to give. A relay restored from a backup resumes above every index it may have
   * given before (its high-water mark), so an index that some device holds is never given twice.
   */
  floor?: number
  /**
   * Signs a stamp (the relay's MAC, so that it can recognise its own stamps when a device returns
   * them after a restore). In-process sequencers sign nothing.
   */
  sign?: (message: MessageRecord, i: number, t: number) => { a: string; s: string }
}

/**
 * The sequencer: the one place that gives messages their `index`. It watches a conversation
 * document and stamps every message that has no stamp yet with the next index and the current
 * time. Run exactly one per conversation — in the relay, or in-process for relay-less setups and
 * tests. Stamps are never rewritten, so an index never changes once any replica has seen it.
 *
 * A batch that arrives together (say, an offline client's backlog) is stamped in the order its
 * author wrote it (author clock, then id), after everything stamped before — including stamps that
 * arrive from elsewhere (a relay taking back its own earlier stamps from devices after a restore).
 */
export class Sequencer {
  readonly #doc: ConversationDocument
  readonly #now: () => number
  #next = 0
  /** The highest index among the stamps present (-1 when none). */
  #highest = -1
  readonly #beforeStamp: (() => void) | undefined
  readonly #sign: SequencerOptions['sign']
  readonly #observer: (event: Y.YMapEvent<MessageRecord>) => void
  readonly #stampObserver: (event: Y.YMapEvent<StampRecord>) => void

  constructor(doc: Y.Doc, options: SequencerOptions = {}) {
    this.#doc = new ConversationDocument(doc)
    this.#now = options.now ?? Date.now
    this.#beforeStamp = options.beforeStamp
    this.#sign = options.sign
    this.#doc.stamps.forEach((stamp) => {
      this.#saw(stamp)
    })
    this.#next = Math.max(this.#next, options.floor ?? 0)
    this.#observer = (event) => {
      const added: string[] = []
      for (const [key, change] of event.changes.keys) {
        if (change.action === 'add' && !this.#doc.stamps.has(key)) added.push(key)
      }
      if (added.length > 0) this.#stamp(added)
    }
    // Stamps written elsewhere (taken back from a device) move the next index past them.
    this.#stampObserver = (event) => {
      for (const key of event.keysChanged) {
        const stamp = this.#doc.stamps.get(key)
        if (stamp) this.#saw(stamp)
      }
    }
    this.#doc.stamps.observe(this.#stampObserver)
    this.#doc.messages.observe(this.#observer)
    this.stampPending()
  }

  #saw(stamp: StampRecord): void {
    if (typeof stamp?.i !== 'number' || !Number.isSafeInteger(stamp.i)) return
    if (stamp.i >= this.#next) this.#next = stamp.i + 1
    if (stamp.i > this.#highest) this.#highest = stamp.i
  }

  /** The index the next stamp gets. */
  get next(): number {
    return this.#next
  }

  /** The highest index among the stamps in the document (-1 when there are none). */
  get highest(): number {
    return this.#highest
  }

  /** Stamps anything still unstamped (e.g. after loading a store written without a sequencer). */
  stampPending(): void {
    const missing: string[] = []
    this.#doc.messages.forEach((_m, id) => {
      if (!this.#doc.stamps.has(id)) missing.push(id)
    })
    if (missing.length > 0) this.#stamp(missing)
  }

  #stamp(ids: string[]): void {
    const { messages, stamps } = this.#doc
    const records = ids
      .map((id) => messages.get(id))
      .filter((m) => m !== undefined)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    if (records.length === 0) return
    const t = this.#now()
    this.#doc.doc.transact(() => {
      this.#beforeStamp?.()
      for (const m of records) {
        if (stamps.has(m.id)) continue
        const i = this.#next++
        const stamp: StampRecord = this.#sign ? { i, t, ...this.#sign(m, i, t) } : { i, t }
        stamps.set(m.id, stamp)
      }
    }, SEQUENCER_ORIGIN)
  }

  /** Stops watching the document. */
  destroy(): void {
    this.#doc.messages.unobserve(this.#observer)
    this.#doc.stamps.unobserve(this.#stampObserver)
  }
}
