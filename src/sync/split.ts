import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { ColloquyError } from '../errors.ts'

type Struct = Y.Item | Y.GC | Y.Skip
type Range = { clock: number; len: number }

/** Bytes a client's header may take in an update: struct count, clientID and first clock. */
const CLIENT_HEADER_BYTES = 24
/** Bytes of the update's own counts (clients, delete-set clients). */
const UPDATE_HEADER_BYTES = 16
/** Bytes one delete range may take (clock and length), and a delete-set client's header. */
const RANGE_BYTES = 16

/** A struct too large for one frame: it cannot be sent to this relay at all. */
export class UpdateTooLargeError extends ColloquyError {
  constructor(bytes: number, maxBytes: number) {
    super(
      'LIMIT_EXCEEDED',
      `a change of ${bytes} bytes cannot be sent: the relay accepts updates of at most ${maxBytes} bytes`,
    )
    this.name = 'ColloquyError'
  }
}

const sizeOf = (struct: Struct): number => {
  const encoder = new Y.UpdateEncoderV1()
  struct.write(encoder, 0)
  return encoder.toUint8Array().byteLength
}

/** The ids an item needs on the receiving side before it can be integrated. */
const dependencies = (struct: Struct): Y.ID[] => {
  if (!(struct instanceof Y.Item)) return []
  const out: Y.ID[] = []
  if (struct.origin) out.push(struct.origin)
  if (struct.rightOrigin) out.push(struct.rightOrigin)
  // A decoded item's parent is a root's name or the id of the item holding its type.
  const parent = struct.parent as unknown
  if (parent instanceof Y.ID) out.push(parent)
  return out
}

interface ClientRun {
  client: number
  structs: Struct[]
  sizes: number[]
  /** Index of the next struct to place in a part. */
  next: number
}

/** A part: per client, the structs `[from, to)` of its run. */
type Part = Map<ClientRun, { from: number; to: number }>

const encodePart = (part: Part, deletes: Array<[number, Range[]]>): Uint8Array => {
  const encoder = new Y.UpdateEncoderV1()
  // Higher client ids first, as Yjs writes them.
  const runs = [...part].sort((a, b) => b[0].client - a[0].client)
  encoding.writeVarUint(encoder.restEncoder, runs.length)
  for (const [run, { from, to }] of runs) {
    encoding.writeVarUint(encoder.restEncoder, to - from)
    encoder.writeClient(run.client)
    encoding.writeVarUint(encoder.restEncoder, run.structs[from]!.id.clock)
    for (let i = from; i < to; i++) run.structs[i]!.write(encoder, 0)
  }
  encoding.writeVarUint(encoder.restEncoder, deletes.length)
  for (const [client, ranges] of deletes) {
    encoder.resetDsCurVal()
    encoding.writeVarUint(encoder.restEncoder, client)
    encoding.writeVarUint(encoder.restEncoder, ranges.length)
    for (const r of ranges) {
      encoder.writeDsClock(r.clock)
      encoder.writeDsLen(r.len)
    }
  }
  return encoder.toUint8Array()
}

/**
 * Splits a Yjs (v1) update into updates of at most `maxBytes` each that, applied in order, have
 * the same effect, and each of which the receiver can integrate in full when it arrives: an item
 * travels in the same part as what it builds on (its origins and parent) or in a later one. So a
 * relay that refuses updates with missing dependencies accepts each part on its own, and a backlog
 * larger than a frame reaches it as several frames instead of being refused as a whole. The
 * deletions go last (they may name items of any part).
 *
 * Clients whose items do not depend on each other go in the order of `rank` (lowest first; by
 * default as the update lists them): a device that restarted while offline wrote under two
 * clientIDs, and the older session's backlog must reach the relay first, to be sequenced first.
 *
 * An update that fits is returned as is. A single struct larger than `maxBytes` (a change no
 * frame can carry) throws `UpdateTooLargeError`.
 */
export const splitUpdate = (update: Uint8Array, maxBytes: number, rank?: (client: number) => number): Uint8Array[] => {
  if (update.byteLength <= maxBytes) return [update]
  const { structs, ds } = Y.decodeUpdate(update) as {
    structs: Struct[]
    ds: { clients: Map<number, Range[]> }
  }
  const byClient = new Map<number, ClientRun>()
  for (const s of structs) {
    let run = byClient.get(s.id.client)
    if (!run) {
      run = { client: s.id.client, structs: [], sizes: [], next: 0 }
      byClient.set(s.id.client, run)
    }
    run.structs.push(s)
  }
  const order = [...byClient.values()]
  if (rank) {
    const ranks = new Map(order.map((run) => [run, rank(run.client)]))
    order.sort((a, b) => ranks.get(a)! - ranks.get(b)! || b.client - a.client)
  }
  const runs = new Map(order.map((run) => [run.client, run]))
  // What of each client the receiver will have once the parts so far arrive, from the update's
  // first clock of that client on (what comes before it, the receiver had already).
  const first = new Map<number, number>()
  const reached = new Map<number, number>()
  for (const run of runs.values()) {
    first.set(run.client, run.structs[0]!.id.clock)
    reached.set(run.client, run.structs[0]!.id.clock)
    run.sizes = run.structs.map(sizeOf)
  }
  const ready = (s: Struct): boolean =>
    dependencies(s).every((id) => {
      const from = first.get(id.client)
      return from === undefined || id.clock < from || id.clock < reached.get(id.client)!
    })

  const budget = maxBytes - UPDATE_HEADER_BYTES
  const parts: Part[] = []
  let remaining = structs.length
  while (remaining > 0) {
    const part: Part = new Map()
    let bytes = 0
    let full = false
    let moved = true
    while (moved && !full) {
      moved = false
      for (const run of runs.values()) {
        while (run.next < run.structs.length) {
          const s = run.structs[run.next]!
          if (!ready(s)) break
          const add = run.sizes[run.next]! + (part.has(run) ? 0 : CLIENT_HEADER_BYTES)
          if (bytes + add > budget) {
            if (part.size === 0) throw new UpdateTooLargeError(run.sizes[run.next]!, maxBytes)
            full = true
            break
          }
          bytes += add
          const span = part.get(run)
          if (span) span.to++
          else part.set(run, { from: run.next, to: run.next + 1 })
          reached.set(run.client, s.id.clock + s.length)
          run.next++
          remaining--
          moved = true
        }
        if (full) break
      }
    }
    if (part.size === 0) {
      // Nothing is ready: a dependency the update names but does not hold past its own start.
      // Cannot happen with updates Yjs encodes; send the rest as it is rather than loop.
      for (const run of runs.values()) {
        if (run.next < run.structs.length) part.set(run, { from: run.next, to: run.structs.length })
        remaining -= run.structs.length - run.next
        run.next = run.structs.length
      }
    }
    parts.push(part)
  }

  // Deletions: in the last part if they fit, else in parts of their own.
  const deleteParts: Array<Array<[number, Range[]]>> = [[]]
  let lastBytes = parts.length > 0 ? encodePart(parts[parts.length - 1]!, []).byteLength : 0
  for (const [client, ranges] of [...ds.clients].sort((a, b) => b[0] - a[0])) {
    let current: Range[] = []
    for (const r of ranges) {
      if (lastBytes + RANGE_BYTES * 2 > budget) {
        if (current.length > 0) deleteParts[deleteParts.length - 1]!.push([client, current])
        deleteParts.push([])
        current = []
        lastBytes = 0
      }
      current.push(r)
      lastBytes += RANGE_BYTES
    }
    if (current.length > 0) deleteParts[deleteParts.length - 1]!.push([client, current])
    lastBytes += RANGE_BYTES
  }
  const out: Uint8Array[] = []
  for (let i = 0; i < parts.length; i++) out.push(encodePart(parts[i]!, i === parts.length - 1 ? deleteParts[0]! : []))
  if (parts.length === 0) out.push(encodePart(new Map(), deleteParts[0]!))
  for (const d of deleteParts.slice(1)) out.push(encodePart(new Map(), d))
  return out
}

/**
 * A `rank` for `splitUpdate` from a map of records that carry their writing time (a conversation's
 * messages): each client ranks by the earliest record it wrote (clients that wrote none, last).
 */
export const rankByRecords = <T>(map: Y.Map<T>, timeOf: (record: T) => number): ((client: number) => number) => {
  const first = new Map<number, number>()
  const items = (map as unknown as { _map: Map<string, Y.Item> })._map
  for (const item of items.values()) {
    if (item.deleted) continue
    const record = item.content.getContent()[0] as T
    const t = timeOf(record)
    if (!Number.isFinite(t)) continue
    const client = item.id.client
    first.set(client, Math.min(first.get(client) ?? Number.POSITIVE_INFINITY, t))
  }
  return (client) => first.get(client) ?? Number.POSITIVE_INFINITY
}
