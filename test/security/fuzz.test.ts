/**
 * A seeded fuzzer of malformed frames against a real relay. It takes valid frames a member could
 * send (sync steps, updates both allowed and forged, awareness, unsubscribe, frames for other
 * documents) and mutates them — bit flips, truncation, insertion, deletion, random varints, splices —
 * then sends them over raw sockets as mallory, reconnecting whenever the relay closes one.
 *
 * Afterwards the relay must be healthy (`/healthz` 200, no internal errors logged), an honest client
 * must still sync, and everything alice and bob wrote must be intact.
 *
 * The seed is printed; `COLLOQUY_SEED=<seed> npx vitest run test/security/fuzz.test.ts` replays it.
 */
import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Logger } from '../../relay/log.ts'
import { seededRandom } from '../../src/testing/simulator.ts'
import { listed } from '../support/wait.ts'
import {
  ALL_ROOTS,
  assertStillServes,
  buildWorld,
  contentOf,
  malloryIn,
  Scope,
  storedDoc,
  tokenFor,
  waitUntil,
} from './helpers.ts'
import {
  awarenessFrame,
  type Content,
  encodeUpdate,
  frame,
  MSG,
  RawClient,
  step1Frame,
  step2Frame,
  updateFrame,
} from './raw-client.ts'

/** Frames per run (`COLLOQUY_FUZZ_FRAMES` raises it for a longer campaign) and a time bound. */
const MAX_FRAMES = Number(process.env.COLLOQUY_FUZZ_FRAMES ?? 300)
const MAX_MS = Number(process.env.COLLOQUY_FUZZ_MS ?? 20_000)

const HONEST = ['alice', 'bob']

/** Everything alice and bob wrote (mallory's own writes, which she may make, left out). */
const honestView = (doc: Y.Doc) => {
  const c = contentOf(doc) as Record<string, Record<string, unknown>>
  const pick = (root: string, keep: (key: string, value: unknown) => boolean) =>
    Object.fromEntries(Object.entries(c[root] ?? {}).filter(([k, v]) => keep(k, v)))
  const messages = pick('messages', (_k, v) => HONEST.includes((v as { author: string }).author))
  const ids = new Set(Object.keys(messages))
  const byHonest = (k: string) => HONEST.some((who) => k.startsWith(`${who}\n`))
  return {
    meta: c.meta,
    attributes: c.attributes,
    participants: pick('participants', (k) => HONEST.includes(k)),
    messages,
    stamps: pick('stamps', (k) => ids.has(k)),
    edits: pick('edits', (k) => ids.has(k)),
    reactions: pick('reactions', (k) => HONEST.includes(k.split('\n')[1] ?? '')),
    reads: pick('reads', byHonest),
    prefs: pick('prefs', byHonest),
  }
}

describe('fuzzing the relay with mutated frames', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it(`survives up to ${MAX_FRAMES} mutated frames (seeded)`, { timeout: MAX_MS + 25_000 }, async () => {
    const seed = process.env.COLLOQUY_SEED ? Number(process.env.COLLOQUY_SEED) : Math.floor(Math.random() * 2 ** 32)
    console.log(`fuzz seed: ${seed} (replay with COLLOQUY_SEED=${seed})`)
    const rand = seededRandom(seed)
    const int = (n: number) => Math.floor(rand() * n)
    const pickOne = <T>(xs: readonly T[]): T => xs[int(xs.length)]!

    const relayErrors: string[] = []
    const logger: Logger = {
      info() {},
      warn() {},
      error: (event, fields) => relayErrors.push(`${event} ${JSON.stringify(fields)}`),
    }
    const w = await buildWorld(s, { relay: { logger } })
    await w.relay.core.flush()
    const storedBefore = await storedDoc(w.storage, w.docName)
    const honestBefore = honestView(storedBefore)
    storedBefore.destroy()

    // The base frames, built once from a synced replica of mallory's.
    const probe = await malloryIn(s, w)
    const replica = probe.doc(w.docName)
    const forge = (fn: (d: Y.Doc) => void): Uint8Array => {
      const d = new Y.Doc()
      Y.applyUpdate(d, Y.encodeStateAsUpdate(replica))
      const out: Uint8Array[] = []
      d.on('update', (u: Uint8Array) => out.push(u))
      Y.transact(d, () => fn(d))
      d.destroy()
      return Y.mergeUpdates(out)
    }
    const name = w.docName
    const sid = w.first.sid
    const record = (id: string, author: string) => ({
      id,
      author,
      participantSid: null,
      content: [{ type: 'text', text: `fuzz ${id}` }],
      attributes: {},
      replyTo: null,
      createdAt: 1,
    })
    const updates = [
      forge((d) => d.getMap('reactions').set(`${sid}\nmallory\n👍`, 1)),
      forge((d) => d.getMap('messages').set('IMfuzz1', record('IMfuzz1', 'mallory'))),
      forge((d) => d.getMap('messages').set('IMfuzz2', record('IMfuzz2', 'alice'))),
      forge((d) => d.getMap('participants').delete('alice')),
      forge((d) => d.getMap('messages').delete(sid)),
      forge((d) => d.getMap('meta').set('friendlyName', { v: 'fuzzed', at: 1, by: 'mallory' })),
      forge((d) => d.getMap('reads').set(`mallory\n${d.clientID}`, { epoch: 0, index: 0, at: 1, m: null })),
      forge((d) => d.getMap('edits').set(sid, { content: [{ type: 'text', text: 'fuzzed' }], by: 'mallory', at: 1 })),
    ]
    const bases: Uint8Array[] = [
      step1Frame(name, replica),
      step1Frame('user/mallory'),
      step1Frame('inbox/mallory'),
      step1Frame('user/alice'),
      frame(name, MSG.queryAwareness),
      frame(name, MSG.unsubscribe),
      awarenessFrame(name, [{ clientID: 4242, clock: 1, state: { identity: 'mallory', typing: true } }]),
      awarenessFrame(name, [{ clientID: 4243, clock: 1, state: { identity: 'alice', typing: true } }]),
      ...updates.map((u) => updateFrame(name, u)),
      ...updates.map((u) => step2Frame(name, u)),
      updateFrame('inbox/alice', updates[0]!),
      updateFrame('user/alice', updates[0]!),
    ]
    // Material for structural mutations: every item the replica holds (alice's, bob's, the relay's),
    // the keys and roots it uses, and the clientIDs it has seen.
    const knownIds: Y.ID[] = []
    for (const [, list] of replica.store.clients)
      for (const st of list) if (st instanceof Y.Item) knownIds.push(st.id, st.lastId)
    const knownClients = [...replica.store.clients.keys()]
    const roots = [...ALL_ROOTS, 'evil']
    const keys = roots.flatMap((r) => [...replica.getMap(r).keys()]).concat(['alice', 'mallory', sid, 'eve'])
    probe.close()

    const varint = () => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, pickOne([0, 1, 2, 127, 128, 255, 0xffff, 0x7fffffff, 0xffffffff, int(2 ** 32)]))
      return encoding.toUint8Array(e)
    }
    const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256))
    const mutate = (input: Uint8Array): Uint8Array => {
      let b = input
      const rounds = 1 + int(3)
      for (let r = 0; r < rounds; r++) {
        const at = int(b.length + 1)
        switch (int(7)) {
          case 0: {
            // bit flip
            if (b.length === 0) break
            const c = Uint8Array.from(b)
            const i = int(c.length)
            c[i] = c[i]! ^ (1 << int(8))
            b = c
            break
          }
          case 1:
            b = b.subarray(0, at) // truncation
            break
          case 2:
            b = Uint8Array.from([...b.subarray(0, at), ...randomBytes(1 + int(8)), ...b.subarray(at)]) // insertion
            break
          case 3: {
            // a random varint written over the bytes at `at`
            const v = varint()
            b = Uint8Array.from([...b.subarray(0, at), ...v, ...b.subarray(Math.min(b.length, at + v.length))])
            break
          }
          case 4:
            b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + 1 + int(8)))]) // deletion
            break
          case 5: {
            // splice with another base frame
            const other = pickOne(bases)
            b = Uint8Array.from([...b.subarray(0, at), ...other.subarray(int(other.length))])
            break
          }
          default:
            b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at, at + 1 + int(16)), ...b.subarray(at)]) // duplication
        }
      }
      return b
    }

    /** Decodes an update, corrupts its structs where Yjs would still accept them, and re-encodes it by hand. */
    const structural = (): Uint8Array => {
      const { structs } = Y.decodeUpdate(pickOne(updates))
      const items = structs.filter((st): st is Y.Item => st instanceof Y.Item)
      if (items.length === 0)
        return encodeUpdate([], [{ client: pickOne(knownClients), clock: int(64), len: 1 + int(3) }])
      const rounds = 1 + int(3)
      for (let r = 0; r < rounds; r++) {
        const it = pickOne(items)
        const mutable = it as unknown as { id: Y.ID; length: number; content: Content }
        switch (int(8)) {
          case 0:
            mutable.id = Y.createID(
              pickOne(knownClients),
              Math.max(0, Y.getState(replica.store, it.id.client) - int(3)),
            )
            break
          case 1:
            it.origin = pickOne(knownIds)
            it.parent = null
            it.parentSub = null
            break
          case 2:
            mutable.content = new Y.ContentDeleted(1 + int(3))
            mutable.length = mutable.content.getLength()
            break
          case 3:
            mutable.content = new Y.ContentAny(int(2) === 0 ? [] : [pickOne([1, 'x', null, { v: true }, [1, 2]])])
            mutable.length = mutable.content.getLength()
            break
          case 4:
            it.origin = null
            it.rightOrigin = null
            it.parent = pickOne(roots) as never
            it.parentSub = pickOne(keys)
            break
          case 5:
            it.rightOrigin = pickOne(knownIds)
            break
          case 6: {
            const clock = Math.max(0, Y.getState(replica.store, it.id.client) - 1 - int(2))
            mutable.id = Y.createID(it.id.client, clock)
            break
          }
          default:
            it.origin = pickOne(knownIds)
        }
      }
      const deletes =
        int(3) === 0 ? [{ client: pickOne(knownIds).client, clock: pickOne(knownIds).clock, len: 1 + int(2) }] : []
      try {
        return encodeUpdate(items, deletes)
      } catch {
        return encodeUpdate([], deletes)
      }
    }

    const stats = {
      sent: 0,
      connections: 0,
      resubscribed: 0,
      closes: new Map<number, number>(),
      outcomes: new Map<string, number>(),
    }
    const started = Date.now()
    let m: RawClient | null = null
    const token = await tokenFor('mallory')
    while (stats.sent < MAX_FRAMES && Date.now() - started < MAX_MS) {
      if (!m?.isOpen) {
        if (m?.closeInfo) stats.closes.set(m.closeInfo.code, (stats.closes.get(m.closeInfo.code) ?? 0) + 1)
        m?.close()
        m = await RawClient.connect(w.relay.url, token)
        const current = m
        s.defer(() => current.close())
        stats.connections++
        const synced = await m.sync(name, 2_000).then(
          () => true,
          () => false,
        )
        if (!synced) {
          // A mutation made her leave (which she may do): alice adds her back, so the fuzzer keeps
          // writing as a member rather than into a denied document.
          await w.conv.add('mallory').catch(() => {})
          await waitUntil(
            async () => (await w.relay.core._load(name)!).conv!.participants.has('mallory'),
            'mallory is back',
          )
          stats.resubscribed++
          m.close()
          m = null
          continue
        }
      }
      // A tenth pure noise, then mutated frames, mutated updates in a well-formed envelope (which reach
      // the update decoder and the validator instead of failing at the frame header) and
      // Hand-encoded structural corruptions go straight to the validator: dangling, foreign or
      // re-pointed origins, items arriving deleted or empty, clocks overlapping what is stored.
      const dice = int(20)
      const kind = dice < 2 ? 'noise' : dice < 8 ? 'frame' : dice < 14 ? 'update' : 'structural'
      const bytes =
        kind === 'noise'
          ? randomBytes(1 + int(64))
          : kind === 'frame'
            ? mutate(pickOne(bases))
            : kind === 'update'
              ? (int(2) === 0 ? updateFrame : step2Frame)(name, mutate(pickOne(updates)))
              : updateFrame(name, structural())
      m.send(bytes)
      stats.sent++
      // Wait until the relay handled it (or closed the socket) before the next one.
      await Promise.race([m.roundTrip('user/mallory', 3_000).catch(() => {}), m.closed])
      const outcome = `${kind}:${m.closeInfo ? m.closeInfo.code : 'open'}`
      stats.outcomes.set(outcome, (stats.outcomes.get(outcome) ?? 0) + 1)
      if (process.env.COLLOQUY_FUZZ_DEBUG && m.closeInfo?.code === 4400 && kind !== 'noise' && kind !== 'frame')
        console.log(kind, m.closeInfo.reason, Buffer.from(bytes).toString('hex'))
    }
    if (m?.closeInfo) stats.closes.set(m.closeInfo.code, (stats.closes.get(m.closeInfo.code) ?? 0) + 1)
    m?.close()
    console.log(
      `fuzz: ${stats.sent} frames over ${stats.connections} connections in ${Date.now() - started} ms; closes by code: ${JSON.stringify(Object.fromEntries(stats.closes))}; outcomes: ${JSON.stringify(Object.fromEntries([...stats.outcomes].sort()))}; mallory re-added ${stats.resubscribed} times`,
    )
    expect(stats.sent).toBeGreaterThan(0)

    // The relay process is healthy.
    const health = await fetch(`http://127.0.0.1:${w.relay.port}/healthz`)
    expect(health.status).toBe(200)
    expect(((await health.json()) as { ok: boolean }).ok).toBe(true)
    expect(relayErrors).toEqual([])

    // Everything alice and bob wrote is intact, in the store and on their clients.
    await w.relay.core.flush()
    const storedAfter = await storedDoc(w.storage, w.docName)
    expect(honestView(storedAfter)).toEqual(honestBefore)
    storedAfter.destroy()
    expect(honestView(w.conv._doc.doc)).toEqual(honestBefore)
    expect(honestView(w.bconv._doc.doc)).toEqual(honestBefore)

    // An honest client still syncs from scratch, and the relay still carries messages.
    const fresh = await (async () => {
      const bob2 = await s.client('bob', w.relay.url)
      const conv = await listed(bob2, w.conv.sid, 'a fresh client of bob’s lists the conversation')
      await bob2.whenSynced()
      await waitUntil(() => conv.friendlyName === 'team', 'the fresh client sees the conversation’s name')
      return conv
    })()
    expect((await fresh.getMessages()).items.some((x) => x.body === 'hello from alice')).toBe(true)
    await assertStillServes(w, 'still serving after the fuzzer')
  })
})
