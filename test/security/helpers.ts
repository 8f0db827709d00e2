import { expect } from 'vitest'
import * as Y from 'yjs'
import { createRelay, type Relay, type RelayOptions, signToken } from '../../relay/index.ts'
import { Client, type ClientOptions, type Conversation, type Message } from '../../src/index.ts'
import { ROOTS } from '../../src/schema/layout.ts'
import type { StorageAdapter } from '../../src/storage/adapter.ts'
import { createMemoryStorage } from '../../src/storage/memory.ts'
import { Cleanups } from '../support/cleanup.ts'
import { TcpProxy } from '../support/tcp-proxy.ts'
import { waitFor, waitUntil } from '../support/wait.ts'
import { type Closed, RawClient } from './raw-client.ts'

export const SECRET = 'security-suite-secret-0123456789abcdef-0123'
export const UPDATE_REJECTED = 4422
export const PROTOCOL_ERROR = 4400
export const TOO_BIG = 1009
export const FAST_BACKOFF = { baseMs: 20, maxMs: 200 }
/** Every root a conversation document may hold, the relay's bindings included. */
export const ALL_ROOTS = [...Object.values(ROOTS), 'clients']

export const tokenFor = (identity: string): Promise<string> => signToken({ identity, secret: SECRET })

export { TcpProxy, waitFor, waitUntil }

/** Plain JSON of every root of a document (what a reader of it would see). */
export const contentOf = (doc: Y.Doc): Record<string, Record<string, unknown>> => {
  const out: Record<string, Record<string, unknown>> = {}
  // Every root the document holds (all of them maps in colloquy's documents), none created here.
  for (const root of [...doc.share.keys()].sort()) out[root] = doc.getMap(root).toJSON()
  return out
}

/** The stored document `name`, rebuilt from the store's log. */
export const storedDoc = async (storage: StorageAdapter, name: string): Promise<Y.Doc> => {
  const doc = new Y.Doc()
  for (const u of await storage.load(name)) Y.applyUpdate(doc, u)
  return doc
}

/**
 * Everything a reader can observe of the stored document and of the relay's live copy: content,
 * state vector and delete set. Equal before and after an attack means nothing of it was applied.
 */
export const observedState = async (relay: Relay, storage: StorageAdapter, name: string) => {
  await relay.core.flush()
  const stored = await storedDoc(storage, name)
  const live = (await relay.core._load(name)!).doc
  const describe = (d: Y.Doc) => ({
    content: contentOf(d),
    stateVector: Object.fromEntries([...Y.decodeStateVector(Y.encodeStateVector(d))].sort((a, b) => a[0] - b[0])),
    deleteSet: [...Y.createDeleteSetFromStructStore(d.store).clients]
      .sort((a, b) => a[0] - b[0])
      .map(([client, ranges]) => [client, ranges.map((r) => [r.clock, r.len])]),
  })
  const out = { stored: describe(stored), live: describe(live) }
  stored.destroy()
  return out
}

/** Opens things and closes all of them, newest first. */
export class Scope extends Cleanups {
  /** A relay on a free port; its store is `options.storage` (kept open) or a fresh memory store (closed with it). */
  async relay(options: Partial<RelayOptions> = {}): Promise<{ relay: Relay; storage: StorageAdapter }> {
    const storage = options.storage ?? createMemoryStorage()
    const relay = await createRelay({ auth: { secret: SECRET }, ...options, storage })
    this.defer(async () => {
      await relay.close()
      if (!options.storage) await storage.close()
    })
    await relay.listen(0)
    return { relay, storage }
  }

  async client(identity: string, url: string, options: Partial<ClientOptions> = {}): Promise<Client> {
    const client = await Client.create({
      relayUrl: url,
      token: () => tokenFor(identity),
      backoff: FAST_BACKOFF,
      ...options,
    })
    this.defer(() => client.shutdown())
    return client
  }

  async raw(url: string, identity: string, path = '/'): Promise<RawClient> {
    const c = await RawClient.connect(url, await tokenFor(identity), path)
    this.defer(() => c.close())
    return c
  }

  async proxy(targetPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(targetPort)
    this.defer(() => p.close())
    await p.listen()
    return p
  }
}

/** The honest world of a forgery test: alice (admin, creator) and bob (member) talk through a relay. */
export interface World {
  relay: Relay
  storage: StorageAdapter
  alice: Client
  bob: Client
  conv: Conversation
  bconv: Conversation
  docName: string
  /** alice's first message (sequenced, seen by bob), with bob's 👍 and alice's 🎉 on it. */
  first: Message
}

/**
 * Builds the honest world and adds `mallory` with `malloryAccess` (member, ReadWrite by default).
 * Returns once everything is sequenced, stored and seen by bob.
 */
export const buildWorld = async (
  scope: Scope,
  options: { malloryAccess?: 'Read' | 'ReadWrite'; relay?: Partial<RelayOptions> } = {},
): Promise<World> => {
  const { relay, storage } = await scope.relay(options.relay)
  const alice = await scope.client('alice', relay.url)
  const bob = await scope.client('bob', relay.url)
  const bobAdded = waitFor<Conversation>(bob, 'conversationAdded')
  const conv = await alice.createConversation({ friendlyName: 'team', attributes: { topic: 'plans' }, join: true })
  await conv.add('bob')
  await conv.add('mallory', {}, { access: options.malloryAccess ?? 'ReadWrite' })
  const bconv = await bobAdded
  const bobGets = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'hello from alice')
  const first = await conv.sendMessage('hello from alice')
  const bobsFirst = await bobGets
  await waitUntil(() => first.index !== null && bobsFirst.index !== null, 'the first message is sequenced')
  await bobsFirst.react('👍')
  await first.react('🎉')
  await conv.setUserNotificationLevel('muted')
  await conv.advanceLastReadMessageIndex(first.index!)
  await waitUntil(
    () => first.reactions.length === 2 && bobsFirst.reactions.length === 2,
    'both reactions reached both sides',
  )
  await waitUntil(
    async () => (await bconv.getParticipantByIdentity('alice')).lastReadMessageIndex === first.index,
    'bob sees alice’s read horizon',
  )
  await waitUntil(() => bconv._doc.participants.has('mallory'), 'bob sees mallory')
  await relay.core.flush()
  return { relay, storage, alice, bob, conv, bconv, docName: `conv/${conv.sid}`, first }
}

/** Mallory's raw connection with the conversation synced into her replica. */
export const malloryIn = async (scope: Scope, w: World, identity = 'mallory'): Promise<RawClient> => {
  const m = await scope.raw(w.relay.url, identity)
  await m.sync(w.docName)
  return m
}

/** The clientID the relay bound to `identity` in a document (the first one found). */
export const boundClientOf = (doc: Y.Doc, identity: string): number => {
  for (const [client, who] of doc.getMap<string>('clients')) if (who === identity) return Number(client)
  throw new Error(`no clientID bound to ${identity}`)
}

/** The relay still serves: alice sends, bob receives it (sequenced). */
export const assertStillServes = async (w: World, body: string): Promise<void> => {
  const bobGets = waitFor<Message>(w.bconv, 'messageAdded', (m) => m.body === body)
  const sent = await w.conv.sendMessage(body)
  const got = await bobGets
  await waitUntil(() => sent.index !== null && got.index !== null, `“${body}” is sequenced on both sides`)
}

/**
 * The full check of one forgery: mallory's update is refused with 4422 naming `rule`, nothing of it
 * is stored or live on the relay, the relay still serves, and `absent` holds on every honest view
 * of the conversation (the store, alice's replica, bob's replica).
 */
export const expectRefused = async (
  w: World,
  mallory: RawClient,
  send: () => void,
  rule: string,
  options: {
    absent?: (doc: Y.Doc) => boolean
    docName?: string
    /** What must not change (default: everything observable). Inboxes change on the relay's own timer. */
    project?: (state: Awaited<ReturnType<typeof observedState>>) => unknown
  } = {},
): Promise<Closed> => {
  const docName = options.docName ?? w.docName
  const project = options.project ?? ((x) => x)
  const before = project(await observedState(w.relay, w.storage, docName))
  const rejectedBefore = w.relay.metrics.rejections.get('update_rejected') ?? 0
  send()
  const closed = await mallory.waitClosed()
  expect(closed.code).toBe(UPDATE_REJECTED)
  expect(closed.reason.startsWith(`${docName}: `)).toBe(true)
  expect(closed.reason).toContain(rule)
  expect(w.relay.metrics.rejections.get('update_rejected')).toBe(rejectedBefore + 1)
  const after = project(await observedState(w.relay, w.storage, docName))
  expect(after).toEqual(before)
  await assertStillServes(w, `still serving after: ${rule}`)
  if (options.absent) {
    const absent = options.absent
    const stored = await storedDoc(w.storage, w.docName)
    try {
      expect(absent(stored), 'the forged change is absent from the store').toBe(true)
      expect(absent(w.conv._doc.doc), 'alice never saw the forged change').toBe(true)
      expect(absent(w.bconv._doc.doc), 'bob never saw the forged change').toBe(true)
    } finally {
      stored.destroy()
    }
  }
  return closed
}
