/**
 * The relay's HTTP endpoints, `/healthz` (JSON) and `/metrics` (Prometheus text), and what it
 * logs: a start-up summary, refusals with their reason and identity, closes with code and duration.
 */
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { LogFields, Logger } from '../../relay/index.ts'
import { REJECTION_REASONS } from '../../relay/metrics.ts'
import type { Message } from '../../src/index.ts'
import { CloseCode } from '../../src/sync/transport.ts'
import { updateFrame } from '../security/raw-client.ts'
import {
  authenticatedRaw,
  deadline,
  Harness,
  OTHER_SECRET,
  SECRET,
  sharedConversation,
  tokenFor,
  waitFor,
  waitUntil,
} from './helpers.ts'

/** The value of the sample `name` (with its labels, exactly as printed) in an exposition text. */
const sampleOf = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  if (!line) throw new Error(`no sample ${name} in\n${text}`)
  return Number(line.slice(name.length + 1))
}

/** A logger that keeps every line. */
const captureLogger = (): Logger & { lines: Array<{ level: string; event: string } & LogFields> } => {
  const lines: Array<{ level: string; event: string } & LogFields> = []
  const at =
    (level: string) =>
    (event: string, fields: LogFields = {}) =>
      lines.push({ level, event, ...fields })
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

describe('relay: HTTP endpoints', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('GET /healthz answers 200 with JSON that tracks connections and documents', async () => {
    const relay = await h.relay()
    const base = `http://127.0.0.1:${relay.port}`
    const empty = await fetch(`${base}/healthz`)
    expect(empty.status).toBe(200)
    expect(empty.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await empty.json()).toEqual({ ok: true, connections: 0, documents: 0 })

    const alice = await h.client('alice', { relayUrl: relay.url })
    await alice.whenSynced()
    const body = (await (await fetch(`${base}/healthz`)).json()) as { connections: number; documents: number }
    expect(body.connections).toBe(1)
    // user/alice (it carries her presence); inbox/alice holds nothing yet, so it is not loaded.
    expect(body.documents).toBeGreaterThanOrEqual(1)

    await alice.shutdown()
    await waitUntil(
      async () => ((await (await fetch(`${base}/healthz`)).json()) as { connections: number }).connections === 0,
      'healthz shows the connection gone',
    )
    expect((await fetch(`${base}/nope`)).status).toBe(404)
  })

  it('GET /metrics exposes connections, loaded documents, rejections and store write times', async () => {
    const relay = await h.relay()
    // One rejection, and some traffic that writes to the store.
    const bad = h.raw(`${relay.url}/?token=${await tokenFor('mallory', { secret: OTHER_SECRET })}`)
    expect((await deadline(bad.closed, 5_000, 'close')).code).toBe(CloseCode.unauthorized)
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: relay.url })
    const { conv, bconv } = await sharedConversation(alice, bob)
    const got = waitFor<Message>(bconv, 'messageAdded')
    const m = await conv.sendMessage('metrics please')
    await got
    await waitUntil(() => m.index !== null, 'the message is sequenced')

    const res = await fetch(`http://127.0.0.1:${relay.port}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    const sample = (name: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `))
      if (!line) throw new Error(`no sample ${name} in\n${text}`)
      return Number(line.slice(name.length + 1))
    }
    for (const name of [
      'colloquy_connections',
      'colloquy_documents_loaded',
      'colloquy_documents_asleep',
      'colloquy_rejections_total',
      'colloquy_store_write_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `)
      expect(text).toContain(`# HELP ${name} `)
    }
    expect(sample('colloquy_connections')).toBe(2)
    expect(sample('colloquy_documents_loaded')).toBe(relay.core.loadedDocuments)
    expect(sample('colloquy_documents_loaded')).toBeGreaterThanOrEqual(5)
    expect(sample('colloquy_documents_asleep')).toBe(relay.core.sleepingDocuments)
    expect(sample('colloquy_rejections_total{reason="unauthorized"}')).toBe(1)
    expect(sample('colloquy_store_write_seconds_count')).toBeGreaterThan(0)
    expect(sample('colloquy_store_write_seconds_bucket{le="+Inf"}')).toBe(sample('colloquy_store_write_seconds_count'))
    expect(sample('colloquy_store_write_seconds_sum')).toBeGreaterThan(0)
    expect(sample('colloquy_messages_sequenced_total')).toBeGreaterThanOrEqual(1)
    // Every line is a comment or `name{labels} value`.
    for (const line of text.trim().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? (-?[0-9.e+-]+|NaN|Nan|[+-]Inf))$/)
    }
  })

  it('GET /metrics has build info, process and runtime series, traffic, delivery latency, and zeroed reasons', async () => {
    const relay = await h.relay()
    const other = await h.relay() // a second relay in the same process keeps its own counts
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: relay.url })
    const { conv, bconv } = await sharedConversation(alice, bob)
    const got = waitFor<Message>(bconv, 'messageAdded')
    await conv.sendMessage('count me')
    await got

    const res = await fetch(`http://127.0.0.1:${relay.port}/metrics`)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    const sample = (name: string) => sampleOf(text, name)
    expect(text).toMatch(/^colloquy_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v\d+\.\d+\.\d+"\} 1$/m)
    // Process and runtime: memory, CPU, event-loop lag, GC (its samples appear after a collection).
    expect(sample('process_resident_memory_bytes')).toBeGreaterThan(1_000_000)
    expect(sample('process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge')
    expect(text).toContain('# TYPE nodejs_eventloop_lag_p99_seconds gauge')
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram')
    expect(text).toContain('# TYPE nodejs_heap_size_used_bytes gauge')
    // Traffic both ways, and how long frames took to handle.
    expect(sample('colloquy_frames_received_total')).toBeGreaterThan(0)
    expect(sample('colloquy_bytes_received_total')).toBeGreaterThan(sample('colloquy_frames_received_total'))
    expect(sample('colloquy_frames_sent_total')).toBeGreaterThan(0)
    expect(sample('colloquy_bytes_sent_total')).toBeGreaterThan(sample('colloquy_frames_sent_total'))
    expect(sample('colloquy_updates_applied_total')).toBeGreaterThan(0)
    expect(sample('colloquy_delivery_seconds_count')).toBeGreaterThan(0)
    expect(sample('colloquy_delivery_seconds_bucket{le="+Inf"}')).toBe(sample('colloquy_delivery_seconds_count'))
    // Every reason known in advance is there before it ever happens.
    for (const reason of REJECTION_REASONS) expect(sample(`colloquy_rejections_total{reason="${reason}"}`)).toBe(0)
    for (const where of ['http', 'upgrade', 'frame', 'authenticate', 'core'])
      expect(sample(`colloquy_relay_errors_total{where="${where}"}`)).toBe(0)
    // One registry per relay plus the process's: no series twice.
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '))
    expect(new Set(types).size).toBe(types.length)

    const quiet = await (await fetch(`http://127.0.0.1:${other.port}/metrics`)).text()
    expect(sampleOf(quiet, 'colloquy_connections')).toBe(0)
    expect(sampleOf(quiet, 'colloquy_frames_received_total')).toBe(0)
    expect(sample('colloquy_connections')).toBe(2)
  })

  it('logs a start-up summary, refusals with reason and identity, and closes with code and duration; never a token', async () => {
    const log = captureLogger()
    const relay = await h.relay({ logger: log, limits: { maxConnectionsPerIdentity: 1 } })
    const started = log.lines.find((l) => l.event === 'relay_listening')
    expect(started).toMatchObject({
      level: 'info',
      port: relay.port,
      store: ':memory:',
      auth: 'shared secret (HS256)',
      maxFrameBytes: 1024 * 1024,
      maxConnectionsPerIdentity: 1,
      heartbeatMs: 30_000,
    })
    expect(started!.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(started!.node).toBe(process.version)

    const tokens: string[] = []
    // A token signed with another secret: refused, identity unknown.
    const forged = await tokenFor('mallory', { secret: OTHER_SECRET })
    tokens.push(forged)
    const bad = h.raw(`${relay.url}/?token=${forged}`)
    expect((await deadline(bad.closed, 5_000, 'close')).code).toBe(CloseCode.unauthorized)
    // A second connection over the identity's limit: refused, identity known.
    const alice = await authenticatedRaw(h, relay, 'alice')
    const aliceToken = await tokenFor('alice')
    tokens.push(aliceToken)
    const second = h.raw(`${relay.url}/?token=${aliceToken}`)
    expect((await deadline(second.closed, 5_000, 'close')).code).toBe(CloseCode.limitExceeded)
    // An update alice may not make (her profile holds no such field): refused with the document.
    const doc = new Y.Doc()
    doc.getMap('profile').set('isAdmin', true)
    alice.send(updateFrame('user/alice', Y.encodeStateAsUpdate(doc)))
    expect((await deadline(alice.closed, 5_000, 'close')).code).toBe(CloseCode.updateRejected)
    // A malformed upgrade path, on raw TCP.
    await new Promise<void>((resolve) => {
      const socket = connect(relay.port, '127.0.0.1', () =>
        socket.write(`GET /%E0%A4%A HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`),
      )
      socket.on('data', () => socket.destroy())
      socket.on('close', () => resolve())
      socket.on('error', () => resolve())
    })
    await waitUntil(
      () => log.lines.filter((l) => l.event === 'connection_closed').length >= 3,
      'three closes are logged',
    )

    const events = (event: string) => log.lines.filter((l) => l.event === event)
    expect(events('connection_refused')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          level: 'warn',
          reason: 'unauthorized',
          code: CloseCode.unauthorized,
          identity: null,
        }),
        expect.objectContaining({
          reason: 'connections_per_identity',
          code: CloseCode.limitExceeded,
          identity: 'alice',
        }),
      ]),
    )
    expect(events('connection_refused')[0]!.address).toBe('127.0.0.1')
    expect(events('update_refused')).toEqual([
      expect.objectContaining({ level: 'warn', identity: 'alice', document: 'user/alice', reason: expect.any(String) }),
    ])
    expect(events('request_refused')).toEqual([expect.objectContaining({ reason: 'bad_request', code: 400 })])
    const closed = events('connection_closed').find((l) => l.code === CloseCode.updateRejected)
    expect(closed).toMatchObject({ identity: 'alice', reason: expect.stringContaining('user/alice') })
    expect(closed!.durationMs).toBeTypeOf('number')
    expect(closed!.durationMs as number).toBeGreaterThanOrEqual(0)

    const all = JSON.stringify(log.lines)
    for (const token of [...tokens, SECRET]) {
      expect(all).not.toContain(token)
      expect(all).not.toContain(token.split('.')[2]!) // not even the signature
    }
  })
})
