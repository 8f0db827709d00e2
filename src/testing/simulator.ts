import { Client } from '../client/client.ts'
import type { Conversation } from '../client/conversation.ts'
import { ColloquyError } from '../errors.ts'
import type { RandomSource, Runtime, Scheduler } from '../runtime.ts'
import type { StorageAdapter } from '../storage/adapter.ts'
import { MemoryStorage } from '../storage/memory.ts'
import { createTestNetwork, type TestLink, type TestNetwork } from './network.ts'

/**
 * A deterministic, seeded simulation of several devices and a relay on an in-process network the
 * simulation controls. It generates a schedule of operations and faults from the seed, runs it,
 * heals the network, and checks the invariants colloquy promises (see `checkInvariants`). Use it
 * to test colloquy, or your own code around it (pass `onStep`).
 *
 * @example
 * const report = await simulate({ seed: 42, steps: 200 })
 * if (report.violations.length > 0) console.error(report.violations, await shrink({ seed: 42 }, report.schedule))
 */

// ---------------------------------------------------------------- randomness and time

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const bytesFrom =
  (next: () => number): RandomSource =>
  (buffer) => {
    for (let i = 0; i < buffer.length; i++) buffer[i] = Math.floor(next() * 256)
    return buffer
  }

interface Timer {
  at: number
  seq: number
  callback: () => void
}

/** Virtual time: timers fire only when the simulation advances the clock. */
export class VirtualClock implements Scheduler {
  now: number
  #seq = 0
  #timers = new Map<number, Timer>()

  constructor(start = 1_700_000_000_000) {
    this.now = start
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const seq = ++this.#seq
    this.#timers.set(seq, { at: this.now + Math.max(0, ms), seq, callback })
    return seq
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number)
  }

  /** Moves time forward by `ms`, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const until = this.now + ms
    for (;;) {
      let next: Timer | undefined
      for (const t of this.#timers.values())
        if (t.at <= until && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t
      if (!next) break
      this.#timers.delete(next.seq)
      this.now = Math.max(this.now, next.at)
      next.callback()
    }
    this.now = until
  }
}

// ---------------------------------------------------------------- schedules

/** One step of a schedule. Devices and conversations are referred to by position. */
export type Operation =
  | { op: 'create'; device: number; add: number[] }
  | { op: 'add'; device: number; conversation: number; who: number }
  | { op: 'remove'; device: number; conversation: number; who: number }
  | { op: 'leave'; device: number; conversation: number }
  | { op: 'send'; device: number; conversation: number; text: string }
  | { op: 'edit'; device: number; conversation: number; pick: number; text: string }
  | { op: 'delete'; device: number; conversation: number; pick: number }
  | { op: 'react'; device: number; conversation: number; pick: number; emoji: string; on: boolean }
  | { op: 'read'; device: number; conversation: number; mode: 'advance' | 'update' | 'all' | 'none'; pick: number }
  | { op: 'markUnread'; device: number; conversation: number }
  | { op: 'typing'; device: number; conversation: number }
  | { op: 'partition'; device: number }
  | { op: 'heal'; device: number }
  | { op: 'reset'; device: number }
  | { op: 'crashClient'; device: number }
  | { op: 'crashRelay' }
  | { op: 'startRelay' }
  | { op: 'sleepRelay' }
  | { op: 'deliver'; frames: number; pick: number }
  | { op: 'duplicate'; pick: number }
  | { op: 'tick'; ms: number }
  | { op: 'settle' }

/** Options of a simulation. */
export interface SimulationOptions {
  seed: number
  /** People (default 3). */
  identities?: number
  /** Devices per person (default 1; 2 makes the same identity write from two replicas). */
  devicesPerIdentity?: number
  /** Operations in the schedule (default 150). */
  steps?: number
  /** Include faults (partitions, resets, duplicates, crashes, drift). Default true. */
  faults?: boolean
  /** Typing timeout of the devices, ms of virtual time (default 5 000). */
  typingTimeout?: number
  /** Run this schedule instead of generating one (replays and shrinking). */
  schedule?: Operation[]
  /** Called after each operation (for app-level checks on the live clients). */
  onStep?: (step: number, operation: Operation, devices: readonly SimulatedDevice[]) => void | Promise<void>
}

/** A device in the simulation. */
export interface SimulatedDevice {
  readonly identity: string
  readonly storage: StorageAdapter
  readonly client: Client
}

/** What a run found. */
export interface SimulationReport {
  seed: number
  schedule: Operation[]
  /** Operations by kind that ran (including faults). */
  counts: Record<string, number>
  /** Operations the API refused as expected (permission races, removed messages, …). */
  refused: number
  /** Messages the relay refused and the client dropped (sent after the author lost the right). */
  dropped: number
  /** Messages sent, and how many were sequenced in the end. */
  sent: number
  sequenced: number
  /** Invariant violations; empty when the run is sound. */
  violations: string[]
}

const EMOJI = ['👍', '🎉', '❤️']

/** Generates a schedule from a seed. */
export const generateSchedule = (
  seed: number,
  options: Omit<SimulationOptions, 'seed' | 'schedule'> = {},
): Operation[] => {
  const rand = seededRandom(seed ^ 0x5bd1e995)
  const devices = (options.identities ?? 3) * (options.devicesPerIdentity ?? 1)
  const steps = options.steps ?? 150
  const faults = options.faults ?? true
  const int = (n: number): number => Math.floor(rand() * n)
  const ops: Operation[] = []
  let conversations = 0
  const weighted: Array<[number, () => Operation]> = [
    [3, () => ({ op: 'create', device: int(devices), add: [int(devices), int(devices)] })],
    [3, () => ({ op: 'add', device: int(devices), conversation: int(conversations + 1), who: int(devices) })],
    [1, () => ({ op: 'remove', device: int(devices), conversation: int(conversations + 1), who: int(devices) })],
    [1, () => ({ op: 'leave', device: int(devices), conversation: int(conversations + 1) })],
    [20, () => ({ op: 'send', device: int(devices), conversation: int(conversations + 1), text: `m${ops.length}` })],
    [
      4,
      () => ({
        op: 'edit',
        device: int(devices),
        conversation: int(conversations + 1),
        pick: rand(),
        text: `e${ops.length}`,
      }),
    ],
    [3, () => ({ op: 'delete', device: int(devices), conversation: int(conversations + 1), pick: rand() })],
    [
      5,
      () => ({
        op: 'react',
        device: int(devices),
        conversation: int(conversations + 1),
        pick: rand(),
        emoji: EMOJI[int(EMOJI.length)]!,
        on: rand() < 0.7,
      }),
    ],
    [
      6,
      () => ({
        op: 'read',
        device: int(devices),
        conversation: int(conversations + 1),
        mode: (['advance', 'advance', 'update', 'all', 'none'] as const)[int(5)]!,
        pick: rand(),
      }),
    ],
    [1, () => ({ op: 'markUnread', device: int(devices), conversation: int(conversations + 1) })],
    [3, () => ({ op: 'typing', device: int(devices), conversation: int(conversations + 1) })],
    [12, () => ({ op: 'deliver', frames: 1 + int(8), pick: int(1000) })],
    [3, () => ({ op: 'tick', ms: int(3000) })],
    [2, () => ({ op: 'settle' })],
    [1, () => ({ op: 'sleepRelay' })],
  ]
  if (faults) {
    weighted.push(
      [2, () => ({ op: 'partition', device: int(devices) })],
      [3, () => ({ op: 'heal', device: int(devices) })],
      [1, () => ({ op: 'reset', device: int(devices) })],
      [1, () => ({ op: 'crashClient', device: int(devices) })],
      [0.5, () => ({ op: 'crashRelay' })],
      [1, () => ({ op: 'startRelay' })],
      [2, () => ({ op: 'duplicate', pick: int(1000) })],
    )
  }
  const total = weighted.reduce((s, [w]) => s + w, 0)
  ops.push({ op: 'create', device: 0, add: [1, 2 % devices] })
  conversations = 1
  while (ops.length < steps) {
    let r = rand() * total
    for (const [w, make] of weighted) {
      r -= w
      if (r <= 0) {
        const op = make()
        if (op.op === 'create') conversations++
        ops.push(op)
        break
      }
    }
  }
  return ops
}

// ---------------------------------------------------------------- running

interface Device extends SimulatedDevice {
  client: Client
  link: TestLink
  drift: number
  runtime: Runtime
}

/** Runs one simulation and checks its invariants. */
export const simulate = async (options: SimulationOptions): Promise<SimulationReport> => {
  const schedule = options.schedule ?? generateSchedule(options.seed, options)
  const run = new Simulation(options, schedule)
  try {
    return await run.execute()
  } finally {
    await run.close()
  }
}

class Simulation {
  readonly #options: SimulationOptions
  readonly #schedule: Operation[]
  readonly #clock = new VirtualClock()
  readonly #random: () => number
  readonly #net: TestNetwork
  readonly #devices: Device[] = []
  readonly #sids: string[] = []
  readonly #counts: Record<string, number> = {}
  readonly #violations: string[] = []
  /** Every index ever observed for a message id, on any replica. */
  readonly #indices = new Map<string, number>()
  /** Message ids sent, and by which conversation. */
  readonly #sent = new Map<string, string>()
  readonly #sentBy = new Map<string, string>()
  readonly #deleted = new Set<string>()
  readonly #dropped = new Set<string>()
  #refused = 0

  constructor(options: SimulationOptions, schedule: Operation[]) {
    this.#options = options
    this.#schedule = schedule
    this.#random = seededRandom(options.seed)
    this.#net = createTestNetwork({ autoDeliver: false, now: () => this.#clock.now })
  }

  async execute(): Promise<SimulationReport> {
    const people = this.#options.identities ?? 3
    const perPerson = this.#options.devicesPerIdentity ?? 1
    for (let p = 0; p < people; p++) {
      for (let k = 0; k < perPerson; k++) {
        const drift = (this.#options.faults ?? true) ? Math.floor((this.#random() - 0.5) * 4000) : 0
        this.#devices.push(await this.#start(`u${p}`, new MemoryStorage(), drift))
      }
    }
    await this.#net.settle()
    for (const [step, operation] of this.#schedule.entries()) {
      this.#counts[operation.op] = (this.#counts[operation.op] ?? 0) + 1
      try {
        await this.#apply(operation)
      } catch (error) {
        if (error instanceof ColloquyError) this.#refused++
        else this.#violations.push(`step ${step} (${operation.op}) threw: ${String(error)}`)
      }
      this.#checkIndices(step)
      try {
        await this.#options.onStep?.(step, operation, this.#devices)
      } catch (error) {
        this.#violations.push(`step ${step}: onStep check failed: ${String(error)}`)
      }
      if (this.#violations.length > 0) break
    }
    if (this.#violations.length === 0) await this.#heal()
    if (this.#violations.length === 0) await this.#checkInvariants()
    return {
      seed: this.#options.seed,
      schedule: this.#schedule,
      counts: this.#counts,
      refused: this.#refused,
      dropped: this.#dropped.size,
      sent: this.#sent.size,
      sequenced: this.#indices.size,
      violations: this.#violations,
    }
  }

  async close(): Promise<void> {
    for (const d of this.#devices) await d.client.shutdown().catch(() => {})
    await this.#net.close().catch(() => {})
  }

  async #start(identity: string, storage: StorageAdapter, drift: number): Promise<Device> {
    const runtime: Runtime = { scheduler: this.#clock, random: bytesFrom(this.#random) }
    const link = this.#net.link(identity)
    const client = await Client.create({
      identity,
      storage,
      transport: link,
      now: () => this.#clock.now + drift,
      typingTimeout: this.#options.typingTimeout ?? 5000,
      backoff: { baseMs: 250, maxMs: 4000, random: this.#random },
      runtime,
    })
    client.on('error', (error) => {
      const dropped = (error as { droppedMessages?: string[] }).droppedMessages
      for (const id of dropped ?? []) this.#dropped.add(id)
    })
    return { identity, storage, client, link, drift, runtime }
  }

  #device(i: number): Device {
    return this.#devices[i % this.#devices.length]!
  }

  /** One of the device's own conversations, chosen by `index` (null when it has none). */
  async #conversation(device: Device, index: number): Promise<Conversation | null> {
    const mine = (await device.client.getSubscribedConversations()).items
    return mine.length === 0 ? null : mine[index % mine.length]!
  }

  async #bySid(device: Device, sid: string): Promise<Conversation | null> {
    try {
      return await device.client.getConversationBySid(sid)
    } catch {
      return null
    }
  }

  async #mine(conv: Conversation, device: Device, pick: number, ownOnly: boolean) {
    const page = await conv.getMessages(50)
    const candidates = page.items.filter((m) => !ownOnly || m.author === device.identity)
    return candidates.length === 0 ? null : candidates[Math.floor(pick * candidates.length)]!
  }

  async #apply(o: Operation): Promise<void> {
    switch (o.op) {
      case 'create': {
        const d = this.#device(o.device)
        const conv = await d.client.createConversation({ join: true })
        this.#sids.push(conv.sid)
        for (const who of o.add) {
          const identity = this.#device(who).identity
          if (identity !== d.identity && !conv._doc.participants.has(identity)) await conv.add(identity)
        }
        return
      }
      case 'add':
      case 'remove': {
        const d = this.#device(o.device)
        const conv = await this.#conversation(d, o.conversation)
        const identity = this.#device(o.who).identity
        if (!conv) return
        if (o.op === 'add') await conv.add(identity)
        else if (identity !== d.identity) await conv.removeParticipant(identity)
        return
      }
      case 'leave': {
        const d = this.#device(o.device)
        const conv = await this.#conversation(d, o.conversation)
        // The creator stays (someone must be able to manage the conversation in these runs).
        if (conv && conv.createdBy !== d.identity) await conv.leave()
        return
      }
      case 'send': {
        const d = this.#device(o.device)
        const conv = await this.#conversation(d, o.conversation)
        if (!conv) return
        const m = await conv.sendMessage(o.text)
        this.#sent.set(m.sid, conv.sid)
        this.#sentBy.set(m.sid, `${o.text} by ${d.identity}`)
        return
      }
      case 'edit':
      case 'delete':
      case 'react': {
        const d = this.#device(o.device)
        const conv = await this.#conversation(d, o.conversation)
        if (!conv) return
        const m = await this.#mine(conv, d, o.pick, o.op !== 'react')
        if (!m) return
        if (o.op === 'edit') await m.updateBody(o.text)
        else if (o.op === 'delete') {
          await m.remove()
          this.#deleted.add(m.sid)
        } else if (o.on) await m.react(o.emoji)
        else await m.unreact(o.emoji)
        return
      }
      case 'read': {
        const d = this.#device(o.device)
        const conv = await this.#conversation(d, o.conversation)
        if (!conv) return
        const last = conv.lastMessage?.index ?? null
        const target = last === null ? 0 : Math.floor(o.pick * (last + 1))
        if (o.mode === 'advance') await conv.advanceLastReadMessageIndex(target)
        else if (o.mode === 'update') await conv.updateLastReadMessageIndex(target)
        else if (o.mode === 'all') await conv.setAllMessagesRead()
        else await conv.setAllMessagesUnread()
        return
      }
      case 'markUnread': {
        const conv = await this.#conversation(this.#device(o.device), o.conversation)
        if (conv) await conv.markAsUnread()
        return
      }
      case 'typing': {
        const conv = await this.#conversation(this.#device(o.device), o.conversation)
        if (conv) await conv.typing()
        return
      }
      case 'partition':
        this.#device(o.device).link.partition()
        return
      case 'heal':
        this.#device(o.device).link.heal()
        return
      case 'reset':
        this.#device(o.device).link.reset()
        return
      case 'crashClient': {
        const i = o.device % this.#devices.length
        const d = this.#devices[i]!
        d.link.partition()
        await d.client.shutdown()
        this.#devices[i] = await this.#start(d.identity, d.storage, d.drift)
        return
      }
      case 'crashRelay':
        if (this.#net.relayUp) this.#net.crashRelay()
        return
      case 'startRelay':
        this.#net.startRelay()
        return
      case 'sleepRelay':
        await this.#net.sleepDocuments()
        return
      case 'deliver':
        this.#net.deliver(o.frames, (n) => o.pick % n)
        await new Promise<void>((resolve) => setImmediate(resolve))
        return
      case 'duplicate':
        this.#net.duplicate((n) => o.pick % n)
        return
      case 'tick':
        this.#clock.advance(o.ms)
        await new Promise<void>((resolve) => setImmediate(resolve))
        return
      case 'settle':
        await this.#net.settle()
        return
    }
  }

  /** Heals every fault and lets everything settle, past every typing timeout. */
  async #heal(): Promise<void> {
    this.#net.startRelay()
    for (const d of this.#devices) d.link.heal()
    for (let round = 0; round < 4; round++) {
      await this.#net.settle()
      this.#clock.advance(6000)
      await this.#net.settle()
    }
    const timeout = this.#options.typingTimeout ?? 5000
    this.#clock.advance(timeout + 1500)
    await this.#net.settle()
  }

  #checkIndices(step: number): void {
    for (const d of this.#devices) {
      for (const sid of this.#sids) {
        const conv = d.client._peek(sid)
        if (!conv) continue
        // What `message.index` reports, read from the document itself.
        for (const [id, stamp] of conv._doc.stamps.entries()) {
          const seen = this.#indices.get(id)
          if (seen === undefined) this.#indices.set(id, stamp.i)
          else if (seen !== stamp.i)
            this.#violations.push(`step ${step}: message ${id} changed index ${seen} → ${stamp.i} on ${d.identity}`)
        }
      }
    }
  }

  async #checkInvariants(): Promise<void> {
    const v = this.#violations
    this.#checkIndices(this.#schedule.length)
    for (const sid of this.#sids) {
      const views = new Map<string, string>()
      let deleted = false
      let sequenced = new Set<string>()
      for (const d of this.#devices) {
        const conv = await this.#bySid(d, sid)
        if (!conv) continue
        if (conv.isDeleted) deleted = true
        const page = await conv.getMessages(100)
        let all = [...page.items]
        let p = page
        while (p.hasPrevPage) {
          p = await p.prevPage()
          all = [...p.items, ...all]
        }
        const pending = all.filter((m) => m.index === null)
        if (pending.length > 0)
          v.push(`${sid}: ${d.identity} still has ${pending.length} pending messages after healing`)
        sequenced = new Set([...sequenced, ...all.map((m) => m.sid)])
        const participants = (await conv.getParticipants()).map((x) => `${x.identity}:${x.role}:${x.access}`).sort()
        const horizons = (await conv.getParticipants()).map((x) => `${x.identity}:${x.lastReadMessageIndex}`).sort()
        const view = JSON.stringify({
          messages: all.map((m) => [m.sid, m.index, m.author, m.body, m.reactions.map((r) => [r.emoji, r.users])]),
          participants,
          horizons,
        })
        views.set(d.identity + (views.has(d.identity) ? '#2' : ''), view)
        // Derived state matches what the document says.
        const me = d.identity
        const horizon = conv.lastReadMessageIndex
        if (conv.status === 'joined') {
          const expected =
            horizon === null ? null : all.filter((m) => m.index !== null && m.index > horizon && m.author !== me).length
          const unread = await conv.getUnreadMessagesCount()
          if (unread !== expected) v.push(`${sid}: ${me} unread ${unread}, expected ${expected}`)
        }
        const chat = (await conv.getParticipants()).filter((x) => x.type === 'chat')
        const minimum = chat.some((x) => x.lastReadMessageIndex === null)
          ? null
          : chat.length === 0
            ? null
            : Math.min(...chat.map((x) => x.lastReadMessageIndex!))
        if (conv.everyoneReadUntil !== minimum)
          v.push(`${sid}: ${me} everyoneReadUntil ${conv.everyoneReadUntil}, expected ${minimum}`)
        const typists = conv._typists()
        if (typists.length > 0) v.push(`${sid}: ${me} still shows ${typists.join(', ')} typing after the timeout`)
      }
      const distinct = new Set(views.values())
      if (distinct.size > 1)
        v.push(`${sid}: replicas diverge:\n  ${[...views].map(([k, x]) => `${k}: ${x}`).join('\n  ')}`)
      if (deleted) continue
      for (const [id, inSid] of this.#sent) {
        if (inSid !== sid || this.#deleted.has(id) || this.#dropped.has(id)) continue
        if (views.size > 0 && !sequenced.has(id))
          v.push(`${sid}: message ${id} (${this.#sentBy.get(id)}) was sent but is missing`)
      }
    }
  }
}

/**
 * Shrinks a failing schedule: removes chunks while the run still fails, within `budget` reruns.
 * Returns the smallest failing schedule found.
 */
export const shrink = async (options: SimulationOptions, failing: Operation[], budget = 60): Promise<Operation[]> => {
  let best = failing
  let runs = 0
  for (let chunk = Math.ceil(best.length / 2); chunk >= 1 && runs < budget; chunk = Math.floor(chunk / 2)) {
    for (let start = 1; start < best.length && runs < budget; ) {
      const candidate = [...best.slice(0, start), ...best.slice(start + chunk)]
      runs++
      const report = await simulate({ ...options, schedule: candidate })
      if (report.violations.length > 0) best = candidate
      else start += chunk
    }
  }
  return best
}
