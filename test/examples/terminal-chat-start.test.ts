/**
 * The terminal chat's first minutes, through the real program: leaving it (`/quit`, Ctrl-D) in a
 * real terminal (Ctrl-C too), `--join` finding the conversation that exists instead of creating a second one,
 * and a first start that does not announce every message already read elsewhere.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createRelay, type Relay } from '../../relay/index.ts'
import { Client, type Conversation } from '../../src/index.ts'
import { freePort } from '../relay/helpers.ts'
import { waitUntil } from '../support/wait.ts'
import { SECRET, Terminal, tokenFor } from './terminal.ts'

/** A line of `/list`. */
const LISTED = / — CH[0-9a-f]+$/

describe('terminal chat: start and stop', () => {
  let dir: string
  let relay: Relay | null
  let terminals: Terminal[]
  let clients: Client[]

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'colloquy-terminal-start-'))
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

  const terminal = async (
    identity: string,
    relayUrl: string,
    options: { pty?: boolean; args?: string[] } = {},
  ): Promise<Terminal> => {
    const args = ['--token', await tokenFor(identity), '--relay', relayUrl, '--db', join(dir, `${identity}.sqlite`)]
    const t = new Terminal([...args, ...(options.args ?? [])], { pty: options.pty })
    terminals.push(t)
    return t
  }

  const library = async (identity: string, relayUrl: string): Promise<Client> => {
    const client = await Client.create({ relayUrl, token: await tokenFor(identity) })
    clients.push(client)
    return client
  }

  const startRelay = async (): Promise<Relay> => {
    relay = await createRelay({ auth: { secret: SECRET } })
    await relay.listen(0)
    return relay
  }

  /** `bob`'s copy of a conversation, once his client has it and it holds `count` messages. */
  const received = async (bob: Client, count: number): Promise<Conversation> => {
    let found: Conversation | undefined
    await waitUntil(async () => {
      found = (await bob.getSubscribedConversations()).items[0]
      return found !== undefined && (await found.getMessagesCount()) === count
    }, `bob has ${count} messages`)
    return found!
  }

  for (const [what, keys] of [
    ['/quit', '/quit\r'],
    ['Ctrl-D', '\x04'],
    ['Ctrl-C', '\x03'],
  ] as const) {
    it(`${what} in a real terminal says bye and exits 0`, async () => {
      const t = await terminal('ann', `ws://127.0.0.1:${await freePort()}`, { pty: true })
      await t.waitFor('type /help')
      await t.waitFor('offline')
      t.type(keys)
      await t.waitFor('bye')
      expect(await t.exit()).toBe(0)
      expect(t.output).not.toContain('ERR_USE_AFTER_CLOSE')
    })
  }

  it('--join opens the conversation this device stored, offline, instead of creating a second one', async () => {
    const relayUrl = `ws://127.0.0.1:${await freePort()}`
    const first = await terminal('carol', relayUrl)
    first.send('/join notes')
    await first.waitFor('created "notes"')
    await first.waitFor('joined "notes"')
    expect(await first.quit()).toBe(0)

    const again = await terminal('carol', relayUrl, { args: ['--join', 'notes'] })
    await again.waitFor('joined "notes"')
    again.send('/list')
    again.send('/quit')
    await again.waitFor('bye')
    expect(again.lines('created "notes"')).toEqual([])
    expect(again.lines(LISTED)).toEqual([expect.stringMatching(/^\* (→ )?notes — CH/)])
  }, 30_000)

  it('--join on a new device finds the conversation the relay knows, instead of creating a second one', async () => {
    const { url } = await startRelay()
    const alice = await library('alice', url)
    const general = await alice.createConversation({ friendlyName: 'general', join: true })
    await general.add('bob')
    await alice.whenSynced()

    const bob = await terminal('bob', url, { args: ['--join', 'general'] })
    expect(await bob.waitFor('joined "general"')).toContain(general.sid)
    bob.send('/list')
    bob.send('/quit')
    await bob.waitFor('bye')
    expect(bob.lines('created "general"')).toEqual([])
    expect(bob.lines(LISTED)).toEqual([`* → general — ${general.sid}`])
  }, 30_000)

  it('a first start announces only what is new, not the history already read on another device', async () => {
    const { url } = await startRelay()
    const alice = await library('alice', url)
    const general = await alice.createConversation({ friendlyName: 'general', join: true })
    await general.add('bob')
    for (let i = 1; i <= 49; i++) await general.sendMessage(`old ${i}`)
    await alice.whenSynced()
    // Bob reads all 49 on his phone (another client) before he starts the terminal chat.
    const phone = await library('bob', url)
    const onPhone = await received(phone, 49)
    await onPhone.setAllMessagesRead()
    await phone.whenSynced()

    const bob = await terminal('bob', url)
    await bob.waitFor('up to date')
    await general.sendMessage('new one')
    await bob.waitFor('new message in "general" from alice')
    bob.send('/quit')
    await bob.waitFor('bye')
    expect(bob.lines('new message')).toHaveLength(1)
    expect(bob.lines('unread')).toEqual([])
  }, 30_000)

  it('a first start sums up what is unread, one line per conversation', async () => {
    const { url } = await startRelay()
    const alice = await library('alice', url)
    const general = await alice.createConversation({ friendlyName: 'general', join: true })
    await general.add('bob')
    for (let i = 1; i <= 12; i++) await general.sendMessage(`unread ${i}`)
    await alice.whenSynced()

    const bob = await terminal('bob', url)
    expect(await bob.waitFor('unread')).toContain('12 unread in "general"')
    await bob.waitFor('up to date')
    bob.send('/quit')
    await bob.waitFor('bye')
    expect(bob.lines('new message')).toEqual([])
  }, 30_000)
})
