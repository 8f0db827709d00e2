/**
 * Document cost at 10k and 100k messages from one author: bytes at rest and on the wire, heap, and
 * append cost — locally through `sendMessage`, and the author's burst applied on a remote replica
 * (document level, and through bob's real `Client`). Every measurement runs in a fresh process;
 * the JSON baseline holds the same messages (fields, index and server time) as plain records.
 */
import { type Dataset, dataset, docChild } from './datasets.ts'
import {
  bytes,
  cell,
  field,
  fmt,
  interleaveRuns,
  progress,
  quick,
  type ScenarioResult,
  type Summary,
  type TargetCheck,
  table,
  times,
} from './stats.ts'

export const DOC_SIZES = quick ? [200, 2000] : [10_000, 100_000]

interface DocRun {
  localAppend: number
  localAppendJson: number
  remoteDoc: number
  remoteClient: number
  remoteJson: number
  heapDoc: number
  heapJson: number
}

type TimedKey = 'localAppend' | 'localAppendJson' | 'remoteDoc' | 'remoteClient' | 'remoteJson'
const TIMED: TimedKey[] = ['localAppend', 'localAppendJson', 'remoteDoc', 'remoteClient', 'remoteJson']

/**
 * A measurement of the larger size may not run past `STOP_FACTOR` × its time at the smaller size
 * (at least `STOP_MIN_MS`, at most `STOP_MAX_MS`): past that it is far from linear, and the suite
 * would take too long. It is stopped, reported as "> limit", and not repeated in later rounds.
 */
const STOP_FACTOR = 100
const STOP_MIN_MS = 20_000
const STOP_MAX_MS = 240_000
const stopped = new Map<TimedKey, number>()

const runOnce = async (d: Dataset, smaller: DocRun | null): Promise<DocRun> => {
  const args = { n: d.n, dir: d.dir }
  const out = {} as DocRun
  for (const key of TIMED) {
    const limit = smaller ? Math.min(STOP_MAX_MS, Math.max(STOP_MIN_MS, STOP_FACTOR * smaller[key])) : null
    if (smaller && stopped.has(key)) {
      out[key] = Number.POSITIVE_INFINITY
      continue
    }
    try {
      out[key] = (await docChild<{ ms: number }>(key, args, limit ?? undefined)).ms
    } catch (error) {
      if (limit === null || !String(error).includes('timed out')) throw error
      stopped.set(key, limit)
      out[key] = Number.POSITIVE_INFINITY
      progress(`doc n=${d.n} ${key} stopped after ${fmt(limit / 1000)} s`)
    }
  }
  out.heapDoc = (await docChild<{ bytes: number }>('heapDoc', args)).bytes
  out.heapJson = (await docChild<{ bytes: number }>('heapJson', args)).bytes
  return out
}

export const benchDocCost = async (rounds: number, sizes = DOC_SIZES): Promise<ScenarioResult> => {
  stopped.clear()
  const data = await Promise.all(sizes.map((n) => dataset(n)))
  const latest = new Map<number, DocRun>()
  const runs = await interleaveRuns(
    rounds,
    Object.fromEntries(
      data.map((d, i) => [
        String(d.n),
        async () => {
          const r = await runOnce(d, i === 0 ? null : latest.get(data[i - 1]!.n)!)
          latest.set(d.n, r)
          return r
        },
      ]),
    ) as Record<string, () => Promise<DocRun>>,
    (k, round, r) =>
      progress(
        `doc n=${k} run ${round + 1}: local ${fmt(r.localAppend)} ms, remote doc ${fmt(r.remoteDoc)} ms, remote client ${fmt(r.remoteClient)} ms`,
      ),
  )
  const [small, big] = data as [Dataset, Dataset]
  const s = runs[String(small.n)]!
  const b = runs[String(big.n)]!
  const growth = big.n / small.n

  const sizeRows = data.flatMap((d) => {
    const rs = runs[String(d.n)]!
    const heapDoc = field(rs, (r) => r.heapDoc / d.n).median
    const heapJson = field(rs, (r) => r.heapJson / d.n).median
    return [
      [
        `${d.n.toLocaleString('en')} msgs`,
        'at rest (Yjs state update; JSON file)',
        bytes(d.restPerMsg),
        bytes(d.jsonRestPerMsg),
        times(d.restPerMsg, d.jsonRestPerMsg),
      ],
      [
        '',
        `on the wire, relay → reader (${fmt(d.framesPerMsg, 0)} frames: message + stamp; JSON text frame)`,
        bytes(d.wirePerMsg),
        bytes(d.jsonWirePerMsg),
        times(d.wirePerMsg, d.jsonWirePerMsg),
      ],
      ['', 'heap (document + message log; JSON.parse)', bytes(heapDoc), bytes(heapJson), times(heapDoc, heapJson)],
    ]
  })

  const perMsg = (rs: DocRun[], n: number, pick: (r: DocRun) => number): Summary =>
    field(rs, (r) => (pick(r) / n) * 1000)
  const appendRow = (label: string, key: TimedKey): string[] => {
    const pick = (r: DocRun) => r[key]
    const a = field(s, pick)
    const c = field(b, pick)
    const limit = stopped.get(key)
    return [
      label,
      `${cell(a, ' ms', 0)}, ${fmt(perMsg(s, small.n, pick).median)} µs/msg`,
      limit !== undefined && !Number.isFinite(c.median)
        ? `> ${fmt(limit, 0)} ms (stopped)`
        : `${cell(c, ' ms', 0)}, ${fmt(perMsg(b, big.n, pick).median)} µs/msg`,
      Number.isFinite(c.median) ? `${fmt(c.median / a.median)}×` : `> ${fmt(limit! / a.median)}×`,
    ]
  }
  const growthOf = (key: TimedKey): number => {
    const c = field(b, (r) => r[key]).median
    const limit = stopped.get(key)
    return (Number.isFinite(c) ? c : limit!) / field(s, (r) => r[key]).median
  }
  const remoteGrowth = growthOf('remoteClient')
  const remoteDocGrowth = growthOf('remoteDoc')
  const over = (key: TimedKey) => (stopped.has(key) && !Number.isFinite(field(b, (r) => r[key]).median) ? '> ' : '')
  const targets: TargetCheck[] = [
    {
      target: `single-author remote burst ${small.n.toLocaleString('en')} → ${big.n.toLocaleString('en')} linear (${growth}× messages ≤ ${(growth * 1.2).toFixed(0)}× time), through the client`,
      measured: `${over('remoteClient')}${fmt(remoteGrowth)}× (document level: ${over('remoteDoc')}${fmt(remoteDocGrowth)}×)`,
      pass: remoteGrowth <= growth * 1.2,
    },
  ]
  return {
    markdown: [
      `### 3. Document cost: one author, ${sizes.map((n) => n.toLocaleString('en')).join(' and ')} messages (${rounds} interleaved run${rounds > 1 ? 's' : ''})`,
      '',
      table(['size', 'per message', 'colloquy', 'JSON', 'ratio'], sizeRows),
      '',
      `Append cost, total for the burst (median (min–max)) and per message; growth for ${growth}× the messages (linear = ${growth}×):`,
      '',
      table(
        ['', `${small.n.toLocaleString('en')} msgs`, `${big.n.toLocaleString('en')} msgs`, 'growth'],
        [
          appendRow('local append: `sendMessage` (local-only client, memory store)', 'localAppend'),
          appendRow('local append: JSON (build, keep, serialise)', 'localAppendJson'),
          appendRow('remote burst: document level (Y.Doc + message log)', 'remoteDoc'),
          appendRow('remote burst: `Client` (events, message log, local store)', 'remoteClient'),
          appendRow('remote burst: JSON (parse each frame, keep)', 'remoteJson'),
        ],
      ),
      '',
    ].join('\n'),
    targets,
  }
}
