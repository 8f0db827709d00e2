/**
 * A relay-SIGKILL loop in which offline backlogs outgrow one frame. The relay (its own process, on a
 * SQLite file, frames limited to 64 KiB so that a backlog of a few messages exceeds one) is killed
 * again and again: sometimes once everything has drained, sometimes while the clients are still
 * sending it what they wrote while it was down. While it is down each client writes, one of them
 * more than a frame's worth. After the last restart everything must drain: every message sent
 * exists exactly once, nothing seen stamped changed index, each author's order is kept, and the
 * relay never refused a frame for its size.
 *
 * 3 kills in the default suite; the record in docs/reliability.md comes from
 * `COLLOQUY_ROUNDS=100 npx vitest run test/faults/backlog-kill.test.ts`. Replay with COLLOQUY_SEED.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import type { Client, Message } from '../../src/index.ts'
import { deadline, freePort, Harness, type RelayProcess, waitUntil } from '../relay/helpers.ts'
import { checkFinal, converge, Dice, oneConversation, roundsFor, seedFor, tail, yieldTurns } from './support.ts'

const SEED = seedFor('backlog-kill.test.ts')
const KILLS = roundsFor(3)
const NAMES = ['alice', 'bob', 'carol'] as const
const FRAME_BYTES = 64 * 1024
const RELAY_SCRIPT = fileURLToPath(new URL('./fixtures/relay.ts', import.meta.url))

/** The relay's refusal counters (`colloquy_rejections_total`), by reason. */
const rejectionsOf = async (port: number): Promise<Map<string, number>> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const out = new Map<string, number>()
  for (const m of text.matchAll(/^colloquy_rejections_total\{reason="([^"]+)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]))
  return out
}

describe('faults: relay SIGKILL loop with backlogs larger than a frame', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it(
    `kill -9 again and again, backlogs over ${FRAME_BYTES / 1024} KiB drain completely (${KILLS} kills, seed ${SEED})`,
    async () => {
      const dice = new Dice(SEED)
      const db = join(h.tmpdir(), 'relay.sqlite')
      const port = await freePort()
      const env = { ...process.env, COLLOQUY_MAX_FRAME_BYTES: String(FRAME_BYTES) }
      const start = (): RelayProcess => h.relayProcess({ port, db, env, script: RELAY_SCRIPT })
      let relay = start()
      const { url } = await relay.ready

      const clients: Client[] = []
      for (const name of NAMES) clients.push(await h.client(name, { relayUrl: url }))
      const { convs, ledger } = await oneConversation(clients, NAMES)
      const sent: Message[] = []
      const expected = () => new Set(sent.map((m) => m.sid))
      const refused = new Map<string, number>()
      const log: string[] = []
      const stats = { overFrame: 0, drainKills: 0, largestBacklog: 0, backlogBytes: 0 }
      const connected = (what: string) =>
        waitUntil(() => clients.every((c) => c.connectionState === 'connected'), what, 20_000)

      for (let kill = 0; kill < KILLS; kill++) {
        await connected(`kill ${kill}: every client reconnects by itself`)
        const stampedAtStart = ledger.seen.size
        const drainKill = kill > 0 && dice.chance(0.5)
        if (drainKill) {
          // While the last backlog is still going out: after a seeded number of new stamps (or none).
          const stamps = dice.int(0, 12)
          await waitUntil(() => ledger.seen.size - stampedAtStart >= stamps, 'stamps before the kill', 2_000).catch(
            () => {},
          )
          stats.drainKills++
        } else {
          await converge(convs, expected(), `kill ${kill}: everything sent so far drains`, 30_000)
          // A few more online, some of them in flight at the kill.
          for (const [c, conv] of convs.entries())
            for (let i = dice.int(0, 3); i > 0; i--) sent.push(await conv.sendMessage(`k${kill}-${NAMES[c]}-up-${i}`))
          await yieldTurns(dice.int(0, 20))
        }
        for (const [reason, n] of await rejectionsOf(port).catch(() => new Map<string, number>()))
          refused.set(reason, (refused.get(reason) ?? 0) + n)
        const stampedBeforeKill = ledger.seen.size
        await deadline(relay.kill('SIGKILL'), 5_000, 'the relay process exits')
        expect(relay.child.signalCode).toBe('SIGKILL')
        await waitUntil(
          () => clients.every((c) => c.connectionState !== 'connected'),
          'every client notices the relay is gone',
        )

        // Down: one client (in turn) writes more than a frame's worth, the others a little.
        const heavy = kill % NAMES.length
        const backlog: string[] = []
        for (const [c, conv] of convs.entries()) {
          const count = c === heavy ? dice.int(7, 10) : dice.int(0, 3)
          const size = dice.int(10_000, 16_000)
          for (let i = 0; i < count; i++)
            sent.push(await conv.sendMessage(`k${kill}-${NAMES[c]}-down-${i} ${'x'.repeat(size)}`))
          const bytes = count * size
          stats.backlogBytes += bytes
          stats.largestBacklog = Math.max(stats.largestBacklog, bytes)
          if (bytes > FRAME_BYTES) stats.overFrame++
          backlog.push(`${NAMES[c]} ${count}×${size}`)
        }
        log.push(
          `kill ${kill}${drainKill ? ' (while draining)' : ''}: ${stampedBeforeKill - stampedAtStart} stamped since the restart; down: ${backlog.join(', ')}`,
        )
        relay = start()
        expect((await relay.ready).port).toBe(port)
      }

      await connected('every client reconnects after the last restart')
      const final = await converge(convs, expected(), 'the last backlogs drain', 60_000)
      for (const [reason, n] of await rejectionsOf(port)) refused.set(reason, (refused.get(reason) ?? 0) + n)
      const problems = checkFinal(final, sent, ledger)
      expect(problems, `seed ${SEED}\n${tail(log).join('\n')}`).toEqual([])
      expect(refused.get('frame_size') ?? 0).toBe(0)
      expect(refused.get('update_rejected') ?? 0).toBe(0)
      expect(stats.overFrame).toBeGreaterThanOrEqual(KILLS)
      console.log(
        `[faults] backlog-kill: ${KILLS} kills (${stats.drainKills} while a backlog drained), ${sent.length} messages, ` +
          `${stats.overFrame} backlogs over one frame (largest ${stats.largestBacklog} bytes, ` +
          `${(stats.backlogBytes / 1e6).toFixed(1)} MB written offline), relay refusals ${JSON.stringify([...refused])}\n  ` +
          tail(log).join('\n  '),
      )
    },
    60_000 + KILLS * 15_000,
  )
})
