/**
 * Persist before anyone sees it: a stamp must never reach a client before it is stored. The store
 * here is a real SQLite store behind a gate the test opens one write at a time (a slow disk), so
 * the order of "stored" and "sent" can be checked exactly.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { ConversationDocument } from '../../src/schema/layout.ts'
import type { StorageAdapter } from '../../src/storage/adapter.ts'
import { createSqliteStorage } from '../../src/storage/sqlite.ts'
import { MessageType } from '../../src/sync/protocol.ts'
import {
  applySyncFrames,
  authenticatedRaw,
  frameInfo,
  Harness,
  sharedConversation,
  syncStep1Frame,
  waitUntil,
} from './helpers.ts'

/** SQLite, with conversation writes held while `gated` until released one by one. */
class GatedStorage implements StorageAdapter {
  readonly inner = createSqliteStorage({ path: ':memory:' })
  gated = false
  readonly held: Array<() => void> = []

  load(docName: string) {
    return this.inner.load(docName)
  }
  async append(docName: string, update: Uint8Array) {
    if (this.gated && docName.startsWith('conv/')) await new Promise<void>((resolve) => this.held.push(resolve))
    return this.inner.append(docName, update)
  }
  compact(docName: string, state: Uint8Array, count: number) {
    return this.inner.compact(docName, state, count)
  }
  list(prefix?: string) {
    return this.inner.list(prefix)
  }
  remove(docName: string) {
    return this.inner.remove(docName)
  }
  close() {
    return this.inner.close()
  }
  openAll(): void {
    this.gated = false
    for (const release of this.held.splice(0)) release()
  }
}

const stampsOf = (doc: Y.Doc): Map<string, number> => {
  const out = new Map<string, number>()
  new ConversationDocument(doc).stamps.forEach((s, id) => {
    out.set(id, s.i)
  })
  return out
}

describe('relay: persist before broadcast', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('a sync answer never carries a stamp that is not stored yet', async () => {
    const storage = new GatedStorage()
    h.defer(() => storage.close())
    const relay = await h.relay({ storage })
    h.defer(() => storage.openAll())
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: relay.url })
    const { conv } = await sharedConversation(alice, bob)
    const m1 = await conv.sendMessage('m1')
    await waitUntil(() => m1.index !== null, 'm1 is sequenced')
    const docName = `conv/${conv.sid}`
    const live = (await relay.core._load(docName))!

    const raw = await authenticatedRaw(h, relay, 'bob')
    storage.gated = true

    // m2 is applied and stamped in memory; its write (message and stamp, merged) waits on the slow disk.
    const m2 = await conv.sendMessage('m2')
    await waitUntil(() => storage.held.length === 1 && live.conv!.stamps.has(m2.sid), 'm2 stamped, its write held')

    // Bob asks for the document now: the relay must wait for m2 to be stored before answering.
    const received = relay.metrics.framesReceived
    raw.send(syncStep1Frame(docName))
    await waitUntil(() => relay.metrics.framesReceived > received, 'the relay received the step 1')
    await new Promise((r) => setImmediate(r))

    // Meanwhile m3 arrives and is stamped in memory.
    const m3 = await conv.sendMessage('m3')
    await waitUntil(() => live.conv!.stamps.has(m3.sid), 'm3 stamped in memory')

    // The disk completes m2's write, and nothing more.
    const answer = raw.next((f) => frameInfo(f)?.docName === docName && frameInfo(f)?.type === MessageType.sync)
    await waitUntil(() => storage.held.length > 0, 'a held write')
    storage.held.shift()!()
    await answer
    await waitUntil(() => storage.held.length > 0, 'm3’s write is held')

    const bobs = new Y.Doc()
    applySyncFrames(raw.frames, docName, bobs)
    const stored = new Y.Doc()
    for (const u of await storage.inner.load(docName)) Y.applyUpdate(stored, u)
    const seen = stampsOf(bobs)
    const durable = stampsOf(stored)
    expect(seen.get(m2.sid)).toBe(durable.get(m2.sid))
    for (const [id, index] of seen)
      expect(durable.get(id), `stamp ${index} of ${id} reached bob before it was stored`).toBe(index)

    // Once the disk catches up, everything flows.
    storage.openAll()
    await waitUntil(() => {
      const d = new Y.Doc()
      applySyncFrames(raw.frames, docName, d)
      return stampsOf(d).has(m3.sid)
    }, 'bob receives m3 once it is stored')
  })
})
