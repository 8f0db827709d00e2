/**
 * The token travels in the socket's first frame, not in the URL (browsers print the URL of a
 * failed WebSocket to the console; proxies log request lines). What a connection may do before
 * its token frame is bounded: the first frame must be the token, small, and in time.
 */
import { createServer, type Socket, connect as tcpConnect } from 'node:net'
import * as decoding from 'lib0/decoding'
import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '../../src/index.ts'
import { ControlType, encodeToken, MAX_TOKEN_FRAME_BYTES } from '../../src/sync/protocol.ts'
import { CloseCode } from '../../src/sync/transport.ts'
import { deadline, frameInfo, Harness, OTHER_SECRET, syncStep1Frame, tokenFor, waitFor, waitUntil } from './helpers.ts'

/** A TCP proxy that keeps the head of every HTTP request passing through it (up to the blank line). */
const recordingProxy = async (harness: Harness, targetPort: number) => {
  const heads: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    let head = ''
    let recording = true
    client.on('data', (chunk: Buffer) => {
      if (!recording) return
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end !== -1) {
        heads.push(head.slice(0, end))
        recording = false
      }
    })
    const drop = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  harness.defer(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, heads }
}

describe('relay: the token in the first frame', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('the client connects to a URL without its token, authenticates with its first frame and syncs', async () => {
    const relay = await h.relay()
    const proxy = await recordingProxy(h, relay.port)
    const tokens: string[] = []
    const token = async () => {
      const t = await tokenFor('alice')
      tokens.push(t)
      return t
    }
    const alice = await h.client('alice', { relayUrl: proxy.url, token })
    const bob = await h.client('bob', { relayUrl: proxy.url })
    const added = waitFor<{ sid: string }>(bob, 'conversationAdded')
    const conv = await alice.createConversation({ join: true })
    await conv.add('bob')
    const bconv = await bob.getConversationBySid((await added).sid)
    const got = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'no token in the url')
    await conv.sendMessage('no token in the url')
    await got

    expect(proxy.heads.length).toBeGreaterThanOrEqual(2)
    for (const head of proxy.heads) {
      expect(head.split('\r\n')[0]).toBe('GET / HTTP/1.1')
      expect(head.toLowerCase()).not.toContain('token')
      expect(head.toLowerCase()).not.toContain('authorization')
      for (const t of tokens) expect(head).not.toContain(t)
    }
    expect(relay.metrics.rejections.get('unauthorized') ?? 0).toBe(0)
  })

  it('answers a good token frame with hello (the frame limit) before anything else', async () => {
    const relay = await h.relay({ limits: { maxFrameBytes: 200_000 } })
    const raw = h.raw(`${relay.url}/`)
    await raw.opened
    raw.send(encodeToken(await tokenFor('alice')))
    raw.send(syncStep1Frame('user/alice'))
    await raw.next((f) => frameInfo(f)?.docName === 'user/alice')
    const decoder = decoding.createDecoder(raw.frames[0]!)
    expect(decoding.readVarString(decoder)).toBe('')
    expect(decoding.readVarUint(decoder)).toBe(ControlType.hello)
    expect(decoding.readVarUint(decoder)).toBe(200_000)
  })

  const refused: Array<[string, () => Promise<Uint8Array | null>, number]> = [
    [
      'a token signed with another secret',
      async () => encodeToken(await tokenFor('mallory', { secret: OTHER_SECRET })),
      CloseCode.unauthorized,
    ],
    [
      'an expired token',
      async () => encodeToken(await tokenFor('mallory', { expiresInSeconds: -60 })),
      CloseCode.tokenExpired,
    ],
    ['a garbage token', async () => encodeToken('not-a-jwt.at-all.!!'), CloseCode.unauthorized],
    ['a sync frame instead of a token', async () => syncStep1Frame('user/mallory'), CloseCode.unauthorized],
    [
      'a token frame over the size bound',
      async () => encodeToken('x'.repeat(MAX_TOKEN_FRAME_BYTES)),
      CloseCode.unauthorized,
    ],
    ['a frame that does not parse', async () => new Uint8Array([0xff, 0xff, 0xff]), CloseCode.unauthorized],
    ['nothing in time', async () => null, CloseCode.unauthorized],
  ]
  for (const [what, first, code] of refused) {
    it(`closes a connection whose first frame is ${what} (${code}), serving nothing`, async () => {
      const relay = await h.relay({ limits: { authTimeoutMs: 300 } })
      const raw = h.raw(`${relay.url}/`)
      await raw.opened
      const frame = await first()
      if (frame) {
        raw.send(frame)
        // Frames after a refused first frame are never acted on.
        raw.send(syncStep1Frame('user/mallory'))
      }
      const closed = await deadline(raw.closed, 5_000, 'the relay closes the socket')
      expect(closed.code).toBe(code)
      expect(raw.frames).toEqual([])
      expect(relay.core.loadedDocuments).toBe(0)
      await waitUntil(() => relay.metrics.connections === 0, 'the relay counts the socket closed')
    })
  }

  it('keeps the stock y-websocket path: a token in the query still authenticates, and no hello is sent', async () => {
    const relay = await h.relay()
    const raw = h.raw(`${relay.url}/?token=${await tokenFor('alice')}`)
    await raw.opened
    raw.send(syncStep1Frame('user/alice'))
    await raw.next((f) => frameInfo(f)?.docName === 'user/alice')
    expect(raw.frames.every((f) => frameInfo(f)?.docName === 'user/alice')).toBe(true)
  })
})
