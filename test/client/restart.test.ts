/**
 * Restart from storage: everything a client wrote is back after `shutdown()` and a new
 * `Client.create` on the same store — SQLite on a real file, and IndexedDB (fake-indexeddb) —
 * including messages still pending because the link was down, which are delivered once it heals.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { IDBFactory } from 'fake-indexeddb'
import { describe, expect, it } from 'vitest'
import { Client, type StorageAdapter } from '../../src/index.js'
import { createIndexedDbStorage } from '../../src/storage/indexeddb.js'
import { createSqliteStorage } from '../../src/storage/sqlite.js'
import { manualClock, useHarness } from './helpers.js'

const h = useHarness()

interface Backend {
  name: string
  /** Opens the same store again (a new adapter, as a restarted process would). */
  open(): StorageAdapter
}

const sqlite = (): Backend => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colloquy-restart-'))
  h.defer(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'client.sqlite')
  return { name: 'sqlite', open: () => createSqliteStorage({ path: file }) }
}

const indexedDb = (): Backend => {
  const factory = new IDBFactory()
  return { name: 'indexeddb', open: () => createIndexedDbStorage({ indexedDB: factory }) }
}

/** Opens a store and closes it after the test (the client never closes a store it was given). */
const openStore = (backend: Backend): StorageAdapter => {
  const store = backend.open()
  h.defer(() => store.close())
  return store
}

describe.each([
  ['SQLite file', sqlite],
  ['IndexedDB', indexedDb],
])('restart on %s', (_name, makeBackend) => {
  it('brings back conversations, messages, participants, read state and my profile', async () => {
    const backend = makeBackend()
    const store = openStore(backend)
    const clock = manualClock(10_000)
    const first = await Client.create({ identity: 'alice', storage: store, now: clock.now })
    await first.user.updateFriendlyName('Alice')
    const team = await first.createConversation({
      friendlyName: 'Team',
      uniqueName: 'team',
      attributes: { topic: 'x' },
      welcomeMessages: ['hi all'],
      join: true,
    })
    clock.advance()
    const hosted = await first.createConversation({ friendlyName: 'Hosted' })
    await team.add('bob', { title: 'eng' }, { role: 'moderator' })
    await team.addNonChatParticipant('+1000', '+2000')
    await hosted.add('carol')
    clock.advance()
    const m0 = await team.sendMessage('first')
    clock.advance()
    const m1 = await team.sendMessage({ body: 'second', referencedMessage: m0.sid, attributes: { k: 1 } })
    clock.advance()
    await team.sendMessage({ content: [{ type: 'location', latitude: 1, longitude: 2 }] })
    await m0.react('👍')
    await m1.updateBody('second (edited)')
    await team.updateLastReadMessageIndex(1)
    await team.setUserNotificationLevel('muted')
    await team.markAsUnread()
    await first.shutdown()
    // The client did not close a store it was given.
    await expect(store.list()).resolves.toEqual(expect.any(Array))

    const second = await h.client('alice', { storage: store, now: clock.now })
    expect(second.user.friendlyName).toBe('Alice')
    const page = await second.getSubscribedConversations()
    expect(page.items.map((c) => c.friendlyName)).toEqual(['Team', 'Hosted'])
    const again = await second.getConversationByUniqueName('team')
    expect(again.sid).toBe(team.sid)
    expect(again.attributes).toEqual({ topic: 'x' })
    expect(again.welcomeMessages).toEqual(['hi all'])
    expect(again.status).toBe('joined')
    const messages = (await again.getMessages()).items
    expect(messages.map((m) => [m.index, m.body, m.type])).toEqual([
      [0, 'first', 'text'],
      [1, 'second (edited)', 'text'],
      [2, null, 'media'],
    ])
    expect(messages[0]!.reactions).toEqual([{ emoji: '👍', count: 1, currentUserReacted: true, users: ['alice'] }])
    expect(messages[1]!.attributes).toEqual({ k: 1 })
    expect(messages[1]!.referencedMessageSid).toBe(m0.sid)
    expect((await messages[1]!.getReferencedMessage())!.sid).toBe(m0.sid)
    expect(again.lastReadMessageIndex).toBe(1)
    expect(again.notificationLevel).toBe('muted')
    expect(again.isUnread).toBe(true)
    const people = await again.getParticipants()
    expect(people.map((p) => p.key).sort()).toEqual(['alice', 'bob', 'sms:+2000'])
    const bob = await again.getParticipantByIdentity('bob')
    expect([bob.role, bob.attributes]).toEqual(['moderator', { title: 'eng' }])
    const hostedAgain = await second.getConversationBySid(hosted.sid)
    expect(hostedAgain.status).toBe('notParticipating')
    expect((await hostedAgain.getParticipants()).map((p) => p.identity)).toEqual(['carol'])
    // And it keeps working: the next index follows on.
    expect((await again.sendMessage('after restart')).index).toBe(3)
  })

  it('does not bring back what was deleted or left', async () => {
    const backend = makeBackend()
    const store = openStore(backend)
    const first = await Client.create({ identity: 'alice', storage: store })
    const gone = await first.createConversation({ friendlyName: 'gone', join: true })
    const left = await first.createConversation({ friendlyName: 'left', join: true })
    const kept = await first.createConversation({ friendlyName: 'kept', join: true })
    const m = await kept.sendMessage('removed message')
    await kept.sendMessage('kept message')
    await m.remove()
    await gone.delete()
    await left.sendMessage('said before leaving')
    await left.leave()
    await first.shutdown()

    const second = await h.client('alice', { storage: store })
    const page = await second.getSubscribedConversations()
    expect(page.items.map((c) => c.friendlyName)).toEqual(['kept'])
    const keptAgain = page.items[0]!
    expect(keptAgain.status).toBe('joined')
    expect((await keptAgain.getMessages()).items.map((x) => x.body)).toEqual(['kept message'])
  })

  it('survives a fresh adapter on the same store (a new process)', async () => {
    const backend = makeBackend()
    const store = backend.open()
    const first = await Client.create({ identity: 'alice', storage: store })
    const conv = await first.createConversation({ friendlyName: 'durable', join: true })
    await conv.sendMessage('still here')
    await first.shutdown()
    await store.close()

    const second = await h.client('alice', { storage: openStore(backend) })
    const again = await second.getConversationBySid(conv.sid)
    expect((await again.getMessages()).items.map((m) => m.body)).toEqual(['still here'])
  })

  it('keeps pending messages across a restart and delivers them once the link heals', async () => {
    const backend = makeBackend()
    const store = openStore(backend)
    const net = h.network()
    const firstLink = net.link('alice')
    const first = await Client.create({ identity: 'alice', storage: store, transport: firstLink })
    const bobClient = await h.client('bob', { transport: net.link('bob') })
    const conv = await first.createConversation({ friendlyName: 'offline', join: true })
    await conv.add('bob')
    await conv.sendMessage('delivered before')
    await net.settle()
    const bob = await bobClient.getConversationBySid(conv.sid)
    await bob.sendMessage('hello alice')
    await net.settle()
    await conv.updateLastReadMessageIndex(1)
    await net.settle()
    expect(first.connectionState).toBe('connected')

    // Go offline and write.
    firstLink.partition()
    const p1 = await conv.sendMessage('pending 1')
    const p2 = await conv.sendMessage({ body: 'pending 2', attributes: { n: 2 } })
    await net.settle()
    expect([p1.index, p2.index, p1.status]).toEqual([null, null, 'pending'])
    await first.shutdown()

    // Restart, still offline: everything is back, the two messages still pending.
    const link = net.link('alice')
    link.partition()
    const restarted = await h.client('alice', { storage: store, transport: link })
    const again = await restarted.getConversationBySid(conv.sid)
    const items = (await again.getMessages()).items
    expect(items.map((m) => [m.body, m.index, m.status])).toEqual([
      ['delivered before', 0, 'sent'],
      // bob's message, read by alice before the restart.
      ['hello alice', 1, 'read'],
      ['pending 1', null, 'pending'],
      ['pending 2', null, 'pending'],
    ])
    expect(items[3]!.attributes).toEqual({ n: 2 })
    expect(again.lastReadMessageIndex).toBe(1)
    expect((await again.getParticipants()).map((p) => p.identity).sort()).toEqual(['alice', 'bob'])
    await net.settle()
    expect(items[2]!.index).toBeNull()
    expect((await bob.getMessages()).items).toHaveLength(2)

    // Heal: the relay sequences them in the order they were written, and bob gets them.
    link.heal()
    await net.settle()
    expect(items.map((m) => m.index)).toEqual([0, 1, 2, 3])
    expect(items[3]!.status).toBe('sent')
    expect((await bob.getMessages()).items.map((m) => [m.index, m.body])).toEqual([
      [0, 'delivered before'],
      [1, 'hello alice'],
      [2, 'pending 1'],
      [3, 'pending 2'],
    ])
  })
})
