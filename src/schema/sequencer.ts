import type * as Y from 'yjs'
import { ConversationDocument, type MessageRecord, type StampRecord } from './layout.ts'

/** Transaction origin of the sequencer's stamps. */
export const SEQUENCER_ORIGIN = Symbol('colloquy.sequencer')

/**
 * The sequencer: the one place that gives messages their `index`. It watches a conversation
 * document and stamps every message that has no stamp yet with the next index and the current
 * time. Run exactly one per conversation — in the relay, or in-process for relay-less setups and
 * tests. Stamps are never rewritten, so an index never changes once any replica has seen it.
 *
 * A batch that arrives together (say, an offline client's backlog) is stamped in the order its
 * author wrote it (author clock, then id), after everything stamped before.
 */
export class Sequencer {
  readonly #doc: ConversationDocument
  readonly #now: () => number
  #next = 0
  readonly #beforeStamp: (() => void) | undefined
  readonly #observer: (event: Y.YMapEvent<MessageRecord>) => void

  /**
   * `beforeStamp` runs inside each stamping transaction, before the stamps are written (the relay
   * binds its clientID there, so the binding and the first stamps under it are one update).
   */
  constructor(doc: Y.Doc, options: { now?: () => number; beforeStamp?: () => void } = {}) {
    this.#doc = new ConversationDocument(doc)
    this.#now = options.now ?? Date.now
    this.#beforeStamp = options.beforeStamp
    this.#doc.stamps.forEach((stamp) => {
      if (stamp.i >= this.#next) this.#next = stamp.i + 1
    })
    this.#observer = (event) => {
      const added: string[] = []
      for (const [key, change] of event.changes.keys) {
        if (change.action === 'add' && !this.#doc.stamps.has(key)) added.push(key)
      }
      if (added.length > 0) this.#stamp(added)
    }
    this.#doc.messages.observe(this.#observer)
    this.stampPending()
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
        const stamp: StampRecord = { i: this.#next++, t }
        stamps.set(m.id, stamp)
      }
    }, SEQUENCER_ORIGIN)
  }

  /** Stops watching the document. */
  destroy(): void {
    this.#doc.messages.unobserve(this.#observer)
  }
}
