/**
 * Load: how many concurrent connections and conversations ONE relay process carries on this
 * machine, message delivery latency under that load, and the relay's memory before, at the peak
 * and after every client left (idle documents unload after `--idle-ms`).
 *
 *     node bench/load.ts                       # ramp 100 → 500 → 1000 → 2000 → 4000 clients (default)
 *     node bench/load.ts --levels 100,500,1000,2000,4000 --messages 600 --rate 50
 *     node bench/load.ts --levels 1000 --rate 400              # throughput at one level
 *     node bench/load.ts --store memory                        # the relay without durable storage
 *     node bench/load.ts --quick               # tiny numbers: proves it works (test/faults/load-quick.test.ts)
 *
 * The relay runs as its own process (this file with `--relay-child`, `--expose-gc`) on a fresh
 * SQLite file (or `--store memory`), on 127.0.0.1 only. The clients are lightweight raw-protocol clients in this process:
 * one WebSocket each, the colloquy wire protocol (multiplexed y-websocket frames, `DocChannel`),
 * a Y.Doc per document: their inbox and their conversation. Conversations (`--size` members each)
 * are created by real `Client`s, which then leave. At each level every conversation's members stay
 * connected while `--messages` messages go out at `--rate` per second from random members; a
 * message's delivery latency is the time from its write to each other member's replica holding it
 * (same process, same clock), its stamp latency the time until its author sees the relay's index.
 * Bounded: every wait has a deadline, and the whole run stops after `--max-seconds`.
 * Prints a markdown report on stdout; progress goes to stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { createRelay, signToken } from '../relay/index.ts'
import { NO_QUOTAS } from '../relay/quotas.ts'
import { newMessageSid } from '../src/ids.ts'
import { Client } from '../src/index.ts'
import { ConversationDocument, docNames } from '../src/schema/layout.ts'
import { DocChannel } from '../src/sync/channel.ts'
import { readFrame } from '../src/sync/protocol.ts'
import { withDeadline } from './proc.ts'

const SECRET = 'colloquy-load-secret-0123456789abcdef-0123'
const startLoad = loadavg()

const { values } = parseArgs({
  options: {
    'relay-child': { type: 'boolean' },
    quick: { type: 'boolean' },
    levels: { type: 'string' },
    size: { type: 'string' },
    messages: { type: 'string' },
    rate: { type: 'string' },
    'idle-ms': { type: 'string' },
    'max-seconds': { type: 'string' },
    db: { type: 'string' },
    store: { type: 'string' },
  },
})

// ---------------------------------------------------------------- the relay process

interface RelayStats {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  cpuMicros: number
  connections: number
  documents: number
  /** The relay's event-loop delay p99 since the last reset, ms. */
  lagP99: number
}

async function relayChild(): Promise<void> {
  const relay = await createRelay({
    auth: { secret: SECRET },
    dataPath: values.db ?? ':memory:',
    idleUnloadMs: Number(values['idle-ms'] ?? 1000),
    // A few seeders create every conversation of the load.
    limits: { ...NO_QUOTAS },
  })
  const port = await relay.listen(0, '127.0.0.1')
  const gc = (globalThis as { gc?: () => void }).gc
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  process.on('message', async (m: { id: number; cmd: string; gc?: boolean; resetLag?: boolean }) => {
    if (m.cmd === 'stats') {
      const lagP99 = lag.count > 0 ? lag.percentile(99) / 1e6 : 0
      if (m.resetLag) lag.reset()
      const cpu = process.cpuUsage()
      if (m.gc && gc) {
        gc()
        gc()
      }
      const mem = process.memoryUsage()
      const stats: RelayStats = {
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        heapTotal: mem.heapTotal,
        external: mem.external,
        cpuMicros: cpu.user + cpu.system,
        connections: relay.core.connectionCount,
        documents: relay.core.loadedDocuments,
        lagP99,
      }
      process.send!({ id: m.id, stats })
    } else if (m.cmd === 'close') {
      await relay.close()
      process.send!({ id: m.id })
      setTimeout(() => process.exit(0), 10)
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.send!({ ready: true, port })
}

// ---------------------------------------------------------------- the driver

async function main(): Promise<void> {
  const quick = values.quick === true
  const levels = (values.levels ?? (quick ? '6,12' : '100,500,1000,2000,4000')).split(',').map(Number)
  const size = Number(values.size ?? (quick ? 3 : 4))
  const messages = Number(values.messages ?? (quick ? 20 : 600))
  const rate = Number(values.rate ?? (quick ? 100 : 50))
  const store = values.store ?? 'sqlite'
  if (store !== 'sqlite' && store !== 'memory') throw new Error('--store is sqlite or memory')
  const idleMs = Number(values['idle-ms'] ?? (quick ? 300 : 2000))
  const maxSeconds = Number(values['max-seconds'] ?? (quick ? 60 : 600))
  if (levels.some((n) => !Number.isInteger(n) || n < size) || !(size >= 2) || !(messages > 0) || !(rate > 0))
    throw new Error('bad arguments: --levels n,n,… (each ≥ --size), --size ≥ 2, --messages > 0, --rate > 0')

  const progress = (line: string) => process.stderr.write(`[load] ${line}\n`)
  const started = Date.now()
  const dir = mkdtempSync(join(tmpdir(), 'colloquy-load-'))
  const relay = new RelayChild(store === 'sqlite' ? join(dir, 'relay.sqlite') : ':memory:', idleMs)
  const clients: LightClient[] = []
  const stop = setTimeout(() => {
    process.stderr.write(`[load] gave up after ${maxSeconds} s (--max-seconds)\n`)
    relay.kill()
    rmSync(dir, { recursive: true, force: true })
    process.exit(1)
  }, maxSeconds * 1000)
  stop.unref()

  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const rows: string[] = []
  let peak: RelayStats | null = null
  let base: RelayStats
  let after: RelayStats
  try {
    const port = await relay.ready
    const url = `ws://127.0.0.1:${port}`
    base = await relay.stats(true)
    progress(`relay up on ${url}; ${fmtMiB(base.rss)} RSS, ${fmtMiB(base.heapUsed)} heap`)

    const convs: string[] = []
    for (const level of levels) {
      // Conversations for the newcomers, created by real clients (which then leave).
      const wanted = Math.floor(level / size)
      const t0 = performance.now()
      const { sids: fresh, owners } = await createConversations(url, convs.length, wanted - convs.length, size)
      convs.push(...fresh)
      // Connect the newcomers: member k of conversation c is `u<c>-<k>`.
      const newcomers: LightClient[] = []
      for (let c = 0; c < wanted; c++) {
        for (let k = 0; k < size; k++) {
          const identity = `u${c}-${k}`
          if (clients.some((x) => x.identity === identity)) continue
          newcomers.push(new LightClient(url, identity, [convs[c]!]))
        }
      }
      for (let i = 0; i < newcomers.length; i += 50) {
        const batch = newcomers.slice(i, i + 50)
        await Promise.all(batch.map((c) => c.open()))
        clients.push(...batch)
      }
      await withDeadline(
        Promise.all(newcomers.map((c) => c.ready())),
        60_000,
        'every new client synced and sees itself as a participant',
      )
      // The relay has every conversation (its members see themselves in it): the owners leave.
      await Promise.all(owners.map((o) => o.shutdown()))
      const connectMs = performance.now() - t0
      const atLevel = await relay.stats(false, true)
      progress(
        `${clients.length} clients, ${convs.length} conversations connected in ${(connectMs / 1000).toFixed(1)} s; ` +
          `relay ${atLevel.connections} connections, ${atLevel.documents} documents`,
      )

      // Messages at a steady rate from random members of random conversations.
      const sample = new Latencies()
      const cpu0 = atLevel.cpuMicros
      lag.reset()
      const w0 = performance.now()
      const byConv = new Map<string, LightClient[]>()
      for (const c of clients) for (const sid of c.sids) byConv.set(sid, [...(byConv.get(sid) ?? []), c])
      const sids = [...byConv.keys()]
      for (const c of clients) c.record(sample)
      let expected = 0
      for (let i = 0; i < messages; i++) {
        const due = w0 + (i * 1000) / rate
        const wait = due - performance.now()
        if (wait > 1) await new Promise((r) => setTimeout(r, wait))
        const sid = sids[Math.floor(Math.random() * sids.length)]!
        const members = byConv.get(sid)!
        const from = members[Math.floor(Math.random() * members.length)]!
        from.send(sid)
        expected += members.length - 1
      }
      await withDeadline(
        waitFor(() => sample.delivered.length >= expected && sample.stamped.length >= messages),
        60_000,
        `every message delivered (${sample.delivered.length}/${expected}) and stamped (${sample.stamped.length}/${messages})`,
      )
      const windowMs = performance.now() - w0
      const end = await relay.stats(false)
      const withGc = await relay.stats(true)
      if (!peak || end.rss > peak.rss) peak = end
      const relayCpu = (end.cpuMicros - cpu0) / 1000 / windowMs
      rows.push(
        `| ${clients.length} | ${convs.length} | ${end.documents} | ${(connectMs / 1000).toFixed(1)} s | ` +
          `${messages} @ ${rate}/s → ${(messages / (windowMs / 1000)).toFixed(0)}/s | ${expected} | ` +
          `${ms(sample.p(sample.delivered, 50))} / ${ms(sample.p(sample.delivered, 95))} / ${ms(sample.p(sample.delivered, 99))} / ${ms(Math.max(...sample.delivered))} | ` +
          `${ms(sample.p(sample.stamped, 50))} / ${ms(sample.p(sample.stamped, 95))} / ${ms(sample.p(sample.stamped, 99))} | ` +
          `${(relayCpu * 100).toFixed(0)} % | ${fmtMiB(end.rss)} | ${fmtMiB(withGc.heapUsed)} | ` +
          `${ms(end.lagP99)} | ${ms(lag.percentile(99) / 1e6)} |`,
      )
      progress(
        `level ${clients.length}: p50 ${ms(sample.p(sample.delivered, 50))}, p99 ${ms(sample.p(sample.delivered, 99))}`,
      )
    }

    // Everyone leaves; idle documents unload.
    const peakGc = await relay.stats(true)
    for (const c of clients) c.close()
    const t1 = performance.now()
    await withDeadline(
      waitForAsync(async () => {
        const s = await relay.stats(false)
        return s.connections === 0 && s.documents === 0
      }),
      Math.max(30_000, idleMs * 10),
      'the relay drops every connection and unloads every document',
    )
    const drained = performance.now() - t1
    after = await relay.stats(true)
    await relay.close()
    lag.disable()

    const cpu = cpus()
    const out = [
      `## Relay under load (bench/load.ts${quick ? ' --quick' : ''})`,
      '',
      `${new Date().toISOString()} · ${cpu.length} × ${cpu[0]?.model ?? 'cpu'} · ${fmtMiB(totalmem())} RAM · Node ${process.version} · ` +
        `load average before the run ${startLoad.map((x) => x.toFixed(2)).join(', ')}, after ${loadavg()
          .map((x) => x.toFixed(2))
          .join(', ')}`,
      '',
      `Command: \`${['node bench/load.ts', ...process.argv.slice(2)].join(' ')}\`. ` +
        `One relay process (${store === 'sqlite' ? 'SQLite store, durable commits' : 'in-memory store'}, idle unload ${idleMs} ms) and one client process on the same machine, loopback. ` +
        `Conversations of ${size} members; each client holds one WebSocket and syncs its inbox and its conversation. ` +
        `Latency = write → each other member's replica holds the message (delivered), or → the author sees the relay's index (stamped).`,
      '',
      '| clients | conversations | relay docs | connect | messages (offered → achieved) | deliveries | delivered p50 / p95 / p99 / max | stamped p50 / p95 / p99 | relay CPU | relay RSS | relay heap (after GC) | relay loop lag p99 | client loop lag p99 |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Relay memory: start ${fmtMiB(base.rss)} RSS / ${fmtMiB(base.heapUsed)} heap; ` +
        `peak ${fmtMiB(peak!.rss)} RSS / ${fmtMiB(peakGc.heapUsed)} heap (after GC, ${peakGc.connections} connections, ${peakGc.documents} documents); ` +
        `after everyone left ${fmtMiB(after.rss)} RSS / ${fmtMiB(after.heapUsed)} heap (heap reserved ${fmtMiB(after.heapTotal)}, ` +
        `external ${fmtMiB(after.external)}; after GC, ${after.connections} connections, ` +
        `${after.documents} documents, drained in ${(drained / 1000).toFixed(1)} s).`,
      `Run time ${((Date.now() - started) / 1000).toFixed(0)} s.`,
      '',
    ]
    process.stdout.write(out.join('\n'))
  } finally {
    for (const c of clients) c.close()
    relay.kill()
    clearTimeout(stop)
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- pieces

const fmtMiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`
const ms = (v: number): string => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms` : '–')

/** Resolves once `condition` holds (checked every 20 ms); bound it with `within`. */
function waitFor(condition: () => boolean): Promise<void> {
  return waitForAsync(async () => condition())
}

async function waitForAsync(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 20))
}

class Latencies {
  readonly sentAt = new Map<string, number>()
  readonly delivered: number[] = []
  readonly stamped: number[] = []
  p(values: number[], q: number): number {
    if (values.length === 0) return Number.NaN
    const sorted = [...values].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))]!
  }
}

/** The relay process, driven over IPC. */
class RelayChild {
  readonly proc: ChildProcess
  readonly ready: Promise<number>
  #next = 1
  #pending = new Map<number, (m: { stats?: RelayStats }) => void>()

  constructor(db: string, idleMs: number) {
    const self = fileURLToPath(import.meta.url)
    this.proc = spawn(
      process.execPath,
      ['--expose-gc', self, '--relay-child', '--db', db, '--idle-ms', String(idleMs)],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    )
    this.ready = withDeadline(
      new Promise<number>((resolve, reject) => {
        this.proc.once('exit', (code) => reject(new Error(`relay exited (${code})`)))
        this.proc.on('message', (m: { ready?: boolean; port?: number; id?: number; stats?: RelayStats }) => {
          if (m.ready) resolve(m.port!)
          else if (m.id !== undefined) {
            this.#pending.get(m.id)?.(m)
            this.#pending.delete(m.id)
          }
        })
      }),
      20_000,
      'the relay starts',
    )
  }

  #call(cmd: string, extra: Record<string, unknown> = {}): Promise<{ stats?: RelayStats }> {
    const id = this.#next++
    return withDeadline(
      new Promise((resolve) => {
        this.#pending.set(id, resolve)
        this.proc.send({ id, cmd, ...extra })
      }),
      30_000,
      `relay ${cmd}`,
    )
  }

  async stats(gc: boolean, resetLag = false): Promise<RelayStats> {
    return (await this.#call('stats', { gc, resetLag })).stats!
  }

  async close(): Promise<void> {
    await this.#call('close')
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL')
  }
}

/** Creates `count` conversations (numbered from `first`) of `size` members each, with real Clients. */
async function createConversations(
  url: string,
  first: number,
  count: number,
  size: number,
): Promise<{ sids: string[]; owners: Client[] }> {
  if (count <= 0) return { sids: [], owners: [] }
  const owners = await Promise.all(
    Array.from({ length: Math.min(4, count) }, (_, k) =>
      Client.create({ relayUrl: url, token: () => signToken({ identity: `owner-${first}-${k}`, secret: SECRET }) }),
    ),
  )
  for (const [k, o] of owners.entries()) {
    o.on('connectionError', (e) => process.stderr.write(`[load] owner ${k}: connection error ${e.code} ${e.message}\n`))
    o.on('error', (e) => process.stderr.write(`[load] owner ${k}: ${e instanceof Error ? e.message : String(e)}\n`))
  }
  const sids: string[] = new Array(count)
  await Promise.all(
    owners.map(async (owner, k) => {
      for (let i = k; i < count; i += owners.length) {
        const conv = await owner.createConversation({ friendlyName: `load ${first + i}` })
        for (let m = 0; m < size; m++) await conv.add(`u${first + i}-${m}`)
        sids[i] = conv.sid
      }
    }),
  )
  await withDeadline(
    Promise.all(owners.map((o) => o.whenSynced())),
    60_000,
    `the owners synced (${owners.map((o) => o.connectionState).join(', ')})`,
  )
  // The owners leave once the members see their conversations: the relay has them then.
  return { sids, owners }
}

/** One WebSocket, the multiplexed protocol, a Y.Doc per document (inbox + conversations). */
class LightClient {
  readonly identity: string
  readonly sids: string[]
  readonly #url: string
  readonly #channels = new Map<string, DocChannel>()
  readonly #convs = new Map<string, ConversationDocument>()
  #ws: WebSocket | null = null
  #closed = false
  #latencies: Latencies | null = null
  #mine = new Set<string>()

  constructor(url: string, identity: string, sids: string[]) {
    this.#url = url
    this.identity = identity
    this.sids = sids
    const add = (name: string) => {
      const doc = new Y.Doc()
      this.#channels.set(name, new DocChannel(name, doc, null, { synced: () => {}, denied: () => {} }))
      return doc
    }
    add(docNames.inbox(identity))
    for (const sid of sids) {
      const conv = new ConversationDocument(add(docNames.conversation(sid)))
      this.#convs.set(sid, conv)
      conv.messages.observe((event) => {
        const lat = this.#latencies
        if (!lat) return
        const now = performance.now()
        for (const key of event.keysChanged) {
          const t = lat.sentAt.get(key)
          if (t !== undefined && !this.#mine.has(key)) lat.delivered.push(now - t)
        }
      })
      conv.stamps.observe((event) => {
        const lat = this.#latencies
        if (!lat) return
        const now = performance.now()
        for (const key of event.keysChanged) {
          const t = lat.sentAt.get(key)
          if (t !== undefined && this.#mine.has(key)) lat.stamped.push(now - t)
        }
      })
    }
  }

  async open(): Promise<void> {
    const token = await signToken({ identity: this.identity, secret: SECRET })
    const ws = new WebSocket(`${this.#url}/?token=${token}`)
    ws.binaryType = 'nodebuffer'
    this.#ws = ws
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      }),
      30_000,
      `${this.identity} connects`,
    )
    ws.on('error', () => {})
    ws.on('close', () => {
      for (const ch of this.#channels.values()) ch.detach()
      if (!this.#closed) process.stderr.write(`[load] ${this.identity}: connection closed by the relay\n`)
    })
    ws.on('message', (data: Buffer) => {
      const { docName, type, decoder } = readFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      this.#channels.get(docName)?.receive(type, decoder)
    })
    for (const ch of this.#channels.values()) ch.attach((frame) => ws.send(frame))
  }

  /** Synced, and a participant of each of its conversations. */
  ready(): Promise<void> {
    return waitFor(
      () =>
        [...this.#channels.values()].every((ch) => ch.synced) &&
        [...this.#convs.values()].every((c) => c.participants.has(this.identity)),
    )
  }

  /** Writes a message into conversation `sid`, as the Client would. */
  send(sid: string): void {
    const latencies = this.#latencies!
    const conv = this.#convs.get(sid)!
    const id = newMessageSid()
    this.#mine.add(id)
    latencies.sentAt.set(id, performance.now())
    conv.doc.transact(() => {
      conv.messages.set(id, {
        id,
        author: this.identity,
        participantSid: conv.participants.get(this.identity)?.sid ?? null,
        content: [{ type: 'text', text: `load message ${id} from ${this.identity}` }],
        attributes: {},
        replyTo: null,
        createdAt: Date.now(),
      })
    })
  }

  /** Records latencies into `latencies` from now on (as author and as receiver). */
  record(latencies: Latencies): void {
    this.#latencies = latencies
  }

  close(): void {
    this.#closed = true
    this.#ws?.close()
    for (const ch of this.#channels.values()) ch.destroy()
  }
}

if (values['relay-child']) await relayChild()
else await main()
