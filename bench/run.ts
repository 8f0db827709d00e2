/**
 * The benchmark suite: `node bench/run.ts [scenario…] [--quick] [--runs N] [--write]`.
 *
 * Scenarios: fanout, join, doc, coldstart, validation (all when none is named). Markdown goes to
 * stdout (progress to stderr); `--write` also puts it into docs/performance.md between the
 * results markers. `--quick` (CI) runs tiny sizes once, only to check that everything still works:
 * its numbers mean nothing. See docs/performance.md for what each scenario measures and how.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { benchColdStart } from './cold-start.ts'
import { removeDatasets } from './datasets.ts'
import { benchDocCost } from './doc-cost.ts'
import { benchFanout } from './fanout.ts'
import { benchJoin } from './join.ts'
import { script } from './proc.ts'
import { progress, quick, type ScenarioResult, type TargetCheck, table } from './stats.ts'
import { benchValidation, VALIDATION_ROUNDS } from './validation.ts'

const SCENARIOS: Record<string, (runs: number) => Promise<ScenarioResult>> = {
  fanout: (runs) => benchFanout(runs),
  join: (runs) => benchJoin(runs),
  doc: (runs) => benchDocCost(runs),
  coldstart: (runs) => benchColdStart(runs),
  validation: (runs) => benchValidation(Math.max(runs, VALIDATION_ROUNDS)),
}

/** The heading each scenario's section starts with (the quick-mode test looks for these). */
export const HEADINGS: Record<string, string> = {
  fanout: '### 1. Fan-out',
  join: '### 2. Many conversations',
  doc: '### 3. Document cost',
  coldstart: '### 4. Cold start',
  validation: '### 5. Validation',
}

const START = '<!-- results:start -->'
const END = '<!-- results:end -->'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean' },
    write: { type: 'boolean' },
    runs: { type: 'string' },
  },
})

const names = positionals.length > 0 ? positionals : Object.keys(SCENARIOS)
for (const name of names) {
  if (!SCENARIOS[name]) {
    process.stderr.write(`unknown scenario ${name}; choose from ${Object.keys(SCENARIOS).join(', ')}\n`)
    process.exit(2)
  }
}
const runs = values.runs ? Number(values.runs) : quick ? 1 : 5
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write('--runs must be a positive integer\n')
  process.exit(2)
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')
/**
 * CPU time taken by the hypervisor from this virtual machine (`steal` in /proc/stat, Linux): when
 * it is high, every number of the run is slower than the machine is. Null where it is not known.
 */
const cpuTimes = (): { steal: number; total: number } | null => {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    if (fields.length < 8 || fields.some((f) => !Number.isFinite(f))) return null
    return { steal: fields[7]!, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) }
  } catch {
    return null
  }
}
const stealSince = (before: { steal: number; total: number } | null): string => {
  const after = cpuTimes()
  if (!before || !after || after.total <= before.total) return ''
  return `; CPU stolen by the hypervisor during the run ${(((after.steal - before.steal) / (after.total - before.total)) * 100).toFixed(1)}%`
}
const loadBefore = load()
const timesBefore = cpuTimes()
const started = Date.now()
const sections: string[] = []
const targets: TargetCheck[] = []
try {
  for (const name of names) {
    progress(`${name}: starting`)
    const t0 = Date.now()
    const result = await SCENARIOS[name]!(runs)
    progress(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    sections.push(result.markdown)
    targets.push(...result.targets)
  }
} finally {
  removeDatasets()
}

const status = (pass: boolean | null): string => (pass === null ? 'reported' : pass ? 'pass' : 'miss')
const cpu = cpus()[0]?.model ?? 'unknown CPU'
const markdown = [
  '## Results',
  '',
  `${quick ? '**Quick mode: tiny sizes, one run — these numbers mean nothing.** ' : ''}Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`node bench/run.ts${positionals.length ? ` ${positionals.join(' ')}` : ''}${quick ? ' --quick' : ''}${values.runs ? ` --runs ${values.runs}` : ''}\`: Node ${process.versions.node}, ${cpu}, ${cpus().length} cores; load average (1, 5, 15 min) ${loadBefore} before and ${load()} after${stealSince(timesBefore)}; ${runs} interleaved run${runs > 1 ? 's' : ''} per scenario; ${((Date.now() - started) / 60_000).toFixed(1)} minutes in all.`,
  '',
  '### Targets',
  '',
  table(
    ['target', 'measured (colloquy, median)', 'status'],
    targets.map((t) => [t.target, t.measured, status(t.pass)]),
  ),
  '',
  ...sections,
].join('\n')

process.stdout.write(`${markdown}\n`)

if (values.write) {
  const path = script('../docs/performance.md')
  const doc = readFileSync(path, 'utf8')
  const a = doc.indexOf(START)
  const b = doc.indexOf(END)
  if (a === -1 || b === -1 || b < a) {
    process.stderr.write(`docs/performance.md has no ${START} … ${END} markers\n`)
    process.exit(1)
  }
  writeFileSync(path, `${doc.slice(0, a + START.length)}\n\n${markdown}\n${doc.slice(b)}`)
  progress('wrote docs/performance.md')
}
