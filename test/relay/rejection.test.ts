/**
 * A refused update refuses one document, not the connection: the relay answers with a `refused`
 * frame naming the document, and the client recovers that document alone while the others go on
 * on the same socket. A document refused again and again is set aside with an error to the app,
 * and no cause makes the client reconnect in a loop.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { Client, type Message } from '../../src/index.ts'
import { createMemoryStorage } from '../../src/storage/memory.ts'
import { MessageType, RefusalCode, readFrame, startFrame } from '../../src/sync/protocol.ts'
import {
  frameAuthedRaw,
  frameInfo,
  Harness,
  sharedConversation,
  syncStep1Frame,
  tokenFor,
  waitFor,
  waitUntil,
} from './helpers.ts'

const refusalOf = (frame: Uint8Array): { docName: string; code: number; reason: string } | null => {
  const decoder = decoding.createDecoder(frame)
  const docName = decoding.readVarString(decoder)
  if (decoding.readVarUint(decoder) !== MessageType.refused) return null
  return { docName, code: decoding.readVarUint(decoder), reason: decoding.readVarString(decoder) }
}

/** A profile update setting `key` (the relay knows `friendlyName`, not `favouriteColour`). */
const profileUpdate = (key: string, value: string): Uint8Array => {
  const doc = new Y.Doc()
  doc.getMap('profile').set(key, value)
  return Y.encodeStateAsUpdate(doc)
}

const updateFrame = (docName: string, update: Uint8Array): Uint8Array => {
  const encoder = startFrame(docName, MessageType.sync)
  syncProtocol.writeUpdate(encoder, update)
  return encoding.toUint8Array(encoder)
}

const rejections = (relay: { metrics: { rejections: Map<string, number> } }) =>
  relay.metrics.rejections.get('update_rejected') ?? 0

/** Every connection state `client` reports from now on. */
const statesOf = (client: Client): string[] => {
  const seen: string[] = []
  client.on('connectionStateChanged', (state: string) => seen.push(state))
  return seen
}

describe('relay: a refused update refuses one document', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('answers with a refused frame, keeps the socket, drops the document’s frames until a step 1 starts it over', async () => {
    const relay = await h.relay()
    const raw = await frameAuthedRaw(h, relay, 'mallory')
    raw.send(updateFrame('user/mallory', profileUpdate('favouriteColour', 'red')))
    const frame = await raw.next((f) => refusalOf(f) !== null)
    expect(refusalOf(frame)).toMatchObject({ docName: 'user/mallory', code: RefusalCode.update })
    expect(rejections(relay)).toBe(1)

    // Sent before the client heard of the refusal: dropped, not refused again, not applied.
    raw.send(updateFrame('user/mallory', profileUpdate('friendlyName', 'dropped')))
    // The socket serves other documents meanwhile.
    raw.send(syncStep1Frame('user/someone'))
    await raw.next((f) => frameInfo(f)?.docName === 'user/someone')
    expect(raw.ws.readyState).toBe(raw.ws.OPEN)

    // A step 1 starts the document over: served again, and what it then writes is applied.
    const mark = raw.frames.length
    raw.send(syncStep1Frame('user/mallory'))
    raw.send(updateFrame('user/mallory', profileUpdate('friendlyName', 'Mallory')))
    await raw.next((f) => raw.frames.indexOf(f) >= mark && frameInfo(f)?.docName === 'user/mallory')
    await relay.core.flush()
    const watcher = await frameAuthedRaw(h, relay, 'watcher')
    watcher.send(syncStep1Frame('user/mallory'))
    await watcher.next((f) => frameInfo(f)?.docName === 'user/mallory')
    const copy = new Y.Doc()
    for (const f of watcher.frames) {
      const { docName, type, decoder } = readFrame(f)
      if (docName === 'user/mallory' && type === MessageType.sync)
        syncProtocol.readSyncMessage(decoder, encoding.createEncoder(), copy, null)
    }
    expect(copy.getMap('profile').toJSON()).toEqual({ friendlyName: 'Mallory' })
    expect(rejections(relay)).toBe(1)
  })

  it('a refused update in one conversation: the others flow both ways on the same socket, no reconnect', async () => {
    const relay = await h.relay()
    const proxy = await h.proxy(relay.port)
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: proxy.url })
    const refused = await sharedConversation(alice, bob)
    const other = await sharedConversation(alice, bob)
    await bob.whenSynced()

    // Bob is demoted while offline and writes anyway: the relay refuses that conversation's update.
    proxy.cut()
    await waitUntil(() => bob.connectionState !== 'connected', 'bob is offline')
    await (await refused.conv.getParticipantByIdentity('bob')).updateAccess('Read')
    await refused.bconv.sendMessage('written while read-only')
    const states = statesOf(bob)
    const error = waitFor<{ code: string; conversationSid?: string }>(bob, 'error', (e) => e.code === 'REJECTED')
    proxy.restore()
    expect((await error).conversationSid).toBe(refused.conv.sid)

    // Messages in the other conversation, both ways, on the same socket.
    const atAlice = waitFor<Message>(other.conv, 'messageAdded', (m) => m.body === 'from bob, after')
    const atBob = waitFor<Message>(other.bconv, 'messageAdded', (m) => m.body === 'from alice, after')
    await other.bconv.sendMessage('from bob, after')
    await other.conv.sendMessage('from alice, after')
    await atAlice
    await atBob
    // And the refused conversation is synced again: alice's new messages reach bob.
    const bconv = await bob.getConversationBySid(refused.conv.sid)
    const later = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'after the refusal')
    await refused.conv.sendMessage('after the refusal')
    await later
    expect(rejections(relay)).toBe(1)
    // One reconnect (the proxy came back), none for the refusal.
    expect(states).toEqual(['connecting', 'connected'])
  })

  it('a document refused again and again is set aside with an error; the connection and the rest go on', async () => {
    const relay = await h.relay()
    // Bob's device holds a profile change this relay refuses (say, written by a newer app version).
    const storage = createMemoryStorage()
    await storage.append('user/bob', profileUpdate('favouriteColour', 'red'))
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await Client.create({ relayUrl: relay.url, token: () => tokenFor('bob'), storage })
    h.defer(() => bob.shutdown())
    const states = statesOf(bob)
    const setAside = await waitFor<{ code: string; document?: string; setAside?: boolean }>(
      bob,
      'error',
      (e) => e.setAside === true,
      10_000,
    )
    expect(setAside).toMatchObject({ code: 'REJECTED', document: 'user/bob' })
    const refusals = rejections(relay)
    expect(refusals).toBe(4)

    // The socket stayed open; conversations flow both ways, and the set-aside document is not sent again.
    const { conv, bconv } = await sharedConversation(alice, bob)
    const atBob = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'hi bob')
    const atAlice = waitFor<Message>(conv, 'messageAdded', (m) => m.body === 'hi alice')
    await conv.sendMessage('hi bob')
    await bconv.sendMessage('hi alice')
    await atBob
    await atAlice
    expect(rejections(relay)).toBe(refusals)
    // The one connection of its start (connecting, then connected), and no other state change.
    expect(states.filter((s) => s !== 'connecting' && s !== 'connected')).toEqual([])
    expect(states.length).toBeLessThanOrEqual(2)
    expect(bob.connectionState).toBe('connected')
  })
})

describe('relay: too many documents on one connection', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('refuses the documents beyond the limit one by one (LIMIT_EXCEEDED); the client stays connected with the rest', async () => {
    const relay = await h.relay({ limits: { maxDocumentsPerConnection: 5 } })
    // Alice and carol make three conversations each with bob (five documents each: at the limit).
    const alice = await h.client('alice', { relayUrl: relay.url })
    const carol = await h.client('carol', { relayUrl: relay.url })
    const sids: string[] = []
    for (let i = 0; i < 6; i++) {
      const conv = await (i < 3 ? alice : carol).createConversation({ friendlyName: `c${i}`, join: true })
      await conv.add('bob')
      sids.push(conv.sid)
    }
    // Bob's inbox lists six conversations: with his inbox and profile, eight documents for five places.
    const bob = await Client.create({ relayUrl: relay.url, token: () => tokenFor('bob') })
    h.defer(() => bob.shutdown())
    const limited: Array<{ code: string; document?: string }> = []
    const terminal: unknown[] = []
    bob.on('error', (e: { code: string; document?: string }) => {
      if (e.code === 'LIMIT_EXCEEDED') limited.push(e)
    })
    bob.on('connectionError', (e: unknown) => terminal.push(e))
    await waitUntil(() => limited.length === 3, 'three conversations refused for the limit')
    expect(limited.every((e) => e.document?.startsWith('conv/'))).toBe(true)
    expect(new Set(limited.map((e) => e.document)).size).toBe(3)
    // His own documents were not among them, and the others sync.
    const synced = sids.find((sid) => !limited.some((e) => e.document === `conv/${sid}`))!
    const bconv = await bob.getConversationBySid(synced)
    const conv = await (sids.indexOf(synced) < 3 ? alice : carol).getConversationBySid(synced)
    const atBob = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'within the limit')
    await conv.sendMessage('within the limit')
    await atBob
    expect(bob.connectionState).toBe('connected')
    expect(terminal).toEqual([])
    expect(relay.metrics.rejections.get('documents_per_connection')).toBe(3)
  })
})

describe('client: reconnect backoff', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('a connection closed soon after it opened counts as a failure: the delays grow', async () => {
    // A server that accepts every WebSocket and closes it at once (as a relay refusing a backlog did).
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    h.defer(() => new Promise<void>((resolve) => wss.close(() => resolve())))
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
    const opened: number[] = []
    wss.on('connection', (ws) => {
      opened.push(performance.now())
      ws.close(1011, 'going down again')
    })
    const port = (wss.address() as { port: number }).port
    const client = await Client.create({
      relayUrl: `ws://127.0.0.1:${port}`,
      token: () => tokenFor('alice'),
      // No jitter (the lower bound: half of each delay), so the growth is exact.
      backoff: { baseMs: 40, maxMs: 10_000, random: () => 0, stableMs: 5_000 },
    })
    h.defer(() => client.shutdown())
    await waitUntil(() => opened.length >= 6, 'six connections', 15_000)
    const gaps = opened.slice(1).map((t, i) => t - opened[i]!)
    // Delays of 20, 40, 80, 160, 320 ms: each gap is at least its delay (timers never fire early;
    // connecting adds to them). Reset on every open, they would all be 20 ms.
    for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual(20 * 2 ** i - 2)
  })

  it('a relay that finds every fresh token expired (4403) is retried with growing delays, not in a loop', async () => {
    const relay = await h.relay()
    let fetched = 0
    const client = await Client.create({
      relayUrl: relay.url,
      token: async () => {
        fetched++
        return tokenFor('alice', { expiresInSeconds: -60 })
      },
      backoff: { baseMs: 40, maxMs: 10_000, random: () => 0, stableMs: 5_000 },
    })
    h.defer(() => client.shutdown())
    const started = performance.now()
    const expired = () => relay.metrics.rejections.get('token_expired') ?? 0
    await waitUntil(() => expired() >= 5, 'five refusals of an expired token', 15_000)
    // Delays of 20, 40, 80 and 160 ms between the five; in a loop they would all be 0.
    expect(performance.now() - started).toBeGreaterThanOrEqual(300 - 5)
    // One token fetched per refusal (and the first), not a loop calling the app's backend.
    expect(fetched).toBeLessThanOrEqual(expired() + 2)
  })
})
