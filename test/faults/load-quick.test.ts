/**
 * `bench/load.ts --quick`: the load benchmark runs end to end with tiny numbers (a relay process,
 * a dozen raw-protocol clients, a few conversations) and prints its report. Proves the script
 * works; the figures themselves come from full runs (docs/reliability.md).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { deadline } from '../relay/helpers.ts'

const LOAD = fileURLToPath(new URL('../../bench/load.ts', import.meta.url))

describe('faults: load benchmark (quick mode)', () => {
  it('runs, measures latency and memory, and the relay drains after everyone leaves', async () => {
    const child = spawn(process.execPath, [LOAD, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      const code = await deadline(exited, 50_000, 'bench/load.ts --quick finishes')
      expect(code, err).toBe(0)
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    expect(out).toContain('## Relay under load')
    const rows = out.split('\n').filter((l) => /^\| \d+ \|/.test(l))
    expect(rows).toHaveLength(2)
    // Every row has latency percentiles (numbers, not dashes).
    for (const r of rows) expect(r).toMatch(/\d+(\.\d)? ms \/ \d+(\.\d)? ms \/ \d+(\.\d)? ms \/ \d+(\.\d)? ms/)
    // After everyone left: no connection, no document in memory.
    expect(out).toMatch(/after everyone left .*after GC, 0 connections, 0 documents/)
    expect(err).not.toMatch(/connection closed by the relay/)
  }, 60_000)
})
