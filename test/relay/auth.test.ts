/**
 * Authentication and access at the wire: bad tokens are closed with 4401/4403 before anything is
 * loaded or stored; a non-participant gets a permission-denied frame and none of the content.
 */

import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it } from 'vitest'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import type { Relay } from '../../relay/index.ts'
import { Client, type Message } from '../../src/index.ts'
import { ConversationDocument } from '../../src/schema/layout.ts'
import { createSqliteStorage } from '../../src/storage/sqlite.ts'
import { encodeRefreshToken, MessageType, startFrame } from '../../src/sync/protocol.ts'
import { CloseCode } from '../../src/sync/transport.ts'
import {
  authenticatedRaw,
  deadline,
  deniedReason,
  frameInfo,
  Harness,
  OTHER_SECRET,
  type RawSocket,
  sharedConversation,
  syncStep1Frame,
  tokenFor,
  waitFor,
  waitUntil,
} from './helpers.ts'

const healthz = async (relay: Relay): Promise<{ ok: boolean; connections: number; documents: number }> => {
  const res = await fetch(`http://127.0.0.1:${relay.port}/healthz`)
  return (await res.json()) as { ok: boolean; connections: number; documents: number }
}

/** A frame that would create a conversation document if it were accepted. */
const writeFrame = (docName: string, identity: string): Uint8Array => {
  const doc = new Y.Doc()
  const conv = new ConversationDocument(doc)
  conv.messages.set('IMforged', {
    id: 'IMforged',
    author: identity,
    participantSid: null,
    content: [{ type: 'text', text: 'sneaked in' }],
    attributes: {},
    replyTo: null,
    createdAt: Date.now(),
  })
  const encoder = startFrame(docName, MessageType.sync)
  syncProtocol.writeUpdate(encoder, Y.encodeStateAsUpdate(doc))
  return encoding.toUint8Array(encoder)
}

describe('relay: authentication', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  const badTokens: Array<[string, () => Promise<string | null>, number]> = [
    [
      'a token signed with the wrong secret',
      () => tokenFor('mallory', { secret: OTHER_SECRET }),
      CloseCode.unauthorized,
    ],
    ['an expired token', () => tokenFor('mallory', { expiresInSeconds: -60 }), CloseCode.tokenExpired],
    ['no token', async () => null, CloseCode.unauthorized],
    ['a garbage token', async () => 'not-a-jwt.at-all.!!', CloseCode.unauthorized],
    ['a token whose subject is not a valid identity', async () => tokenFor(' '), CloseCode.unauthorized],
  ]

  for (const [what, token, code] of badTokens) {
    it(`closes a connection with ${what} (${code}) and loads and stores nothing`, async () => {
      const storage = createSqliteStorage({ path: ':memory:' })
      h.defer(() => storage.close())
      const relay = await h.relay({ storage })
      const t = await token()
      const raw = h.raw(t === null ? `${relay.url}/` : `${relay.url}/?token=${encodeURIComponent(t)}`)
      raw.ws.once('open', () => {
        // Frames sent before the verdict must never be acted on.
        raw.send(syncStep1Frame('user/mallory'))
        raw.send(syncStep1Frame('conv/CHsomething'))
        raw.send(writeFrame('conv/CHsomething', 'mallory'))
      })
      const closed = await deadline(raw.closed, 5_000, 'the relay closes the socket')
      expect(closed.code).toBe(code)
      expect(raw.frames).toEqual([])
      expect(relay.core.loadedDocuments).toBe(0)
      expect(relay.core.connectionCount).toBe(0)
      await waitUntil(() => relay.metrics.connections === 0, 'the relay counts the socket closed')
      expect(await healthz(relay)).toEqual({ ok: true, connections: 0, documents: 0 })
      expect(await storage.list()).toEqual([])
    })
  }

  it('reads the token from an Authorization header too', async () => {
    const relay = await h.relay()
    const bad = h.raw(`${relay.url}/`, { headers: { authorization: 'Bearer garbage' } })
    expect((await deadline(bad.closed, 5_000, 'close')).code).toBe(CloseCode.unauthorized)
    const good = h.raw(`${relay.url}/`, { headers: { authorization: `Bearer ${await tokenFor('alice')}` } })
    await good.opened
    good.send(syncStep1Frame('user/alice'))
    // (On a user document the relay sends the person's presence first, then the sync answer.)
    const reply = await good.next(
      (f) => frameInfo(f)?.docName === 'user/alice' && frameInfo(f)?.type !== MessageType.awareness,
    )
    expect(frameInfo(reply)?.type).toBe(MessageType.sync)
  })

  it('closes an open connection whose refreshed token is for someone else (4401) or expired (4403)', async () => {
    const relay = await h.relay()
    const a = await authenticatedRaw(h, relay, 'alice')
    a.send(encodeRefreshToken(await tokenFor('mallory')))
    expect((await deadline(a.closed, 5_000, 'close')).code).toBe(CloseCode.unauthorized)
    const b = await authenticatedRaw(h, relay, 'bob')
    b.send(encodeRefreshToken(await tokenFor('bob', { expiresInSeconds: -60 })))
    expect((await deadline(b.closed, 5_000, 'close')).code).toBe(CloseCode.tokenExpired)
    const c = await authenticatedRaw(h, relay, 'carol')
    c.send(encodeRefreshToken(await tokenFor('carol', { secret: OTHER_SECRET })))
    expect((await deadline(c.closed, 5_000, 'close')).code).toBe(CloseCode.unauthorized)
    // a good refresh keeps the socket open
    const d = await authenticatedRaw(h, relay, 'dave')
    d.send(encodeRefreshToken(await tokenFor('dave')))
    d.send(syncStep1Frame('user/erin'))
    await d.next((f) => frameInfo(f)?.docName === 'user/erin')
    expect(d.ws.readyState).toBe(d.ws.OPEN)
  })

  it('a client with a bad token reports a terminal connectionError and ends up denied', async () => {
    const relay = await h.relay()
    const client = await Client.create({
      relayUrl: relay.url,
      token: () => tokenFor('mallory', { secret: OTHER_SECRET }),
    })
    h.defer(() => client.shutdown())
    const error = await waitFor<{ terminal: boolean; code: number; message: string }>(client, 'connectionError')
    expect(error.terminal).toBe(true)
    expect(error.code).toBe(CloseCode.unauthorized)
    await waitUntil(() => client.connectionState === 'denied', 'the client is denied')
    expect(relay.core.loadedDocuments).toBe(0)
    expect(relay.metrics.rejections.get('unauthorized')).toBeGreaterThanOrEqual(1)
  })
})

describe('relay: who may sync a conversation', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('a non-participant asking for a conversation gets permission-denied and none of its content', async () => {
    const relay = await h.relay()
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: relay.url })
    const { conv, bconv } = await sharedConversation(alice, bob, { friendlyName: 'private', join: true })
    const secret = await conv.sendMessage('top secret')
    await waitUntil(() => secret.index !== null, 'the message is sequenced')
    const docName = `conv/${conv.sid}`

    // Multiplexed endpoint.
    const carol: RawSocket = await authenticatedRaw(h, relay, 'carol')
    carol.send(syncStep1Frame(docName))
    const denied = await carol.next((f) => frameInfo(f)?.docName === docName)
    expect(frameInfo(denied)?.type).toBe(MessageType.auth)
    expect(deniedReason(denied)).toBe('not a participant')
    // Her attempt to write is refused the same way and reaches no one.
    carol.send(writeFrame(docName, 'carol'))
    await waitUntil(() => carol.frames.filter((f) => frameInfo(f)?.docName === docName).length >= 2, 'a second answer')
    // Round trip, then nothing about the conversation but denials.
    carol.send(syncStep1Frame('user/carol'))
    const marker = carol.frames.length
    await carol.next((f) => carol.frames.indexOf(f) >= marker && frameInfo(f)?.docName === 'user/carol')
    const about = carol.frames.filter((f) => frameInfo(f)?.docName === docName)
    expect(about.map((f) => frameInfo(f)?.type)).toEqual(about.map(() => MessageType.auth))
    const bytes = Buffer.concat(carol.frames.map((f) => Buffer.from(f))).toString('latin1')
    expect(bytes).not.toContain('top secret')
    expect(bytes).not.toContain('private')

    // Stock single-document endpoint: a bare y-protocols auth message.
    const stock = h.raw(`${relay.url}/${docName}?token=${await tokenFor('carol')}`)
    await stock.opened
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MessageType.sync)
    syncProtocol.writeSyncStep1(enc, new Y.Doc())
    stock.send(encoding.toUint8Array(enc))
    const first = await stock.next(() => true)
    expect(first[0]).toBe(MessageType.auth)
    expect(Buffer.from(first).toString('latin1')).toContain('not a participant')

    // The participants saw nothing of Carol's attempt.
    const check = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'still private')
    await conv.sendMessage('still private')
    await check
    expect((await conv.getMessages()).items.map((m) => m.body)).toEqual(['top secret', 'still private'])
    expect((await bconv.getMessages()).items.map((m) => m.author)).toEqual(['alice', 'alice'])
    expect(relay.metrics.rejections.get('not_participant')).toBeGreaterThanOrEqual(2)
  })
})
