/**
 * The relay process is SIGKILLed at a random point of a burst of sends from three clients sending
 * in parallel, and restarted on the same SQLite file and port, over several seeded rounds
 * (3 here; COLLOQUY_ROUNDS=20 for a longer run; COLLOQUY_SEED replays a run's kill points).
 * After every round: no message any client had seen stamped is lost or renumbered, every message
 * sent exists exactly once once the clients have reconnected by themselves, and all replicas agree.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Client, Message } from '../../src/index.ts'
import { deadline, freePort, Harness, type RelayProcess, waitUntil } from '../relay/helpers.ts'
import { checkFinal, converge, Dice, oneConversation, roundsFor, seedFor, tail, yieldTurns } from './support.ts'

const SEED = seedFor('relay-kill.test.ts')
const ROUNDS = roundsFor(3)
const NAMES = ['alice', 'bob', 'carol'] as const

describe('faults: relay SIGKILL during a burst', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it(
    `kill -9 at random points, restart on the same file and port (${ROUNDS} rounds, seed ${SEED})`,
    async () => {
      const dice = new Dice(SEED)
      const dir = h.tmpdir()
      const db = join(dir, 'relay.sqlite')
      const port = await freePort()
      let relay: RelayProcess = h.relayProcess({ port, db })
      const { url } = await relay.ready

      const clients: Client[] = []
      for (const name of NAMES) clients.push(await h.client(name, { relayUrl: url }))
      const { convs, ledger } = await oneConversation(clients, NAMES)
      const sent: Message[] = []
      const log: string[] = []

      for (let round = 0; round < ROUNDS; round++) {
        const burst = dice.int(15, 35)
        const total = burst * NAMES.length
        // Kill once this many messages of the round were sent, or were seen stamped by some client.
        const trigger = dice.pick(['sent', 'stamped'] as const)
        const threshold = dice.int(1, Math.floor(total * 0.8))
        // Each client keeps at most `window` of its messages unstamped (pipelined sends, paced by the
        // relay's own progress); once the kill is under way the rest goes out without waiting.
        const windows = NAMES.map(() => dice.int(1, 6))
        const downSends = NAMES.map(() => dice.int(0, 3))
        log.push(`round ${round}: burst ${burst}×3 (windows ${windows.join('/')}), kill after ${threshold} ${trigger}`)

        const stampedAtStart = ledger.seen.size
        let sentThisRound = 0
        let killing: Promise<void> | null = null
        let atKill = ''
        const victim = relay
        const wakers = new Set<() => void>()
        const wake = () => {
          for (const w of [...wakers]) w()
        }
        const maybeKill = () => {
          const progress = trigger === 'sent' ? sentThisRound : ledger.seen.size - stampedAtStart
          if (killing === null && progress >= threshold) {
            atKill = `${sentThisRound}/${total} sent, ${ledger.seen.size - stampedAtStart} stamped`
            killing = victim.kill('SIGKILL')
            wake()
          }
        }
        const offStamp = ledger.onStamp(() => {
          maybeKill()
          wake()
        })
        const roomFor = (mine: Message[], window: number): Promise<void> =>
          new Promise((resolve) => {
            const check = () => {
              if (killing !== null || mine.filter((m) => !ledger.seen.has(m.sid)).length < window) {
                wakers.delete(check)
                resolve()
              }
            }
            wakers.add(check)
            check()
          })
        // Three clients send in parallel.
        await Promise.all(
          convs.map(async (conv, c) => {
            const mine: Message[] = []
            for (let i = 0; i < burst; i++) {
              await deadline(roomFor(mine, windows[c]!), 15_000, `${NAMES[c]} waits for its window`)
              const m = await conv.sendMessage(`r${round}-${NAMES[c]}-${i}`)
              mine.push(m)
              sent.push(m)
              sentThisRound++
              maybeKill()
              await yieldTurns(dice.int(0, 2))
            }
          }),
        )
        if (killing === null) {
          // The burst finished before the trigger: kill as soon as it holds (or right away).
          if (trigger === 'stamped')
            await waitUntil(() => ledger.seen.size - stampedAtStart >= threshold, 'the kill threshold', 10_000).catch(
              () => {},
            )
          atKill = `${sentThisRound}/${total} sent, ${ledger.seen.size - stampedAtStart} stamped (after the burst)`
          killing = victim.kill('SIGKILL')
        }
        offStamp()
        await deadline(killing, 5_000, 'the relay process exits')
        expect(victim.child.signalCode).toBe('SIGKILL')
        const stampedBeforeKill = ledger.snapshot()
        log.push(`  killed at ${atKill}; ${stampedBeforeKill.size - stampedAtStart} stamped before it died`)

        await waitUntil(
          () => clients.every((c) => c.connectionState !== 'connected'),
          'every client notices the relay is gone',
        )
        // Some more while it is down.
        for (const [c, n] of downSends.entries())
          for (let i = 0; i < n; i++) sent.push(await convs[c]!.sendMessage(`r${round}-${NAMES[c]}-down-${i}`))

        relay = h.relayProcess({ port, db })
        expect((await relay.ready).port).toBe(port)
        await waitUntil(
          () => clients.every((c) => c.connectionState === 'connected'),
          'every client reconnects by itself',
          15_000,
        )
        const final = await converge(convs, new Set(sent.map((m) => m.sid)), `round ${round}: replicas converge`)
        const problems = checkFinal(final, sent, ledger)
        for (const [sid, index] of stampedBeforeKill)
          if (final.find((m) => m.sid === sid)?.index !== index)
            problems.push(`${sid} seen as ${index} before the kill`)
        expect(problems, `seed ${SEED}, ${log.join('\n')}`).toEqual([])
      }
      console.log(`[faults] relay-kill: ${sent.length} messages over ${ROUNDS} kills\n  ${tail(log).join('\n  ')}`)
      expect(ledger.seen.size).toBe(sent.length)
    },
    60_000 + ROUNDS * 10_000,
  )
})
