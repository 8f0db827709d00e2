/**
 * The relay process is killed with SIGKILL in the middle of a stream of sends and restarted on
 * the same port and SQLite file: no message any client saw stamped is lost or renumbered, and the
 * clients reconnect and converge by themselves.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Client, Conversation, Message } from '../../src/index.ts'
import { deadline, freePort, Harness, messagesOf, sharedConversation, waitUntil } from './helpers.ts'

/** Records every (sid → index) a client has seen stamped, and any index that ever changed. */
const watchStamps = (conv: Conversation, seen: Map<string, number>, changed: string[]): void => {
  const note = (m: Message) => {
    if (m.index === null) return
    const before = seen.get(m.sid)
    if (before !== undefined && before !== m.index) changed.push(`${m.sid}: ${before} → ${m.index}`)
    seen.set(m.sid, m.index)
  }
  conv.on('messageAdded', note)
  conv.on('messageUpdated', ({ message }: { message: Message }) => note(message))
}

describe('relay: crash and restart', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('SIGKILL mid-stream, restart on the same file and port: nothing seen stamped is lost, clients converge', async () => {
    const dir = h.tmpdir()
    const db = join(dir, 'relay.sqlite')
    const port = await freePort()
    const first = h.relayProcess({ port, db })
    const { url } = await first.ready
    expect(url).toBe(`ws://127.0.0.1:${port}`)

    const alice: Client = await h.client('alice', { relayUrl: url })
    const bob: Client = await h.client('bob', { relayUrl: url })
    const { conv, bconv } = await sharedConversation(alice, bob)

    const seenByAlice = new Map<string, number>()
    const seenByBob = new Map<string, number>()
    const changed: string[] = []
    watchStamps(conv, seenByAlice, changed)
    watchStamps(bconv, seenByBob, changed)

    // The stream: both send, yielding to the network between sends. Once ten messages have
    // come back stamped, the relay is killed — with more sends in flight and more to come.
    let killed: Promise<void> | null = null
    const sent: Message[] = []
    const TOTAL = 60
    for (let i = 0; i < TOTAL; i++) {
      const from = i % 3 === 2 ? bconv : conv
      sent.push(await from.sendMessage(`m${i}`))
      if (killed === null && seenByAlice.size >= 10) {
        // Sends already made may be in flight; the rest are written while the relay is down.
        killed = first.kill('SIGKILL')
        await deadline(killed, 5_000, 'the relay process exits')
      }
      await new Promise((r) => setImmediate(r))
    }
    if (killed === null) {
      await waitUntil(() => seenByAlice.size >= 10, 'ten messages stamped before the kill')
      killed = first.kill('SIGKILL')
    }
    await deadline(killed, 5_000, 'the relay process exits')
    expect(first.child.signalCode).toBe('SIGKILL')
    const stampedBeforeCrash = new Map([...seenByAlice, ...seenByBob])
    expect(stampedBeforeCrash.size).toBeGreaterThanOrEqual(10)
    // Sends in flight at the kill may or may not have been stamped; the five written below, while
    // the relay is down, certainly are not.
    expect(stampedBeforeCrash.size).toBeLessThanOrEqual(TOTAL)
    await waitUntil(
      () => alice.connectionState !== 'connected' && bob.connectionState !== 'connected',
      'both clients notice the relay is gone',
    )

    // More sends while it is down.
    for (let i = TOTAL; i < TOTAL + 5; i++) sent.push(await conv.sendMessage(`m${i}`))

    // Restart on the same port and file; the clients find it again on their own.
    const second = h.relayProcess({ port, db })
    expect((await second.ready).port).toBe(port)
    await waitUntil(
      () => alice.connectionState === 'connected' && bob.connectionState === 'connected',
      'both clients reconnect by themselves',
    )
    await waitUntil(
      async () => {
        const [a, b] = await Promise.all([messagesOf(conv), messagesOf(bconv)])
        return a.length === sent.length && a.every((m) => m.index !== null) && JSON.stringify(a) === JSON.stringify(b)
      },
      'both clients converge on every message, sequenced',
      15_000,
    )

    const final = await messagesOf(conv)
    // Nothing any client saw stamped is lost, or renumbered.
    for (const [sid, index] of stampedBeforeCrash) {
      expect(final.find((m) => m.sid === sid)?.index, `message ${sid}`).toBe(index)
    }
    // Every message exactly once, indices unique.
    expect(new Set(final.map((m) => m.sid))).toEqual(new Set(sent.map((m) => m.sid)))
    expect(new Set(final.map((m) => m.index)).size).toBe(final.length)
    // Each author's messages keep the order they were written in.
    for (const author of ['alice', 'bob']) {
      const written = sent.filter((m) => m.author === author).map((m) => m.body)
      expect(final.filter((m) => m.author === author).map((m) => m.body)).toEqual(written)
    }
    expect(seenByAlice.size).toBe(sent.length)
    expect(changed).toEqual([])
  })
})
