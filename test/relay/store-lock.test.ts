/**
 * One relay per store: a second relay on the same SQLite file refuses to start, naming the file
 * and the process that holds it; a lock left by a killed relay is taken over.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createRelay } from '../../relay/index.ts'
import { lockPathFor, lockStore } from '../../relay/store-lock.ts'
import { ColloquyError } from '../../src/errors.ts'
import { runCli } from '../support/cli.ts'
import { Harness, SECRET, waitUntil } from './helpers.ts'

const lockOf = (pid: number, host = hostname(), started?: string): string =>
  `${JSON.stringify({ pid, host, started, token: 'feedfacefeedface', since: new Date().toISOString() })}\n`

/** Field 22 of /proc/<pid>/stat: when the process started. */
const startTime = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!
}

describe('relay: one relay per store', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('a second createRelay on the same file in one process is refused with CONFLICT', async () => {
    const db = join(h.tmpdir(), 'relay.sqlite')
    const first = await h.relay({ dataPath: db })
    const second = createRelay({ auth: { secret: SECRET }, dataPath: db })
    await expect(second).rejects.toThrow(ColloquyError)
    const error = (await second.catch((e: unknown) => e)) as ColloquyError
    expect(error.code).toBe('CONFLICT')
    expect(error.message).toContain(db)
    expect(error.message).toContain(`process ${process.pid}`)
    expect(error.message).toContain(`${db}.lock`)
    // Through a symlink it is the same store.
    const link = join(h.tmpdir(), 'link.sqlite')
    symlinkSync(db, link)
    await expect(createRelay({ auth: { secret: SECRET }, dataPath: link })).rejects.toMatchObject({ code: 'CONFLICT' })

    await first.close()
    expect(existsSync(`${db}.lock`)).toBe(false)
    const third = await h.relay({ dataPath: db })
    expect(third.port).toBeGreaterThan(0)
  })

  it('in-memory stores and stores passed in take no lock', async () => {
    await h.relay()
    await h.relay({ dataPath: ':memory:' })
  })

  it('a second CLI on the same file exits non-zero with one line naming the file and the pid', async () => {
    const db = join(h.tmpdir(), 'relay.sqlite')
    const first = h.relayProcess({ port: 0, db })
    const { port } = await first.ready
    const second = await runCli(['--port', '0', '--db', db, '--secret', SECRET])
    expect(second.code).not.toBe(0)
    expect(second.signal).toBeNull()
    const lines = second.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(db)
    expect(lines[0]).toContain(`process ${first.child.pid}`)
    expect(second.stdout).not.toContain('listening')
    // The first one serves on, undisturbed.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)

    // Killed without a chance to clean up, it leaves its lock behind: the next relay takes it over.
    await first.kill('SIGKILL')
    expect(JSON.parse(readFileSync(`${db}.lock`, 'utf8')).pid).toBe(first.child.pid)
    const next = h.relayProcess({ port: 0, db })
    const ready = await next.ready
    expect((await fetch(`http://127.0.0.1:${ready.port}/healthz`)).status).toBe(200)
    expect(JSON.parse(readFileSync(`${db}.lock`, 'utf8')).pid).toBe(next.child.pid)
    // Stopped cleanly, it removes its lock.
    await next.kill('SIGTERM')
    expect(existsSync(`${db}.lock`)).toBe(false)
  })

  it('takes over a lock of a dead process or of an earlier life under its own pid, never one of another host', () => {
    const dir = h.tmpdir()
    const db = join(dir, 'store.sqlite')
    const lockPath = lockPathFor(db)
    expect(lockPath).toBe(`${db}.lock`)

    // A pid that is certainly not running: above the kernel's maximum.
    writeFileSync(lockPath, lockOf(2 ** 22 + 1))
    const a = lockStore(db)
    expect(JSON.parse(readFileSync(lockPath, 'utf8')).pid).toBe(process.pid)
    a.release()

    // Our own pid, not held by this process: a restarted container, say.
    writeFileSync(lockPath, lockOf(process.pid))
    const b = lockStore(db)
    expect(() => lockStore(db)).toThrow(/this process/)
    b.release()
    expect(existsSync(lockPath)).toBe(false)

    // Another host's lock cannot be checked from here: refused, naming the host.
    writeFileSync(lockPath, lockOf(2 ** 22 + 1, 'elsewhere.example'))
    expect(() => lockStore(db)).toThrow(/on elsewhere\.example/)
    // So is a lock file that is not ours to read.
    writeFileSync(lockPath, 'garbage')
    expect(() => lockStore(db)).toThrow(expect.objectContaining({ code: 'CONFLICT' }))
  })

  it('a live pid holds the lock only if it is the process that wrote it (pid reuse)', async () => {
    const db = join(h.tmpdir(), 'store.sqlite')
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    const exited = new Promise<void>((resolve) => other.once('exit', () => resolve()))
    h.defer(async () => {
      other.kill('SIGKILL')
      await exited
    })
    const pid = other.pid!
    await waitUntil(() => existsSync(`/proc/${pid}/stat`), 'the other process runs')
    writeFileSync(lockPathFor(db), lockOf(pid, hostname(), startTime(pid)))
    expect(() => lockStore(db)).toThrow(`process ${pid}`)
    // The same pid with another start time: the writer is gone and its pid went to someone else.
    writeFileSync(lockPathFor(db), lockOf(pid, hostname(), String(Number(startTime(pid)) - 1)))
    const lock = lockStore(db)
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({
      pid: process.pid,
      started: startTime(process.pid),
    })
    lock.release()
  })

  it('releasing never removes a lock another relay took over', () => {
    const db = join(h.tmpdir(), 'store.sqlite')
    const lock = lockStore(db)
    const other = lockOf(2 ** 22 + 2)
    writeFileSync(lock.path, other)
    lock.release()
    expect(readFileSync(lock.path, 'utf8')).toBe(other)
  })
})
