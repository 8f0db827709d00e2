/**
 * The relay's CLI starts itself under a small V8 young generation (`RELAY_NODE_FLAGS`), in the same
 * process, unless the operator chose a value.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { missingRelayFlags, RELAY_NODE_FLAGS, restartUnderRelayFlags } from '../../relay/node-flags.ts'
import { Harness } from './helpers.ts'

/** The command line of a running process (Linux). */
const commandLine = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)

describe('relay CLI: V8 flags', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('lists only the flags the command line and NODE_OPTIONS leave unset', () => {
    expect(RELAY_NODE_FLAGS).toEqual(['--max-semi-space-size=4'])
    expect(missingRelayFlags([], undefined)).toEqual(['--max-semi-space-size=4'])
    expect(missingRelayFlags(['--expose-gc'], '--enable-source-maps')).toEqual(['--max-semi-space-size=4'])
    expect(missingRelayFlags(['--max-semi-space-size=16'], undefined)).toEqual([])
    expect(missingRelayFlags(['--max_semi_space_size=2'], undefined)).toEqual([])
    expect(missingRelayFlags([], '  --trace-warnings   --max-semi-space-size=32 ')).toEqual([])
  })

  it('returns the error, and carries on, when the restart fails', () => {
    expect(missingRelayFlags(process.execArgv, process.env.NODE_OPTIONS)).toEqual(RELAY_NODE_FLAGS)
    const execve = vi.spyOn(process, 'execve').mockImplementation(() => {
      throw new Error('execve failed: EACCES')
    })
    try {
      expect(restartUnderRelayFlags()?.message).toBe('execve failed: EACCES')
      expect(execve).toHaveBeenCalledOnce()
      const [file, argv] = execve.mock.calls[0]!
      expect(file).toBe(process.execPath)
      expect(argv).toEqual([process.execPath, ...RELAY_NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)])
    } finally {
      execve.mockRestore()
    }
  })

  it('runs the relay under --max-semi-space-size=4 in the process that was started', async () => {
    const relay = h.relayProcess({ port: 0, db: join(h.tmpdir(), 'relay.sqlite') })
    const { port } = await relay.ready
    const argv = commandLine(relay.child.pid!)
    expect(argv).toContain('--max-semi-space-size=4')
    expect(argv.some((a) => a.endsWith('cli.ts'))).toBe(true)
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    expect(await health.json()).toEqual({ ok: true, connections: 0, documents: 0 })
  })

  it("keeps the operator's own setting from NODE_OPTIONS", async () => {
    const env = { ...process.env, NODE_OPTIONS: '--max-semi-space-size=8' }
    const relay = h.relayProcess({ port: 0, db: join(h.tmpdir(), 'relay.sqlite'), env })
    const { port } = await relay.ready
    expect(commandLine(relay.child.pid!).some((a) => a.startsWith('--max-semi-space-size'))).toBe(false)
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
  })
})
