/**
 * Malformed input on a real relay: bytes that are not frames, frames cut short or claiming huge
 * lengths, documents that do not exist or are not the sender's, frames over the size limit. Each is
 * answered as documented (4400, a permission-denied frame, 1009), nothing is applied, and the relay
 * keeps serving everyone else.
 */
import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Conversation } from '../../src/index.ts'
import {
  assertStillServes,
  buildWorld,
  malloryIn,
  observedState,
  PROTOCOL_ERROR,
  Scope,
  storedDoc,
  TOO_BIG,
  UPDATE_REJECTED,
  waitFor,
} from './helpers.ts'
import { frame, MSG, parseFrame, RawClient, SYNC, step1Frame, updateFrame } from './raw-client.ts'

describe('malformed frames', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  /** Mallory's valid update for the conversation: a reaction of her own (which the relay would accept). */
  const validUpdate = (m: RawClient, docName: string, messageSid: string): Uint8Array =>
    m.forge(docName, (d) => d.getMap('reactions').set(`${messageSid}\nmallory\n👍`, Date.now()))

  const closesWith = async (code: number, bytes: (m: RawClient, docName: string, messageSid: string) => Uint8Array) => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const before = await observedState(w.relay, w.storage, w.docName)
    m.send(bytes(m, w.docName, w.first.sid))
    expect((await m.waitClosed()).code).toBe(code)
    expect(await observedState(w.relay, w.storage, w.docName)).toEqual(before)
    await assertStillServes(w, `still serving after a ${code}`)
    return w
  }

  it('random bytes that are no frame: 4400', async () => {
    await closesWith(PROTOCOL_ERROR, () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
  })

  it('a document name whose varint length is huge: 4400', async () => {
    await closesWith(PROTOCOL_ERROR, () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x63, 0x6f, 0x6e, 0x76]))
  })

  it('a sync update whose payload length is a huge varint: 4400', async () => {
    await closesWith(PROTOCOL_ERROR, (_m, docName) =>
      frame(docName, MSG.sync, (e) => {
        encoding.writeVarUint(e, SYNC.update)
        encoding.writeVarUint(e, 0xffffffff)
        encoding.writeUint8Array(e, new Uint8Array([1, 2, 3]))
      }),
    )
  })

  it('a valid update frame cut short: 4400, nothing of it applied', async () => {
    await closesWith(PROTOCOL_ERROR, (m, docName, sid) => {
      const full = updateFrame(docName, validUpdate(m, docName, sid))
      return full.subarray(0, Math.floor(full.length * 0.6))
    })
  })

  it('a frame whose update is garbage inside a well-formed envelope: 4422 (malformed update)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const before = await observedState(w.relay, w.storage, w.docName)
    m.send(updateFrame(w.docName, new Uint8Array([5, 200, 1, 7, 7, 7, 7, 0, 0, 9])))
    const closed = await m.waitClosed()
    expect(closed.code).toBe(UPDATE_REJECTED)
    expect(closed.reason).toContain('malformed update')
    expect(await observedState(w.relay, w.storage, w.docName)).toEqual(before)
    await assertStillServes(w, 'still serving after a garbage update')
  })

  it('a text frame: 4400', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    m.ws.send('{"type":"sync"}')
    expect((await m.waitClosed()).code).toBe(PROTOCOL_ERROR)
    await assertStillServes(w, 'still serving after a text frame')
  })

  it('an unknown control frame on the empty document name: 4400', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    m.send(frame('', 77, (e) => encoding.writeVarString(e, 'x')))
    expect((await m.waitClosed()).code).toBe(PROTOCOL_ERROR)
    await assertStillServes(w, 'still serving after an unknown control frame')
  })

  it('an unknown document prefix (foo/bar): a permission-denied frame, the connection stays', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const loaded = w.relay.core.loadedDocuments
    const denied = m.denied('foo/bar')
    m.send(step1Frame('foo/bar'))
    expect(await denied).toBe('unknown document')
    const denied2 = m.denied('foo/bar')
    m.send(updateFrame('foo/bar', validUpdate(m, w.docName, w.first.sid)))
    expect(await denied2).toBe('unknown document')
    await m.roundTrip('user/mallory')
    expect(m.isOpen).toBe(true)
    expect(w.relay.core.loadedDocuments).toBe(loaded)
    expect(await w.storage.list('foo')).toEqual([])
    await assertStillServes(w, 'still serving after foo/bar')
  })

  it('an unknown message type is ignored, the connection stays', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const before = await observedState(w.relay, w.storage, w.docName)
    m.send(frame(w.docName, 42, (e) => encoding.writeVarString(e, 'hello')))
    await m.roundTrip('user/mallory')
    expect(m.isOpen).toBe(true)
    expect(await observedState(w.relay, w.storage, w.docName)).toEqual(before)
  })

  it('a conversation the attacker is not in: denied, nothing applied or leaked, the connection stays', async () => {
    const w = await buildWorld(s)
    // Alice and bob's private conversation, without mallory.
    const bobAdded = waitFor<Conversation>(w.bob, 'conversationAdded')
    const secret = await w.alice.createConversation({ friendlyName: 'secret', join: true })
    await secret.add('bob')
    await bobAdded
    await secret.sendMessage('for bob only')
    const name = `conv/${secret.sid}`
    await w.relay.core.flush()
    const m = await malloryIn(s, w)
    const before = await observedState(w.relay, w.storage, name)

    // Reading: denied, and no frame carries any of its content.
    const deniedRead = m.denied(name)
    m.send(step1Frame(name))
    expect(await deniedRead).toBe('not a participant')

    // Writing: adding herself as an admin participant, built against the real state.
    const stored = await storedDoc(w.storage, name)
    const forger = new Y.Doc()
    Y.applyUpdate(forger, Y.encodeStateAsUpdate(stored))
    const captured: Uint8Array[] = []
    forger.on('update', (u: Uint8Array) => captured.push(u))
    forger.getMap('participants').set('mallory', {
      identity: 'mallory',
      type: 'chat',
      role: 'admin',
      access: 'ReadWrite',
      addedBy: 'mallory',
    })
    const deniedWrite = m.denied(name)
    m.sendUpdate(name, captured[0]!)
    expect(await deniedWrite).toBe('not a participant')
    await m.roundTrip('user/mallory')
    expect(m.isOpen).toBe(true)
    expect(await observedState(w.relay, w.storage, name)).toEqual(before)
    const leaked = m.frames.map(parseFrame).filter((f) => f?.docName === name && f.type !== MSG.auth)
    expect(leaked).toEqual([])
    expect(secret._doc.participants.has('mallory')).toBe(false)
    stored.destroy()
    forger.destroy()
    await assertStillServes(w, 'still serving after the private conversation probe')
  })

  it('a frame over maxFrameBytes: 1009, and the relay keeps serving', async () => {
    const w = await buildWorld(s, { relay: { limits: { maxFrameBytes: 64 * 1024 } } })
    const m = await malloryIn(s, w)
    const before = await observedState(w.relay, w.storage, w.docName)
    const big = m.forge(w.docName, (d) =>
      d.getMap('reactions').set(`${w.first.sid}\nmallory\n${'🙂'.repeat(10)}`, 'z'.repeat(70 * 1024)),
    )
    const bytes = updateFrame(w.docName, big)
    expect(bytes.length).toBeGreaterThan(64 * 1024)
    m.send(bytes)
    expect((await m.waitClosed()).code).toBe(TOO_BIG)
    expect(await observedState(w.relay, w.storage, w.docName)).toEqual(before)
    await assertStillServes(w, 'still serving after an oversized frame')
  })

  it('a frame before authentication completes with a bad token: 4401 and nothing loaded', async () => {
    const w = await buildWorld(s)
    const loaded = w.relay.core.loadedDocuments
    const c = new RawClient(`${w.relay.url}/?token=not-a-jwt`)
    s.defer(() => c.close())
    await c.opened
    c.send(step1Frame(w.docName))
    expect((await c.waitClosed()).code).toBe(4401)
    expect(c.frames.map(parseFrame).filter((f) => f?.docName === w.docName)).toEqual([])
    expect(w.relay.core.loadedDocuments).toBe(loaded)
    await assertStillServes(w, 'still serving after a bad token')
  })
})
