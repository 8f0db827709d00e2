/**
 * Fan-out: one conversation, one writer and R readers, each side in its own processes.
 *
 * Per run and relay: a warm-up of 50 messages, then (b) `LATENCY_N` messages paced at 200/s —
 * delivery latency from just before the writer's send call to the reader's message event, over
 * every (reader, message) pair — then (a) `N` messages as fast as the writer goes: throughput is
 * N divided by the time from the first send until the last reader has the last message. Relay
 * CPU is the relay process's user + system time over (a), per 1,000 messages.
 */
import { Child, killAll, tempDir } from './proc.ts'
import { cpuMs, type RelayHandle, type RelayKind, startRelay, stopRelay } from './relays.ts'
import {
  cell,
  field,
  fmt,
  interleaveRuns,
  percentile,
  progress,
  quick,
  type ScenarioResult,
  summarize,
  type TargetCheck,
  table,
  times,
} from './stats.ts'

const N = quick ? 50 : 2000
const LATENCY_N = quick ? 20 : 400
const RATE = 200
const READER_PROCESSES = quick ? 1 : 2

interface FanoutRun {
  throughput: number
  p50: number
  p99: number
  cpuPer1000: number
  readerCpuPer1000: number
}

interface Contender {
  label: string
  client: RelayKind
  relay: RelayKind
  /** colloquy only: where the relay stores (a SQLite file, as in production, or `:memory:`). */
  store?: 'file' | 'memory'
}

const ALL: Record<string, Contender> = {
  colloquy: {
    label: 'colloquy (SQLite file: stored durably before broadcast)',
    client: 'colloquy',
    relay: 'colloquy',
    store: 'file',
  },
  colloquyMem: {
    label: 'colloquy (SQLite `:memory:`, for reference)',
    client: 'colloquy',
    relay: 'colloquy',
    store: 'memory',
  },
  yws: { label: 'y-websocket (stock)', client: 'yws', relay: 'yws' },
  raw: { label: 'raw ws (ceiling)', client: 'raw', relay: 'raw' },
}

/** Quick mode checks that each kind of relay and client still works; the reference store is skipped. */
export const CONTENDERS: Record<string, Contender> = quick
  ? Object.fromEntries(Object.entries(ALL).filter(([k]) => k !== 'colloquyMem'))
  : ALL

const runOnce = async (c: Contender, readers: number, round: number): Promise<FanoutRun> => {
  const tmp = tempDir('fanout')
  const children: Child[] = []
  let relay: RelayHandle | null = null
  try {
    relay = await startRelay(c.relay, { db: c.store === 'file' ? `${tmp.dir}/relay.sqlite` : undefined })
    const r = relay
    const writer = new Child('writer', 'client-child.ts', [c.client])
    children.push(writer)
    const groups = Array.from({ length: Math.min(READER_PROCESSES, readers) }, (_, g) => {
      const child = new Child(`readers${g}`, 'client-child.ts', [c.client])
      children.push(child)
      return child
    })
    await Promise.all(children.map((ch) => ch.ready))
    const url = r.url
    const ids = Array.from({ length: readers }, (_, i) => `reader-${i}`)
    const { room } = await writer.call<{ room: string }>('writer', { url, room: 'fanout', readers: ids })
    await Promise.all(
      groups.map((g, k) => g.call('readers', { url, room, ids: ids.filter((_, i) => i % groups.length === k) })),
    )

    const burst = async (n: number, rate: number, tag: string, latencies: boolean) => {
      await Promise.all(groups.map((g) => g.call('arm', { n, tag })))
      const before = await r.stats()
      const sent = await writer.call<{ startAt: number }>('send', { n, rate, tag }, 300_000)
      const got = await Promise.all(
        groups.map((g) =>
          g.call<{ lastAt: number; latencies: number[]; cpuMs: number }>('wait', { latencies, ms: 300_000 }, 310_000),
        ),
      )
      const after = await r.stats()
      return {
        elapsed: Math.max(...got.map((x) => x.lastAt)) - sent.startAt,
        latencies: got.flatMap((x) => x.latencies),
        cpu: cpuMs(before, after),
        readerCpu: got.reduce((sum, x) => sum + x.cpuMs, 0),
      }
    }

    await burst(50, 0, `warm-${round}`, false)
    const lat = await burst(LATENCY_N, RATE, `lat-${round}`, true)
    const thr = await burst(N, 0, `thr-${round}`, false)
    return {
      throughput: N / (thr.elapsed / 1000),
      p50: percentile(lat.latencies, 50),
      p99: percentile(lat.latencies, 99),
      cpuPer1000: (thr.cpu / N) * 1000,
      readerCpuPer1000: (thr.readerCpu / N / readers) * 1000,
    }
  } finally {
    await killAll(children)
    await stopRelay(relay)
    tmp.remove()
  }
}

export const benchFanout = async (rounds: number, readerCounts = quick ? [2] : [10, 50]): Promise<ScenarioResult> => {
  const parts: string[] = []
  const targets: TargetCheck[] = []
  for (const R of readerCounts) {
    const runs = await interleaveRuns(
      rounds,
      Object.fromEntries(Object.entries(CONTENDERS).map(([k, c]) => [k, (round: number) => runOnce(c, R, round)])),
      (k, round, r) =>
        progress(
          `fanout R=${R} ${k} run ${round + 1}: ${fmt(r.throughput)} msg/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms`,
        ),
    )
    const raw = runs.raw!
    const base = {
      throughput: field(raw, (r) => r.throughput),
      p50: field(raw, (r) => r.p50),
      p99: field(raw, (r) => r.p99),
    }
    const rows = Object.entries(CONTENDERS).map(([k, c]) => {
      const rs = runs[k]!
      const thr = field(rs, (r) => r.throughput)
      const p50 = field(rs, (r) => r.p50)
      const p99 = field(rs, (r) => r.p99)
      const cpu = field(rs, (r) => r.cpuPer1000)
      const readerCpu = field(rs, (r) => r.readerCpuPer1000)
      return [
        c.label,
        cell(thr, '', 0),
        times(thr.median, base.throughput.median),
        cell(p50, ' ms'),
        times(p50.median, base.p50.median),
        cell(p99, ' ms'),
        times(p99.median, base.p99.median),
        cell(cpu, ' ms'),
        cell(readerCpu, ' ms'),
      ]
    })
    parts.push(
      `#### R = ${R} readers`,
      '',
      table(
        [
          'relay',
          `(a) throughput, msg/s to every reader (${N} msgs)`,
          'vs raw',
          `(b) p50 latency (${LATENCY_N} msgs at ${RATE}/s)`,
          'vs raw',
          '(b) p99 latency',
          'vs raw',
          'relay CPU per 1,000 msgs',
          'CPU of one reader per 1,000 msgs',
        ],
        rows,
      ),
      '',
    )
    const col = runs.colloquy!
    const thrRatio = summarize(col.map((r) => r.throughput)).median / base.throughput.median
    targets.push({
      target: `fan-out throughput R=${R} ≥ 0.6× raw ws`,
      measured: `${fmt(thrRatio)}×`,
      pass: thrRatio >= 0.6,
    })
    if (R === readerCounts[0]) {
      const p50 = summarize(col.map((r) => r.p50)).median / base.p50.median
      const p99 = summarize(col.map((r) => r.p99)).median / base.p99.median
      targets.push({
        target: `latency at ${RATE} msg/s R=${R}: p50 ≤ 1.3× raw ws`,
        measured: `${fmt(p50)}×`,
        pass: p50 <= 1.3,
      })
      targets.push({
        target: `latency at ${RATE} msg/s R=${R}: p99 ≤ 2× raw ws`,
        measured: `${fmt(p99)}×`,
        pass: p99 <= 2,
      })
    }
  }
  return {
    markdown: [
      `### 1. Fan-out: 1 writer, R readers (${rounds} interleaved run${rounds > 1 ? 's' : ''}; median (min–max))`,
      '',
      ...parts,
    ].join('\n'),
    targets,
  }
}
