/**
 * The terminal chat example, driven through stdin/stdout against a relay started here: two
 * terminals chat; a terminal that starts offline keeps its messages in SQLite and delivers them
 * once the relay comes up; a restarted terminal reads its history back from SQLite offline.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createRelay, type Relay, signToken } from '../../relay/index.ts'
import { Client } from '../../src/index.ts'
import { freePort } from '../relay/helpers.ts'

const MAIN = fileURLToPath(new URL('../../examples/terminal-chat/main.ts', import.meta.url))
const SECRET = 'terminal-chat-test-secret-0123456789abcdef'
const WAIT_MS = 10_000

const tokenFor = (identity: string): Promise<string> => signToken({ identity, secret: SECRET })

/** One terminal chat process; `waitFor` matches its output from where the last match ended. */
class Terminal {
  readonly #proc: ChildProcessWithoutNullStreams
  output = ''
  #seen = 0
  readonly #exited: Promise<number | null>
  #listeners = new Set<() => void>()

  constructor(args: string[]) {
    this.#proc = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    })
    const take = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8')
      for (const l of [...this.#listeners]) l()
    }
    this.#proc.stdout.on('data', take)
    this.#proc.stderr.on('data', take)
    this.#exited = new Promise((resolve) => this.#proc.on('exit', (code) => resolve(code)))
  }

  send(line: string): void {
    this.#proc.stdin.write(`${line}\n`)
  }

  /** Resolves with the first line containing `text` after the previous match. */
  waitFor(text: string, ms = WAIT_MS): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const at = this.output.indexOf(text, this.#seen)
        if (at === -1) return false
        const start = this.output.lastIndexOf('\n', at) + 1
        const end = this.output.indexOf('\n', at)
        this.#seen = end === -1 ? this.output.length : end
        resolve(this.output.slice(start, end === -1 ? undefined : end))
        return true
      }
      if (check()) return
      const listener = (): void => {
        if (check()) done()
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${ms} ms waiting for ${JSON.stringify(text)}; output:\n${this.output}`))
      }, ms)
      const done = (): void => {
        clearTimeout(timer)
        this.#listeners.delete(listener)
      }
      this.#listeners.add(listener)
    })
  }

  /** Ends stdin (the chat quits cleanly) and resolves with the exit code. */
  async quit(): Promise<number | null> {
    this.#proc.stdin.end()
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), WAIT_MS)
    const code = await this.#exited
    clearTimeout(timer)
    return code
  }

  kill(): void {
    if (this.#proc.exitCode === null) this.#proc.kill('SIGKILL')
  }
}

const waitUntil = async (condition: () => Promise<boolean>, what: string): Promise<void> => {
  const deadline = Date.now() + WAIT_MS
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('terminal chat example', () => {
  let dir: string
  let relay: Relay | null
  let terminals: Terminal[]
  let clients: Client[]

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'colloquy-terminal-'))
    relay = null
    terminals = []
    clients = []
  })

  afterEach(async () => {
    for (const t of terminals) t.kill()
    await Promise.all(clients.map((c) => c.shutdown()))
    await relay?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const terminal = async (identity: string, relayUrl: string): Promise<Terminal> => {
    const t = new Terminal([
      '--token',
      await tokenFor(identity),
      '--relay',
      relayUrl,
      '--db',
      join(dir, `${identity}.sqlite`),
    ])
    terminals.push(t)
    return t
  }

  it('two terminals chat through the relay', async () => {
    relay = await createRelay({ auth: { secret: SECRET } })
    await relay.listen(0)
    const alice = await terminal('alice', relay.url)
    await alice.waitFor('online: connected')
    alice.send('/join general')
    await alice.waitFor('joined "general"')
    alice.send('/add bob')
    await alice.waitFor('added bob')

    const bob = await terminal('bob', relay.url)
    await bob.waitFor('you are in "general"')
    bob.send('/join general')
    await bob.waitFor('joined "general"')

    alice.send('hello bob')
    expect(await bob.waitFor('hello bob')).toMatch(/^\[\d\d:\d\d\] alice: hello bob$/)
    bob.send('hi alice')
    expect(await alice.waitFor('hi alice')).toMatch(/^\[\d\d:\d\d\] bob: hi alice$/)

    alice.send('/who')
    await alice.waitFor('bob (member')
    expect(await alice.quit()).toBe(0)
    expect(await bob.quit()).toBe(0)
  }, 30_000)

  it('starts offline, keeps messages in SQLite, and syncs when the relay is reachable', async () => {
    const port = await freePort()
    const relayUrl = `ws://127.0.0.1:${port}`
    const carol = await terminal('carol', relayUrl)
    await carol.waitFor('offline')
    carol.send('/join notes')
    await carol.waitFor('joined "notes"')
    carol.send('/add dave')
    await carol.waitFor('added dave')
    carol.send('written offline')
    expect(await carol.waitFor('written offline')).toMatch(/carol \(you\): written offline {2}\[pending\]$/)

    // The relay comes up: the terminal connects by itself and its message is sequenced.
    relay = await createRelay({ auth: { secret: SECRET }, dataPath: join(dir, 'relay.sqlite') })
    await relay.listen(port)
    await carol.waitFor('online: connected')
    await carol.waitFor('delivered: "written offline"')

    // A second client (the library, in this process) receives it, types and answers.
    const dave = await Client.create({ relayUrl, token: await tokenFor('dave') })
    clients.push(dave)
    await waitUntil(async () => (await dave.getSubscribedConversations()).items.length === 1, 'dave sees "notes"')
    const notes = (await dave.getSubscribedConversations()).items[0]!
    await waitUntil(
      async () => (await notes.getMessages()).items.some((m) => m.body === 'written offline'),
      'dave receives the offline message',
    )
    await notes.typing()
    await carol.waitFor('dave is typing…')
    await notes.sendMessage('got it')
    expect(await carol.waitFor('got it')).toMatch(/dave: got it$/)
    expect(await carol.quit()).toBe(0)

    // Offline again: a new terminal reads the conversation back from SQLite.
    await dave.shutdown()
    clients = []
    await relay.close()
    relay = null
    const again = await terminal('carol', relayUrl)
    await again.waitFor('offline')
    again.send('/join notes')
    await again.waitFor('joined "notes"')
    await again.waitFor('carol (you): written offline')
    await again.waitFor('dave: got it')
    again.send('/history 5')
    await again.waitFor('written offline')
    expect(await again.quit()).toBe(0)
  }, 30_000)
})
