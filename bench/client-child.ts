/**
 * Clients in their own process, for the benchmarks: `node bench/client-child.ts <kind>` with kind
 * `colloquy` (the real `Client`, token from `signToken`), `yws` (y-websocket 3 `WebsocketProvider`s
 * on a Y.Map of messages keyed by id, the layout colloquy uses) or `raw` (`ws` sockets carrying JSON
 * text frames). Every client uses the `ws` package's WebSocket, so the socket code is the same.
 *
 * Roles, driven over IPC: a writer, a group of readers, a joiner of many conversations, and (stock
 * y-websocket only, which keeps nothing on disk) a seeder that fills the relay's rooms.
 */
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { signToken } from '../relay/index.ts'
import { participantSidFor } from '../src/ids.ts'
import { Client, type Conversation, type Message } from '../src/index.ts'
import { ConversationDocument, participantRecord } from '../src/schema/layout.ts'
import type { WebSocketConstructor } from '../src/sync/websocket.ts'
import { now, SECRET, serve, sleep, withDeadline } from './proc.ts'

type Kind = 'colloquy' | 'yws' | 'raw'
const kind = process.argv[2] as Kind
if (kind !== 'colloquy' && kind !== 'yws' && kind !== 'raw') {
  process.stderr.write(`unknown client kind ${kind}\n`)
  process.exit(2)
}

/** What one benchmark message carries besides its text: the send time and the run's tag. */
interface Wire {
  id: string
  author: string
  text: string
  t: number
  tag: string
}

const TEXT = 'x'.repeat(90)
const textOf = (i: number): string => `message ${i} ${TEXT}`

/** Polls until `condition` holds, or throws after `ms`. */
const until = async (condition: () => boolean, what: string, ms = 60_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(5)
  }
}

const WS = WebSocket as unknown as WebSocketConstructor

const colloquyClient = async (url: string, identity: string): Promise<Client> => {
  const token = await signToken({ identity, secret: SECRET, expiresInSeconds: 3600 })
  const client = await Client.create({ relayUrl: url, token, WebSocket: WS })
  client.on('connectionError', (e: { message: string }) => process.stderr.write(`${identity}: ${e.message}\n`))
  return client
}

const colloquyConversation = async (client: Client, sid: string): Promise<Conversation> => {
  let conv: Conversation | null = null
  const deadline = Date.now() + 60_000
  while (!conv) {
    conv = await client.getConversationBySid(sid).catch(() => null)
    if (conv) break
    if (Date.now() > deadline) throw new Error(`${client.identity} never saw conversation ${sid}`)
    await sleep(5)
  }
  await withDeadline(client.whenSynced(), 60_000, `${client.identity} synced`)
  return conv
}

const provider = (url: string, room: string, doc: Y.Doc): WebsocketProvider =>
  new WebsocketProvider(url, room, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  })

const synced = (p: WebsocketProvider): Promise<void> =>
  p.synced ? Promise.resolve() : new Promise((resolve) => p.once('sync', () => resolve()))

const rawSocket = (url: string, room: string): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/${room}`)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })

// ------------------------------------------------------------------ state of this process

const closers: Array<() => Promise<void> | void> = []

/** One reader: how many of the run's messages it has, when the last came, and their latencies. */
interface ReaderState {
  count: number
  lastAt: number
  latencies: number[]
}
const readers: ReaderState[] = []
let armed: { n: number; tag: string; onDone: () => void } | null = null
let waiting: (() => void) | null = null
let armedCpu: NodeJS.CpuUsage | null = null

const received = (r: ReaderState, tag: string, sentAt: number): void => {
  if (!armed || tag !== armed.tag) return
  const at = now()
  r.count++
  r.lastAt = at
  r.latencies.push(at - sentAt)
  if (r.count === armed.n) armed.onDone()
}

let send: ((w: Wire) => Promise<void> | void) | null = null

const closeAll = async (): Promise<void> => {
  for (const c of closers.splice(0).reverse()) await c()
  readers.length = 0
}

serve({
  /** Opens the writer; for colloquy it creates the conversation and adds every reader. */
  async writer(args) {
    const url = args.url as string
    if (kind === 'colloquy') {
      const client = await colloquyClient(url, 'writer')
      closers.push(() => client.shutdown())
      const conv = await client.createConversation({ friendlyName: 'fan-out', join: true })
      for (const id of args.readers as string[]) await conv.add(id)
      await withDeadline(client.whenSynced(), 60_000, 'writer synced')
      send = async (w) => {
        await conv.sendMessage({ body: w.text, attributes: { t: w.t, tag: w.tag } })
      }
      return { room: conv.sid }
    }
    const room = args.room as string
    if (kind === 'yws') {
      const doc = new Y.Doc()
      const p = provider(url, room, doc)
      closers.push(() => p.destroy())
      await withDeadline(synced(p), 30_000, 'writer synced')
      const messages = doc.getMap<Wire>('messages')
      send = (w) => {
        doc.transact(() => messages.set(w.id, w))
      }
      return { room }
    }
    const ws = await rawSocket(url, room)
    closers.push(() => ws.terminate())
    send = (w) => ws.send(JSON.stringify(w))
    return { room }
  },

  /** Opens `ids.length` readers of `room` and waits until each one is synced. */
  async readers(args) {
    const url = args.url as string
    const room = args.room as string
    const ids = args.ids as string[]
    await Promise.all(
      ids.map(async (id) => {
        const r: ReaderState = { count: 0, lastAt: 0, latencies: [] }
        readers.push(r)
        if (kind === 'colloquy') {
          const client = await colloquyClient(url, id)
          closers.push(() => client.shutdown())
          const conv = await colloquyConversation(client, room)
          conv.on('messageAdded', (m: Message) => {
            const a = m.attributes as { t?: number; tag?: string }
            received(r, a.tag ?? '', a.t ?? 0)
          })
        } else if (kind === 'yws') {
          const doc = new Y.Doc()
          const p = provider(url, room, doc)
          closers.push(() => p.destroy())
          await withDeadline(synced(p), 30_000, `${id} synced`)
          doc.getMap<Wire>('messages').observe((event) => {
            for (const [key, change] of event.changes.keys) {
              if (change.action !== 'add') continue
              const w = event.target.get(key) as Wire
              received(r, w.tag, w.t)
            }
          })
        } else {
          const ws = await rawSocket(url, room)
          closers.push(() => ws.terminate())
          ws.on('message', (data: Buffer) => {
            const w = JSON.parse(data.toString()) as Wire
            received(r, w.tag, w.t)
          })
        }
      }),
    )
    return { readers: readers.length }
  },

  /** Prepares every reader of this process for a run of `n` messages tagged `tag`. */
  arm(args) {
    for (const r of readers) {
      r.count = 0
      r.lastAt = 0
      r.latencies = []
    }
    waiting = null
    armedCpu = process.cpuUsage()
    armed = {
      n: args.n as number,
      tag: args.tag as string,
      onDone: () => {
        if (readers.every((x) => x.count >= (armed?.n ?? 0))) waiting?.()
      },
    }
    return true
  },

  /** Resolves once every reader has all the run's messages: the last arrival and every latency. */
  async wait(args) {
    const r = armed
    if (!r) throw new Error('not armed')
    if (readers.some((x) => x.count < r.n)) {
      await withDeadline(
        new Promise<void>((resolve) => {
          waiting = resolve
          if (readers.every((x) => x.count >= r.n)) resolve()
        }),
        (args.ms as number) ?? 120_000,
        `readers got ${r.n} messages (have ${readers.map((x) => x.count).join(',')})`,
      )
    }
    armed = null
    const cpu = process.cpuUsage(armedCpu ?? undefined)
    const lastAt = Math.max(...readers.map((x) => x.lastAt))
    return {
      lastAt,
      latencies: args.latencies ? readers.flatMap((x) => x.latencies) : [],
      cpuMs: (cpu.user + cpu.system) / 1000,
    }
  },

  /** Sends `n` messages: as fast as the writer goes (`rate` 0), or paced at `rate` per second. */
  async send(args) {
    const n = args.n as number
    const rate = (args.rate as number) ?? 0
    const tag = args.tag as string
    if (!send) throw new Error('no writer')
    const write = send
    const startAt = now()
    for (let i = 0; i < n; i++) {
      if (rate > 0) {
        const due = startAt + (i * 1000) / rate
        const wait = due - now()
        if (wait > 1) await sleep(wait)
        else while (now() < due) {}
      }
      await write({ id: `${tag}-${i}`, author: 'writer', text: textOf(i), t: now(), tag })
    }
    return { startAt, endAt: now() }
  },

  /**
   * Joins `count` conversations from a fresh device and waits until all are synced. colloquy: the
   * joiner's inbox lists them (seeded beforehand); stock y-websocket and raw: one socket per room.
   */
  async join(args) {
    const url = args.url as string
    const count = args.count as number
    if (kind === 'colloquy') {
      const token = await signToken({ identity: 'joiner', secret: SECRET, expiresInSeconds: 3600 })
      const t0 = now()
      const client = await Client.create({ relayUrl: url, token, WebSocket: WS })
      closers.push(() => client.shutdown())
      let added = 0
      let failure: string | null = null
      client.on('conversationAdded', () => {
        added++
      })
      client.on('connectionError', (e: { message: string }) => {
        failure = e.message
      })
      await until(() => added >= count || failure !== null, `joiner sees ${count} conversations`, 120_000)
      if (failure) throw new Error(`joiner cut off: ${failure}`)
      await withDeadline(client.whenSynced(), 120_000, 'joiner synced')
      return { ms: now() - t0 }
    }
    const rooms = Array.from({ length: count }, (_, i) => `conv-${i}`)
    if (kind === 'yws') {
      const t0 = now()
      const providers = rooms.map((room) => provider(url, room, new Y.Doc()))
      closers.push(() => {
        for (const p of providers) p.destroy()
      })
      await withDeadline(Promise.all(providers.map(synced)), 120_000, 'providers synced')
      return { ms: now() - t0 }
    }
    const t0 = now()
    const sockets = await withDeadline(Promise.all(rooms.map((room) => rawSocket(url, room))), 120_000, 'sockets open')
    closers.push(() => {
      for (const ws of sockets) ws.terminate()
    })
    return { ms: now() - t0 }
  },

  /** Stock y-websocket only: fills rooms `conv-0…` with a small conversation each (it keeps no history on disk). */
  async seed(args) {
    const url = args.url as string
    const count = args.count as number
    for (let start = 0; start < count; start += 100) {
      const batch = Array.from({ length: Math.min(100, count - start) }, (_, k) => start + k)
      const providers = batch.map((i) => {
        const doc = new Y.Doc()
        fillConversation(doc, `conv-${i}`)
        return provider(url, `conv-${i}`, doc)
      })
      await withDeadline(Promise.all(providers.map(synced)), 60_000, 'seed synced')
      await sleep(20)
      for (const p of providers) p.destroy()
    }
    await sleep(100)
    return true
  },

  /**
   * colloquy only: the seeder creates `count` conversations with the joiner as a participant and
   * one message each, and waits until the relay has sequenced every message (so it has stored
   * everything before them). Paced in batches, as an app creating conversations would be.
   */
  async seedColloquy(args) {
    const client = await colloquyClient(args.url as string, 'seeder')
    const count = args.count as number
    const sent: Message[] = []
    for (let i = 0; i < count; i++) {
      const conv = await client.createConversation({ friendlyName: `room ${i}`, join: true })
      await conv.add('joiner')
      sent.push(await conv.sendMessage(`welcome to room ${i}`))
      if (sent.length % 25 === 0 || i === count - 1)
        await until(() => sent.every((m) => m.index !== null), 'the relay sequenced the seeded messages', 120_000)
    }
    await client.shutdown()
    return true
  },

  /** Closes every client and socket of this process. */
  async leave() {
    await closeAll()
    return true
  },
})

/** The same content as a seeded colloquy conversation: metadata, two participants, one message. */
const fillConversation = (doc: Y.Doc, sid: string): void => {
  const conv = new ConversationDocument(doc)
  const at = Date.now()
  doc.transact(() => {
    conv.set('sid', sid, 'seeder', at)
    conv.set('createdBy', 'seeder', 'seeder', at)
    conv.set('dateCreated', at, 'seeder', at)
    conv.set('friendlyName', `room ${sid}`, 'seeder', at)
    for (const identity of ['seeder', 'joiner']) {
      conv.participants.set(
        identity,
        participantRecord(sid, identity, {
          at,
          addedBy: 'seeder',
          membership: '0123456789abcdef',
          role: identity === 'seeder' ? 'admin' : 'member',
        }),
      )
    }
    const id = `IM${'0'.repeat(32)}`
    conv.messages.set(id, {
      id,
      author: 'seeder',
      participantSid: participantSidFor(sid, 'seeder'),
      content: [{ type: 'text', text: `welcome to ${sid}` }],
      attributes: {},
      replyTo: null,
      createdAt: at,
    })
    conv.stamps.set(id, { i: 0, t: at })
  })
}
