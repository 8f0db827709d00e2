/** The relay's HTTP endpoints: `/healthz` (JSON) and `/metrics` (Prometheus text). */
import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '../../src/index.ts'
import { CloseCode } from '../../src/sync/transport.ts'
import { deadline, Harness, OTHER_SECRET, sharedConversation, tokenFor, waitFor, waitUntil } from './helpers.ts'

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
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[0-9.e+-]+)$/)
    }
  })
})
