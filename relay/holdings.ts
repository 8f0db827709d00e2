/**
 * Which documents each identity's connections are subscribed to, each counted once however many
 * of its connections hold it: the relay's documents-per-identity limit counts these, so 20
 * connections of one account cannot hold 20 times what one may.
 */
export class IdentityHoldings<D> {
  /** Per identity, per document, how many of its connections are subscribed to it. */
  readonly #held = new Map<string, Map<D, number>>()

  /** One more connection of `identity` is subscribed to `doc`. */
  add(identity: string, doc: D): void {
    let held = this.#held.get(identity)
    if (!held) {
      held = new Map()
      this.#held.set(identity, held)
    }
    held.set(doc, (held.get(doc) ?? 0) + 1)
  }

  /** One connection of `identity` left `doc`. */
  remove(identity: string, doc: D): void {
    const held = this.#held.get(identity)
    const n = held?.get(doc)
    if (!held || n === undefined) return
    if (n > 1) held.set(doc, n - 1)
    else {
      held.delete(doc)
      if (held.size === 0) this.#held.delete(identity)
    }
  }

  /** Distinct documents `identity` holds. */
  count(identity: string): number {
    return this.#held.get(identity)?.size ?? 0
  }

  /** Whether some connection of `identity` holds `doc`. */
  holds(identity: string, doc: D): boolean {
    return this.#held.get(identity)?.has(doc) ?? false
  }

  clear(): void {
    this.#held.clear()
  }
}
