/**
 * The terminal chat example, driven through stdin/stdout against a relay started here: two
 * terminals chat; a terminal that starts offline keeps its messages in SQLite and delivers them
 * once the relay comes up; a restarted terminal reads its history back from SQLite offline.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createRelay, type Relay } from '../../relay/index.ts'
import { Client } from '../../src/index.ts'
import { freePort } from '../relay/helpers.ts'
import { SECRET, Terminal, tokenFor, WAIT_MS } from './terminal.ts'

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
