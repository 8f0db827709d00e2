/**
 * Network limits at the wire, each hit by a raw socket: the offender is closed with the documented
 * code, and a well-behaved client on the same relay still works afterwards.
 */
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it } from 'vitest'
import type { Relay } from '../../relay/index.ts'
import { encodeToken, MessageType, RefusalCode, startFrame } from '../../src/sync/protocol.ts'
import { CloseCode } from '../../src/sync/transport.ts'
import {
  assertRelayWorks,
  authenticatedRaw,
  deadline,
  frameAuthedRaw,
  frameInfo,
  Harness,
  syncStep1Frame,
  tokenFor,
  waitUntil,
} from './helpers.ts'

/** A `refused` frame's fields, or null for another frame. */
const refusalOf = (frame: Uint8Array): { docName: string; code: number; reason: string } | null => {
  const decoder = decoding.createDecoder(frame)
  const docName = decoding.readVarString(decoder)
  if (decoding.readVarUint(decoder) !== MessageType.refused) return null
  return { docName, code: decoding.readVarUint(decoder), reason: decoding.readVarString(decoder) }
}

/** A masked client→server WebSocket frame (RFC 6455 §5.2). */
const clientFrame = (payload: Uint8Array, opcode = 0x2): Buffer => {
  const mask = randomBytes(4)
  const len = payload.byteLength
  const header =
    len < 126
      ? Buffer.from([0x80 | opcode, 0x80 | len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
        : (() => {
            const b = Buffer.alloc(10)
            b[0] = 0x80 | opcode
            b[1] = 0x80 | 127
            b.writeBigUInt64BE(BigInt(len), 2)
            return b
          })()
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!
  return Buffer.concat([header, mask, body])
}

/**
 * Opens a WebSocket by hand and sends `frames` in the SAME TCP write as the upgrade request, so
 * the relay holds them before it has verified the token (token checks are asynchronous). Resolves
 * with the close code and reason the relay sent, or null if it sent none before the socket ended.
 */
const pipelined = (
  relay: Relay,
  /** In the query; null: none (the first of `frames` carries it, as colloquy's client sends it). */
  token: string | null,
  frames: Uint8Array[],
): Promise<{ code: number; reason: string } | null> =>
  new Promise((resolve, reject) => {
    const socket = connect(relay.port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    let settled = false
    const done = (v: { code: number; reason: string } | null) => {
      if (settled) return
      settled = true
      socket.destroy()
      resolve(v)
    }
    socket.on('error', reject)
    socket.on('close', () => done(null))
    socket.on('connect', () => {
      const request =
        `GET /${token === null ? '' : `?token=${encodeURIComponent(token)}`} HTTP/1.1\r\nHost: 127.0.0.1:${relay.port}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`
      socket.write(Buffer.concat([Buffer.from(request), ...frames.map((f) => clientFrame(f))]))
    })
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) return
      let pos = end + 4
      // Server frames are unmasked; look for a close frame (opcode 8).
      while (pos + 2 <= buf.length) {
        const opcode = buf[pos]! & 0x0f
        let len = buf[pos + 1]! & 0x7f
        let off = pos + 2
        if (len === 126) {
          if (off + 2 > buf.length) return
          len = buf.readUInt16BE(off)
          off += 2
        } else if (len === 127) {
          if (off + 8 > buf.length) return
          len = Number(buf.readBigUInt64BE(off))
          off += 8
        }
        if (off + len > buf.length) return
        if (opcode === 0x8) {
          done({ code: buf.readUInt16BE(off), reason: buf.subarray(off + 2, off + len).toString() })
          return
        }
        pos = off + len
      }
    })
  })

const queryAwareness = (docName: string): Uint8Array =>
  encoding.toUint8Array(startFrame(docName, MessageType.queryAwareness))

describe('relay: limits', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('a frame larger than maxFrameBytes is closed with 1009', async () => {
    const relay = await h.relay({ limits: { maxFrameBytes: 4096 } })
    const raw = await authenticatedRaw(h, relay, 'mallory')
    raw.send(new Uint8Array(5000))
    const closed = await deadline(raw.closed, 5_000, 'close')
    expect(closed.code).toBe(1009)
    // a frame at the limit is fine on another socket (a step 1 padded to 4,096 bytes)
    const ok = await authenticatedRaw(h, relay, 'mallory')
    const padded = new Uint8Array(4096)
    padded.set(syncStep1Frame('user/someone'))
    ok.send(padded)
    await ok.next((f) => frameInfo(f)?.docName === 'user/someone')
    await assertRelayWorks(h, relay, 'frame')
  })

  it('more frames than maxPreAuthFrames before authentication is closed with 4429', async () => {
    const relay = await h.relay({ limits: { maxPreAuthFrames: 4 } })
    const frames = Array.from({ length: 8 }, (_, i) => syncStep1Frame(`user/u${i}`))
    const closed = await deadline(pipelined(relay, await tokenFor('mallory'), frames), 5_000, 'close')
    expect(closed).toEqual({ code: CloseCode.limitExceeded, reason: 'too much data before authentication' })
    expect(relay.metrics.rejections.get('pre_auth')).toBe(1)
    expect(relay.core.loadedDocuments).toBe(0)
    await assertRelayWorks(h, relay, 'preauth-frames')
  })

  it('more bytes than maxPreAuthBytes before authentication is closed with 4429', async () => {
    const relay = await h.relay({ limits: { maxPreAuthBytes: 1024 } })
    const big = new Uint8Array(2048)
    big.set(syncStep1Frame('user/u0'))
    const closed = await deadline(pipelined(relay, await tokenFor('mallory'), [big]), 5_000, 'close')
    expect(closed).toEqual({ code: CloseCode.limitExceeded, reason: 'too much data before authentication' })
    expect(relay.metrics.rejections.get('pre_auth')).toBe(1)
    expect(relay.core.loadedDocuments).toBe(0)
    await assertRelayWorks(h, relay, 'preauth-bytes')
  })

  it('after a token frame, more frames than maxPreAuthFrames before it is verified is closed with 4429', async () => {
    const relay = await h.relay()
    const frames = [encodeToken(await tokenFor('mallory'))]
    for (let i = 0; i < 17; i++) frames.push(queryAwareness(`user/u${i}`))
    const closed = await deadline(pipelined(relay, null, frames), 5_000, 'close')
    expect(closed).toEqual({ code: CloseCode.limitExceeded, reason: 'too much data before authentication' })
    expect(relay.metrics.rejections.get('pre_auth')).toBe(1)
  })

  it('frames pipelined before authentication, within the limits, are served after it', async () => {
    const relay = await h.relay({ limits: { maxPreAuthFrames: 4 } })
    // No close comes, and the queued step 1s open their documents (plus mallory's own user document,
    // loaded; u1 and u2 have nothing stored, so they are answered without loading).
    const socket = pipelined(relay, await tokenFor('mallory'), [syncStep1Frame('user/u1'), syncStep1Frame('user/u2')])
    await waitUntil(
      () => relay.core.loadedDocuments + relay.core.sleepingDocuments >= 3,
      'the queued frames are handled after authentication',
    )
    expect(relay.metrics.rejections.get('pre_auth')).toBeUndefined()
    await relay.close()
    expect(await deadline(socket, 5_000, 'close')).toMatchObject({ code: CloseCode.goingAway })
  })

  it('more documents per connection than allowed closes a client with its token in the URL with 4429', async () => {
    const relay = await h.relay({ limits: { maxDocumentsPerConnection: 8 } })
    const raw = await authenticatedRaw(h, relay, 'mallory') // 1 document
    for (let i = 1; i < 8; i++) raw.send(syncStep1Frame(`user/u${i}`))
    await waitUntil(
      () => raw.frames.filter((f) => frameInfo(f)?.docName === 'user/u7').length > 0,
      'eight documents open',
    )
    expect(raw.ws.readyState).toBe(raw.ws.OPEN)
    raw.send(syncStep1Frame('user/one-too-many'))
    const closed = await deadline(raw.closed, 5_000, 'close')
    expect(closed).toEqual({ code: CloseCode.limitExceeded, reason: 'too many documents on one connection' })
    expect(relay.metrics.rejections.get('documents_per_connection')).toBe(1)
    await assertRelayWorks(h, relay, 'docs')
  })

  it('a document beyond the documents per connection is refused alone (client with a token frame); the connection goes on', async () => {
    const relay = await h.relay({ limits: { maxDocumentsPerConnection: 8 } })
    const raw = await frameAuthedRaw(h, relay, 'mallory') // 1 document
    for (let i = 1; i < 8; i++) raw.send(syncStep1Frame(`user/u${i}`))
    await waitUntil(
      () => raw.frames.filter((f) => frameInfo(f)?.docName === 'user/u7').length > 0,
      'eight documents open',
    )
    raw.send(syncStep1Frame('user/one-too-many'))
    await waitUntil(() => raw.frames.some((f) => refusalOf(f)?.docName === 'user/one-too-many'), 'a refusal')
    const refusal = raw.frames.map(refusalOf).find((r) => r?.docName === 'user/one-too-many')
    expect(refusal).toEqual({
      docName: 'user/one-too-many',
      code: RefusalCode.limit,
      reason: 'too many documents on one connection',
    })
    expect(relay.metrics.rejections.get('documents_per_connection')).toBe(1)
    // Nothing else for it: the relay did not subscribe the connection to it.
    expect(raw.frames.filter((f) => frameInfo(f)?.docName === 'user/one-too-many')).toHaveLength(1)
    expect(raw.ws.readyState).toBe(raw.ws.OPEN)
    // The connection still serves its documents: one unsubscribed makes room for another.
    const before = raw.frames.length
    raw.send(encoding.toUint8Array(startFrame('user/u7', MessageType.unsubscribe)))
    raw.send(syncStep1Frame('user/one-too-many'))
    await waitUntil(
      () => raw.frames.slice(before).some((f) => frameInfo(f)?.docName === 'user/one-too-many'),
      'the document is served once there is room',
    )
    expect(raw.frames.slice(before).map(refusalOf).filter(Boolean)).toEqual([])
    await assertRelayWorks(h, relay, 'docs')
  })

  it('more connections per identity than allowed is closed with 4429', async () => {
    const relay = await h.relay({ limits: { maxConnectionsPerIdentity: 2 } })
    const first = await authenticatedRaw(h, relay, 'mallory')
    await authenticatedRaw(h, relay, 'mallory')
    const third = h.raw(`${relay.url}/?token=${await tokenFor('mallory')}`)
    const closed = await deadline(third.closed, 5_000, 'close')
    expect(closed).toEqual({ code: CloseCode.limitExceeded, reason: 'too many connections for this identity' })
    expect(relay.metrics.rejections.get('connections_per_identity')).toBe(1)
    // Once one closes, a new one is accepted.
    first.close()
    await waitUntil(() => relay.core.connectionsOf('mallory') === 1, 'the relay counts one connection left')
    await authenticatedRaw(h, relay, 'mallory')
    await assertRelayWorks(h, relay, 'conns')
  })

  it('frames faster than the rate is closed with 4429', async () => {
    const relay = await h.relay({ limits: { framesPerSecond: 50, frameBurst: 100 } })
    const raw = await authenticatedRaw(h, relay, 'mallory')
    for (let i = 0; i < 300; i++) raw.send(queryAwareness('user/mallory'))
    const closed = await deadline(raw.closed, 5_000, 'close')
    expect(closed).toEqual({ code: CloseCode.limitExceeded, reason: 'rate limit exceeded' })
    expect(relay.metrics.rejections.get('rate')).toBe(1)
    await assertRelayWorks(h, relay, 'rate')
  })

  it('a text frame is closed with 4400', async () => {
    const relay = await h.relay()
    const raw = await authenticatedRaw(h, relay, 'mallory')
    const loaded = relay.core.loadedDocuments
    raw.send('hello?')
    // Whatever follows the offending frame is not acted on.
    raw.send(syncStep1Frame('user/after-the-offence'))
    const closed = await deadline(raw.closed, 5_000, 'close')
    expect(closed.code).toBe(CloseCode.protocolError)
    expect(relay.metrics.rejections.get('malformed')).toBe(1)
    expect(relay.core.loadedDocuments).toBe(loaded)
    expect(raw.frames.filter((f) => frameInfo(f)?.docName === 'user/after-the-offence')).toEqual([])
    await assertRelayWorks(h, relay, 'text')
  })

  it('a malformed binary frame is closed with 4400', async () => {
    const relay = await h.relay()
    const raw = await authenticatedRaw(h, relay, 'mallory')
    raw.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]))
    const closed = await deadline(raw.closed, 5_000, 'close')
    expect(closed.code).toBe(CloseCode.protocolError)
    await assertRelayWorks(h, relay, 'malformed')
  })
})
