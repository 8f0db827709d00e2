/**
 * The benchmark suite still works: `node bench/run.ts --quick` (tiny sizes, one run) exits 0 and
 * reports every scenario. Benchmarks are never timed tests: no number is checked here.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url))
const HEADINGS = [
  '## Results',
  '### Targets',
  '### 1. Fan-out',
  '### 2. Many conversations',
  '### 3. Document cost',
  '### 4. Cold start',
  '### 5. Validation',
]

describe('bench', () => {
  it('runs every scenario in quick mode', { timeout: 240_000 }, async () => {
    const child = spawn(process.execPath, [RUN, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 230_000)
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
    clearTimeout(timer)
    expect(code, stderr.slice(-4000)).toBe(0)
    for (const heading of HEADINGS) expect(stdout).toContain(heading)
  })
})
