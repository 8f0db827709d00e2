/**
 * Seeded random schedules over two or three clients (sometimes two devices of one person): sends,
 * edits, deletes, reactions, read-horizon moves, partitions, frame-by-frame delivery, relay
 * restarts and crashes, client restarts from storage. After healing everything, all replicas must
 * agree, nothing sent may be lost or doubled, and no index may ever change once observed.
 *
 * Replay a failure with `COLLOQUY_SEED=<seed> npx vitest run test/sync/random.test.ts`; raise the
 * number of runs with `COLLOQUY_RUNS=<n>`.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Conversation, Message } from '../../src/index.js'
import { createTestNetwork, type TestNetwork } from '../../src/testing/index.js'
import {
  allMessages,
  closeAll,
  conversationOf,
  expectConverged,
  expectNoErrors,
  expectSequenced,
  IndexWatch,
  type Peer,
  restartPeer,
  startPeer,
} from './harness.js'

const envInt = (name: string): number | undefined => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return undefined
  const n = Number(raw)
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${raw}`)
  return n
}

const SEED = envInt('COLLOQUY_SEED') ?? (Math.random() * 2 ** 31) | 0
const RUNS = envInt('COLLOQUY_RUNS') ?? 50
/** Time for the whole property, shrinking included; the test's own timeout is a bit longer. */
const BUDGET_MS = Math.max(50_000, RUNS * 1_500)

const EMOJI = ['👍', '❤️', '😂'] as const

/** Who takes part: the first spec creates the conversation; `name:identity` is another device. */
const LAYOUTS = [
  ['alice', 'bob'],
  ['alice', 'bob', 'carol'],
  ['alice', 'bob', 'alice#2:alice'],
] as const

type Cmd =
  | { k: 'send'; c: number }
  | { k: 'edit'; c: number; pick: number }
  | { k: 'delete'; c: number; pick: number }
  | { k: 'react'; c: number; pick: number; emoji: number; on: boolean }
  | { k: 'advance'; c: number; pick: number }
  | { k: 'update'; c: number; pick: number | null }
  | { k: 'partition'; c: number }
  | { k: 'heal'; c: number }
  | { k: 'deliver'; n: number; picks: number[] }
  | { k: 'settle' }
  | { k: 'restartRelay' }
  | { k: 'crashRelay' }
  | { k: 'startRelay' }
  | { k: 'restartClient'; c: number }

const client = fc.nat({ max: 2 })
const pick = fc.nat({ max: 50 })
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ k: fc.constant('send' as const), c: client }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('edit' as const), c: client, pick }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), c: client, pick }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('react' as const),
      c: client,
      pick,
      emoji: fc.nat({ max: EMOJI.length - 1 }),
      on: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), c: client, pick }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('update' as const), c: client, pick: fc.option(pick, { freq: 4 }) }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('partition' as const), c: client }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('heal' as const), c: client }) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('deliver' as const),
      n: fc.integer({ min: 1, max: 12 }),
      picks: fc.array(fc.nat({ max: 7 }), { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('settle' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('restartRelay' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('crashRelay' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('startRelay' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('restartClient' as const), c: client }) },
)

const scheduleArb = fc.record({
  layout: fc.nat({ max: LAYOUTS.length - 1 }),
  cmds: fc.array(cmdArb, { minLength: 5, maxLength: 60, size: 'max' }),
})

/** What the schedule did, to check the end state against. */
interface Model {
  /** Every message sent: who sent it (device), its author, and its send order on that device. */
  sent: Map<string, { peer: string; author: string; order: number }>
  /** Messages some device deleted. */
  deleted: Set<string>
  /** Bodies written to each message (the first is the original). */
  bodies: Map<string, string[]>
  /** Reactions last set by single-device identities: `id\nidentity\nemoji` → on. */
  reactions: Map<string, boolean>
  /** Read horizons of single-device identities, as their only writer left them. */
  horizons: Map<string, number | null>
}

/** What the runs exercised, printed at the end so a green run shows it did something. */
const stats = { runs: 0, commands: 0, skipped: 0, sent: 0, edited: 0, deleted: 0, survived: 0, relayBounces: 0 }

const runSchedule = async (layoutIndex: number, cmds: readonly Cmd[]): Promise<void> => {
  const specs = LAYOUTS[layoutIndex]!
  const net: TestNetwork = createTestNetwork({ autoDeliver: false })
  const peers: Peer[] = []
  const watch = new IndexWatch()
  try {
    for (const spec of specs) {
      const [name, identity = name] = spec.split(':') as [string, string?]
      peers.push(await startPeer(net, name, identity, { noTimers: true }))
    }
    const identities = [...new Set(peers.map((p) => p.identity))]
    const devices = new Map<string, number>()
    for (const p of peers) devices.set(p.identity, (devices.get(p.identity) ?? 0) + 1)
    const single = (identity: string) => devices.get(identity) === 1

    const created = await peers[0]!.client.createConversation({ friendlyName: 'random', join: true })
    for (const identity of identities) if (identity !== peers[0]!.identity) await created.add(identity)
    await net.settle()
    const sid = created.sid
    const convs = new Map<string, Conversation>()
    const attach = async (p: Peer) => {
      const c = await conversationOf(p, sid)
      convs.set(p.name, c)
      watch.watch(p.name, c)
    }
    for (const p of peers) await attach(p)

    const model: Model = {
      sent: new Map(),
      deleted: new Set(),
      bodies: new Map(),
      reactions: new Map(),
      horizons: new Map(),
    }
    let sendCount = 0

    /** Checks that hold after every step, on every replica. */
    const checkStep = async (label: string) => {
      for (const p of peers) {
        const list = await allMessages(convs.get(p.name)!)
        const ids = list.map((m) => m.sid)
        expect(new Set(ids).size, `${label}: ${p.name} lists no message twice`).toBe(ids.length)
        let pendingSeen = false
        let last = -1
        for (const m of list) {
          watch.note(p.name, m.sid, m.index)
          if (m.index === null) pendingSeen = true
          else {
            expect(pendingSeen, `${label}: ${p.name} lists pending messages after sequenced ones`).toBe(false)
            expect(m.index, `${label}: ${p.name}'s indices increase`).toBeGreaterThan(last)
            last = m.index
          }
        }
        const present = new Set<string>(ids)
        for (const [id, s] of model.sent) {
          if (s.peer === p.name && !model.deleted.has(id))
            expect(present.has(id), `${label}: ${p.name} still has its message ${id}`).toBe(true)
        }
      }
      expect(watch.violations, `${label}: no index changed`).toEqual([])
    }

    for (const [step, cmd] of cmds.entries()) {
      const label = `step ${step} ${JSON.stringify(cmd)}`
      const p = 'c' in cmd ? peers[cmd.c % peers.length]! : null
      const conv = p ? convs.get(p.name)! : null
      switch (cmd.k) {
        case 'send': {
          const body = `${p!.name} #${sendCount++}`
          const m = await conv!.sendMessage(body)
          model.sent.set(m.sid, { peer: p!.name, author: p!.identity, order: sendCount })
          model.bodies.set(m.sid, [body])
          stats.sent++
          break
        }
        case 'edit':
        case 'delete': {
          const own = (await allMessages(conv!)).filter((m) => m.author === p!.identity)
          const target = own[cmd.pick % Math.max(1, own.length)]
          if (!target) {
            stats.skipped++
            break
          }
          if (cmd.k === 'edit') {
            stats.edited++
            const body = `${model.bodies.get(target.sid)?.[0] ?? target.sid} edit ${step}`
            await target.updateBody(body)
            model.bodies.get(target.sid)?.push(body)
          } else {
            await target.remove()
            model.deleted.add(target.sid)
            stats.deleted++
          }
          break
        }
        case 'react': {
          const all = await allMessages(conv!)
          const target: Message | undefined = all[cmd.pick % Math.max(1, all.length)]
          if (!target) {
            stats.skipped++
            break
          }
          const emoji = EMOJI[cmd.emoji]!
          if (cmd.on) await target.react(emoji)
          else await target.unreact(emoji)
          if (single(p!.identity)) model.reactions.set(`${target.sid}\n${p!.identity}\n${emoji}`, cmd.on)
          break
        }
        case 'advance':
        case 'update': {
          const top = conv!.lastMessage?.index ?? 0
          const index = cmd.pick === null ? null : cmd.pick % (top + 3)
          if (cmd.k === 'advance') {
            await conv!.advanceLastReadMessageIndex(index!)
            if (single(p!.identity)) {
              const cur = model.horizons.get(p!.identity) ?? null
              if (cur === null || index! > cur) model.horizons.set(p!.identity, index)
            }
          } else {
            await conv!.updateLastReadMessageIndex(index)
            if (single(p!.identity)) model.horizons.set(p!.identity, index)
          }
          break
        }
        case 'partition':
          p!.link.partition()
          break
        case 'heal':
          p!.link.heal()
          break
        case 'deliver': {
          let i = 0
          net.deliver(cmd.n, (count) => cmd.picks[i++ % cmd.picks.length]! % count)
          await new Promise<void>((resolve) => setImmediate(resolve))
          break
        }
        case 'settle':
          await net.settle()
          break
        case 'restartRelay':
          if (net.relayUp) await net.restartRelay()
          stats.relayBounces++
          break
        case 'crashRelay':
          if (net.relayUp) net.crashRelay()
          stats.relayBounces++
          break
        case 'startRelay':
          net.startRelay()
          break
        case 'restartClient': {
          await restartPeer(net, p!, { noTimers: true })
          await attach(p!)
          break
        }
      }
      await checkStep(label)
      stats.commands++
    }

    // Heal everything and let it all sync.
    if (!net.relayUp) net.startRelay()
    for (const p of peers) p.link.heal()
    await net.settle()
    await checkStep('end')
    for (const p of peers) expect(p.client.connectionState, `${p.name} reconnected`).toBe('connected')
    expectNoErrors(peers, net)

    const view = await expectConverged(peers, sid, identities)
    expectSequenced(view)
    for (const m of view.messages) watch.note('end', m.id, m.index)
    watch.expectStable()

    // Nothing lost, nothing doubled: exactly the messages sent and not deleted.
    const expectedIds = [...model.sent.keys()].filter((id) => !model.deleted.has(id)).sort()
    expect(view.messages.map((m) => m.id).sort(), 'every surviving message exactly once').toEqual(expectedIds)
    stats.survived += view.messages.length
    stats.runs++

    // Each device's messages keep the order it sent them in.
    for (const p of peers) {
      const mine = view.messages.filter((m) => model.sent.get(m.id)?.peer === p.name).map((m) => m.id)
      const bySend = [...mine].sort((a, b) => model.sent.get(a)!.order - model.sent.get(b)!.order)
      expect(mine, `${p.name}'s messages in the order sent`).toEqual(bySend)
    }

    for (const m of view.messages) {
      const written = model.bodies.get(m.id)!
      // A single writer's last edit wins; two devices of one author may race (either edit, never another text).
      if (single(m.author)) expect(m.body, `body of ${m.id}`).toBe(written[written.length - 1])
      else expect(written, `body of ${m.id} is one that was written`).toContain(m.body)
      for (const identity of identities) {
        if (!single(identity)) continue
        for (const emoji of EMOJI) {
          const want = model.reactions.get(`${m.id}\n${identity}\n${emoji}`) ?? false
          const has = m.reactions.some((r) => r.emoji === emoji && r.users.includes(identity))
          expect(has, `${identity} ${emoji} on ${m.id}`).toBe(want)
        }
      }
    }
    for (const identity of identities) {
      if (single(identity)) {
        expect(view.horizons[identity]!.index, `read horizon of ${identity}`).toBe(model.horizons.get(identity) ?? null)
      }
    }
  } finally {
    watch.stop()
    await closeAll(peers, net)
  }
}

describe('random schedules', () => {
  it(
    'all replicas converge, nothing is lost or doubled, no index changes',
    async () => {
      console.log(
        `[colloquy random sync] seed=${SEED} runs=${RUNS} (replay: COLLOQUY_SEED=${SEED} npx vitest run test/sync/random.test.ts)`,
      )
      await fc.assert(
        fc.asyncProperty(scheduleArb, async ({ layout, cmds }) => {
          await runSchedule(layout, cmds)
        }),
        { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: BUDGET_MS, markInterruptAsFailure: false },
      )
      console.log(`[colloquy random sync] ${JSON.stringify(stats)}`)
    },
    BUDGET_MS + 30_000,
  )
})
