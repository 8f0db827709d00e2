import type { ConversationDocument, ReadSlot } from './layout.ts'

/**
 * Read horizons. Each writer (Yjs clientID) of a person keeps its own slot, keyed
 * `identity\nclientID`, so concurrent writes from two devices never overwrite each other; the
 * person's horizon is the greatest slot by (epoch, index, at):
 *
 * - `advance` keeps the epoch and only raises the index: concurrent advances merge to their
 *   maximum (a max-register).
 * - `update` (which may go backwards or to null) raises the epoch, so it beats every advance it
 *   saw, last writer wins against the rest.
 *
 * A writer removes the slots it dominates, so a person has one slot at rest. Each slot carries
 * the membership it was written under (`m`, the participant record's `membership`); slots of an
 * earlier membership are ignored, so someone removed and added again starts with nothing read.
 */
export interface ReadHorizon {
  index: number | null
  at: number | null
  epoch: number
}

const EMPTY: ReadHorizon = { index: null, at: null, epoch: 0 }

const greater = (a: ReadSlot, b: ReadHorizon): boolean => {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch
  const ai = a.index ?? -1
  const bi = b.index ?? -1
  if (ai !== bi) return ai > bi
  return a.at > (b.at ?? -1)
}

const slotPrefix = (identity: string): string => `${identity}\n`

/** `identity`'s current membership id, or null when they are not a participant. */
const membershipOf = (doc: ConversationDocument, identity: string): string | null =>
  doc.participants.get(identity)?.membership ?? null

/** Whether a slot belongs to the person's current membership (any slot counts for non-participants). */
const current = (doc: ConversationDocument, identity: string, slot: ReadSlot): boolean => {
  const m = membershipOf(doc, identity)
  return m === null || slot.m === m
}

/** Every read slot, grouped by identity, in one pass over the map. */
export const allHorizons = (doc: ConversationDocument): Map<string, ReadHorizon> => {
  const out = new Map<string, ReadHorizon>()
  doc.reads.forEach((slot, key) => {
    const identity = key.slice(0, key.lastIndexOf('\n'))
    if (!current(doc, identity, slot)) return
    const cur = out.get(identity) ?? EMPTY
    if (greater(slot, cur)) out.set(identity, { index: slot.index, at: slot.at, epoch: slot.epoch })
    else if (!out.has(identity)) out.set(identity, cur)
  })
  return out
}

/** One person's horizon. */
export const horizonOf = (doc: ConversationDocument, identity: string): ReadHorizon => {
  let best = EMPTY
  const prefix = slotPrefix(identity)
  doc.reads.forEach((slot, key) => {
    if (!current(doc, identity, slot)) return
    if (key.startsWith(prefix) && key.indexOf('\n', prefix.length) === -1 && greater(slot, best)) {
      best = { index: slot.index, at: slot.at, epoch: slot.epoch }
    }
  })
  return best
}

const writeSlot = (doc: ConversationDocument, identity: string, slot: ReadSlot): void => {
  const prefix = slotPrefix(identity)
  const own = `${prefix}${doc.doc.clientID}`
  const stale: string[] = []
  doc.reads.forEach((_slot, key) => {
    if (key !== own && key.startsWith(prefix) && key.indexOf('\n', prefix.length) === -1) stale.push(key)
  })
  for (const key of stale) doc.reads.delete(key)
  doc.reads.set(own, slot)
}

/** Moves the horizon forward to `index`; returns false (writing nothing) when it is not ahead. */
export const advanceHorizon = (doc: ConversationDocument, identity: string, index: number, at: number): boolean => {
  const cur = horizonOf(doc, identity)
  if (cur.index !== null && cur.index >= index) return false
  writeSlot(doc, identity, { epoch: cur.epoch, index, at, m: membershipOf(doc, identity) })
  return true
}

/** Sets the horizon to `index` (or null: nothing read), backwards allowed. */
export const setHorizon = (doc: ConversationDocument, identity: string, index: number | null, at: number): void => {
  const cur = horizonOf(doc, identity)
  writeSlot(doc, identity, { epoch: cur.epoch + 1, index, at, m: membershipOf(doc, identity) })
}
