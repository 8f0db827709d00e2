import type * as Y from 'yjs'
import type { ConversationDocument, MessageRecord, StampRecord } from './layout.ts'

/** Position of a message in the conversation's order. */
export interface LogEntry {
  id: string
  /** The sequencer's index; null while pending. */
  index: number | null
}

/**
 * The conversation's message order, kept incrementally: sequenced messages by index, then pending
 * ones by their author's clock and id. Every replica derives the same order from the same
 * document. Updates cost O(log n) for appends at the end (the common case), never O(document).
 */
export class MessageLog {
  readonly #doc: ConversationDocument
  /** Sequenced ids sorted by index, and their indices alongside. */
  readonly #ids: string[] = []
  readonly #indices: number[] = []
  /** Pending ids sorted by (createdAt, id). */
  readonly #pending: string[] = []
  readonly #onMessages: (event: Y.YMapEvent<MessageRecord>) => void
  readonly #onStamps: (event: Y.YMapEvent<StampRecord>) => void

  constructor(doc: ConversationDocument) {
    this.#doc = doc
    const stamped: Array<[number, string]> = []
    doc.messages.forEach((_m, id) => {
      const s = doc.stamps.get(id)
      if (s) stamped.push([s.i, id])
      else this.#insertPending(id)
    })
    stamped.sort((a, b) => a[0] - b[0])
    for (const [i, id] of stamped) {
      this.#ids.push(id)
      this.#indices.push(i)
    }
    this.#onMessages = (event) => {
      for (const [id, change] of event.changes.keys) {
        if (change.action === 'delete') this.#remove(id)
        else if (change.action === 'add') {
          const s = doc.stamps.get(id)
          if (s) this.#insertStamped(id, s.i)
          else this.#insertPending(id)
        }
      }
    }
    this.#onStamps = (event) => {
      for (const [id, change] of event.changes.keys) {
        if (change.action !== 'add' || !doc.messages.has(id)) continue
        const s = doc.stamps.get(id)
        if (!s) continue
        this.#removePending(id)
        this.#insertStamped(id, s.i)
      }
    }
    doc.messages.observe(this.#onMessages)
    doc.stamps.observe(this.#onStamps)
  }

  /** Number of messages, sequenced and pending. */
  get length(): number {
    return this.#ids.length + this.#pending.length
  }

  /** Number of sequenced messages. */
  get sequencedLength(): number {
    return this.#ids.length
  }

  /** The entry at position `pos` (0 = oldest), or undefined. */
  at(pos: number): LogEntry | undefined {
    if (pos < 0) return undefined
    if (pos < this.#ids.length) return { id: this.#ids[pos]!, index: this.#indices[pos]! }
    const id = this.#pending[pos - this.#ids.length]
    return id === undefined ? undefined : { id, index: null }
  }

  /** Position of a message id, or -1. */
  positionOf(id: string): number {
    const s = this.#doc.stamps.get(id)
    if (s) {
      const pos = this.#lowerBound(s.i)
      return this.#ids[pos] === id ? pos : -1
    }
    const p = this.#pending.indexOf(id)
    return p === -1 ? -1 : this.#ids.length + p
  }

  /** Position of the first sequenced message with index ≥ `index` (length of sequenced part if none). */
  lowerBound(index: number): number {
    return this.#lowerBound(index)
  }

  /** Index of the newest sequenced message, or null. */
  get lastIndex(): number | null {
    return this.#indices.length === 0 ? null : this.#indices[this.#indices.length - 1]!
  }

  /** Sequenced entries with index > `index` (all when null), oldest first. */
  *after(index: number | null): IterableIterator<LogEntry> {
    const start = index === null ? 0 : this.#lowerBound(index + 1)
    for (let p = start; p < this.#ids.length; p++) yield { id: this.#ids[p]!, index: this.#indices[p]! }
  }

  /** Pending message ids, in order. */
  pendingIds(): readonly string[] {
    return this.#pending
  }

  destroy(): void {
    this.#doc.messages.unobserve(this.#onMessages)
    this.#doc.stamps.unobserve(this.#onStamps)
  }

  #lowerBound(index: number): number {
    let lo = 0
    let hi = this.#indices.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#indices[mid]! < index) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  #insertStamped(id: string, index: number): void {
    const n = this.#indices.length
    if (n === 0 || this.#indices[n - 1]! < index) {
      this.#ids.push(id)
      this.#indices.push(index)
      return
    }
    const pos = this.#lowerBound(index)
    if (this.#ids[pos] === id) return
    this.#ids.splice(pos, 0, id)
    this.#indices.splice(pos, 0, index)
  }

  #pendingKey(id: string): [number, string] {
    return [this.#doc.messages.get(id)?.createdAt ?? 0, id]
  }

  #insertPending(id: string): void {
    const [t, _] = this.#pendingKey(id)
    let pos = this.#pending.length
    while (pos > 0) {
      const [pt, pid] = this.#pendingKey(this.#pending[pos - 1]!)
      if (pt < t || (pt === t && pid < id)) break
      pos--
    }
    if (this.#pending[pos] !== id) this.#pending.splice(pos, 0, id)
  }

  #removePending(id: string): void {
    const p = this.#pending.indexOf(id)
    if (p !== -1) this.#pending.splice(p, 1)
  }

  #remove(id: string): void {
    const s = this.#doc.stamps.get(id)
    if (s) {
      const pos = this.#lowerBound(s.i)
      if (this.#ids[pos] === id) {
        this.#ids.splice(pos, 1)
        this.#indices.splice(pos, 1)
        return
      }
    }
    this.#removePending(id)
  }
}
