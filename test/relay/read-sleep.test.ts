/**
 * A conversation the relay loads only to answer a client's first sync goes back to sleep as soon
 * as it has answered, and the client's reply that changes nothing (its delete set included) neither
 * wakes it nor writes anything: a user who opens the app with a thousand conversations leaves a
 * thousand sleeping records on the relay, not a thousand Y.Docs, and no writes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CLIENTS_ROOT, RELAY_IDENTITY } from '../../relay/validate.ts'
import type { Conversation } from '../../src/index.ts'
import { ROOTS } from '../../src/schema/layout.ts'
import type { StorageAdapter } from '../../src/storage/adapter.ts'
import { createMemoryStorage } from '../../src/storage/memory.ts'
import { listed } from '../support/wait.ts'
import { Harness, messagesOf, waitUntil } from './helpers.ts'

/** The real memory store, counting loads per document. */
const countingLoads = (inner: StorageAdapter): { storage: StorageAdapter; loads: Map<string, number> } => {
  const loads = new Map<string, number>()
  const storage: StorageAdapter = {
    load: (name) => {
      loads.set(name, (loads.get(name) ?? 0) + 1)
      return inner.load(name)
    },
    append: (name, update) => inner.append(name, update),
    compact: (name, state, count) => inner.compact(name, state, count),
    list: (prefix) => inner.list(prefix),
    remove: (name) => inner.remove(name),
    close: () => inner.close(),
  }
  return { storage, loads }
}

describe('relay: documents opened only to be read', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('go back to sleep once answered; a reply that changes nothing neither wakes them nor writes', async () => {
    const inner = createMemoryStorage()
    const { storage, loads } = countingLoads(inner)
    // Documents fall asleep by themselves only after a minute here: whatever sleeps sooner, the
    // read path put to sleep.
    const relay = await h.relay({ storage, sleepAfterMs: 60_000, idleUnloadMs: 20 })

    // History with deletions (an edit overwrites, a removal deletes), so every replica's delete
    // set is non-empty and a reconnecting client's reply carries it.
    const alice = await h.client('alice', { relayUrl: relay.url })
    const conv = await alice.createConversation({ join: true, friendlyName: 'history' })
    await conv.add('bob')
    const first = await conv.sendMessage('first')
    const second = await conv.sendMessage('second')
    await first.updateBody('first, edited')
    await second.remove()
    await waitUntil(() => first.index !== null, 'the first message is sequenced')
    await alice.shutdown()
    await waitUntil(
      () => relay.core.loadedDocuments === 0 && relay.core.sleepingDocuments === 0,
      'the relay unloads everything once alice has left',
    )
    const name = `conv/${conv.sid}`
    const stored = (await inner.load(name)).length
    loads.clear()

    // Bob's device connects through a proxy it can be cut from.
    const proxy = await h.proxy(relay.port)
    const bob = await h.client('bob', { relayUrl: proxy.url })
    const bconv = await new Promise<Conversation>((resolve) => {
      bob.on('conversationAdded', (c: Conversation) => {
        if (c.sid === conv.sid) resolve(c)
      })
    })
    await bob.whenSynced()
    expect((await messagesOf(bconv)).map((m) => m.body)).toEqual(['first, edited'])
    await waitUntil(() => relay.core._isAsleep(name), 'the conversation sleeps once it has answered')

    // Bob's frames are handled in order: once his profile change is stored, his reply to the
    // relay's sync step 1 has been handled too.
    const barrier = async (what: string) => {
      const before = (await inner.load('user/bob')).length
      await bob.user.updateFriendlyName(`Bob ${what}`)
      await waitUntil(async () => (await inner.load('user/bob')).length > before, `bob's profile is stored (${what})`)
    }
    await barrier('first sync')
    expect(relay.core._isAsleep(name)).toBe(true)
    expect(loads.get(name)).toBe(1)
    expect((await inner.load(name)).length).toBe(stored)

    // A reconnect: the relay wakes the conversation to answer bob's state vector, sleeps again,
    // and bob's reply (his whole delete set, all known) does not wake it.
    proxy.cut()
    proxy.restore()
    await waitUntil(() => loads.get(name) === 2, 'the reconnect loads the conversation to answer it')
    await bob.whenSynced()
    await barrier('reconnect')
    expect(relay.core._isAsleep(name)).toBe(true)
    expect(loads.get(name)).toBe(2)
    expect((await inner.load(name)).length).toBe(stored)

    // A real change wakes it: bob's message is sequenced after alice's and stored.
    const reply = await bconv.sendMessage('back')
    await waitUntil(() => reply.index !== null, "bob's message is sequenced")
    expect(reply.index!).toBeGreaterThan(first.index!)
    expect(relay.core._isAsleep(name)).toBe(false)
    expect((await inner.load(name)).length).toBeGreaterThan(stored)
    const alice2 = await h.client('alice', { relayUrl: relay.url })
    const aconv = await listed(alice2, conv.sid, "alice's new device learns the conversation")
    await waitUntil(
      async () => (await messagesOf(aconv)).some((m) => m.body === 'back' && m.index === reply.index),
      "alice's new device sees bob's message",
    )

    // Every stamp in the store was written under a clientID bound to the relay, each load's own:
    // the binding travels with the first stamps of that load (the read-only loads bound nothing).
    await relay.core.flush()
    const stored2 = new Y.Doc()
    for (const u of await inner.load(name)) Y.applyUpdate(stored2, u)
    const stamps = stored2.getMap(ROOTS.stamps) as unknown as { _map: Map<string, Y.Item> }
    const bindings = stored2.getMap<string>(CLIENTS_ROOT)
    const writers = new Set([...stamps._map.values()].map((item) => item.id.client))
    expect(writers.size).toBe(2) // alice's session, then the load that sequenced bob's reply
    for (const client of writers) expect(bindings.get(String(client))).toBe(RELAY_IDENTITY)
    const relayBound = [...bindings.entries()].filter(([, who]) => who === RELAY_IDENTITY)
    expect(relayBound.length).toBe(2)
  })
})
