/**
 * Cold start: a device opens a stored conversation of 100k messages from its SQLite store and
 * shows the newest 30 — the real `Client` (relay configured but offline), versus JSON.parse of the
 * same messages from a file. Each run is a fresh process; heap is measured after a full GC, with
 * the client (or the parsed array) still held.
 */
import { dataset, docChild } from './datasets.ts'
import { bytes, cell, field, fmt, interleaveRuns, progress, quick, type ScenarioResult, table, times } from './stats.ts'

export const COLD_SIZE = quick ? 2000 : 100_000

interface ColdRun {
  ms: number
  bytes: number
  ok: boolean
}

export const benchColdStart = async (rounds: number, n = COLD_SIZE): Promise<ScenarioResult> => {
  const d = await dataset(n)
  const args = { n, dir: d.dir }
  const runs = await interleaveRuns(
    rounds,
    {
      client: () => docChild<ColdRun>('coldClient', args),
      json: () => docChild<ColdRun>('coldJson', args),
    },
    (k, round, r) => {
      if (!r.ok) throw new Error(`cold start ${k} did not show the newest 30 messages`)
      progress(`cold start ${k} run ${round + 1}: ${fmt(r.ms)} ms, ${bytes(r.bytes)}`)
    },
  )
  const t = { client: field(runs.client, (r) => r.ms), json: field(runs.json, (r) => r.ms) }
  const h = { client: field(runs.client, (r) => r.bytes), json: field(runs.json, (r) => r.bytes) }
  return {
    markdown: [
      `### 4. Cold start: open a stored ${n.toLocaleString('en')}-message conversation, show the newest 30 (${rounds} interleaved run${rounds > 1 ? 's' : ''})`,
      '',
      table(
        ['', 'time', 'vs JSON.parse', 'heap (per message)', 'vs JSON.parse'],
        [
          [
            '`Client` on its SQLite store (offline), `getMessages(30)`',
            cell(t.client, ' ms', 0),
            times(t.client.median, t.json.median),
            `${bytes(h.client.median)} (${bytes(h.client.median / n)})`,
            times(h.client.median, h.json.median),
          ],
          [
            '`readFileSync` + `JSON.parse`, last 30',
            cell(t.json, ' ms', 0),
            '1×',
            `${bytes(h.json.median)} (${bytes(h.json.median / n)})`,
            '1×',
          ],
        ],
      ),
      '',
    ].join('\n'),
    targets: [
      {
        target: `cold start ${n.toLocaleString('en')} messages (reported; today's Yjs ~4× JSON.parse time)`,
        measured: `${fmt(t.client.median)} ms, ${fmt(t.client.median / t.json.median)}× JSON.parse`,
        pass: null,
      },
      {
        target: `heap at ${n.toLocaleString('en')} messages (reported; ~3× JSON.parse)`,
        measured: `${bytes(h.client.median)}, ${fmt(h.client.median / h.json.median)}× JSON.parse`,
        pass: null,
      },
    ],
  }
}
