/** Small helpers shared by the benchmarks: robust summaries and interleaved runs. */

export interface Summary {
  median: number
  min: number
  max: number
  runs: number
}

export const summarize = (values: number[]): Summary => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: values.length }
}

/** Percentile (0–100) of a sample, nearest rank. */
export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

export const fmt = (n: number, digits = 2): string =>
  Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(digits)

export const row = (name: string, s: Summary, unit: string, baseline?: Summary): string =>
  `| ${name} | ${fmt(s.median)} ${unit} | ${fmt(s.min)}–${fmt(s.max)} | ${baseline ? `${fmt(s.median / baseline.median)}×` : '1×'} |`

/** Whether the suite runs in quick mode (CI: check that it works, numbers meaningless). */
export const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'

/**
 * Runs each contender once per round, in turn (run 1 of each, then run 2, …), so drift in the
 * machine's load hits all of them alike. Returns every contender's results.
 */
export const interleaveRuns = async <K extends string, T>(
  rounds: number,
  contenders: Record<K, (round: number) => Promise<T>>,
  onRun?: (name: K, round: number, result: T) => void,
): Promise<Record<K, T[]>> => {
  const out = {} as Record<K, T[]>
  for (const k of Object.keys(contenders) as K[]) out[k] = []
  for (let r = 0; r < rounds; r++) {
    for (const k of Object.keys(contenders) as K[]) {
      const result = await contenders[k](r)
      out[k].push(result)
      onRun?.(k, r, result)
    }
  }
  return out
}

/** The summary of one field over a contender's runs. */
export const field = <T>(runs: T[], pick: (run: T) => number): Summary => summarize(runs.map(pick))

/** `median (min–max)` of a summary. */
export const cell = (s: Summary, unit = '', digits = 2): string =>
  s.runs > 1
    ? `${fmt(s.median, digits)}${unit} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
    : `${fmt(s.median, digits)}${unit}`

/** A ratio to the baseline, `1.23×`. */
export const times = (value: number, baseline: number): string => (baseline === 0 ? '—' : `${fmt(value / baseline)}×`)

/** Bytes with a binary unit. */
export const bytes = (n: number): string =>
  Math.abs(n) >= 1024 * 1024
    ? `${fmt(n / 1024 / 1024)} MiB`
    : Math.abs(n) >= 1024
      ? `${fmt(n / 1024)} KiB`
      : `${fmt(n, 0)} B`

/** A markdown table. */
export const table = (head: string[], rows: string[][]): string =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  )

/** One target of the issue: what was measured against what, and whether it holds. */
export interface TargetCheck {
  target: string
  measured: string
  pass: boolean | null
}

/** What a scenario hands back to the runner. */
export interface ScenarioResult {
  markdown: string
  targets: TargetCheck[]
}

/** Progress on stderr, so stdout stays clean markdown. */
export const progress = (text: string): void => {
  process.stderr.write(`[bench] ${text}\n`)
}
