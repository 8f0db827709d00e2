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

export const DOC_SIZES = quick ? [500, 5000] : [10_000, 100_000]

interface DocRun {
  localAppend: number
  localAppendJson: number
  remoteDoc: number
  remoteClient: number
  remoteJson: number
  heapDoc: number
  heapJson: number
}

const runOnce = async (d: Dataset): Promise<DocRun> => {
  const args = { n: d.n, dir: d.dir }
  const ms = async (cmd: string) => (await docChild<{ ms: number }>(cmd, args)).ms
  const heap = async (cmd: string) => (await docChild<{ bytes: number }>(cmd, args)).bytes
  return {
    localAppend: await ms('localAppend'),
    localAppendJson: await ms('localAppendJson'),
    remoteDoc: await ms('remoteDoc'),
    remoteClient: await ms('remoteClient'),
    remoteJson: await ms('remoteJson'),
    heapDoc: await heap('heapDoc'),
    heapJson: await heap('heapJson'),
  }
}

export const benchDocCost = async (rounds: number, sizes = DOC_SIZES): Promise<ScenarioResult> => {
  const data = await Promise.all(sizes.map((n) => dataset(n)))
  const runs = await interleaveRuns(
    rounds,
    Object.fromEntries(data.map((d) => [String(d.n), () => runOnce(d)])) as Record<string, () => Promise<DocRun>>,
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

  const perMsg = (rs: DocRun[], n: number, pick: (r: DocRun) => number): Summary => field(rs, (r) => (pick(r) / n) * 1000)
  const appendRow = (label: string, pick: (r: DocRun) => number): string[] => {
    const a = field(s, pick)
    const c = field(b, pick)
    return [
      label,
      `${cell(a, ' ms', 0)}, ${fmt(perMsg(s, small.n, pick).median)} µs/msg`,
      `${cell(c, ' ms', 0)}, ${fmt(perMsg(b, big.n, pick).median)} µs/msg`,
      `${fmt(c.median / a.median)}×`,
    ]
  }
  const remoteGrowth = field(b, (r) => r.remoteClient).median / field(s, (r) => r.remoteClient).median
  const remoteDocGrowth = field(b, (r) => r.remoteDoc).median / field(s, (r) => r.remoteDoc).median
  const targets: TargetCheck[] = [
    {
      target: `single-author remote burst ${small.n.toLocaleString('en')} → ${big.n.toLocaleString('en')} linear (${growth}× messages ≤ ${(growth * 1.2).toFixed(0)}× time), through the client`,
      measured: `${fmt(remoteGrowth)}× (document level: ${fmt(remoteDocGrowth)}×)`,
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
          appendRow('local append: `sendMessage` (local-only client, memory store)', (r) => r.localAppend),
          appendRow('local append: JSON (build, keep, serialise)', (r) => r.localAppendJson),
          appendRow('remote burst: document level (Y.Doc + message log)', (r) => r.remoteDoc),
          appendRow('remote burst: `Client` (events, message log, local store)', (r) => r.remoteClient),
          appendRow('remote burst: JSON (parse each frame, keep)', (r) => r.remoteJson),
        ],
      ),
      '',
    ].join('\n'),
    targets,
  }
}
