/**
 * A client PROCESS (test/faults/fixtures/writer.ts: a colloquy Client on a SQLite store) sends in a
 * loop and is SIGKILLed right after its N-th acknowledged send, twice, then restarted on the same
 * store with the relay up: the store opens, every acknowledged message is in it, and each reaches
 * another client exactly once, with the same index everywhere. N is seeded (COLLOQUY_SEED replays).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import type { Conversation } from '../../src/index.ts'
import { deadline, Harness, SECRET, waitFor } from '../relay/helpers.ts'
import { converge, Dice, seedFor } from './support.ts'

const SEED = seedFor('client-kill.test.ts')
const WRITER = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url))

/** The writer process, its output lines, and a way to wait for one. */
class Writer {
  readonly child: ChildProcess
  readonly lines: string[] = []
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  #stderr = ''
  #listeners = new Set<(line: string) => void>()

  constructor(args: Record<string, string>, onLine?: (line: string, w: Writer) => void) {
    this.child = spawn(process.execPath, [WRITER, ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, v])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })))
    this.child.stderr!.on('data', (d: Buffer) => {
      this.#stderr += d.toString()
    })
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line)
      onLine?.(line, this)
      for (const l of [...this.#listeners]) l(line)
    })
  }

  get stderr(): string {
    return this.#stderr
  }

  /** The first line (past or future) matching `re`. */
  line(re: RegExp, ms = 15_000): Promise<RegExpExecArray> {
    const seen = this.lines.map((l) => re.exec(l)).find((m) => m !== null)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer)
        this.#listeners.delete(l)
        reject(new Error(`writer: ${why} waiting for ${re}\n${this.lines.slice(-5).join('\n')}\n${this.#stderr}`))
      }
      const timer = setTimeout(() => fail(`timed out after ${ms} ms`), ms)
      const l = (line: string) => {
        const m = re.exec(line)
        if (!m) return
        clearTimeout(timer)
        this.#listeners.delete(l)
        resolve(m)
      }
      this.#listeners.add(l)
      void this.exited.then(({ code, signal }) => {
        if (this.#listeners.has(l)) fail(`exited (${code ?? signal})`)
      })
    })
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
  }
}

describe('faults: a client process killed mid-write', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it(`SIGKILL after N acks, twice; the restarted client delivers every acked message exactly once (seed ${SEED})`, async () => {
    const dice = new Dice(SEED)
    const relay = await h.relay()
    const db = join(h.tmpdir(), 'writer.sqlite')
    const alice = await h.client('alice', { relayUrl: relay.url })
    const base = { relay: relay.url, db, identity: 'writer', peer: 'alice', secret: SECRET }

    const acked = new Map<string, string>()
    const aliceConv: Promise<Conversation> = waitFor<Conversation>(alice, 'conversationAdded', () => true, 15_000)
    const log: string[] = []
    for (const cycle of [0, 1]) {
      const n = dice.int(3, 60)
      let count = 0
      const w = new Writer({ ...base, mode: 'write', tag: `w${cycle}` }, (line, self) => {
        const m = /^acked (\S+) (\S+)$/.exec(line)
        if (!m) return
        acked.set(m[1]!, m[2]!)
        // Killed the moment its N-th ack is read: it is already writing the next one.
        if (++count === n) void self.kill()
      })
      h.defer(() => w.kill())
      await w.line(/^conv /)
      const { signal } = await deadline(w.exited, 20_000, `writer cycle ${cycle} is killed after ${n} acks`)
      expect(signal, w.stderr).toBe('SIGKILL')
      expect(w.lines.filter((l) => l.startsWith('error'))).toEqual([])
      log.push(`cycle ${cycle}: killed after ${n} acks (${w.lines.filter((l) => l.startsWith('acked')).length} read)`)
    }
    const conv = await aliceConv

    // Restart on the same store, relay up.
    const check = new Writer({ ...base, mode: 'check', tag: 'after' })
    h.defer(() => check.kill())
    await check.line(/^done$/, 20_000)
    const { code } = await check.exited
    expect(code, `${check.stderr}\n${check.lines.join('\n')}`).toBe(0)
    expect(check.lines.filter((l) => l.startsWith('error'))).toEqual([])
    const stored = check.lines.slice(0, check.lines.indexOf('stored-end')).filter((l) => l.startsWith('stored '))
    const storedIds = new Set(stored.map((l) => l.split(' ')[1]!))
    // The store opened and holds every message whose send had resolved.
    for (const [sid, body] of acked) expect(storedIds.has(sid), `acked ${body} is in the store`).toBe(true)
    const final = check.lines
      .filter((l) => l.startsWith('final '))
      .map((l) => {
        const [, sid, index, body] = l.split(' ')
        return { sid: sid!, index: Number(index), body: body! }
      })
    for (const l of check.lines.filter((x) => x.startsWith('acked '))) acked.set(l.split(' ')[1]!, l.split(' ')[2]!)

    // The other client converges on the writer's final list: every acked message exactly once.
    const rows = await converge([conv], new Set(final.map((m) => m.sid)), 'alice holds every message the writer has')
    expect(rows.map((m) => ({ sid: m.sid, index: m.index, body: m.body }))).toEqual(final)
    for (const [sid, body] of acked)
      expect(
        rows.filter((m) => m.sid === sid).map((m) => m.body),
        `acked ${body} delivered once`,
      ).toEqual([body])
    expect(new Set(rows.map((m) => m.body)).size).toBe(rows.length)
    expect(new Set(rows.map((m) => m.index)).size).toBe(rows.length)
    // Each run's messages in the order they were written.
    for (const tag of ['w0', 'w1', 'after']) {
      const nums = rows.filter((m) => m.body?.startsWith(`${tag}-`)).map((m) => Number(m.body!.split('-')[1]))
      expect(nums).toEqual([...nums].sort((a, b) => a - b))
    }
    console.log(`[faults] client-kill: ${acked.size} acked, ${rows.length} delivered\n  ${log.join('\n  ')}`)
  }, 60_000)
})
