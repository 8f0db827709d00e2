/**
 * A misbehaving network between each client and the relay (a FaultProxy per client): connections
 * that stall (stop forwarding one or both ways without closing), get cut (sockets destroyed, new
 * ones refused for a while), or turn slow (latency, frames delivered a few bytes at a time). The
 * relay's heartbeat (short here) drops stalled connections. Phases are seeded (COLLOQUY_SEED
 * replays the choices; COLLOQUY_ROUNDS adds rounds of the four phase kinds). After every phase:
 * the clients recovered by themselves, nothing is lost or duplicated, the replicas agree.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Client, Message } from '../../src/index.ts'
import { Harness, waitFor, waitUntil } from '../relay/helpers.ts'
import {
  checkFinal,
  converge,
  Dice,
  type Direction,
  FaultProxy,
  oneConversation,
  type ProxyClose,
  roundsFor,
  seedFor,
  tail,
} from './support.ts'

const SEED = seedFor('proxy.test.ts')
const ROUNDS = roundsFor(3)
const HEARTBEAT_MS = 200
const NAMES = ['alice', 'bob', 'carol'] as const
type Kind = 'stall-short' | 'stall-long' | 'cut' | 'slow'

describe('faults: stalled, cut and slow connections', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it(
    `clients recover by themselves, nothing lost or duplicated (${ROUNDS} rounds, seed ${SEED})`,
    async () => {
      const dice = new Dice(SEED)
      const relay = await h.relay({ heartbeatMs: HEARTBEAT_MS })
      const proxies: FaultProxy[] = []
      const clients: Client[] = []
      for (const name of NAMES) {
        const proxy = new FaultProxy(relay.port)
        h.defer(() => proxy.close())
        await proxy.listen()
        proxies.push(proxy)
        clients.push(await h.client(name, { relayUrl: proxy.url }))
      }
      const { convs, ledger } = await oneConversation(clients, NAMES)

      const sent: Message[] = []
      const log: string[] = []
      let heartbeatDrops = 0
      let phase = 0
      const sendSome = async (who: number[], n: number, label = '') => {
        await Promise.all(
          who.map(async (c) => {
            for (let i = 0; i < n; i++) sent.push(await convs[c]!.sendMessage(`p${phase}${label}-${NAMES[c]}-${i}`))
          }),
        )
      }
      const everyone = [0, 1, 2]

      for (let round = 0; round < ROUNDS; round++) {
        const kinds: Kind[] = ['stall-short', 'stall-long', 'cut', 'slow']
        // Seeded shuffle: each round runs every kind once, in its own order.
        for (let i = kinds.length - 1; i > 0; i--) {
          const j = dice.int(0, i)
          ;[kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!]
        }
        for (const kind of kinds) {
          phase++
          const targets = everyone.filter(() => dice.chance(0.6))
          if (targets.length === 0) targets.push(dice.int(0, 2))
          const n = dice.int(2, 8)
          const started = Date.now()
          let detail = ''
          switch (kind) {
            case 'stall-short': {
              // Held briefly, then released: the connection may survive; held bytes arrive in order.
              const direction = dice.pick<Direction>(['up', 'down', 'both'])
              for (const t of targets) proxies[t]!.stall(direction)
              await sendSome(everyone, n)
              await waitUntil(
                () => targets.every((t) => proxies[t]!.queuedBytes > 0 || proxies[t]!.connections === 0),
                'the stalled proxies hold bytes',
              )
              for (const t of targets) proxies[t]!.resume()
              detail = direction
              break
            }
            case 'stall-long': {
              // Held until the relay's heartbeat drops the connection (and the client's next one stalls too).
              const direction = dice.pick<Direction>(['up', 'down', 'both'])
              const dropped = targets.map((t) =>
                waitFor<ProxyClose>(proxies[t]!, 'closed', (c) => c.by === 'upstream' && c.stalled, 20 * HEARTBEAT_MS),
              )
              for (const t of targets) proxies[t]!.stall(direction)
              await sendSome(everyone, n)
              const ids = (await Promise.all(dropped)).map((c) => c.id)
              heartbeatDrops += targets.length
              await waitUntil(
                () => targets.every((t, k) => proxies[t]!.accepted > ids[k]!),
                'the dropped clients connect again (into the stall)',
              )
              await sendSome(targets, 1, 'again')
              for (const t of targets) proxies[t]!.resume()
              detail = direction
              break
            }
            case 'cut': {
              const refuse = dice.chance(0.5)
              for (const t of targets) proxies[t]!.cut({ refuse })
              await sendSome(everyone, n)
              if (refuse) {
                await waitUntil(
                  () => targets.every((t) => clients[t]!.connectionState !== 'connected'),
                  'the cut clients notice',
                )
                for (const t of targets) proxies[t]!.restore()
              }
              detail = refuse ? 'refusing' : 'reconnect at once'
              break
            }
            case 'slow': {
              const latencyMs = dice.int(5, 40)
              const chunkBytes = dice.int(1, 16)
              for (const t of targets) proxies[t]!.slow({ latencyMs, chunkBytes })
              await sendSome(everyone, n)
              // Sometimes cut in the middle of a slow delivery too.
              if (dice.chance(0.4)) {
                await waitUntil(() => targets.some((t) => proxies[t]!.queuedBytes > 0), 'bytes in flight', 5_000).catch(
                  () => {},
                )
                for (const t of targets) proxies[t]!.cut()
                detail = ', cut mid-delivery'
              }
              await converge(convs, new Set(sent.map((m) => m.sid)), `phase ${phase} (slow): converge while slow`)
              for (const t of targets) proxies[t]!.fast()
              detail = `${latencyMs} ms, ${chunkBytes}-byte chunks${detail}`
              break
            }
          }
          await waitUntil(
            () => clients.every((c) => c.connectionState === 'connected'),
            `phase ${phase}: every client is connected again`,
            15_000,
          )
          const final = await converge(convs, new Set(sent.map((m) => m.sid)), `phase ${phase} (${kind}): converge`)
          log.push(
            `phase ${phase}: ${kind} (${detail}) on ${targets.map((t) => NAMES[t]).join('+')}, ${n}×3 sends, ` +
              `${Date.now() - started} ms`,
          )
          expect(checkFinal(final, sent, ledger), `seed ${SEED}\n${log.join('\n')}`).toEqual([])
        }
      }
      const closes = proxies.flatMap((p) => p.closes)
      console.log(
        `[faults] proxy: ${sent.length} messages, ${phase} phases, ${closes.length} connections closed ` +
          `(${heartbeatDrops} by the relay's heartbeat while stalled)\n  ${tail(log).join('\n  ')}`,
      )
      expect(heartbeatDrops).toBeGreaterThan(0)
      expect(ledger.seen.size).toBe(sent.length)
    },
    60_000 + ROUNDS * 10_000,
  )
})
