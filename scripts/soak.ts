/**
 * Long simulation run: `npm run test:soak` (defaults below), or
 *   node scripts/soak.ts --runs 5000 --steps 300
 *   node scripts/soak.ts --seed 123456 --devices 2   (replay one schedule and print its minimal form)
 * Prints one line per failing seed and a summary; exits 1 on any invariant violation.
 */
import { parseArgs } from 'node:util'
import { type SimulationOptions, shrink, simulate } from '../src/testing/simulator.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    steps: { type: 'string', default: '300' },
    seed: { type: 'string' },
    from: { type: 'string' },
    identities: { type: 'string', default: '3' },
    devices: { type: 'string' },
  },
})

const steps = Number(values.steps)
const identities = Number(values.identities)
const single = values.seed !== undefined
const runs = single ? 1 : Number(values.runs)
const from = single ? Number(values.seed) : Number(values.from ?? Math.floor(Math.random() * 1_000_000_000))

const totals: Record<string, number> = {}
let sent = 0
let sequenced = 0
let refused = 0
let dropped = 0
let failures = 0
const started = Date.now()
for (let i = 0; i < runs; i++) {
  // Every third run puts each person on two devices; `--devices` fixes it (replays print it).
  const devicesPerIdentity = values.devices !== undefined ? Number(values.devices) : i % 3 === 2 ? 2 : 1
  const options: SimulationOptions = { seed: from + i, steps, identities, devicesPerIdentity }
  const report = await simulate(options)
  for (const [k, n] of Object.entries(report.counts)) totals[k] = (totals[k] ?? 0) + n
  sent += report.sent
  sequenced += report.sequenced
  refused += report.refused
  dropped += report.dropped
  if (report.violations.length > 0) {
    failures++
    process.stdout.write(
      `seed ${options.seed}: ${report.violations.length} violation(s) — replay: node scripts/soak.ts --seed ${options.seed} --steps ${steps} --identities ${identities} --devices ${devicesPerIdentity}\n  ${report.violations.slice(0, 3).join('\n  ')}\n`,
    )
    if (single) {
      const minimal = await shrink(options, report.schedule, 200)
      process.stdout.write(`minimal schedule (${minimal.length} steps):\n${JSON.stringify(minimal, null, 1)}\n`)
    }
  }
  if (!single && (i + 1) % 250 === 0) process.stdout.write(`… ${i + 1}/${runs} schedules, ${failures} failing\n`)
}
const faults = ['partition', 'heal', 'reset', 'crashClient', 'crashRelay', 'duplicate', 'tick']
process.stdout.write(
  [
    '',
    `schedules: ${runs} (seeds ${from}..${from + runs - 1}), ${steps} steps each, ${identities} people, every third run with two devices each`,
    `operations: ${Object.entries(totals)
      .filter(([k]) => !faults.includes(k))
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `faults injected: ${faults.map((k) => `${k} ${totals[k] ?? 0}`).join(', ')}`,
    `messages sent: ${sent}, sequenced: ${sequenced}, refused as expected by the API: ${refused}, dropped and reported after removal: ${dropped}`,
    `invariant violations: ${failures === 0 ? 0 : `${failures} failing schedule(s)`}`,
    `time: ${((Date.now() - started) / 1000).toFixed(1)} s`,
    '',
  ].join('\n'),
)
process.exit(failures === 0 ? 0 : 1)
