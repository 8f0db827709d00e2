/**
 * Shared helpers of the sync tests: peers on an in-process network, replica views read through the
 * public API, and a watch that fails as soon as any message's index changes once observed.
 */
import { expect } from 'vitest'
import { Client, type Conversation, createMemoryStorage, type Message, type StorageAdapter } from '../../src/index.js'
import type { TestLink, TestNetwork } from '../../src/testing/index.js'

/** One client (one device) on the test network. */
export interface Peer {
  /** Label used in assertions, e.g. `alice` or `alice#2`. */
  name: string
  identity: string
  client: Client
  link: TestLink
  storage: StorageAdapter
  /** Every `error` event the client emitted (a refused update, a failed write), across restarts. */
  errors: unknown[]
}

export interface StartOptions {
  storage?: StorageAdapter
  /** Reconnect only when the network says the relay is reachable (no timer-driven retries). */
  noTimers?: boolean
  now?: () => number
}

/** Starts a client on `net`, on its own (kept) storage so it can be restarted from it. */
export const startPeer = async (
  net: TestNetwork,
  name: string,
  identity: string,
  options: StartOptions = {},
): Promise<Peer> => {
  const storage = options.storage ?? createMemoryStorage()
  const link = net.link(identity)
  const client = await Client.create({
    identity,
    storage,
    transport: link,
    ...(options.now ? { now: options.now } : {}),
    ...(options.noTimers ? { backoff: { baseMs: 3_600_000, maxMs: 3_600_000 } } : {}),
  })
  const errors: unknown[] = []
  client.on('error', (e) => errors.push(e))
  return { name, identity, client, link, storage, errors }
}

/** Shuts a peer's client down and starts it again from the same storage, on a new link. */
export const restartPeer = async (net: TestNetwork, peer: Peer, options: StartOptions = {}): Promise<Peer> => {
  await peer.client.shutdown()
  const next = await startPeer(net, peer.name, peer.identity, { ...options, storage: peer.storage })
  peer.client = next.client
  peer.link = next.link
  next.client.on('error', (e) => peer.errors.push(e))
  return peer
}

/** The conversation `sid` as `peer` sees it (rejects with NOT_FOUND when it does not). */
export const conversationOf = (peer: Peer, sid: string): Promise<Conversation> => peer.client.getConversationBySid(sid)

/** Every message of a conversation, oldest first, read page by page through the public API. */
export const allMessages = async (conv: Conversation): Promise<Message[]> => {
  let page = await conv.getMessages(100)
  const out: Message[] = [...page.items]
  while (page.hasPrevPage) {
    page = await page.prevPage()
    out.unshift(...page.items)
  }
  return out
}

/** What one replica shows, in a form that must be equal on converged replicas. */
export interface ReplicaView {
  messages: Array<{
    id: string
    index: number | null
    author: string
    body: string | null
    attributes: unknown
    reactions: Array<{ emoji: string; users: string[] }>
  }>
  participants: Array<{ key: string; identity: string | null; role: string; access: string }>
  horizons: Record<string, { index: number | null; at: number | null }>
  everyoneReadUntil: number | null
  lastMessageIndex: number | null
  friendlyName: string | null
  attributes: unknown
}

/** Reads a replica through the public API. `identities`: whose read horizons to include. */
export const viewOf = async (conv: Conversation, identities: readonly string[]): Promise<ReplicaView> => {
  const messages = (await allMessages(conv)).map((m) => ({
    id: m.sid,
    index: m.index,
    author: m.author,
    body: m.body,
    attributes: m.attributes,
    reactions: m.reactions.map((r) => ({ emoji: r.emoji, users: [...r.users].sort() })),
  }))
  const participants = (await conv.getParticipants())
    .map((p) => ({ key: p.identity ?? p.sid, identity: p.identity, role: p.role, access: p.access }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const horizons: ReplicaView['horizons'] = {}
  for (const identity of identities) {
    const h = conv._horizon(identity)
    horizons[identity] = { index: h.index, at: h.at }
  }
  return {
    messages,
    participants,
    horizons,
    everyoneReadUntil: conv.everyoneReadUntil,
    lastMessageIndex: conv.lastMessage?.index ?? null,
    friendlyName: conv.friendlyName,
    attributes: conv.attributes,
  }
}

/** The whole conversation document as JSON (every root), for a raw equality check between replicas. */
export const rawDocument = (conv: Conversation): Record<string, unknown> => {
  const d = conv._doc
  return {
    meta: d.meta.toJSON(),
    attributes: d.attributes.toJSON(),
    participants: d.participants.toJSON(),
    prefs: d.prefs.toJSON(),
    reads: d.reads.toJSON(),
    messages: d.messages.toJSON(),
    stamps: d.stamps.toJSON(),
    edits: d.edits.toJSON(),
    reactions: d.reactions.toJSON(),
  }
}

/**
 * Asserts that every peer shows the same conversation: same messages in the same order with the
 * same indices, bodies and reactions, same participants, same read horizons — and the same
 * document underneath. Returns the common view.
 */
export const expectConverged = async (
  peers: readonly Peer[],
  sid: string,
  identities: readonly string[],
): Promise<ReplicaView> => {
  const first = peers[0]!
  const conv0 = await conversationOf(first, sid)
  const view0 = await viewOf(conv0, identities)
  const raw0 = rawDocument(conv0)
  for (const peer of peers.slice(1)) {
    const conv = await conversationOf(peer, sid)
    expect(await viewOf(conv, identities), `${peer.name} shows what ${first.name} shows`).toEqual(view0)
    expect(rawDocument(conv), `${peer.name}'s document equals ${first.name}'s`).toEqual(raw0)
  }
  return view0
}

/** Asserts that a view is fully sequenced: every message has an index, indices strictly increase. */
export const expectSequenced = (view: ReplicaView): void => {
  const indices = view.messages.map((m) => m.index)
  expect(
    indices.every((i) => i !== null),
    'no message is left pending',
  ).toBe(true)
  for (let i = 1; i < indices.length; i++) {
    expect(indices[i]!, 'indices strictly increase along the order').toBeGreaterThan(indices[i - 1]!)
  }
}

/**
 * Remembers the first index observed for every message, on every replica, and records any change:
 * from events as they happen (`messageAdded`, `messageUpdated`) and from explicit `check` scans.
 */
export class IndexWatch {
  readonly seen = new Map<string, number>()
  readonly violations: string[] = []
  readonly #offs: Array<() => void> = []

  /** Starts watching one replica's conversation events. */
  watch(label: string, conv: Conversation): void {
    const note = (m: Message) => this.note(label, m.sid, m.index)
    this.#offs.push(conv.on('messageAdded', note))
    this.#offs.push(conv.on('messageUpdated', ({ message }) => note(message)))
  }

  /** Records one observation. */
  note(label: string, id: string, index: number | null): void {
    if (index === null) return
    const before = this.seen.get(id)
    if (before === undefined) this.seen.set(id, index)
    else if (before !== index) this.violations.push(`${label}: ${id} changed index ${before} → ${index}`)
  }

  /** Scans one replica through the public API. */
  async check(label: string, conv: Conversation): Promise<void> {
    for (const m of await allMessages(conv)) this.note(label, m.sid, m.index)
  }

  /** Asserts no index changed and no two messages share an index. */
  expectStable(): void {
    expect(this.violations, 'no index ever changed once observed').toEqual([])
    const byIndex = new Map<number, string>()
    for (const [id, index] of this.seen) {
      const other = byIndex.get(index)
      expect(other === undefined || other === id, `index ${index} given to ${other} and ${id}`).toBe(true)
      byIndex.set(index, id)
    }
  }

  stop(): void {
    for (const off of this.#offs) off()
    this.#offs.length = 0
  }
}

/** Resolves when `predicate` holds, re-checking after each settle; fails after `rounds` settles. */
export const settleUntil = async (
  net: TestNetwork,
  predicate: () => boolean | Promise<boolean>,
  what: string,
  rounds = 20,
): Promise<void> => {
  for (let i = 0; i < rounds; i++) {
    await net.settle()
    if (await predicate()) return
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Asserts that no client reported an error and the relay had none with nowhere to go. */
export const expectNoErrors = (peers: readonly Peer[], net: TestNetwork): void => {
  for (const p of peers) expect(p.errors, `${p.name} reported no error`).toEqual([])
  expect(net.errors, 'the relay reported no error').toEqual([])
}

/** Shuts every peer down and closes the network, even if some of it fails. */
export const closeAll = async (peers: readonly Peer[], net: TestNetwork | null): Promise<void> => {
  const errors: unknown[] = []
  for (const p of peers) await p.client.shutdown().catch((e: unknown) => errors.push(e))
  if (net) await net.close().catch((e: unknown) => errors.push(e))
  if (errors.length > 0) throw errors[0]
}
