/**
 * Document cost and cold start, one measurement per fresh process (run with --expose-gc):
 * `generate` writes the data of one size once; every other command measures one thing on it.
 *
 * The data: one author (alice) writes n messages, each in its own transaction, to a conversation
 * she shares with bob; a relay-side replica runs the real `Sequencer`, so the stream of updates is
 * exactly what the relay forwards to bob (each message, then its stamp). The same messages as JSON
 * records (message fields plus index and server time) are the baseline.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { inboxEntryFor, inboxMap, lastMessageOf } from '../relay/inbox.ts'
import { participantSidFor } from '../src/ids.ts'
import { Client, type Message } from '../src/index.ts'
import {
  ConversationDocument,
  type MessageRecord,
  type ParticipantRecord,
  participantRecord,
} from '../src/schema/layout.ts'
import { MessageLog } from '../src/schema/message-log.ts'
import { Sequencer } from '../src/schema/sequencer.ts'
import { MemoryStorage } from '../src/storage/memory.ts'
import { createSqliteStorage } from '../src/storage/sqlite.ts'
import { encodeUpdateFrame } from '../src/sync/protocol.ts'
import type { Transport, TransportEvents } from '../src/sync/transport.ts'
import { gc, now, serve } from './proc.ts'

const SID = 'CH00000000000000000000000000000001'
const NAME = `conv/${SID}`
const T0 = 1_700_000_000_000

const idOf = (i: number): string => `IM${i.toString(16).padStart(32, '0')}`
const textOf = (i: number): string => `message ${i}: ${'the quick brown fox jumps over the lazy dog '.repeat(2)}`.trim()

const recordOf = (i: number): MessageRecord => ({
  id: idOf(i),
  author: 'alice',
  participantSid: participantSidFor(SID, 'alice'),
  content: [{ type: 'text', text: textOf(i) }],
  attributes: {},
  replyTo: null,
  createdAt: T0 + i,
})

const participant = (identity: string, role: 'admin' | 'member'): ParticipantRecord =>
  participantRecord(SID, identity, { at: T0, addedBy: 'alice', membership: '0123456789abcdef', role })

/** Length-prefixed list of byte arrays. */
const pack = (items: Uint8Array[]): Uint8Array => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, items.length)
  for (const u of items) encoding.writeVarUint8Array(encoder, u)
  return encoding.toUint8Array(encoder)
}

const unpack = (data: Uint8Array): Uint8Array[] => {
  const decoder = decoding.createDecoder(data)
  const n = decoding.readVarUint(decoder)
  return Array.from({ length: n }, () => decoding.readVarUint8Array(decoder))
}

/** A relay → reader sync frame carrying `update`. */
const frameOf = (update: Uint8Array): Uint8Array => encodeUpdateFrame(NAME, update)

const heap = (): number => {
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/** A transport that never connects until told to: an offline device, or a socket the benchmark feeds. */
const fakeTransport = (): { transport: Transport; events: Promise<TransportEvents> } => {
  let resolve!: (e: TransportEvents) => void
  const events = new Promise<TransportEvents>((r) => {
    resolve = r
  })
  return {
    transport: {
      connect(e) {
        resolve(e)
        return { send() {}, close() {} }
      },
    },
    events,
  }
}

/** bob's device store: the inbox listing the conversation (and, for cold start, the conversation). */
const seedBobStore = async (
  storage: { append(name: string, u: Uint8Array): Promise<void> },
  state: Uint8Array | null,
): Promise<void> => {
  const conv = new ConversationDocument(new Y.Doc())
  if (state) Y.applyUpdate(conv.doc, state)
  else conv.set('sid', SID, 'alice', T0)
  const inbox = new Y.Doc()
  inboxMap(inbox).set(SID, inboxEntryFor(conv, state ? lastMessageOf(conv) : null, undefined, T0))
  await storage.append('inbox/bob', Y.encodeStateAsUpdate(inbox))
  if (state) await storage.append(NAME, state)
}

serve({
  /** Writes stream.bin, state.bin, messages.json and client.sqlite for `n` messages into `dir`. */
  async generate(args) {
    const n = args.n as number
    const dir = args.dir as string
    const author = new Y.Doc()
    const relay = new Y.Doc()
    const updates: Uint8Array[] = []
    relay.on('update', (u: Uint8Array) => updates.push(u))
    author.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin !== 'relay') Y.applyUpdate(relay, u, 'author')
    })
    const a = new ConversationDocument(author)
    author.transact(() => {
      a.set('sid', SID, 'alice', T0)
      a.set('createdBy', 'alice', 'alice', T0)
      a.set('dateCreated', T0, 'alice', T0)
      a.set('friendlyName', 'burst', 'alice', T0)
      a.participants.set('alice', participant('alice', 'admin'))
      a.participants.set('bob', participant('bob', 'member'))
    })
    const setup = updates.length
    const sequencer = new Sequencer(relay, { now: () => T0 + 1000 })
    for (let i = 0; i < n; i++) {
      const rec = recordOf(i)
      author.transact(() => a.messages.set(rec.id, rec))
    }
    sequencer.destroy()
    const state = Y.encodeStateAsUpdate(relay)
    const r = new ConversationDocument(relay)
    const json = Array.from({ length: n }, (_, i) => {
      const rec = recordOf(i)
      const stamp = r.stamps.get(rec.id)!
      return { ...rec, index: stamp.i, t: stamp.t }
    })
    const jsonText = JSON.stringify(json)
    writeFileSync(`${dir}/stream.bin`, pack(updates))
    writeFileSync(`${dir}/state.bin`, state)
    writeFileSync(`${dir}/messages.json`, jsonText)
    const storage = createSqliteStorage({ path: `${dir}/client.sqlite` })
    await seedBobStore(storage, state)
    await storage.close()
    const wire = updates.slice(setup).reduce((sum, u) => sum + frameOf(u).byteLength, 0)
    const jsonWire = json.reduce((sum, m) => sum + Buffer.byteLength(JSON.stringify(m)), 0)
    return {
      restPerMsg: state.byteLength / n,
      jsonRestPerMsg: Buffer.byteLength(jsonText) / n,
      wirePerMsg: wire / n,
      jsonWirePerMsg: jsonWire / n,
      framesPerMsg: (updates.length - setup) / n,
    }
  },

  /** Local append through the real client (local-only: its own sequencer, memory store): ms for n sends. */
  async localAppend(args) {
    const n = args.n as number
    const client = await Client.create({ identity: 'alice' })
    const conv = await client.createConversation({ join: true })
    const t0 = now()
    for (let i = 0; i < n; i++) await conv.sendMessage(textOf(i))
    const ms = now() - t0
    await client.shutdown()
    return { ms }
  },

  /** Local append of the JSON baseline: build the record, keep it, serialise it for the log. */
  async localAppendJson(args) {
    const n = args.n as number
    const records: unknown[] = []
    const log: string[] = []
    const t0 = now()
    for (let i = 0; i < n; i++) {
      const rec = { ...recordOf(i), index: i, t: T0 }
      records.push(rec)
      log.push(JSON.stringify(rec))
    }
    return { ms: now() - t0, kept: records.length + log.length }
  },

  /** The burst applied on a remote replica, document level: Y.Doc + the client's message log. */
  async remoteDoc(args) {
    const updates = unpack(readFileSync(`${args.dir as string}/stream.bin`))
    const t0 = now()
    const doc = new Y.Doc()
    const conv = new ConversationDocument(doc)
    const log = new MessageLog(conv)
    for (const u of updates) Y.applyUpdate(doc, u, 'remote')
    const ms = now() - t0
    return { ms, messages: log.length }
  },

  /**
   * The burst applied on a remote replica through the real client: bob's `Client` (memory store)
   * receives every frame the relay would send him, with its events, message log and local
   * persistence (and compaction) — until everything is stored.
   */
  async remoteClient(args) {
    const frames = unpack(readFileSync(`${args.dir as string}/stream.bin`)).map(frameOf)
    const storage = new MemoryStorage()
    await seedBobStore(storage, null)
    const { transport, events } = fakeTransport()
    const client = await Client.create({ identity: 'bob', transport, storage })
    const e = await events
    e.onOpen()
    const conv = client._peek(SID)
    if (!conv) throw new Error('bob does not track the conversation')
    let added = 0
    conv.on('messageAdded', (_m: Message) => {
      added++
    })
    const t0 = now()
    for (const f of frames) e.onMessage(f)
    // Local persistence runs on promise chains: one macrotask later, everything is stored.
    await new Promise((r) => setImmediate(r))
    const ms = now() - t0
    await client.shutdown()
    return { ms, messages: added }
  },

  /** The JSON baseline of the remote burst: parse each frame, keep it in order and by id. */
  async remoteJson(args) {
    const records = JSON.parse(readFileSync(`${args.dir as string}/messages.json`, 'utf8')) as Array<{ id: string }>
    const frames = records.map((r) => JSON.stringify(r))
    const t0 = now()
    const list: unknown[] = []
    const byId = new Map<string, unknown>()
    for (const f of frames) {
      const m = JSON.parse(f) as { id: string }
      list.push(m)
      byId.set(m.id, m)
    }
    return { ms: now() - t0, messages: list.length + byId.size * 0 }
  },

  /** Heap of the loaded document (Y.Doc + message log), per message. */
  async heapDoc(args) {
    // The input stays alive across both readings, so only what loading built is counted.
    const state = readFileSync(`${args.dir as string}/state.bin`)
    const h0 = heap()
    const doc = new Y.Doc()
    Y.applyUpdate(doc, state)
    const log = new MessageLog(new ConversationDocument(doc))
    const h1 = heap()
    return { bytes: h1 - h0, messages: log.length, input: state.byteLength }
  },

  /** Heap of JSON.parse of the same messages, per message. */
  async heapJson(args) {
    const text = readFileSync(`${args.dir as string}/messages.json`, 'utf8')
    const h0 = heap()
    const list = JSON.parse(text) as unknown[]
    const h1 = heap()
    return { bytes: h1 - h0, messages: list.length, input: text.length }
  },

  /**
   * Cold start: bob's device opens its SQLite store (offline: the relay is configured but not
   * reachable) and shows the newest 30 messages. Time from opening the store to the 30 bodies;
   * heap growth while the client is open.
   */
  async coldClient(args) {
    const h0 = heap()
    const t0 = now()
    const storage = createSqliteStorage({ path: `${args.dir as string}/client.sqlite` })
    const { transport } = fakeTransport()
    const client = await Client.create({ identity: 'bob', transport, storage })
    const conv = await client.getConversationBySid(SID)
    const page = await conv.getMessages(30)
    const bodies = page.items.map((m) => m.body)
    const ms = now() - t0
    const h1 = heap()
    const ok = bodies.length === 30 && bodies[29] === textOf((args.n as number) - 1)
    await client.shutdown()
    return { ms, bytes: h1 - h0, ok }
  },

  /** Cold start of the JSON baseline: read the file, JSON.parse, the newest 30 bodies. */
  async coldJson(args) {
    const h0 = heap()
    const t0 = now()
    const list = JSON.parse(readFileSync(`${args.dir as string}/messages.json`, 'utf8')) as MessageRecord[]
    const bodies = list.slice(-30).map((m) => (m.content[0] as { text: string }).text)
    const ms = now() - t0
    const h1 = heap()
    const ok = bodies.length === 30 && bodies[29] === textOf((args.n as number) - 1) && list.length > 0
    return { ms, bytes: h1 - h0, ok }
  },
})
