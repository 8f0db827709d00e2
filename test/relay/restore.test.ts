/**
 * A relay restored from an older backup loses nothing a device still holds and never gives an
 * index twice (docs/relay.md, "Restoring a backup"). Real relays on one real SQLite file (the
 * backup is taken with `VACUUM INTO` while the relay runs), real clients each with its own SQLite
 * store, stopped and started again on it.
 */
import { copyFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import type { Relay } from '../../relay/index.ts'
import type { LogFields, Logger } from '../../relay/log.ts'
import { type Client, ColloquyError, type Conversation } from '../../src/index.ts'
import { createSqliteStorage } from '../../src/storage/sqlite.ts'
import { freePort, Harness, messagesOf, waitUntil } from './helpers.ts'

type Indexed = Map<string, number>

/** A logger that keeps every line, for what the relay says about the restore. */
const recordingLogger = (): Logger & { lines: Array<{ event: string; fields: LogFields }> } => {
  const lines: Array<{ event: string; fields: LogFields }> = []
  const keep = (event: string, fields: LogFields = {}) => void lines.push({ event, fields })
  return { lines, info: keep, warn: keep, error: keep }
}

describe('relay: restoring a backup', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  /** A device: a client for `identity` on its own SQLite file, started (and stopped) at will. */
  const devices = (dir: string, url: () => string) => {
    const open = new Map<string, Client>()
    const errors: Array<{ device: string; error: Error }> = []
    const states = new Map<string, number>()
    return {
      errors,
      states,
      async start(name: string, identity = name): Promise<Client> {
        const storage = createSqliteStorage({ path: join(dir, `${name}.sqlite`) })
        const client = await h.client(identity, { relayUrl: url(), storage })
        h.defer(() => storage.close())
        client.on('error', (error: Error) => errors.push({ device: name, error }))
        client.on('connectionStateChanged', () => states.set(name, (states.get(name) ?? 0) + 1))
        open.set(name, client)
        return client
      },
      async stop(name: string): Promise<void> {
        await open.get(name)?.shutdown()
        open.delete(name)
      },
    }
  }

  /** Every message `client` holds in `sid`, by body, with its index (null while pending). */
  const held = async (client: Client, sid: string) => {
    const conv = await client.getConversationBySid(sid)
    return messagesOf(conv)
  }
  const indexed = async (client: Client, sid: string): Promise<Indexed> =>
    new Map((await held(client, sid)).filter((m) => m.index !== null).map((m) => [m.body!, m.index!]))

  const messageBy = async (conv: Conversation, body: string) => {
    let page = await conv.getMessages(100)
    for (;;) {
      const m = page.items.find((x) => x.body === body)
      if (m) return m
      if (!page.hasPrevPage) throw new Error(`no message ${body}`)
      page = await page.prevPage()
    }
  }
  const reactionsOf = async (client: Client, sid: string, body: string): Promise<string> =>
    (await messageBy(await client.getConversationBySid(sid), body)).reactions
      .map((r) => `${r.emoji}:${r.users.join(',')}`)
      .join(' ')

  const allIndexed = async (client: Client, sid: string, bodies: string[], what: string): Promise<Indexed> => {
    await waitUntil(
      async () => {
        const got = await indexed(client, sid).catch(() => new Map())
        return bodies.every((b) => got.has(b))
      },
      what,
      30_000,
    )
    return indexed(client, sid)
  }

  const backup = (db: string, to: string): void => {
    const live = new Database(db)
    try {
      live.exec(`VACUUM INTO '${to}'`)
    } finally {
      live.close()
    }
  }

  /** Puts the backup at the store's path, as docs/relay.md says (the stamp-state file stays). */
  const restore = (from: string, db: string): void => {
    rmSync(`${db}-wal`, { force: true })
    rmSync(`${db}-shm`, { force: true })
    copyFileSync(from, db)
  }

  /** Round-robin sends `bodies` from the conversations, each awaited (the device holds its own write). */
  const sendAll = async (convs: Conversation[], bodies: string[]): Promise<void> => {
    for (const [n, body] of bodies.entries()) await convs[n % convs.length]!.sendMessage(body)
  }

  const expectDistinct = (indices: Indexed, what: string): void => {
    const seen = new Map<number, string>()
    for (const [body, i] of indices) {
      expect(seen.get(i), `${what}: index ${i} given to ${seen.get(i)} and ${body}`).toBeUndefined()
      seen.set(i, body)
    }
  }

  it('takes back the last 50 messages from three devices; devices that write first never reuse an index', async () => {
    const dir = h.tmpdir()
    const db = join(dir, 'relay.sqlite')
    const saved = join(dir, 'backup.sqlite')
    const port = await freePort()
    let relay: Relay | null = null
    const logger = recordingLogger()
    const start = async (): Promise<Relay> => {
      relay = await h.relay({ dataPath: db, logger }, port)
      return relay
    }
    await start()
    const d = devices(dir, () => relay!.url)
    const alice = await d.start('alice')
    const bob = await d.start('bob')
    const carol = await d.start('carol')
    const conv = await alice.createConversation({ friendlyName: 'restore', join: true })
    for (const who of ['bob', 'carol', 'dave']) await conv.add(who)
    const sid = conv.sid
    const convs = [conv]
    for (const c of [bob, carol]) {
      await waitUntil(() => c.getConversationBySid(sid).then(() => true), `${c.identity} has the conversation`)
      convs.push(await c.getConversationBySid(sid))
    }

    // Before the backup: 10 messages. After it: 50, from all three devices, which all hold all 60.
    const early = Array.from({ length: 10 }, (_, n) => `early ${n}`)
    const late = Array.from({ length: 50 }, (_, n) => `late ${n}`)
    await sendAll(convs, early)
    for (const c of [alice, bob, carol]) await allIndexed(c, sid, early, `${c.identity} holds the early messages`)
    // carol's 👍 on the first message is in the backup; she takes it back after, and reacts 🎉 to a
    // late message: deletions and writes of hers that alice's and bob's devices hold too.
    await (await messageBy(convs[2]!, 'early 2')).react('👍')
    await waitUntil(async () => (await reactionsOf(alice, sid, 'early 2')) === '👍:carol', 'alice sees carol’s 👍')
    await relay!.core.flush()
    backup(db, saved)
    await sendAll(convs, late)
    const seen = new Map<string, Indexed>()
    for (const c of [alice, bob, carol])
      seen.set(c.identity, await allIndexed(c, sid, [...early, ...late], `${c.identity} holds all 60`))
    await (await messageBy(convs[2]!, 'early 2')).unreact('👍')
    await (await messageBy(convs[2]!, 'late 0')).react('🎉')
    for (const c of [alice, bob])
      await waitUntil(
        async () =>
          (await reactionsOf(c, sid, 'early 2')) === '' && (await reactionsOf(c, sid, 'late 0')) === '🎉:carol',
        `${c.identity} sees carol’s reactions change`,
      )
    // erin is added after the backup and writes: only her device holds her message as hers.
    await conv.add('erin')
    const erin = await d.start('erin')
    await waitUntil(() => erin.getConversationBySid(sid).then(() => true), 'erin has the conversation')
    await (await erin.getConversationBySid(sid)).sendMessage('erin 0')
    for (const c of [alice, bob, carol, erin]) {
      const got = await allIndexed(c, sid, ['erin 0'], `${c.identity} holds erin’s message`)
      seen.set(c.identity, got)
    }
    const before = seen.get('alice')!
    for (const c of ['bob', 'carol']) expect(seen.get(c)).toEqual(before)
    expect(new Set(before.values()).size).toBe(61)

    // Stop everything; restore the backup; start the relay again on the same file and port.
    for (const name of ['alice', 'bob', 'carol', 'erin']) await d.stop(name)
    await relay!.close()
    restore(saved, db)
    await start()

    // A fresh device that never saw the lost stamps writes first: indices above all 60.
    const dave = await d.start('dave')
    await waitUntil(() => dave.getConversationBySid(sid).then(() => true), 'dave has the conversation')
    const dconv = await dave.getConversationBySid(sid)
    const fromDave = ['dave 0', 'dave 1', 'dave 2']
    await sendAll([dconv], fromDave)
    const daveFirst = await allIndexed(dave, sid, fromDave, 'dave’s messages are indexed')
    for (const b of fromDave) expect(daveFirst.get(b)!).toBeGreaterThan(Math.max(...before.values()))

    // erin comes back before the update that added her: the relay does not know her yet, but her
    // device keeps its copy (and is served once alice's device brings the addition back).
    const erin2 = await d.start('erin')
    await waitUntil(() => (relay!.metrics.rejections.get('not_participant') ?? 0) > 0, 'the relay does not know erin')
    await waitUntil(async () => (await indexed(erin2, sid)).get('erin 0') === before.get('erin 0'), 'erin keeps hers')

    // One of the three comes back and writes before the others (bob: a member, whose device holds
    // alice's and carol's messages and carol's removal of a reaction, none of which he may write).
    const bob2 = await d.start('bob')
    const bconv2 = await bob2.getConversationBySid(sid)
    const fromBob = ['bob after 0', 'bob after 1']
    await sendAll([bconv2], fromBob)
    const bobFirst = await allIndexed(bob2, sid, fromBob, 'bob’s new messages are indexed')

    // The other two come back, and a fresh device of bob's.
    const alice2 = await d.start('alice')
    const carol2 = await d.start('carol')
    const everything = [...early, ...late, 'erin 0', ...fromDave, ...fromBob]
    const expected = new Map([...before, ...daveFirst, ...bobFirst])
    expectDistinct(expected, 'indices as first seen')
    const bobFresh = await d.start('bob-fresh', 'bob')
    const running: Array<[string, Client]> = [
      ['alice', alice2],
      ['bob', bob2],
      ['carol', carol2],
      ['dave', dave],
      ['erin', erin2],
      ['bob-fresh', bobFresh],
    ]
    for (const [name, c] of running) {
      const got = await allIndexed(c, sid, everything, `${name} ends with every message`)
      expect(got, `no index changed on ${name}`).toEqual(expected)
      expectDistinct(got, name)
      await waitUntil(
        async () =>
          (await reactionsOf(c, sid, 'early 2')) === '' && (await reactionsOf(c, sid, 'late 0')) === '🎉:carol',
        `${name} ends with carol’s reactions as she left them`,
      )
    }

    // The stamp-state file beside the store, readable by the relay's user only (it holds the key).
    expect(statSync(`${db}.stamps`).mode & 0o777).toBe(0o600)

    // Nothing was refused, in a loop or at all; the relay said what it took back.
    const rejected = relay!.metrics.rejections
    expect(rejected.get('update_rejected') ?? 0).toBe(0)
    // Only erin's app heard anything: that the relay did not serve her the conversation for a while.
    expect(d.errors.map((e) => `${e.device}: ${e.error.message}`)).toEqual([
      expect.stringMatching(/^erin: the relay does not serve .* for now: not a participant as far as the relay knows/),
    ])
    for (const [name, n] of d.states) expect(n, `${name} connection state changes`).toBeLessThan(10)
    expect(logger.lines.some((l) => l.event === 'restore_take_back')).toBe(true)
    expect(logger.lines.some((l) => l.event === 'conversation_quarantined')).toBe(false)
  }, 120_000)

  it('a stamp that contradicts the relay’s stops serving that conversation, and no device drops anything', async () => {
    // The stamp key is kept, the high-water marks are not (as if the stamp-state file had been
    // restored from the backup too): a device that never saw the lost stamps writes first and gets
    // an index a lost stamp already has. That cannot be recovered without changing an index.
    const dir = h.tmpdir()
    const db = join(dir, 'relay.sqlite')
    const saved = join(dir, 'backup.sqlite')
    const port = await freePort()
    const stampKey = new Uint8Array(32).fill(7)
    const logger = recordingLogger()
    let relay: Relay | null = null
    const start = async (): Promise<Relay> => {
      relay = await h.relay({ dataPath: db, logger, stampKey, stampStatePath: null }, port)
      return relay
    }
    await start()
    const d = devices(dir, () => relay!.url)
    const alice = await d.start('alice')
    const conv = await alice.createConversation({ friendlyName: 'conflict', join: true })
    await conv.add('dave')
    const other = await alice.createConversation({ friendlyName: 'unaffected', join: true })
    const sid = conv.sid
    const early = ['early 0', 'early 1', 'early 2']
    const late = ['late 0', 'late 1', 'late 2']
    await sendAll([conv], early)
    await allIndexed(alice, sid, early, 'alice holds the early messages')
    await relay!.core.flush()
    backup(db, saved)
    await sendAll([conv], late)
    const before = await allIndexed(alice, sid, [...early, ...late], 'alice holds all six')
    await d.stop('alice')
    await relay!.close()
    restore(saved, db)
    await start()

    const dave = await d.start('dave')
    await waitUntil(() => dave.getConversationBySid(sid).then(() => true), 'dave has the conversation')
    await sendAll([await dave.getConversationBySid(sid)], ['dave 0'])
    const daves = await allIndexed(dave, sid, ['dave 0'], 'dave’s message is indexed')
    expect(daves.get('dave 0')).toBe(before.get('late 0'))

    const alice2 = await d.start('alice')
    await waitUntil(
      () => logger.lines.some((l) => l.event === 'conversation_quarantined' && l.fields.doc === `conv/${sid}`),
      'the relay stops serving the conversation',
    )
    // Alice's device keeps every message with the index it had; dave's keeps his.
    expect(await indexed(alice2, sid)).toEqual(before)
    expect(await indexed(dave, sid)).toEqual(daves)
    // Her other conversation is served as before.
    const o = await alice2.getConversationBySid(other.sid)
    await sendAll([o], ['elsewhere'])
    await allIndexed(alice2, other.sid, ['elsewhere'], 'the other conversation is served')
    // Nothing was refused; the operator sees why, and the app that it is not served for now.
    expect(relay!.metrics.rejections.get('update_rejected') ?? 0).toBe(0)
    expect(relay!.metrics.rejections.get('restore_conflict')).toBe(1)
    await waitUntil(() => d.errors.length > 0, 'alice’s app hears that the conversation is not served')
    for (const { error: e } of d.errors) {
      expect(e).toBeInstanceOf(ColloquyError)
      expect((e as ColloquyError).code).toBe('REJECTED')
      expect(e.message).toContain('does not serve')
      expect((e as ColloquyError & { conversationSid?: string }).conversationSid).toBe(sid)
    }
    for (const [name, n] of d.states) expect(n, `${name} connection state changes`).toBeLessThan(10)
    expect(await indexed(alice2, sid)).toEqual(before)
  }, 60_000)

  it('a conversation created after the backup comes back from its members’ devices, whoever comes first', async () => {
    const dir = h.tmpdir()
    const db = join(dir, 'relay.sqlite')
    const saved = join(dir, 'backup.sqlite')
    const port = await freePort()
    let relay: Relay | null = null
    const start = async (): Promise<Relay> => {
      relay = await h.relay({ dataPath: db }, port)
      return relay
    }
    await start()
    const d = devices(dir, () => relay!.url)
    const alice = await d.start('alice')
    const bob = await d.start('bob')
    await relay!.core.flush()
    backup(db, saved)

    const conv = await alice.createConversation({ friendlyName: 'after the backup', join: true })
    await conv.add('bob')
    const sid = conv.sid
    await waitUntil(() => bob.getConversationBySid(sid).then(() => true), 'bob has the conversation')
    const bodies = ['a0', 'b0', 'a1', 'b1', 'a2', 'b2']
    await sendAll([conv, await bob.getConversationBySid(sid)], bodies)
    const before = await allIndexed(alice, sid, bodies, 'alice holds all six')
    expect(await allIndexed(bob, sid, bodies, 'bob holds all six')).toEqual(before)
    await d.stop('alice')
    await d.stop('bob')
    await relay!.close()
    restore(saved, db)
    await start()

    // bob first: the relay has no such conversation and takes nothing of it from him (anyone may
    // read a conversation that does not exist), and he keeps everything.
    const bob2 = await d.start('bob')
    const docName = `conv/${sid}`
    await waitUntil(async () => (await relay!.core._load(docName))!.subscribers.size > 0, 'bob syncs it')
    await relay!.core.flush()
    const live = (await relay!.core._load(docName))!
    expect(live.conv!.exists).toBe(false)
    expect(live.conv!.stamps.size).toBe(0)
    expect(await indexed(bob2, sid)).toEqual(before)

    // alice brings the creation back; bob's device is asked again, and gives his own messages.
    const alice2 = await d.start('alice')
    const fresh = await d.start('bob-fresh', 'bob')
    for (const [name, c] of [
      ['alice', alice2],
      ['bob', bob2],
      ['bob-fresh', fresh],
    ] as const) {
      const got = await allIndexed(c, sid, bodies, `${name} ends with all six`)
      expect(got, name).toEqual(before)
    }
    expect(relay!.metrics.rejections.get('update_rejected') ?? 0).toBe(0)
    expect(d.errors).toEqual([])
  }, 60_000)
})
