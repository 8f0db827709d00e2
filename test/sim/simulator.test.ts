import { describe, expect, it } from 'vitest'
import {
  generateSchedule,
  type SimulationOptions,
  shrink,
  simulate,
  VirtualClock,
} from '../../src/testing/simulator.ts'

// Replay one schedule: COLLOQUY_SEED=<seed> npx vitest run test/sim
const seedFromEnv = process.env.COLLOQUY_SEED === undefined ? null : Number(process.env.COLLOQUY_SEED)
const RUNS = Number(process.env.COLLOQUY_SIM_RUNS ?? 40)
const BASE = seedFromEnv ?? Math.floor(Math.random() * 1_000_000)

const explain = async (options: SimulationOptions, violations: string[], schedule: SimulationOptions['schedule']) => {
  const minimal = await shrink(options, schedule!, 80)
  return [
    `seed ${options.seed} failed (replay: COLLOQUY_SEED=${options.seed} npx vitest run test/sim)`,
    ...violations.slice(0, 5),
    `minimal schedule (${minimal.length} steps): ${JSON.stringify(minimal)}`,
  ].join('\n')
}

describe('simulator', () => {
  it(`random schedules keep every invariant (${seedFromEnv === null ? RUNS : 1} runs from seed ${BASE})`, async () => {
    console.log(`simulator: seeds ${BASE}..${BASE + (seedFromEnv === null ? RUNS : 1) - 1}`)
    const runs = seedFromEnv === null ? RUNS : 1
    let sent = 0
    for (let i = 0; i < runs; i++) {
      const options: SimulationOptions = { seed: BASE + i, steps: 200, devicesPerIdentity: i % 3 === 2 ? 2 : 1 }
      const report = await simulate(options)
      sent += report.sent
      if (report.violations.length > 0) expect.fail(await explain(options, report.violations, report.schedule))
    }
    expect(sent).toBeGreaterThan(runs * 10)
  }, 120_000)

  it('is deterministic: the same seed gives the same run', async () => {
    const a = await simulate({ seed: 7, steps: 150 })
    const b = await simulate({ seed: 7, steps: 150 })
    expect({ ...b, schedule: b.schedule.length }).toEqual({ ...a, schedule: a.schedule.length })
    expect(b.schedule).toEqual(a.schedule)
  })

  it('catches a changed index (negative control: the checker can fail)', async () => {
    let tampered = false
    const report = await simulate({
      seed: 11,
      steps: 60,
      faults: false,
      onStep: (step, _op, devices) => {
        if (tampered || step < 30) return
        for (const d of devices) {
          for (const conv of d.client._peekAll()) {
            const [id, stamp] = [...conv._doc.stamps.entries()][0] ?? []
            if (!id || !stamp) continue
            // Rewrite a stamp behind the API, on this replica only (as a buggy sequencer would).
            conv._doc.doc.transact(() => conv._doc.stamps.set(id, { ...stamp, i: stamp.i + 1000 }))
            tampered = true
            return
          }
        }
      },
    })
    expect(tampered).toBe(true)
    expect(report.violations.some((v) => v.includes('changed index'))).toBe(true)
  })

  it('shrinks a failing schedule to fewer steps that still fail', async () => {
    const options: SimulationOptions = {
      seed: 3,
      steps: 80,
      faults: false,
      // An app-level check that fails once anyone has sent three messages in one conversation.
      onStep: async (_step, _op, devices) => {
        for (const conv of devices[0]!.client._peekAll()) {
          if ((await conv.getMessagesCount()) >= 3) throw new Error('three messages')
        }
      },
    }
    const first = await simulate(options)
    expect(first.violations.length).toBeGreaterThan(0)
    const minimal = await shrink(options, first.schedule, 40)
    expect(minimal.length).toBeLessThan(first.schedule.length)
    expect((await simulate({ ...options, schedule: minimal })).violations.length).toBeGreaterThan(0)
  })

  it('generates the same schedule from the same seed, and faults only when asked', () => {
    expect(generateSchedule(5)).toEqual(generateSchedule(5))
    const calm = generateSchedule(5, { faults: false, steps: 300 })
    expect(calm.some((o) => ['partition', 'reset', 'crashClient', 'crashRelay', 'duplicate'].includes(o.op))).toBe(
      false,
    )
  })

  it('virtual clock fires timers in order, only when advanced', () => {
    const clock = new VirtualClock(0)
    const fired: string[] = []
    clock.setTimeout(() => fired.push('b'), 20)
    const h = clock.setTimeout(() => fired.push('x'), 5)
    clock.setTimeout(() => {
      fired.push('a')
      clock.setTimeout(() => fired.push('c'), 15)
    }, 10)
    clock.clearTimeout(h)
    expect(fired).toEqual([])
    clock.advance(24)
    expect(fired).toEqual(['a', 'b'])
    clock.advance(1)
    expect(fired).toEqual(['a', 'b', 'c'])
    expect(clock.now).toBe(25)
  })
})
